package streams_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
)

// TestFlowsPairIsFlowsAt checks that FlowsPair answers what two FlowsAt
// answer, for every pair of revisions of a mixed log with snapshots every
// few revisions, near (folded from the earlier one) and far (each from its
// own snapshot).
func TestFlowsPairIsFlowsAt(t *testing.T) {
	// Not parallel: it sets how far FlowsPair folds.
	s, ns := mustStore(t, streams.Config{SnapshotEvery: 7})
	ctx := testCtx(t)
	streamstest.AppendMixed(t, ctx, s, ns, 40)
	at := map[domain.Revision]*streams.FlowsVersion{}
	for r := domain.Revision(1); r <= 40; r++ {
		v, err := s.FlowsAt(ctx, ns, r)
		if err != nil {
			t.Fatal(err)
		}
		at[r] = v
	}
	same := func(got, want *streams.FlowsVersion) bool {
		return bytes.Equal(got.Flows.Bytes(), want.Flows.Bytes()) && bytes.Equal(got.Credentials, want.Credentials) &&
			got.Revision == want.Revision && got.AggregateRevision == want.AggregateRevision
	}
	for _, far := range []domain.Revision{5000, 3} {
		restore := streams.SetPairFoldMax(far)
		for from := domain.Revision(1); from <= 40; from++ {
			for to := from; to <= 40; to++ {
				a, b, err := s.FlowsPair(ctx, ns, from, to)
				if err != nil {
					t.Fatalf("FlowsPair(%d, %d), folding at most %d: %v", from, to, far, err)
				}
				if !same(a, at[from]) || !same(b, at[to]) {
					t.Fatalf("FlowsPair(%d, %d), folding at most %d: got revisions %d and %d, want what FlowsAt answers", from, to, far, a.Revision, b.Revision)
				}
			}
		}
		restore()
	}
	t.Run("ErrNotFound", func(t *testing.T) {
		_, _, err := s.FlowsPair(ctx, ns, 3, 41)
		wantCode(t, err, domain.ENOTFOUND)
	})
	t.Run("ErrCorrupt", func(t *testing.T) {
		// A patch that hashes to something else than recorded.
		c := s.Client()
		rev := streamstest.FindEntry(t, ctx, c, ns, "e", `"type":"flows.deployed"`)
		for r := rev + 1; ; r++ {
			if r > 40 {
				t.Fatal("no second deploy")
			}
			e, err := s.ReadRevision(ctx, ns, r)
			if err != nil {
				t.Fatal(err)
			}
			if e.Type == domain.FlowsDeployed {
				rev = r
				break
			}
		}
		streamstest.EditEntry(t, ctx, c, ns, rev, "e", func(env string) string {
			return string(bytes.Replace([]byte(env), []byte(`"sha256":"`), []byte(`"sha256":"0`), 1))
		})
		for _, pair := range [][2]domain.Revision{{1, rev}, {rev, rev}, {rev, 40}} {
			_, _, err := s.FlowsPair(ctx, ns, pair[0], pair[1])
			wantCode(t, err, domain.ECORRUPT)
		}
	})
}

// TestBigReadsKeptAnswerTheSame reads a big document's entries and
// snapshots twice, the second time from what the first kept, and checks
// both answer what FlowsAt and a fresh decode answer.
func TestBigReadsKeptAnswerTheSame(t *testing.T) {
	t.Parallel()
	s, ns := mustStore(t, streams.Config{CompressAbove: 1 << 30, SnapshotEvery: 2})
	ctx := testCtx(t)
	doc := domaintest.NewDoc(300) // ~150 KB
	cur := mustParse(t, doc.Bytes())
	if _, err := streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: cur}, ""); err != nil {
		t.Fatal(err)
	}
	for k := range 5 {
		var err error
		if cur, err = streamstest.DeployNode(ctx, s, ns, doc, cur, k*7, domain.Origin{}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := s.Read(ctx, ns, streams.Query{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.FlowsAt(ctx, ns, 6)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		again, err := s.Read(ctx, ns, streams.Query{})
		if err != nil || !reflect.DeepEqual(again, first) {
			t.Fatalf("the second read differs from the first (%v)", err)
		}
		_, b, err := s.FlowsPair(ctx, ns, 1, 6)
		if err != nil || !bytes.Equal(b.Flows.Bytes(), want.Flows.Bytes()) || !bytes.Equal(b.Flows.Bytes(), doc.Bytes()) {
			t.Fatalf("FlowsPair(1, 6) differs from FlowsAt(6) (%v)", err)
		}
	}
}
