package httpapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams/streamstest"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams"
)

// The audit benchmarks read one namespace of auditEvents events over a
// ~1 MB document: the whole document deployed, then one-node deploys. It
// is built once per benchmark binary and stays on the shared valkey-server
// until the binary exits.
//
//	go test -run '^$' -bench 'History|Diff100' -benchtime 50x ./httpapi/
const auditEvents = 10000

var auditNS struct {
	once  sync.Once
	ns    string
	setup time.Duration
	err   error
}

// auditBench returns a server and the audit namespace, building it on first
// use.
func auditBench(b *testing.B) (*testServer, string) {
	b.Helper()
	ts := mustServer(b, httpapi.Config{})
	auditNS.once.Do(func() {
		start := time.Now()
		ns := randomNS(b)
		auditNS.err = fillAudit(ts.store, ns)
		auditNS.ns, auditNS.setup = ns, time.Since(start)
	})
	if auditNS.err != nil {
		b.Fatalf("set up %d events: %v", auditEvents, auditNS.err)
	}
	b.Logf("set-up: %d events over a %d-node document in %s (once per binary)", auditEvents, benchNodes, auditNS.setup.Round(time.Millisecond))
	return ts, auditNS.ns
}

// fillAudit appends the document, then auditEvents-1 one-node deploys built
// from the edited node alone (parsing the megabyte each time would make the
// set-up the benchmark).
func fillAudit(store *streams.Store, ns string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	doc := domaintest.NewDoc(benchNodes)
	cur, err := domain.ParseFlows(doc.Bytes())
	if err != nil {
		return err
	}
	actor := domain.Actor{User: "bench", Channel: domain.ChannelAPI}
	if _, err := streamstest.AppendFlows(ctx, store, ns, domain.FlowsChange{Flows: cur, Origin: domain.Origin{Actor: actor}}, ""); err != nil {
		return err
	}
	for i := 1; i < auditEvents; i++ {
		if cur, err = streamstest.DeployNode(ctx, store, ns, doc, cur, (i*13)%benchNodes, domain.Origin{Actor: actor}); err != nil {
			return fmt.Errorf("deploy %d: %w", i+1, err)
		}
	}
	return nil
}

// benchGets times GET url(i) for each iteration, request and whole answer
// only, and reports p50-us and p99-us.
func benchGets(b *testing.B, ts *testServer, url func(i int) string) {
	lat := streamstest.NewLatencies(b)
	size, _ := getRounds(b, ts, readSecret, lat, b.N, url)
	b.SetBytes(size)
	lat.Report()
}

// BenchmarkHistoryPage reads a page of 50 history entries, from the head and
// from random cursors. Target: p99 under 10 ms.
func BenchmarkHistoryPage(b *testing.B) {
	ts, ns := auditBench(b)
	b.Run("Head", func(b *testing.B) {
		benchGets(b, ts, func(int) string { return path(ns, "/history?limit=50") })
	})
	b.Run("RandomCursor", func(b *testing.B) {
		rnd := rand.New(rand.NewPCG(1, 2))
		cursors := make([]int, b.N)
		for i := range cursors {
			cursors[i] = 2 + rnd.IntN(auditEvents-1)
		}
		benchGets(b, ts, func(i int) string { return path(ns, fmt.Sprintf("/history?limit=50&cursor=%d", cursors[i])) })
	})
}

// BenchmarkDiff100Apart diffs two revisions 100 one-node deploys apart, at
// random places in the log: two documents rebuilt from snapshots and
// patches, then compared. Target: p99 under 100 ms.
func BenchmarkDiff100Apart(b *testing.B) {
	ts, ns := auditBench(b)
	rnd := rand.New(rand.NewPCG(3, 4))
	from := make([]int, b.N)
	for i := range from {
		from[i] = 1 + rnd.IntN(auditEvents-100)
	}
	benchGets(b, ts, func(i int) string { return path(ns, fmt.Sprintf("/diff?from=%d&to=%d", from[i], from[i]+100)) })
}

// BenchmarkNodeHistory reads one node's history in the same 10 000-event
// namespace: the node index names the node's revisions, and only those
// events are read (here including revision 1, the whole document).
func BenchmarkNodeHistory(b *testing.B) {
	ts, ns := auditBench(b)
	benchGets(b, ts, func(int) string { return path(ns, "/nodes/"+domaintest.ID(7)+"/history?limit=20") })
}

// longNodes is the document of BenchmarkNodeHistoryLong: ~100 KB, so that
// 100 000 deploys are written in seconds (a deploy hashes the document).
const longNodes = 200

// longLog is BenchmarkNodeHistoryLong's namespace, grown from one
// sub-benchmark to the next and kept until the binary exits.
var longLog struct {
	ns     string
	cur    *domain.Flows
	doc    *domaintest.Doc
	events int
}

// growLong appends one-node deploys to the long namespace until it holds n
// events, timing nothing.
func growLong(b *testing.B, store *streams.Store, n int) {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start, from := time.Now(), longLog.events
	actor := domain.Actor{User: "bench", Channel: domain.ChannelAPI}
	if longLog.ns == "" {
		longLog.ns, longLog.doc = randomNS(b), domaintest.NewDoc(longNodes)
		cur, err := domain.ParseFlows(longLog.doc.Bytes())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := streamstest.AppendFlows(ctx, store, longLog.ns, domain.FlowsChange{Flows: cur, Origin: domain.Origin{Actor: actor}}, ""); err != nil {
			b.Fatal(err)
		}
		longLog.cur, longLog.events = cur, 1
	}
	for ; longLog.events < n; longLog.events++ {
		next, err := streamstest.DeployNode(ctx, store, longLog.ns, longLog.doc, longLog.cur, (longLog.events*13)%longNodes, domain.Origin{Actor: actor})
		if err != nil {
			b.Fatalf("deploy %d: %v", longLog.events+1, err)
		}
		longLog.cur = next
	}
	b.Logf("set-up: %d events appended (%d in all) in %s", n-from, n, time.Since(start).Round(time.Millisecond))
}

// BenchmarkNodeHistoryLong reads a page of 20 of one node's history at the
// head and at random cursors, in a log of 10 000 and then of 100 000
// events of one-node deploys (the node changes every 200th): the cost must
// follow the page, not the log. Target: p99 under 10 ms at both. The
// set-up takes a while (100 000 deploys); make bench runs it.
//
//	go test -run '^$' -bench NodeHistoryLong -benchtime 200x ./httpapi/
func BenchmarkNodeHistoryLong(b *testing.B) {
	ts := mustServer(b, httpapi.Config{})
	node := domaintest.ID(7)
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			growLong(b, ts.store, n)
			ns := longLog.ns
			b.Run("Head", func(b *testing.B) {
				benchGets(b, ts, func(int) string { return path(ns, "/nodes/"+node+"/history?limit=20") })
			})
			b.Run("RandomCursor", func(b *testing.B) {
				rnd := rand.New(rand.NewPCG(5, 6))
				cursors := make([]int, b.N)
				for i := range cursors {
					cursors[i] = 2 + rnd.IntN(n-1)
				}
				benchGets(b, ts, func(i int) string {
					return path(ns, fmt.Sprintf("/nodes/%s/history?limit=20&cursor=%d", node, cursors[i]))
				})
			})
		})
	}
}
