package streams_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams/streamstest"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/streams"
)

// The benchmarks below run in pairs: the raw Valkey work the old module pays
// for a deploy (SET of the whole document + PUBLISH), and flowhist's deploy
// of the same change, so that the ratio is measured on the same machine in
// the same run. Run: make bench.

const benchNodes = 2000 // ~1 MB

// BenchmarkDeployBaselineSetPublish is the old module's deploy: SET the
// whole document, PUBLISH Date.now().
func BenchmarkDeployBaselineSetPublish(b *testing.B) {
	s, ns := mustStore(b, streams.Config{})
	c := s.Client()
	ctx := testCtx(b)
	doc := domaintest.NewDoc(benchNodes)
	b.SetBytes(int64(len(doc.Bytes())))
	lat := streamstest.NewLatencies(b)
	for i := 0; i < b.N; i++ {
		doc.Touch(i % benchNodes)
		body := doc.Bytes()
		lat.Start()
		if err := c.Do(ctx, c.B().Set().Key(ns+":flows").Value(string(body)).Build()).Error(); err != nil {
			b.Fatal(err)
		}
		if err := c.Do(ctx, c.B().Publish().Channel(ns+":flows:updated").Message(strconv.FormatInt(time.Now().UnixMilli(), 10)).Build()).Error(); err != nil {
			b.Fatal(err)
		}
		lat.Stop()
	}
	lat.Report()
}

// BenchmarkDeployAppendOneNode is flowhist's deploy of a one-node change to
// the same document: parse and validate, diff against the cached head,
// append the patch with the revision check.
func BenchmarkDeployAppendOneNode(b *testing.B) {
	s, ns := mustStore(b, streams.Config{})
	ctx := testCtx(b)
	doc := domaintest.NewDoc(benchNodes)
	if _, err := streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: mustParse(b, doc.Bytes())}, ""); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc.Bytes())))
	lat := streamstest.NewLatencies(b)
	for i := 0; i < b.N; i++ {
		doc.Touch(i % benchNodes)
		body := doc.Bytes()
		lat.Start()
		f, err := domain.ParseFlows(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: f}, ""); err != nil {
			b.Fatal(err)
		}
		lat.Stop()
	}
	lat.Report()
}

// BenchmarkFlowsAt rebuilds a revision half a snapshot interval after the
// newest snapshot: one snapshot decompressed and parsed plus 50 patches.
func BenchmarkFlowsAt(b *testing.B) {
	s, ns := mustStore(b, streams.Config{SnapshotEvery: 100})
	ctx := testCtx(b)
	doc := domaintest.NewDoc(benchNodes)
	var target domain.Revision
	for i := 0; i < 150; i++ {
		doc.Touch((i * 7) % benchNodes)
		res, err := streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: mustParse(b, doc.Bytes())}, "")
		if err != nil {
			b.Fatal(err)
		}
		target = res.Revision
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.FlowsAt(ctx, ns, target); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryPerRevision reports the Valkey memory a one-node deploy of a
// ~1 MB document costs, over the log, snapshots and blobs, after 1000
// deploys, as bytes per revision and as a share of the document's size.
func BenchmarkMemoryPerRevision(b *testing.B) {
	for i := 0; i < b.N; i++ {
		perRev, docSize := memoryPerRevision(b, 1000)
		b.ReportMetric(perRev, "B/rev")
		b.ReportMetric(100*perRev/float64(docSize), "%doc/rev")
	}
}

// TestMemoryPerRevision holds the design's promise: full history of one-node
// changes costs under 1% of the document per revision.
func TestMemoryPerRevision(t *testing.T) {
	t.Parallel()
	perRev, docSize := memoryPerRevision(t, 1000)
	t.Logf("%.0f B per revision for a %d B document (%.3f%%)", perRev, docSize, 100*perRev/float64(docSize))
	if perRev >= 0.01*float64(docSize) {
		t.Fatalf("got %.0f B per revision, want under 1%% of %d B", perRev, docSize)
	}
}

func memoryPerRevision(tb testing.TB, deploys int) (perRev float64, docSize int) {
	s, ns := mustStore(tb, streams.Config{})
	return streamstest.MemoryPerRevision(tb, testCtx(tb), s, s.Client(), ns, benchNodes, deploys)
}
