package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/flowhist/flowhist/httpapi"
)

// TestFeedDuplexRefusedAtOnce: a duplex feed's body stays open, so a
// refusal (a bad token, a bad parameter, a worker the token may not act
// as) must be answered without waiting for the body to end or the read
// timeout (net/http drains a body before answering unless told not to): the
// module waits for an answer only so long before it gives up on flowhist.
func TestFeedDuplexRefusedAtOnce(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
	for _, c := range []struct {
		name, token, query string
		status             int
		code               string
	}{
		{"BadToken", "not-a-token-of-this-server-0000", "worker=w1&after=1&wait=30s", http.StatusUnauthorized, "unauthorized"},
		{"BadWait", readSecret, "worker=w1&after=1&wait=forever", http.StatusBadRequest, "invalid"},
		{"NoWorker", readSecret, "after=1&wait=30s", http.StatusBadRequest, "invalid"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			pr, pw := io.Pipe()
			// The transport waits for the body's writer: end it with the
			// deadline, so that a server that never answers fails the test.
			defer context.AfterFunc(ctx, func() { pw.Close() })()
			defer pw.Close()
			req, err := http.NewRequestWithContext(ctx, "POST", ts.URL+path(ns, "/feed?"+c.query), pr)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+c.token)
			start := time.Now()
			res, err := ts.Client().Do(req)
			if err != nil {
				t.Fatalf("no answer with the body open (%v after %s)", err, time.Since(start))
			}
			defer res.Body.Close()
			took := time.Since(start)
			var e struct{ Code, Message string }
			if err := json.NewDecoder(res.Body).Decode(&e); err != nil || res.StatusCode != c.status || e.Code != c.code || e.Message == "" {
				t.Fatalf("got %d %+v (%v), want %d %s with a message", res.StatusCode, e, err, c.status, c.code)
			}
			if took > 2*time.Second {
				t.Fatalf("answered after %s with the body open, want at once", took)
			}
		})
	}
}
