package httpapi

import (
	"context"
	"net/http"
	"time"
)

// healthz answers while the process is up.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 once the schema was checked and the projector caught
// up at start, and while Valkey answers; 503 saying which is missing
// otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting", "message": "checking schema versions and catching up projections"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	c := s.store.Client()
	if err := c.Do(ctx, c.B().Ping().Build()).Error(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "message": "valkey does not answer PING"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
