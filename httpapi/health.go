package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// healthz answers while the process is up.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, Health{Status: "ok"})
}

// readyz answers 200 once the schema was checked and the projector caught
// up at start, and while Valkey serves reads; 503 saying which is missing
// otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		w.Header().Set("Retry-After", retryAfter)
		writeJSON(w, http.StatusServiceUnavailable, Health{Status: "starting", Message: "checking schema versions and catching up projections"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), min(s.cfg.RequestTimeout, 2*time.Second))
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		w.Header().Set("Retry-After", retryAfter)
		writeJSON(w, http.StatusServiceUnavailable, Health{Status: "unavailable", Message: domain.ErrorMessage(err)})
		return
	}
	h := Health{Status: "ready", FailingVerification: s.failingVerification()}
	if warn := s.durabilityWarning.Load(); warn != nil && *warn != "" {
		h.Warnings = append(h.Warnings, *warn)
	}
	writeJSON(w, http.StatusOK, h)
}

// failingVerification lists the namespaces whose hash chain broke as the
// projector caught up (projector.BrokenNamespaces).
func (s *Server) failingVerification() []FailingNamespace {
	if s.proj == nil {
		return nil
	}
	var out []FailingNamespace
	for _, b := range s.proj.BrokenNamespaces() {
		out = append(out, FailingNamespace{Namespace: b.Namespace, Revision: b.Revision, Problem: b.Problem, Since: b.Since})
	}
	return out
}

// registerChainMetric exports how many namespaces fail verification.
func (s *Server) registerChainMetric(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "flowhist_namespaces_failing_verification",
		Help: "Namespaces whose log's hash chain broke as the projector caught up: writes to them answer 503 corrupt.",
	}, func() float64 { return float64(len(s.failingVerification())) }))
}

// SetDurabilityWarning makes /readyz say warning ("" for none) while the
// server is ready: serve sets it when the durability configured is below
// what the Sentinels' replicas need.
func (s *Server) SetDurabilityWarning(warning string) { s.durabilityWarning.Store(&warning) }

// MonitorValkey pings Valkey every interval until ctx is done, and logs
// when it stops and starts serving: once per outage, however many
// requests answered 503 meanwhile.
func (s *Server) MonitorValkey(ctx context.Context, every time.Duration) {
	var down time.Time
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, min(every, s.cfg.RequestTimeout))
		err := s.store.Ping(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && down.IsZero():
			down = time.Now()
			s.metrics.valkeyUp.Set(0)
			s.log.Warn("valkey is unavailable: requests answer 503 until it is back", zap.String("reason", domain.ErrorMessage(err)), zap.Error(err))
		case err == nil && !down.IsZero():
			s.metrics.valkeyUp.Set(1)
			s.log.Info("valkey is available again", zap.Duration("outage", time.Since(down).Round(time.Millisecond)))
			down = time.Time{}
		case err == nil:
			s.metrics.valkeyUp.Set(1)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
