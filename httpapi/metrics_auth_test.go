package httpapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// TestMetricsToken is issue 19's finding 7 (/metrics without a token
// lists every namespace and worker id): a metrics token closes it, and
// hide_ids keeps the ids out of the labels.
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	const metricsSecret = "metrics-9d8c7b6a5f4e3d2c1b0a"
	sum := sha256.Sum256([]byte(metricsSecret))
	for _, tt := range []struct {
		name string
		cfg  httpapi.Config
	}{
		{"Token", httpapi.Config{MetricsToken: metricsSecret}},
		{"TokenSHA256", httpapi.Config{MetricsTokenSHA256: hex.EncodeToString(sum[:])}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := mustServer(t, tt.cfg)
			for _, auth := range []string{"", "Bearer " + adminSecret, "Bearer " + metricsSecret + "x"} {
				wantError(t, ts.do(t, "GET", "/metrics", nil, hdr{"Authorization": auth}), http.StatusUnauthorized, domain.EUNAUTHORIZED)
			}
			res := ts.do(t, "GET", "/metrics", nil, hdr{"Authorization": "Bearer " + metricsSecret})
			if res.status != http.StatusOK || !strings.Contains(string(res.body), "flowhist_") {
				t.Fatalf("got status %d, want 200 with the metrics", res.status)
			}
		})
	}
	t.Run("HideIDs", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		for _, hide := range []bool{false, true} {
			ts := mustServer(t, httpapi.Config{MetricsNoIDs: hide})
			ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("x"), nil, nil)
			ts.do(t, "GET", feedURL(ns, "w-visible", 0, "0s"), nil, nil)
			if _, err := ts.api.ReapIdleWorkers(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			res := ts.do(t, "GET", "/metrics", nil, nil)
			if got := strings.Contains(string(res.body), `worker="w-visible"`); got == hide {
				t.Errorf("hide_ids %v: worker id in the metrics %v, want %v", hide, got, !hide)
			}
		}
	})
}
