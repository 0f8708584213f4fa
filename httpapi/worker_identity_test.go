package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// Tokens of the worker identity tests.
const (
	w1Secret    = "w1-secret-3c5e7a9b1d2f4e6a8c"
	edgeSecret  = "edge-secret-9f8e7d6c5b4a3f2e1d"
	plainSecret = "plain-read-secret-0a1b2c3d4e5f"
)

// TestWorkerIdentity is issue 19's finding 5: a read token acted as any
// worker, acknowledging for an offline one and forging its package report.
// Now a token acts only as the worker ids its Workers cover.
func TestWorkerIdentity(t *testing.T) {
	t.Parallel()
	ns := randomNS(t)
	ts := mustServer(t, httpapi.Config{Tokens: []httpapi.Token{
		{Name: "admin", Secret: adminSecret, Scopes: []httpapi.Scope{httpapi.ScopeAdmin}, Namespaces: []string{"*"}},
		{Name: "w1", Secret: w1Secret, Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{ns}, Workers: []string{"w1"}},
		{Name: "edge", Secret: edgeSecret, Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{ns}, Workers: []string{"edge-*"}},
		{Name: "plain", Secret: plainSecret, Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{ns}},
	}})
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
	bearer := func(s string) hdr { return hdr{"Authorization": "Bearer " + s} }
	ack := func(worker string) []byte { return []byte(fmt.Sprintf(`{"worker":%q,"revision":1}`, worker)) }
	report := []byte(`{"revision":1,"ok":true,"packages":[]}`)

	for _, tt := range []struct {
		name, method, p string
		body            []byte
		secret          string
		status          int
	}{
		{"OKFeedOwnID", "GET", feedURL(ns, "w1", 0, "0s"), nil, w1Secret, http.StatusOK},
		{"OKFeedPattern", "GET", feedURL(ns, "edge-7", 0, "0s"), nil, edgeSecret, http.StatusOK},
		{"OKAckOwnID", "POST", path(ns, "/feed/ack"), ack("w1"), w1Secret, http.StatusOK},
		{"OKReportOwnID", "PUT", path(ns, "/workers/edge-7/packages"), report, edgeSecret, http.StatusOK},
		{"OKReadFlows", "GET", path(ns, "/flows"), nil, plainSecret, http.StatusOK},
		{"ErrForbiddenFeedOtherID", "GET", feedURL(ns, "w2", 0, "0s"), nil, w1Secret, http.StatusForbidden},
		{"ErrForbiddenFeedOutsidePattern", "GET", feedURL(ns, "edgeless", 0, "0s"), nil, edgeSecret, http.StatusForbidden},
		{"ErrForbiddenDuplexOtherID", "POST", feedURL(ns, "w2", 0, "0s"), []byte{}, w1Secret, http.StatusForbidden},
		{"ErrForbiddenAckOtherID", "POST", path(ns, "/feed/ack"), ack("edge-7"), w1Secret, http.StatusForbidden},
		{"ErrForbiddenReportOtherID", "PUT", path(ns, "/workers/w1/packages"), report, edgeSecret, http.StatusForbidden},
		{"ErrForbiddenPlainReadFeed", "GET", feedURL(ns, "w1", 0, "0s"), nil, plainSecret, http.StatusForbidden},
		{"ErrForbiddenPlainReadAck", "POST", path(ns, "/feed/ack"), ack("w1"), plainSecret, http.StatusForbidden},
		{"ErrForbiddenPlainReadReport", "PUT", path(ns, "/workers/w1/packages"), report, plainSecret, http.StatusForbidden},
		{"ErrForbiddenAdminWithoutWorkers", "POST", path(ns, "/feed/ack"), ack("w1"), adminSecret, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := ts.do(t, tt.method, tt.p, tt.body, bearer(tt.secret))
			if tt.status == http.StatusOK {
				if res.status != http.StatusOK && res.status != http.StatusNoContent {
					t.Fatalf("got status %d (%s), want 200 or 204", res.status, res.body)
				}
				return
			}
			e := wantError(t, res, tt.status, domain.EFORBIDDEN)
			if !strings.Contains(e.Message, "workers") {
				t.Errorf("got message %q, want one naming auth.tokens[].workers", e.Message)
			}
		})
	}

	// The forged acknowledgement changed nothing: w2 never got a group
	// from w1's token, and no report for w1 came from edge's.
	var ws httpapi.Workers
	ts.ok(t, "GET", path(ns, "/workers"), nil, bearer(plainSecret), &ws)
	for _, w := range ws.Workers {
		if w.Worker == "w2" || w.Worker == "edgeless" {
			t.Errorf("got worker %s in %+v: a refused request created its group", w.Worker, ws.Workers)
		}
		if w.Worker == "w1" && w.Packages != nil {
			t.Errorf("got a package report for w1 %+v, want none: edge's token may not send one", w.Packages)
		}
	}
}
