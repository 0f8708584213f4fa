package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

const ringedSecret = "ringed-edge-5d0c9b7e2a41f3865c1d0e9b7a2f4c63"

// TestTokenRings: a worker token bound to rings (auth.tokens[].rings) may
// follow the feed and report health only in those rings: a compromised
// default worker cannot join the canary ring and fail (or pass) the gate
// every rollout starts with. A token without rings may name any.
func TestTokenRings(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{Tokens: append([]httpapi.Token{
		{Name: "edge", Secret: ringedSecret, Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{"*"}, Workers: []string{"edge-*"}, Rings: []string{"default", "eu-*"}},
	}, defaultTokens...)})
	ns := randomNS(t)
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
	edge := as(ringedSecret, "")
	head := ts.withID(t, ns, feedNews{Revision: 1})
	for _, c := range []struct {
		ring string
		ok   bool
	}{{"", true}, {"default", true}, {"eu-west", true}, {"canary", false}, {"eu", false}} {
		q := "/feed?worker=edge-1&after=1&wait=0s"
		if c.ring != "" {
			q += "&ring=" + c.ring
		}
		r := ts.do(t, "GET", path(ns, q), nil, edge)
		if c.ok {
			if r.status != http.StatusNoContent && r.status != http.StatusOK {
				t.Fatalf("ring %q: got %d (%s), want the feed", c.ring, r.status, r.body)
			}
		} else {
			e := wantError(t, r, http.StatusForbidden, domain.EFORBIDDEN)
			if !strings.Contains(e.Message, "auth.tokens[].rings") || strings.Contains(e.Message, ringedSecret) {
				t.Fatalf("ring %q: message %q, want it to name auth.tokens[].rings and no secret", c.ring, e.Message)
			}
		}
		health := `{"revision":1,"id":"` + head.ID + `","started":true` + map[bool]string{true: `,"ring":"` + c.ring + `"`, false: ``}[c.ring != ""] + `}`
		r = ts.do(t, "PUT", path(ns, "/workers/edge-1/health"), []byte(health), edge)
		if c.ok && r.status != http.StatusOK {
			t.Fatalf("health in ring %q: got %d (%s), want it saved", c.ring, r.status, r.body)
		}
		if !c.ok {
			wantError(t, r, http.StatusForbidden, domain.EFORBIDDEN)
		}
	}
	// A token without rings (the default tokens) may name any.
	r := ts.do(t, "GET", path(ns, "/feed?worker=w1&after=1&wait=0s&ring=canary"), nil, nil)
	if r.status != http.StatusNoContent && r.status != http.StatusOK {
		t.Fatalf("a token without rings: got %d (%s), want the feed", r.status, r.body)
	}
}
