package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/flowhist/flowhist/domain"
)

// isSHA256Hex: s is a sha256 written as 64 hex digits.
func isSHA256Hex(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// metricsAuth puts h behind the metrics token, when one is configured:
// the metrics name namespaces and workers, which not everyone who can
// reach the port should learn.
func (s *Server) metricsAuth(h http.Handler) http.Handler {
	var want [32]byte
	switch {
	case s.cfg.MetricsTokenSHA256 != "":
		b, _ := hex.DecodeString(s.cfg.MetricsTokenSHA256) // validated
		copy(want[:], b)
	case s.cfg.MetricsToken != "":
		want = sha256.Sum256([]byte(s.cfg.MetricsToken))
	default:
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(secret))
		if !ok || secret == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			s.writeError(w, r, domain.Errorf(domain.EUNAUTHORIZED, "/metrics needs the metrics token: send Authorization: Bearer <metrics.token>"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
