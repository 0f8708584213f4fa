package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/redis/rueidis"
)

// The audit benchmarks read auditBenchEvents events spread over auditBenchNamespaces
// namespaces, built once per benchmark binary with concurrent appends (the
// client pipelines them). Each flowhist figure has its raw-Valkey baseline
// in the same run: the same entries read with XREVRANGE / XRANGE, decoding
// nothing.
//
//	go test -run '^$' -bench Audit -benchtime 200x ./httpapi/
const (
	auditBenchEvents     = 100000
	auditBenchNamespaces = 100
)

var crossLog struct {
	once   sync.Once
	ts     *testServer
	prefix string
	setup  time.Duration
	err    error
}

// auditBench returns a server and the namespaces' common prefix, building
// the log on first use.
func crossBench(b *testing.B) (*testServer, string) {
	b.Helper()
	crossLog.once.Do(func() {
		start := time.Now()
		// Not b's server: it outlives the first benchmark.
		ts := mustServer(&testing.T{}, httpapi.Config{})
		crossLog.ts, crossLog.prefix = ts, randomNS(b)
		crossLog.err = fillCross(ts.store, crossLog.prefix)
		crossLog.setup = time.Since(start)
	})
	if crossLog.err != nil {
		b.Fatalf("set up %d events: %v", auditBenchEvents, crossLog.err)
	}
	b.Logf("set-up: %d events in %d namespaces in %s (once per binary)", auditBenchEvents, auditBenchNamespaces, crossLog.setup.Round(time.Millisecond))
	return crossLog.ts, crossLog.prefix
}

// fillAudit appends auditBenchEvents small events of four kinds to
// auditBenchNamespaces namespaces, one goroutine per namespace.
func fillCross(s *streams.Store, prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	errs := make(chan error, auditBenchNamespaces)
	var wg sync.WaitGroup
	for n := range auditBenchNamespaces {
		wg.Go(func() {
			ns := fmt.Sprintf("%s-%03d", prefix, n)
			users := []string{"alice", "bob", "carol", "dave"}
			for i := 0; i < auditBenchEvents/auditBenchNamespaces; i++ {
				var err error
				switch i % 4 {
				case 0, 1:
					doc := fmt.Sprintf(`{"editorTheme":{"projects":{"enabled":false}},"n":%d,"by":%q}`, i, users[i%4])
					err = streamstest.AppendEvent(ctx, s, ns, domain.SettingsSaved, domain.AggregateSettings, domain.SettingsPayload{Settings: []byte(doc)}, doc)
				case 2:
					e := domain.LibraryEntry{Type: "functions", Path: fmt.Sprintf("team/f%d.js", i%20), Body: fmt.Sprintf("return msg; // %d", i)}
					err = streamstest.AppendEvent(ctx, s, ns, domain.LibrarySaved, domain.LibraryAggregate(e.Type, e.Path), domain.LibraryPayload{Entry: e}, "")
				case 3:
					err = streamstest.AppendEvent(ctx, s, ns, domain.PackagesChanged, domain.AggregatePackages, domain.PackagesPayload{Packages: []domain.Package{{Name: "node-red-contrib-x", Version: fmt.Sprintf("1.%d.0", i)}}}, "")
				}
				if err != nil {
					errs <- fmt.Errorf("%s event %d: %w", ns, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// BenchmarkAuditFirstPage is GET /v1/audit's first page of 100 over every
// namespace, newest first, against the raw read of the newest 100 entries
// of each namespace in one pipeline. Goal: p99 under 50 ms.
func BenchmarkAuditFirstPage(b *testing.B) {
	ts, prefix := crossBench(b)
	q := url.Values{"ns": {prefix + "-*"}, "limit": {"100"}}
	b.Run("RawXREVRANGE", func(b *testing.B) {
		ctx := testCtx(b)
		c := mustClient(b)
		lat := streamstest.NewLatencies(b)
		for i := 0; i < b.N; i++ {
			cmds := make(rueidis.Commands, 0, auditBenchNamespaces)
			for n := range auditBenchNamespaces {
				cmds = append(cmds, c.B().Xrevrange().Key(streams.KeysOf(fmt.Sprintf("%s-%03d", prefix, n)).Log).End("+").Start("-").Count(100).Build())
			}
			lat.Start()
			for _, r := range c.DoMulti(ctx, cmds...) {
				if err := r.Error(); err != nil {
					b.Fatal(err)
				}
			}
			lat.Stop()
		}
		lat.Report()
	})
	b.Run("GET", func(b *testing.B) {
		lat := streamstest.NewLatencies(b)
		for i := 0; i < b.N; i++ {
			var page httpapi.Audit
			lat.Start()
			ts.ok(b, "GET", "/v1/audit?"+q.Encode(), nil, nil, &page)
			lat.Stop()
			if len(page.Entries) != 100 || page.NextCursor == "" {
				b.Fatalf("got %d entries, next %q", len(page.Entries), page.NextCursor)
			}
		}
		lat.Report()
	})
}

// BenchmarkAuditExport is the full NDJSON export of every namespace
// (GET /v1/audit?format=ndjson, streamed and counted line by line) against
// the raw read of the same entries in pages of 1000, decoding nothing.
// Goal: 50 000 events/s or more.
func BenchmarkAuditExport(b *testing.B) {
	ts, prefix := crossBench(b)
	var raw float64
	b.Run("RawXRANGE", func(b *testing.B) {
		ctx := testCtx(b)
		start := time.Now()
		for i := 0; i < b.N; i++ {
			n := 0
			for k := range auditBenchNamespaces {
				m, err := streamstest.CountEntries(ctx, ts.store, fmt.Sprintf("%s-%03d", prefix, k))
				if err != nil {
					b.Fatal(err)
				}
				n += m
			}
			if n != auditBenchEvents {
				b.Fatalf("got %d entries, want %d", n, auditBenchEvents)
			}
		}
		raw = eventsPerSecond(b, auditBenchEvents, time.Since(start), 0)
	})
	b.Run("NDJSON", func(b *testing.B) {
		u := ts.URL + "/v1/audit?" + url.Values{"ns": {prefix + "-*"}, "format": {"ndjson"}}.Encode()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("Authorization", "Bearer "+adminSecret)
			res, err := ts.Client().Do(req)
			if err != nil {
				b.Fatal(err)
			}
			sc := bufio.NewScanner(res.Body)
			n := 0
			for sc.Scan() {
				n++
			}
			res.Body.Close()
			if n != auditBenchEvents || res.StatusCode != http.StatusOK {
				b.Fatalf("got %d lines (status %d, %v), want %d", n, res.StatusCode, sc.Err(), auditBenchEvents)
			}
		}
		eventsPerSecond(b, auditBenchEvents, time.Since(start), raw)
	})
}

// eventsPerSecond reports events/s over b's run and, when raw is set (the
// raw read's events/s), the share of it.
func eventsPerSecond(b *testing.B, events int, d time.Duration, raw float64) float64 {
	rate := float64(events) * float64(b.N) / d.Seconds()
	b.ReportMetric(rate, "events/s")
	if raw > 0 {
		b.ReportMetric(100*rate/raw, "%raw")
	}
	b.ReportMetric(0, "ns/op")
	return rate
}
