package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	noAuth := hdr{"Authorization": ""}

	t.Run("Healthz", func(t *testing.T) {
		ts.ok(t, "GET", "/healthz", nil, noAuth, nil)
	})
	t.Run("ReadyzStarting", func(t *testing.T) {
		res := ts.do(t, "GET", "/readyz", nil, noAuth)
		if res.status != http.StatusServiceUnavailable {
			t.Fatalf("got status %d (%s), want 503 before SetReady", res.status, res.body)
		}
	})
	t.Run("ReadyzReady", func(t *testing.T) {
		ts.api.SetReady(true)
		var got map[string]string
		ts.ok(t, "GET", "/readyz", nil, noAuth, &got)
		if got["status"] != "ready" {
			t.Fatalf("got %v, want status ready", got)
		}
	})
	t.Run("ReadyzNotReadyAgain", func(t *testing.T) {
		ts.api.SetReady(false)
		if res := ts.do(t, "GET", "/readyz", nil, noAuth); res.status != http.StatusServiceUnavailable {
			t.Fatalf("got status %d, want 503 after SetReady(false)", res.status)
		}
	})
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
	ts.do(t, "PUT", path(ns, "/flows"), flowsDoc("stale"), hdr{"If-Match": `"0"`})
	ts.ok(t, "PUT", path(ns, "/settings"), []byte(`{"a":1}`), nil, nil)

	res := ts.ok(t, "GET", "/metrics", nil, hdr{"Authorization": ""}, nil)
	for _, want := range []string{
		`flowhist_http_request_duration_seconds_count{route="PUT /v1/namespaces/{ns}/flows",status="200"} 1`,
		`flowhist_http_request_duration_seconds_count{route="PUT /v1/namespaces/{ns}/flows",status="409"} 1`,
		`flowhist_appends_total{type="flows.deployed"} 1`,
		`flowhist_appends_total{type="settings.saved"} 1`,
		`flowhist_conflicts_total 1`,
		`flowhist_feed_waiters 0`,
	} {
		if !contains(res.body, want) {
			t.Fatalf("got metrics without %q:\n%s", want, res.body)
		}
	}
	if contains(res.body, ns) {
		t.Fatalf("got the namespace %s in a metric label, want route patterns only", ns)
	}
}

// TestMetricsDuplicate checks that a retried deploy answered from its
// idempotency record is not counted as an append.
func TestMetricsDuplicate(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	for range 2 {
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), hdr{"Idempotency-Key": "k1"}, nil)
	}
	if got := ts.head(t, ns); got != 1 {
		t.Fatalf("got head %d, want 1", got)
	}
	if got := ts.metric(t, "flowhist_appends_total"); got != 1 {
		t.Fatalf("got flowhist_appends_total %v, want 1: the retry appended nothing", got)
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})

	t.Run("ErrNotFound", func(t *testing.T) {
		for _, p := range []string{"/nope", "/v1/namespaces", "/v1/namespaces/x/nope", "/v2/namespaces/x/flows"} {
			e := wantError(t, ts.do(t, "GET", p, nil, nil), http.StatusNotFound, domain.ENOTFOUND)
			if !strings.Contains(e.Message, p) {
				t.Fatalf("got message %q, want it to name %s", e.Message, p)
			}
		}
		wantError(t, ts.do(t, "DELETE", path("x", "/flows"), nil, nil), http.StatusNotFound, domain.ENOTFOUND)
	})

	t.Run("ErrInvalidNamespace", func(t *testing.T) {
		for _, ns := range []string{"a%7Bb", "a%3Ab", "-a", ".a", "a%20b", strings.Repeat("n", domain.MaxNamespaceLen+1)} {
			for _, m := range []string{"GET", "PUT"} {
				wantError(t, ts.do(t, m, path(ns, "/flows"), flowsDoc("x"), nil), http.StatusBadRequest, domain.EINVALID)
			}
		}
	})

	t.Run("LongestNamespace", func(t *testing.T) {
		ts.ok(t, "GET", path(strings.Repeat("n", domain.MaxNamespaceLen), "/flows"), nil, nil, nil)
	})
}
