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
	"strings"
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

	// The revision each namespace's workers wait to hear: the rollout's
	// workers, as their ring's target; the plain namespaces', as news.
	var want, ringWant, fleetWant atomic.Uint64
	wakes := make([]chan wake, len(benchRings))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait() })
	var workers []*ringBenchWorker
	start := func(w *ringBenchWorker) {
		workers = append(workers, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
	for r, rg := range benchRings {
		wakes[r] = make(chan wake, rg.n)
		for range rg.n {
			// Each worker its own id, and so its own consumer group: two
			// workers sharing one would take each other's deliveries.
			start(&ringBenchWorker{ts: ts, ns: ns, id: fmt.Sprintf("w%04d", len(workers)), ring: rg.name, after: after, want: &want, wakes: wakes[r]})
		}
	}
	// The plain namespaces: every worker hears every deploy.
	plain := func(n int, want *atomic.Uint64) (string, chan wake) {
		pns := randomNS(b)
		ts.ok(b, "PUT", path(pns, "/flows"), flowsDoc("start"), nil, nil)
		at := ts.head(b, pns)
		ch := make(chan wake, n)
		for i := range n {
			start(&ringBenchWorker{ts: ts, ns: pns, id: fmt.Sprintf("p%04d", i), after: at, want: want, wakes: ch})
		}
		return pns, ch
	}
	ringNS, ringWakes := plain(benchRings[ring].n, &ringWant)
	fleetNS, fleetWakes := plain(benchFleet, &fleetWant)
	total := len(workers)

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
				b.Fatalf("%d of %d workers heard within a minute; of those that did not:\n%s", i, n, unheard(workers))
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
		ringWant.Store(uint64(ts.head(b, ringNS) + 1))
		b.StartTimer()
		sent = deploy(ringNS, i)
		ringDeploy = append(ringDeploy, lastOf(ringWakes, benchRings[ring].n).Sub(sent))
		deployFirst = append(deployFirst, first.Sub(sent))
		b.StopTimer()
		quiet()
		fleetWant.Store(uint64(ts.head(b, fleetNS) + 1))
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

// ringBenchWorker follows ns's duplex feed as a worker of ring ("":
// none), acknowledging each line on the request's body, and asks again
// when an answer ends. It reports once, on wakes, when it hears the
// revision want names: as its ring's target, or, without a ring, as news
// (not again when its group hands back a news it heard already, whose
// acknowledgement went with the connection that carried it).
type ringBenchWorker struct {
	ts        *testServer
	ns, id    string
	ring      string
	after     domain.Revision
	want      *atomic.Uint64
	wakes     chan<- wake
	told      atomic.Uint64          // the last want it reported
	last      atomic.Pointer[string] // its last news line, for a failure's report
	reconnect atomic.Int64           // answers it asked for
}

func (w *ringBenchWorker) run(ctx context.Context) {
	// A send gives up when the benchmark is over (it may have failed
	// without reading its wakes).
	send := func(wk wake) {
		select {
		case w.wakes <- wk:
		case <-ctx.Done():
		}
	}
	for ctx.Err() == nil {
		w.reconnect.Add(1)
		body, acks, closeAcks := ackBody(ctx)
		url := w.ts.URL + feedURL(w.ns, w.id, w.after, benchRingWait())
		if w.ring != "" {
			url += "&ring=" + w.ring
		}
		req, _ := http.NewRequestWithContext(ctx, "POST", url, body)
		req.Header.Set("Authorization", "Bearer "+readSecret)
		res, err := w.ts.Client().Do(req)
		if err != nil {
			if ctx.Err() == nil {
				send(wake{err: err})
			}
			return
		}
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			at := time.Now()
			line := sc.Text()
			w.last.Store(&line)
			var news httpapi.FeedNews
			if err := json.Unmarshal(sc.Bytes(), &news); err != nil {
				send(wake{err: err})
				return
			}
			fmt.Fprintf(acks, "{\"ack\":%d,\"id\":%q}\n", news.Revision, news.ID)
			w.after = news.Revision
			want := w.want.Load()
			heard := uint64(news.Revision) >= want
			if w.ring != "" {
				heard = news.Target != nil && uint64(news.Target.Revision) == want
			}
			if heard && w.told.Load() != want {
				w.told.Store(want)
				send(wake{at: at})
			}
		}
		res.Body.Close()
		closeAcks()
	}
}

// unheard lists (up to 10 of) the workers that have not heard what they
// wait for: their ring, answers asked for and last news line.
func unheard(workers []*ringBenchWorker) string {
	var b strings.Builder
	n := 0
	for _, w := range workers {
		if w.told.Load() == w.want.Load() {
			continue
		}
		if n++; n <= 10 {
			last := "none"
			if l := w.last.Load(); l != nil {
				last = *l
			}
			fmt.Fprintf(&b, "  %s/%s (ring %q, waits for %d, %d answers): last news %s\n", w.ns, w.id, w.ring, w.want.Load(), w.reconnect.Load(), last)
		}
	}
	fmt.Fprintf(&b, "  (%d in all)", n)
	return b.String()
}

// ackBody is a duplex feed request's body, the writer of its
// acknowledgement lines, and a function that ends the body; ctx's end
// ends it too. A request that fails (ctx ended) waits for the transport
// to stop reading its body: with the body never ended, Do would never
// return.
func ackBody(ctx context.Context) (io.Reader, io.Writer, func()) {
	r, w := io.Pipe()
	stop := context.AfterFunc(ctx, func() { w.CloseWithError(ctx.Err()) })
	return r, w, func() { stop(); w.Close() }
}

// benchRingWait is the workers' feed wait: 60s, or BENCH_RING_WAIT (2s or
// 3s: workers reconnect every few rounds, and promotions land while some
// are between answers):
//
//	BENCH_RING_WAIT=3s go test -run '^$' -bench 'FeedRolloutPromote1000/eu' -benchtime 60x ./httpapi/
func benchRingWait() string {
	if v := os.Getenv("BENCH_RING_WAIT"); v != "" {
		return v
	}
	return "60s"
}
