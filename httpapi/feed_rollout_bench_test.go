package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams/streamstest"
)

// BenchmarkFeedRolloutPromote1000 is the fan-out of a staged rollout's
// promotion against a plain deploy, in the same server and the same
// rounds: 1 000 workers on duplex feeds in three rings (canary 10, eu 330,
// default 660) under a policy whose bakes never end on their own, and two
// namespaces without a policy, one with as many workers as the promoted
// ring, one with 1 000. Each round deploys to the rollout (the canaries
// get it) and promotes up to the ring before the one measured (untimed),
// then times, one after the other with every acknowledgement written in
// between, the operator's promote to the measured ring and a plain deploy
// to each of the other namespaces, each from its request's start to the
// last worker it moves hearing of it (the promoted ring's workers hearing
// their new target; every worker hearing the deploy). It reports p50-us
// and p99-us of each (promote-, ring-deploy-, fleet-deploy-), and their
// ratios (promote/ring-deploy, promote/fleet-deploy):
//
//	go test -run '^$' -bench 'FeedRolloutPromote1000' -benchtime 300x ./httpapi/
func BenchmarkFeedRolloutPromote1000(b *testing.B) {
	b.Run("eu-330", func(b *testing.B) { benchRolloutPromote(b, 1) })
	b.Run("default-660", func(b *testing.B) { benchRolloutPromote(b, 2) })
}

var benchRings = []struct {
	name string
	n    int
}{{"canary", 10}, {"eu", 330}, {"default", 660}}

// benchFleet is the workers of a rollout's namespace in all.
const benchFleet = 1000

// benchRolloutPromote measures the promotion to ring index ring.
func benchRolloutPromote(b *testing.B, ring int) {
	ts := mustServer(b, httpapi.Config{})
	tr := ts.Client().Transport.(*http.Transport)
	tr.MaxIdleConnsPerHost = 2 * (2*benchFleet + benchRings[ring].n)
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
	// The plain namespaces: every worker hears every deploy.
	plain := func(n int) (string, chan wake) {
		pns := randomNS(b)
		ts.ok(b, "PUT", path(pns, "/flows"), flowsDoc("start"), nil, nil)
		at := ts.head(b, pns)
		ch := make(chan wake, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				benchRingWorker(ctx, ts, pns, fmt.Sprintf("p%04d", i), "", at, nil, ch)
			}()
		}
		total += n
		return pns, ch
	}
	ringNS, ringWakes := plain(benchRings[ring].n)
	fleetNS, fleetWakes := plain(benchFleet)

	var first time.Time // when the last lastOf's first worker heard
	lastOf := func(ch chan wake, n int) time.Time {
		var last time.Time
		first = time.Time{}
		timeout := time.After(time.Minute)
		for i := range n {
			var w wake
			select {
			case w = <-ch:
			case <-timeout:
				b.Fatalf("%d of %d workers heard within a minute", i, n)
			}
			if w.err != nil {
				b.Fatal(w.err)
			}
			if w.at.After(last) {
				last = w.at
			}
			if first.IsZero() || w.at.Before(first) {
				first = w.at
			}
		}
		return last
	}
	heard := func(r int) time.Time { return lastOf(wakes[r], benchRings[r].n) }
	// quiet returns once every worker waits with the head acknowledged
	// (asking GET …/workers, which reads every group, every 20 ms).
	quiet := func() {
		ts.waitForWaiters(b, total)
		for _, n := range []string{ns, ringNS, fleetNS} {
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					b.Fatalf("namespace %s: not every acknowledgement written within a minute", n)
				}
				var ws httpapi.Workers
				json.Unmarshal(ts.ok(b, "GET", path(n, "/workers"), nil, nil, nil).body, &ws)
				if !slices.ContainsFunc(ws.Workers, func(w httpapi.WorkerInfo) bool { return w.Acknowledged != ws.Revision }) {
					break
				}
			}
		}
	}
	promote := func() (sent time.Time) {
		req, _ := http.NewRequest("POST", ts.URL+path(ns, "/rollout/promote"), nil)
		req.Header.Set("Authorization", "Bearer "+adminSecret)
		sent, _ = streamstest.Deploy(b, ts.Client(), req)
		return sent
	}
	deploy := func(ns string, i int) (sent time.Time) {
		req, _ := http.NewRequest("PUT", ts.URL+path(ns, "/flows"), bytes.NewReader(flowsDoc(fmt.Sprint("round", i))))
		req.Header.Set("Authorization", "Bearer "+deploySecret)
		sent, _ = streamstest.Deploy(b, ts.Client(), req)
		return sent
	}
	var promoted, ringDeploy, fleetDeploy, promoteFirst, deployFirst []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		quiet()
		// A deploy: the canaries hear it; then the rings up to the one
		// measured.
		// The revision the deploy will have, known before it is sent: the
		// canaries may hear their new target before its 200 arrives.
		next := ts.head(b, ns) + 1
		want.Store(uint64(next))
		res := ts.ok(b, "PUT", path(ns, "/flows"), flowsDoc(fmt.Sprint("round", i)), nil, nil)
		var saved httpapi.Saved
		json.Unmarshal(res.body, &saved)
		if saved.Revision != next {
			b.Fatalf("the deploy is revision %d, want %d (nothing else appends here)", saved.Revision, next)
		}
		heard(0)
		for r := 1; r < ring; r++ {
			promote()
			heard(r)
		}
		quiet()
		b.StartTimer()
		sent := promote()
		promoted = append(promoted, heard(ring).Sub(sent))
		promoteFirst = append(promoteFirst, first.Sub(sent))
		b.StopTimer()
		// Complete the rollout for the next round.
		for r := ring + 1; r < len(benchRings); r++ {
			promote()
			heard(r)
		}
		promote()
		quiet()
		b.StartTimer()
		sent = deploy(ringNS, i)
		ringDeploy = append(ringDeploy, lastOf(ringWakes, benchRings[ring].n).Sub(sent))
		deployFirst = append(deployFirst, first.Sub(sent))
		b.StopTimer()
		quiet()
		b.StartTimer()
		sent = deploy(fleetNS, i)
		fleetDeploy = append(fleetDeploy, lastOf(fleetWakes, benchFleet).Sub(sent))
	}
	b.StopTimer()
	p := func(d []time.Duration, q int) float64 { return float64(percentile(d, q)) }
	streamstest.ReportPercentiles(b, "promote-", promoted)
	streamstest.ReportPercentiles(b, "ring-deploy-", ringDeploy)
	streamstest.ReportPercentiles(b, "fleet-deploy-", fleetDeploy)
	// The first worker hearing: what comes before the fan-out.
	streamstest.ReportPercentiles(b, "promote-first-", promoteFirst)
	streamstest.ReportPercentiles(b, "ring-deploy-first-", deployFirst)
	b.ReportMetric(p(promoted, 50)/p(ringDeploy, 50), "p50-promote/ring-deploy")
	b.ReportMetric(p(promoted, 99)/p(ringDeploy, 99), "p99-promote/ring-deploy")
	b.ReportMetric(p(promoted, 50)/p(fleetDeploy, 50), "p50-promote/fleet-deploy")
	b.ReportMetric(p(promoted, 99)/p(fleetDeploy, 99), "p99-promote/fleet-deploy")
}

// percentile is d's q-th percentile, as streamstest.ReportPercentiles
// takes it (d sorted).
func percentile(d []time.Duration, q int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[len(d)*q/100]
}

// benchRingWorker follows ns's duplex feed as a worker of ring ("": none),
// acknowledging each line, and reports when it
// first hears a target at the revision want names (want nil: when it
// hears any news).
func benchRingWorker(ctx context.Context, ts *testServer, ns, worker, ring string, after domain.Revision, want *atomic.Uint64, wakes chan<- wake) {
	var told uint64
	for ctx.Err() == nil {
		body, ackw := io.Pipe()
		url := ts.URL + feedURL(ns, worker, after, benchRingWait())
		if ring != "" {
			url += "&ring=" + ring
		}
		req, _ := http.NewRequestWithContext(ctx, "POST", url, body)
		req.Header.Set("Authorization", "Bearer "+readSecret)
		res, err := ts.Client().Do(req)
		if err != nil {
			if ctx.Err() == nil {
				select {
				case wakes <- wake{err: err}:
				case <-ctx.Done():
				}
			}
			return
		}
		// A send gives up when the benchmark is over (it may have failed
		// without reading its wakes).
		send := func(w wake) {
			select {
			case wakes <- w:
			case <-ctx.Done():
			}
		}
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			at := time.Now()
			var news httpapi.FeedNews
			if err := json.Unmarshal(sc.Bytes(), &news); err != nil {
				send(wake{err: err})
				return
			}
			fmt.Fprintf(ackw, "{\"ack\":%d,\"id\":%q}\n", news.Revision, news.ID)
			after = news.Revision
			switch {
			case want == nil:
				send(wake{at: at})
			case news.Target != nil && uint64(news.Target.Revision) == want.Load() && told != want.Load():
				told = want.Load()
				send(wake{at: at})
			}
		}
		res.Body.Close()
		ackw.Close()
	}
}

// benchRingWait is the ring workers' feed wait: 60s, or BENCH_RING_WAIT.
// With 2s or 3s (workers reconnect every few rounds) one or two workers of
// a promoted ring of 330 or 660 did not hear their new target within a
// minute in 60 rounds, with duplex feeds served off their connections or
// by net/http alike; at 60s, one run of 200 rounds hung so too:
//
//	BENCH_RING_WAIT=3s go test -run '^$' -bench 'FeedRolloutPromote1000/eu' -benchtime 60x ./httpapi/
//
// Not explained yet (the feed or this benchmark's worker).
func benchRingWait() string {
	if v := os.Getenv("BENCH_RING_WAIT"); v != "" {
		return v
	}
	return "60s"
}
