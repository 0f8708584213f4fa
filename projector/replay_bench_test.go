package projector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
)

// The replay benchmarks fold one namespace of replayEvents mixed events,
// built once per benchmark binary: one-node deploys of a replayNodes-node
// document (with the snapshots the store takes as it goes), credentials
// saves, settings saves and library saves, 7:1:1:1. The raw read of the
// same log, in pages and decoding nothing, runs first, in the same run:
// replay and verify report their speed as a share of it.
//
//	go test -run '^$' -bench Replay -benchtime 2x ./projector/
const (
	replayEvents = 100000
	replayNodes  = 200 // ~100 KB
)

var replayLog struct {
	once  sync.Once
	ns    string
	setup time.Duration
	err   error
	raw   float64 // events/s of the raw read, once measured
}

// replayBench returns a store and the replay namespace, building it on first
// use.
func replayBench(b *testing.B) (*streams.Store, string) {
	b.Helper()
	s := mustStore(b, mustClient(b, ""))
	replayLog.once.Do(func() {
		start := time.Now()
		ns := randomNS(b)
		// The store of the benchmark snapshots at its default interval.
		store, err := streams.New(mustClient(b, ""), streams.Config{}, nil)
		if err == nil {
			err = fillMixed(store, ns, replayEvents)
		}
		replayLog.ns, replayLog.setup, replayLog.err = ns, time.Since(start), err
	})
	if replayLog.err != nil {
		b.Fatalf("set up %d events: %v", replayEvents, replayLog.err)
	}
	b.Logf("set-up: %d mixed events over a %d-node document in %s (once per binary)", replayEvents, replayNodes, replayLog.setup.Round(time.Millisecond))
	return s, replayLog.ns
}

// fillMixed appends n mixed events to ns.
func fillMixed(s *streams.Store, ns string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	actor := domain.Actor{User: "bench", Channel: domain.ChannelNodeRED}
	doc := domaintest.NewDoc(replayNodes)
	cur, err := domain.ParseFlows(doc.Bytes())
	if err != nil {
		return err
	}
	if _, err := streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: cur, Origin: domain.Origin{Actor: actor}}, ""); err != nil {
		return err
	}
	for i := 1; i < n; i++ {
		switch i % 10 {
		case 7:
			_, err = streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Type: domain.CredentialsSaved, Credentials: fmt.Appendf(nil, `{"$":"%064x"}`, i), Origin: domain.Origin{Actor: actor}}, "")
		case 8:
			settings := fmt.Sprintf(`{"_credentialSecret":"s3cr3t","editorTheme":{"projects":{"enabled":false}},"n":%d}`, i)
			err = streamstest.AppendEvent(ctx, s, ns, domain.SettingsSaved, domain.AggregateSettings, domain.SettingsPayload{Settings: []byte(settings)}, settings)
		case 9:
			e := domain.LibraryEntry{Type: "functions", Path: fmt.Sprintf("team/f%d.js", i%50), Meta: json.RawMessage(`{"outputs":1}`), Body: fmt.Sprintf("return msg; // %d", i)}
			err = streamstest.AppendEvent(ctx, s, ns, domain.LibrarySaved, domain.LibraryAggregate(e.Type, e.Path), domain.LibraryPayload{Entry: e}, "")
		default:
			cur, err = streamstest.DeployNode(ctx, s, ns, doc, cur, (i*13)%replayNodes, domain.Origin{Actor: actor})
		}
		if err != nil {
			return fmt.Errorf("event %d: %w", i+1, err)
		}
	}
	return nil
}

// reportRate reports events/s over the timed part of b and, when raw is
// set (the raw read's events/s), the share of it.
func reportRate(b *testing.B, events int, d time.Duration, raw float64) float64 {
	rate := float64(events) * float64(b.N) / d.Seconds()
	b.ReportMetric(rate, "events/s")
	if raw > 0 {
		b.ReportMetric(100*rate/raw, "%raw")
	}
	b.ReportMetric(0, "ns/op")
	return rate
}

// BenchmarkReplay measures, on the same log in the same run: the raw read
// of the log in pages of 1000 entries, decoding nothing; replay
// (RebuildProgress, what flowhist replay runs); and Verify. Goal: replay at
// 20 000 events/s or more.
func BenchmarkReplay(b *testing.B) {
	s, ns := replayBench(b)
	b.Run("RawXRANGE", func(b *testing.B) {
		ctx := testCtx(b)
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if n, err := streamstest.CountEntries(ctx, s, ns); err != nil || n != replayEvents {
				b.Fatalf("got %d entries (%v), want %d", n, err, replayEvents)
			}
		}
		replayLog.raw = reportRate(b, replayEvents, time.Since(start), 0)
	})
	b.Run("Replay", func(b *testing.B) {
		ctx := testCtx(b)
		p := mustProjector(b, s, projector.Config{})
		start := time.Now()
		for i := 0; i < b.N; i++ {
			calls, last := 0, domain.Revision(0)
			rev, err := p.RebuildProgress(ctx, ns, func(done, total domain.Revision) { calls, last = calls+1, done })
			if err != nil || rev != replayEvents {
				b.Fatalf("got revision %d (%v), want %d", rev, err, replayEvents)
			}
			if calls < 10 || last != replayEvents {
				b.Fatalf("got %d progress calls ending at %d, want at least 10 ending at %d", calls, last, replayEvents)
			}
		}
		reportRate(b, replayEvents, time.Since(start), replayLog.raw)
	})
	b.Run("Verify", func(b *testing.B) {
		ctx := testCtx(b)
		start := time.Now()
		for i := 0; i < b.N; i++ {
			r, err := projector.Verify(ctx, s, ns)
			if err != nil || !r.OK {
				b.Fatalf("got %+v (%v), want OK", r, err)
			}
		}
		reportRate(b, replayEvents, time.Since(start), replayLog.raw)
	})
}
