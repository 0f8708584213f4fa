package httpapi_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
)

// TestBrokenChainRefusesWrites: an entry changed in Valkey past what the
// server folded breaks the chain as it catches up: reads answer the state
// folded before it, writes answer 503 corrupt and change nothing, /readyz
// names the namespace (and stays ready) and the metric counts it. (A write
// that comes before any catch-up saw the break lands, and its own catch-up
// marks the namespace: the refusal starts with the detection.)
func TestBrokenChainRefusesWrites(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ts.api.SetReady(true)
	ns := randomNS(t)
	ctx := testCtx(t)
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("v1"), nil, nil)
	// Someone with Valkey's password adds revision 2 by hand (a settings
	// save made elsewhere, with a link of their own making).
	scratch := randomNS(t)
	streamstest.AppendEvent(ctx, ts.store, scratch, "settings.saved", "settings", map[string]any{"settings": map[string]int{"n": 1}}, `{"n":1}`)
	c := mustClient(t)
	forged := streamstest.Entries(t, ctx, c, scratch)[0]
	forged.ID, forged.FieldValues["h"] = "2-0", strings.Repeat("ab", 32)
	streamstest.RewriteLog(t, ctx, c, ns, append(streamstest.Entries(t, ctx, c, ns), forged))
	keys := streams.KeysOf(ns)
	if err := c.Do(ctx, c.B().Hset().Key(keys.Meta).FieldValue().FieldValue("rev", "2").FieldValue("a:settings", "1").FieldValue("h", forged.FieldValues["h"]).Build()).Error(); err != nil {
		t.Fatal(err)
	}

	// serve's projector catches up (after an append, or in the
	// background every projector.interval).
	if _, err := ts.proj.CatchUpNamespace(ctx, ns); !errors.Is(err, projector.ErrChainBroken) {
		t.Fatalf("catch-up: got %v, want the chain broken", err)
	}
	if r := ts.do(t, "GET", path(ns, "/settings"), nil, nil); r.status != http.StatusOK {
		t.Fatalf("read: got %d %s, want the state folded before the break", r.status, r.body)
	}
	r := ts.do(t, "PUT", path(ns, "/flows"), flowsDoc("v2"), nil)
	wantError(t, r, http.StatusServiceUnavailable, "corrupt")
	if !contains(r.body, "revision 2") || !contains(r.body, "flowhist verify") {
		t.Fatalf("got %s, want the revision and what to run", r.body)
	}
	if h := ts.head(t, ns); h != 2 {
		t.Fatalf("head is %d after a refused write, want 2", h)
	}
	var health httpapi.Health
	ts.ok(t, "GET", "/readyz", nil, nil, &health)
	found := false
	for _, f := range health.FailingVerification {
		found = found || f.Namespace == ns && f.Revision == 2
	}
	if health.Status != "ready" || !found {
		t.Fatalf("readyz: got %+v, want ready with %s failing at revision 2", health, ns)
	}
	if n := ts.metric(t, "flowhist_namespaces_failing_verification"); n < 1 {
		t.Fatalf("metric: got %v, want at least 1", n)
	}
}
