package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// TestLimits is issue 19's finding 7 (no limits per token): over a limit,
// 429 with Retry-After and a JSON error.
func TestLimits(t *testing.T) {
	t.Parallel()
	t.Run("ErrTooManyRequests", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		ts := mustServer(t, httpapi.Config{Tokens: []httpapi.Token{
			{Name: "slow", Secret: readSecret, Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{"*"}, Limits: httpapi.Limits{RequestsPerSecond: 0.5, Burst: 3}},
			{Name: "other", Secret: deploySecret, Scopes: []httpapi.Scope{httpapi.ScopeDeploy}, Namespaces: []string{"*"}},
		}})
		h := hdr{"Authorization": "Bearer " + readSecret}
		for i := range 3 {
			if res := ts.do(t, "GET", path(ns, "/flows"), nil, h); res.status != http.StatusOK {
				t.Fatalf("request %d: got status %d (%s), want 200 within the burst", i+1, res.status, res.body)
			}
		}
		res := ts.do(t, "GET", path(ns, "/flows"), nil, h)
		e := wantError(t, res, http.StatusTooManyRequests, domain.ETOOMANY)
		if after, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || after < 1 || after > 2 {
			t.Errorf("got Retry-After %q, want 1 or 2 seconds (one request per 2s)", res.header.Get("Retry-After"))
		}
		if !strings.Contains(e.Message, "slow") || strings.Contains(e.Message, readSecret) {
			t.Errorf("got message %q, want the token's name and never its secret", e.Message)
		}
		// Another token is not held back by this one's limit.
		ts.ok(t, "GET", path(ns, "/flows"), nil, hdr{"Authorization": "Bearer " + deploySecret}, nil)
	})
	t.Run("ErrTooManyFeeds", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		ts := mustServer(t, httpapi.Config{Tokens: []httpapi.Token{
			{Name: "edge", Secret: readSecret, Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{"*"}, Workers: []string{"*"}, Limits: httpapi.Limits{Feeds: 1}},
		}})
		h := hdr{"Authorization": "Bearer " + readSecret}
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		waiting := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			close(waiting)
			ts.send(ctx, "GET", feedURL(ns, "w1", 0, "30s"), nil, h)
		}()
		<-waiting
		// The first feed holds the token's one slot once it waits.
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(string(ts.do(t, "GET", "/metrics", nil, nil).body), "flowhist_feed_waiters 1"); {
			if time.Now().After(deadline) {
				t.Fatal("the first feed request is not waiting within 10s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		res := ts.do(t, "GET", feedURL(ns, "w2", 0, "0s"), nil, h)
		wantError(t, res, http.StatusTooManyRequests, domain.ETOOMANY)
		if res.header.Get("Retry-After") == "" {
			t.Error("got no Retry-After")
		}
		cancel()
		<-done
		// The slot is given back when the feed ends.
		for deadline := time.Now().Add(10 * time.Second); ; {
			res = ts.do(t, "GET", feedURL(ns, "w2", 0, "0s"), nil, h)
			if res.status != http.StatusTooManyRequests || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if res.status != http.StatusNoContent && res.status != http.StatusOK {
			t.Fatalf("after the first feed ended: got status %d (%s), want 200 or 204", res.status, res.body)
		}
	})
	t.Run("ErrTooManyGroups", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		ts := mustServer(t, httpapi.Config{MaxGroups: 2})
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("x"), nil, nil)
		for i := range 2 {
			ts.do(t, "GET", feedURL(ns, fmt.Sprintf("w%d", i), 0, "0s"), nil, nil)
		}
		n, err := ts.store.GroupCount(testCtx(t), ns)
		if err != nil || n != 2 {
			t.Fatalf("got %d groups (%v), want 2", n, err)
		}
		res := ts.do(t, "GET", feedURL(ns, "w-new", 0, "0s"), nil, nil)
		wantError(t, res, http.StatusTooManyRequests, domain.ETOOMANY)
		// A worker that has its group keeps following.
		if res := ts.do(t, "GET", feedURL(ns, "w0", 0, "0s"), nil, nil); res.status != http.StatusOK {
			t.Fatalf("known worker: got status %d (%s), want 200", res.status, res.body)
		}
	})
	t.Run("ErrPackageReportTooLong", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		ts := mustServer(t, httpapi.Config{})
		long := strings.Repeat("m", 2<<20) // the review's 2 MB module name
		res := ts.do(t, "PUT", path(ns, "/workers/w1/packages"), []byte(`{"revision":1,"ok":false,"module":"`+long+`","error":"x","packages":[]}`), nil)
		wantError(t, res, http.StatusRequestEntityTooLarge, domain.ETOOLARGE)
		res = ts.do(t, "PUT", path(ns, "/workers/w1/packages"), []byte(`{"revision":1,"ok":true,"packages":[{"name":"`+strings.Repeat("p", 300)+`","version":"1.0.0"}]}`), nil)
		wantError(t, res, http.StatusBadRequest, domain.EINVALID)
		raw, err := ts.store.WorkerStatuses(testCtx(t), ns)
		if err != nil || len(raw) != 0 {
			t.Fatalf("got stored reports %d (%v), want none", len(raw), err)
		}
	})
}
