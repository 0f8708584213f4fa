package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams/streamstest"
)

// BenchmarkFeedRolloutPromote1000 is the fan-out of a staged rollout's
// promotion: 1 000 workers on duplex feeds in three rings (canary 10, eu
// 330, default 660) under a policy whose bakes never end on their own; each
// round deploys (the canaries get it), then an operator's promote moves
// the target to the next ring. It reports p50-us and p99-us from the
// promote's 200 to the last worker of the promoted ring hearing its new
// target. Compare with BenchmarkFeedAckNotify1000/duplex (a plain deploy to
// 1 000 workers) in the same run:
//
//	go test -run '^$' -bench 'FeedRolloutPromote1000|FeedAckNotify1000/duplex$' -benchtime 20x ./httpapi/
func BenchmarkFeedRolloutPromote1000(b *testing.B) {
	b.Run("eu-330", func(b *testing.B) { benchRolloutPromote(b, 1) })
	b.Run("default-660", func(b *testing.B) { benchRolloutPromote(b, 2) })
}

var benchRings = []struct {
	name string
	n    int
}{{"canary", 10}, {"eu", 330}, {"default", 660}}

// benchRolloutPromote measures the promotion to ring index ring.
func benchRolloutPromote(b *testing.B, ring int) {
	ts := mustServer(b, httpapi.Config{})
	tr := ts.Client().Transport.(*http.Transport)
	tr.MaxIdleConnsPerHost = 2200
	ns := randomNS(b)
	ts.ok(b, "PUT", path(ns, "/flows"), flowsDoc("start"), nil, nil)
	ts.ok(b, "PUT", path(ns, "/rollout/policy"), []byte(`{"rings":[{"name":"canary","bake":"168h","gate":{"deadline":"1h"}},{"name":"eu","bake":"168h","gate":{"deadline":"1h"}},{"name":"default"}]}`), nil, nil)
	after := ts.head(b, ns)

	var want atomic.Uint64 // the target revision workers wait to hear
	wakes := make([]chan wake, len(benchRings))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait() })
	total := 0
	for r, rg := range benchRings {
		wakes[r] = make(chan wake, rg.n)
		for i := range rg.n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				benchRingWorker(ctx, ts, ns, fmt.Sprintf("w%04d", total+i), rg.name, after, &want, wakes[r])
			}()
		}
		total += rg.n
	}
	heard := func(r int) time.Time {
		var last time.Time
		for range benchRings[r].n {
			w := <-wakes[r]
			if w.err != nil {
				b.Fatal(w.err)
			}
			if w.at.After(last) {
				last = w.at
			}
		}
		return last
	}
	streamstest.NotifyRounds(b,
		func() {
			ts.waitForWaiters(b, total)
			// A deploy: the canaries hear it; then the rings up to the one
			// measured (outside the timer).
			res := ts.ok(b, "PUT", path(ns, "/flows"), flowsDoc(fmt.Sprint("round", time.Now().UnixNano())), nil, nil)
			var saved httpapi.Saved
			json.Unmarshal(res.body, &saved)
			want.Store(uint64(saved.Revision))
			heard(0)
			for r := 1; r < ring; r++ {
				ts.ok(b, "POST", path(ns, "/rollout/promote"), nil, nil, nil)
				heard(r)
			}
			ts.waitForWaiters(b, total)
		},
		func(int) (time.Time, time.Time) {
			req, _ := http.NewRequest("POST", ts.URL+path(ns, "/rollout/promote"), nil)
			req.Header.Set("Authorization", "Bearer "+adminSecret)
			return streamstest.Deploy(b, ts.Client(), req)
		},
		func() time.Time {
			t := heard(ring)
			// Complete the rollout for the next round.
			for r := ring + 1; r < len(benchRings); r++ {
				ts.ok(b, "POST", path(ns, "/rollout/promote"), nil, nil, nil)
				heard(r)
			}
			ts.ok(b, "POST", path(ns, "/rollout/promote"), nil, nil, nil)
			return t
		})
}

// benchRingWorker follows ns's duplex feed as a worker of ring,
// acknowledging each line, and reports when it first hears a target at
// the revision want names.
func benchRingWorker(ctx context.Context, ts *testServer, ns, worker, ring string, after domain.Revision, want *atomic.Uint64, wakes chan<- wake) {
	var told uint64
	for ctx.Err() == nil {
		body, acks := io.Pipe()
		req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+feedURL(ns, worker, after, "60s")+"&ring="+ring, body)
		req.Header.Set("Authorization", "Bearer "+readSecret)
		res, err := ts.Client().Do(req)
		if err != nil {
			if ctx.Err() == nil {
				wakes <- wake{err: err}
			}
			return
		}
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			at := time.Now()
			var news httpapi.FeedNews
			if err := json.Unmarshal(sc.Bytes(), &news); err != nil {
				wakes <- wake{err: err}
				return
			}
			fmt.Fprintf(acks, "{\"ack\":%d,\"id\":%q}\n", news.Revision, news.ID)
			after = news.Revision
			if w := want.Load(); news.Target != nil && uint64(news.Target.Revision) == w && told != w {
				told = w
				wakes <- wake{at: at}
			}
		}
		res.Body.Close()
		acks.Close()
	}
}
