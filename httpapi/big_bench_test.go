package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/migrations"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
)

// Issue 22's "bigger work, same answers": a 10 MB flows document, and one
// namespace of a million events. Each benchmark runs bigRounds rounds of
// every figure per iteration (run them with -benchtime 1x: the million
// events are written once per binary, and -count 3 measures them three
// times), and each flowhist figure has its raw-Valkey baseline in the same
// run. make bench-big runs them:
//
//	go test -run '^$' -bench Big -benchtime 1x -count 3 -timeout 60m ./httpapi/
const (
	bigRounds   = 300
	bigDocNodes = 20000 // ~10 MB
	bigDeploys  = 300   // one-node deploys after the whole document
	// bigMemoryDeploys one-node deploys of a ~1 MB document end the
	// million-event log: the design's memory-per-revision measure, taken
	// on top of it.
	bigMemoryDeploys = 1000
)

// bigLogEvents is the length of BenchmarkBigLog's log: a million, or
// FLOWHIST_BENCH_BIG_EVENTS for a quicker look.
var bigLogEvents = func() int {
	if n, err := strconv.Atoi(os.Getenv("FLOWHIST_BENCH_BIG_EVENTS")); err == nil && n > 2*bigMemoryDeploys {
		return n
	}
	return 1000000
}()

// bigOnly skips b unless FLOWHIST_BENCH_BIG=1.
func bigOnly(b *testing.B) {
	if os.Getenv("FLOWHIST_BENCH_BIG") != "1" {
		b.Skip("minutes long: run with FLOWHIST_BENCH_BIG=1 (make bench-big)")
	}
}

// getRounds times n GETs of url(i) with token, request and whole answer,
// and returns the bytes of the last answer and how long the first took.
func getRounds(b *testing.B, ts *testServer, token string, lat *streamstest.Latencies, n int, url func(i int) string) (size int64, first time.Duration) {
	client := ts.Client()
	for i := 0; i < n; i++ {
		req, err := http.NewRequest("GET", ts.URL+url(i), nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		lat.Start()
		t0 := time.Now()
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		size, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		lat.Stop()
		if i == 0 {
			first = time.Since(t0)
		}
		if err != nil || res.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: got status %d (%v), want 200", url(i), res.StatusCode, err)
		}
	}
	return size, first
}

// bigGets reports p50 and p99 of bigRounds GETs of url(i) per iteration,
// and the first GET's time (first-us): in the first run of a binary, the
// one that found none of what big reads keep between requests.
func bigGets(b *testing.B, ts *testServer, url func(i int) string) {
	lat := streamstest.NewLatencies(b)
	var first time.Duration
	for i := range b.N {
		_, d := getRounds(b, ts, ts.token, lat, bigRounds, url)
		if i == 0 {
			first = d
		}
	}
	lat.Report()
	b.ReportMetric(float64(first.Microseconds()), "first-us")
}

// bigRaw reports p50 and p99 of bigRounds runs of raw(i) per iteration, a
// raw-Valkey baseline.
func bigRaw(b *testing.B, raw func(ctx context.Context, i int) error) {
	ctx := testCtx(b)
	lat := streamstest.NewLatencies(b)
	for range b.N {
		for i := range bigRounds {
			lat.Start()
			err := raw(ctx, i)
			lat.Stop()
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	lat.Report()
}

// multi runs cmds in one pipeline and returns the first error.
func multi(ctx context.Context, c rueidis.Client, cmds ...rueidis.Completed) error {
	for _, r := range c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil && !rueidis.IsRedisNil(err) {
			return err
		}
	}
	return nil
}

// bigDoc is BenchmarkBigDocument's namespace: a ~10 MB document deployed
// whole, then bigDeploys one-node deploys (node 7 changed in every
// tenth), built once per binary.
var bigDoc struct {
	once  sync.Once
	ts    *testServer
	ns    string
	size  int
	setup time.Duration
	err   error
}

func bigDocBench(b *testing.B) (*testServer, string) {
	b.Helper()
	bigDoc.once.Do(func() {
		start := time.Now()
		// Not b's server: it outlives the first benchmark.
		ts := mustServer(&testing.T{}, httpapi.Config{})
		ts.token = readSecret
		bigDoc.ts, bigDoc.ns = ts, randomNS(b)
		bigDoc.size, bigDoc.err = fillBigDoc(ts.store, bigDoc.ns)
		bigDoc.setup = time.Since(start)
		fmt.Fprintf(os.Stderr, "big document: set-up: a %d B document and %d one-node deploys in %s\n", bigDoc.size, bigDeploys, bigDoc.setup.Round(time.Millisecond))
	})
	if bigDoc.err != nil {
		b.Fatalf("set up the %d-node document: %v", bigDocNodes, bigDoc.err)
	}
	b.Logf("set-up: a %d B document and %d one-node deploys in %s (once per binary)", bigDoc.size, bigDeploys, bigDoc.setup.Round(time.Millisecond))
	return bigDoc.ts, bigDoc.ns
}

func fillBigDoc(store *streams.Store, ns string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	doc := domaintest.NewDoc(bigDocNodes)
	cur, err := domain.ParseFlows(doc.Bytes())
	if err != nil {
		return 0, err
	}
	actor := domain.Origin{Actor: domain.Actor{User: "bench", Channel: domain.ChannelAPI}}
	if _, err := streamstest.AppendFlows(ctx, store, ns, domain.FlowsChange{Flows: cur, Origin: actor}, ""); err != nil {
		return 0, err
	}
	for i := 1; i <= bigDeploys; i++ {
		k := 7
		if i%10 != 0 {
			k = (i * 7919) % bigDocNodes
		}
		if cur, err = streamstest.DeployNode(ctx, store, ns, doc, cur, k, actor); err != nil {
			return 0, fmt.Errorf("deploy %d: %w", i+1, err)
		}
	}
	return cur.Size(), nil
}

// BenchmarkBigDocument reads a namespace whose flows document is ~10 MB:
// the diff of two revisions 100 deploys apart and of the first and the
// last (two documents rebuilt from snapshots and patches, then compared),
// a node's history with its property diffs (the node was deployed with
// the whole document at revision 1: a page that reaches it reads that
// event), and history pages. Goals: diff p99 under 200 ms, history and node history pages
// under 10 ms. Baselines: GET of the newest snapshot's compressed blob
// (twice: what a diff must read at least) and XREVRANGE of the page.
func BenchmarkBigDocument(b *testing.B) {
	bigOnly(b)
	ts, ns := bigDocBench(b)
	c := mustClient(b)
	keys := streams.KeysOf(ns)
	blobs, err := c.Do(testCtx(b), c.B().Keys().Pattern(strings.TrimSuffix(keys.Meta, "meta")+"blob:*").Build()).AsStrSlice()
	if err != nil || len(blobs) == 0 {
		b.Fatalf("got blobs %q (%v), want some", blobs, err)
	}
	head := bigDeploys + 1
	b.Run("RawGET2Blobs", func(b *testing.B) {
		bigRaw(b, func(ctx context.Context, i int) error {
			return multi(ctx, c, c.B().Get().Key(blobs[0]).Build(), c.B().Get().Key(blobs[len(blobs)-1]).Build())
		})
	})
	b.Run("Diff100Apart", func(b *testing.B) {
		rnd := rand.New(rand.NewPCG(7, 8))
		bigGets(b, ts, func(int) string {
			from := 1 + rnd.IntN(head-100)
			return path(ns, fmt.Sprintf("/diff?from=%d&to=%d", from, from+100))
		})
	})
	b.Run("DiffFirstLast", func(b *testing.B) {
		bigGets(b, ts, func(int) string { return path(ns, fmt.Sprintf("/diff?from=1&to=%d", head)) })
	})
	b.Run("RawXREVRANGE50", func(b *testing.B) {
		bigRaw(b, func(ctx context.Context, i int) error {
			return c.Do(ctx, c.B().Xrevrange().Key(keys.Log).End("+").Start("-").Count(50).Build()).Error()
		})
	})
	b.Run("HistoryPage", func(b *testing.B) {
		bigGets(b, ts, func(int) string { return path(ns, "/history?limit=50") })
	})
	b.Run("HistoryPageFirst", func(b *testing.B) {
		// The oldest page holds revision 1: the whole document.
		bigGets(b, ts, func(int) string { return path(ns, "/history?limit=50&cursor=51") })
	})
	b.Run("NodeHistory", func(b *testing.B) {
		bigGets(b, ts, func(int) string { return path(ns, "/nodes/"+domaintest.ID(7)+"/history?limit=20") })
	})
	b.Run("NodeHistoryOnce", func(b *testing.B) {
		// Node 1 was deployed with the whole document and never changed,
		// as most of a big document's nodes: its history is revision 1.
		bigGets(b, ts, func(int) string { return path(ns, "/nodes/"+domaintest.ID(1)+"/history?limit=20") })
	})
}

// bigLog is BenchmarkBigLog's namespace of bigLogEvents events, built once
// per binary, and what its set-up measured.
var bigLog struct {
	once  sync.Once
	ts    *testServer
	ns    string
	setup time.Duration
	// perEvent is Valkey's used_memory delta per event over each step of
	// the fill.
	perEvent []string
	perRev   float64
	docSize  int
	err      error
}

func bigLogBench(b *testing.B) (*testServer, string) {
	b.Helper()
	bigLog.once.Do(func() {
		start := time.Now()
		t := &testing.T{}
		ts := mustServer(t, httpapi.Config{})
		ts.token = adminSecret
		bigLog.ts, bigLog.ns = ts, randomNS(b)
		c := mustClient(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		used := func() (int64, error) {
			info, err := c.Do(ctx, c.B().Info().Section("memory").Build()).ToString()
			if err != nil {
				return 0, err
			}
			for _, l := range strings.Split(info, "\r\n") {
				if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
					return strconv.ParseInt(v, 10, 64)
				}
			}
			return 0, fmt.Errorf("no used_memory in INFO")
		}
		last, lastAt := int64(0), 0
		if last, bigLog.err = used(); bigLog.err != nil {
			return
		}
		events := bigLogEvents - bigMemoryDeploys - 1
		bigLog.err = streamstest.FillBig(ctx, ts.store, bigLog.ns, streamstest.BigLog{
			Events: events, Step: max(bigLogEvents/10, 1000),
			At: func(done int) error {
				now, err := used()
				if err != nil {
					return err
				}
				bigLog.perEvent = append(bigLog.perEvent, fmt.Sprintf("%d-%d: %.0f B", lastAt+1, done, float64(now-last)/float64(done-lastAt)))
				last, lastAt = now, done
				fmt.Fprintf(os.Stderr, "big log: %d events in %s\n", done, time.Since(start).Round(time.Second))
				return nil
			},
		})
		if bigLog.err != nil {
			return
		}
		bigLog.perRev, bigLog.docSize = streamstest.MemoryPerRevision(t, ctx, ts.store, c, bigLog.ns, benchNodes, bigMemoryDeploys)
		bigLog.setup = time.Since(start)
		fmt.Fprintf(os.Stderr, "big log: set-up: %d events in %s; Valkey used_memory per event appended, by step: %s; then %.0f B per revision of one-node deploys of a %d B document (%.3f%%)\n",
			bigLogEvents, bigLog.setup.Round(time.Second), strings.Join(bigLog.perEvent, ", "), bigLog.perRev, bigLog.docSize, 100*bigLog.perRev/float64(bigLog.docSize))
	})
	if bigLog.err != nil {
		b.Fatalf("set up %d events: %v", bigLogEvents, bigLog.err)
	}
	b.Logf("set-up: %d events in %s (once per binary); Valkey used_memory per event appended, by step: %s; then %.0f B per revision of one-node deploys of a %d B document (%.3f%%)",
		bigLogEvents, bigLog.setup.Round(time.Second), strings.Join(bigLog.perEvent, ", "), bigLog.perRev, bigLog.docSize, 100*bigLog.perRev/float64(bigLog.docSize))
	return bigLog.ts, bigLog.ns
}

// bigPass runs pass (a replay or a verify of the whole big log) b.N
// times and reports events/s, the share of raw's, and how much this
// process's resident set grew meanwhile.
func bigPass(b *testing.B, raw float64, pass func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	before := rss()
	start := time.Now()
	for range b.N {
		if err := pass(ctx); err != nil {
			b.Fatal(err)
		}
	}
	eventsPerSecond(b, bigLogEvents, time.Since(start), raw)
	b.ReportMetric(float64(rss()-before)/(1<<20), "rss-growth-MB")
}

// rss is this process's resident set, from /proc (0 where there is none).
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// heapInUse is the Go heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkBigLog reads one namespace of a million events (one in five a
// flows event over a ~100 KB document, the others settings, library and
// packages saves; the last thousand one-node deploys of a ~1 MB
// document), each figure against its raw-Valkey baseline in the same run:
// replay (flowhist replay's Rebuild) and verify against XRANGE of the same
// entries; a replica's start (a new store and projector: the schema check
// and catch-up serve runs, then GET /readyz) against PING + XLEN; history,
// node history and audit pages against XREVRANGE / ZRANGE of the same
// page. Goals: replay at 20 000 events/s or more, ready in under 2 s,
// pages under 10 ms p99; memory per revision as at a thousand events
// (set-up's log line).
func BenchmarkBigLog(b *testing.B) {
	bigOnly(b)
	ts, ns := bigLogBench(b)
	c := mustClient(b)
	keys := streams.KeysOf(ns)
	var raw float64
	b.Run("RawXRANGE", func(b *testing.B) {
		ctx := testCtx(b)
		start := time.Now()
		for range b.N {
			if n, err := streamstest.CountEntries(ctx, ts.store, ns); err != nil || n != bigLogEvents {
				b.Fatalf("got %d entries (%v), want %d", n, err, bigLogEvents)
			}
		}
		raw = eventsPerSecond(b, bigLogEvents, time.Since(start), 0)
	})
	b.Run("Replay", func(b *testing.B) {
		bigPass(b, raw, func(ctx context.Context) error {
			rev, err := ts.proj.Rebuild(ctx, ns)
			if err == nil && rev != domain.Revision(bigLogEvents) {
				err = fmt.Errorf("got revision %d, want %d", rev, bigLogEvents)
			}
			return err
		})
	})
	b.Run("Verify", func(b *testing.B) {
		bigPass(b, raw, func(ctx context.Context) error {
			r, err := projector.Verify(ctx, ts.store, ns)
			if err == nil && !r.OK {
				err = fmt.Errorf("got %+v, want OK", r)
			}
			return err
		})
	})
	b.Run("RawPINGXLEN", func(b *testing.B) {
		bigRaw(b, func(ctx context.Context, i int) error {
			return multi(ctx, c, c.B().Ping().Build(), c.B().Xlen().Key(keys.Log).Build())
		})
	})
	b.Run("ReplicaReady", func(b *testing.B) {
		benchReplicaReady(b, ns)
	})
	rnd := rand.New(rand.NewPCG(9, 10))
	cursor := func() int { return 2 + rnd.IntN(bigLogEvents-1) }
	b.Run("RawXREVRANGE50", func(b *testing.B) {
		bigRaw(b, func(ctx context.Context, i int) error {
			return c.Do(ctx, c.B().Xrevrange().Key(keys.Log).End(strconv.Itoa(cursor()-1)+"-0").Start("-").Count(50).Build()).Error()
		})
	})
	b.Run("HistoryPage", func(b *testing.B) {
		bigGets(b, ts, func(int) string { return path(ns, fmt.Sprintf("/history?limit=50&cursor=%d", cursor())) })
	})
	b.Run("HistoryPageHead", func(b *testing.B) {
		bigGets(b, ts, func(int) string { return path(ns, "/history?limit=50") })
	})
	b.Run("HistoryPageActor", func(b *testing.B) {
		// One event in four is alice's: a page reads ~200.
		bigGets(b, ts, func(int) string { return path(ns, fmt.Sprintf("/history?limit=50&actor=alice&cursor=%d", cursor())) })
	})
	node := domaintest.ID(13) // FillBig's 1st, 201st, … flows event changes it
	nodeKey := strings.TrimSuffix(keys.Meta, "meta") + "node:" + node
	total, err := c.Do(testCtx(b), c.B().Zcard().Key(nodeKey).Build()).AsInt64()
	if err != nil || total < 10 {
		b.Fatalf("node %s: got %d revisions (%v), want at least 10", node, total, err)
	}
	b.Run("RawZRANGEXRANGE21", func(b *testing.B) {
		bigRaw(b, func(ctx context.Context, i int) error {
			revs, err := c.Do(ctx, c.B().Zrange().Key(nodeKey).Min("+inf").Max("-inf").Byscore().Rev().Limit(0, 21).Build()).AsStrSlice()
			if err != nil {
				return err
			}
			cmds := make(rueidis.Commands, len(revs))
			for i, r := range revs {
				cmds[i] = c.B().Xrange().Key(keys.Log).Start(r + "-0").End(r + "-0").Build()
			}
			return multi(ctx, c, cmds...)
		})
	})
	b.Run("NodeHistoryHead", func(b *testing.B) {
		bigGets(b, ts, func(int) string { return path(ns, "/nodes/"+node+"/history?limit=20") })
	})
	b.Run("NodeHistory", func(b *testing.B) {
		bigGets(b, ts, func(int) string { return path(ns, fmt.Sprintf("/nodes/%s/history?limit=20&cursor=%d", node, cursor())) })
	})
	b.Run("RawXREVRANGE100", func(b *testing.B) {
		bigRaw(b, func(ctx context.Context, i int) error {
			return multi(ctx, c, c.B().Time().Build(), c.B().Xrevrange().Key(keys.Log).End("+").Start("-").Count(100).Build())
		})
	})
	b.Run("AuditPage", func(b *testing.B) {
		bigGets(b, ts, func(int) string { return "/v1/audit?" + url.Values{"ns": {ns}, "limit": {"100"}}.Encode() })
	})
	b.Run("AuditPageUser", func(b *testing.B) {
		bigGets(b, ts, func(int) string {
			return "/v1/audit?" + url.Values{"ns": {ns}, "limit": {"100"}, "user": {"bob"}}.Encode()
		})
	})
}

// benchReplicaReady starts a replica on the big log's Valkey bigRounds
// times: a new client, store, projector and API, the schema check and
// catch-up serve runs at start, then GET /readyz until 200. It reports
// the time from the new client to the 200, and the Go heap the replica
// holds once ready.
func benchReplicaReady(b *testing.B, ns string) {
	ctx := testCtx(b)
	lat := streamstest.NewLatencies(b)
	var heap []float64
	for range b.N {
		for range bigRounds {
			base := heapInUse()
			lat.Start()
			client := mustClient(b)
			store, err := streams.New(client, streams.Config{}, nil)
			if err != nil {
				b.Fatal(err)
			}
			proj, err := projector.New(store, projector.Config{}, nil)
			if err != nil {
				b.Fatal(err)
			}
			api, err := httpapi.New(store, proj, httpapi.Config{Tokens: defaultTokens}, nil, prometheus.NewRegistry())
			if err != nil {
				b.Fatal(err)
			}
			if err := migrations.Check(ctx, store); err != nil {
				b.Fatal(err)
			}
			if err := proj.CatchUp(ctx); err != nil {
				b.Fatal(err)
			}
			api.SetReady(true)
			rec := httptest.NewRecorder()
			api.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			lat.Stop()
			if rec.Code != http.StatusOK {
				b.Fatalf("GET /readyz: got %d (%s), want 200", rec.Code, rec.Body)
			}
			var at domain.Revision
			if err := proj.View(ctx, ns, func(st *domain.State) error { at = st.Revision; return nil }); err != nil || at != domain.Revision(bigLogEvents) {
				b.Fatalf("the replica's state is at %d (%v), want %d", at, err, bigLogEvents)
			}
			heap = append(heap, float64(heapInUse())-float64(base))
			api.Close()
			client.Close()
		}
	}
	lat.Report()
	var sum float64
	for _, h := range heap {
		sum += h
	}
	b.ReportMetric(sum/float64(len(heap))/(1<<20), "replica-heap-MB")
}
