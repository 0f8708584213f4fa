package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

// TestFeedConnections holds the design's promise: hundreds of waiting
// workers do not hold hundreds of blocked Valkey connections, and one deploy
// wakes them all.
func TestFeedConnections(t *testing.T) {
	t.Parallel()
	const waiters = 200
	srv := valkeytest.Start(t) // own server: its client count is ours alone
	ts := mustServerAt(t, srv.Addr, httpapi.Config{})
	ts.Client().Transport.(*http.Transport).MaxIdleConnsPerHost = 2 * waiters
	ns := randomNS(t)
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("start"), nil, nil)
	after := ts.head(t, ns)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	answers := make(chan response, waiters)
	var wg sync.WaitGroup
	for i := range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := ts.send(ctx, "GET", feedURL(ns, fmt.Sprintf("w%03d", i), after, "50s"), nil, hdr{"Authorization": "Bearer " + readSecret})
			if err != nil {
				r = response{status: 0, body: []byte(err.Error())}
			}
			answers <- r
		}()
	}
	ts.waitForWaiters(t, waiters)

	c := streamstest.Client(t, srv.Addr)
	info, err := c.Do(ctx, c.B().Info().Section("clients").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	connected := infoField(t, info, "connected_clients")
	blocked := infoField(t, info, "blocked_clients")
	t.Logf("%d feed requests waiting: %d Valkey connections, %d blocked", waiters, connected, blocked)
	if blocked > 1 {
		t.Fatalf("got %d blocked Valkey clients for %d waiting workers of one namespace, want at most 1", blocked, waiters)
	}
	if connected > 20 {
		t.Fatalf("got %d Valkey connections for %d waiting workers, want a small fixed number", connected, waiters)
	}

	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("deploy"), nil, nil)
	for range waiters {
		select {
		case r := <-answers:
			var news struct {
				Revision uint64 `json:"revision"`
				Flows    bool   `json:"flows"`
			}
			if r.status != http.StatusOK || json.Unmarshal(r.body, &news) != nil || !news.Flows || news.Revision != uint64(after)+1 {
				t.Fatalf("got %d %s, want news of revision %d with flows", r.status, r.body, after+1)
			}
		case <-ctx.Done():
			t.Fatal("not every waiting worker was woken by the deploy")
		}
	}
	wg.Wait()
}

// infoField reads one numeric field of an INFO answer.
func infoField(tb testing.TB, info, name string) int {
	tb.Helper()
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				tb.Fatalf("INFO %s: %q", name, v)
			}
			return n
		}
	}
	tb.Fatalf("INFO has no %s", name)
	return 0
}
