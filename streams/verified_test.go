package streams_test

import (
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
)

// TestRebuildChecksAPatchChangedAfterItsCheck: a rebuilt version whose
// bytes hashed to their recorded sha256 once is not hashed again while
// what it is folded from stays the same, and only then: a patch rewritten
// in place, its recorded sha256 untouched, is caught at the next read of
// every version folded over it, by FlowsPair and FlowsAt alike.
func TestRebuildChecksAPatchChangedAfterItsCheck(t *testing.T) {
	t.Parallel()
	s, ns := mustStore(t, streams.Config{CompressAbove: 1 << 30, SnapshotEvery: 1000})
	ctx := testCtx(t)
	doc := domaintest.NewDoc(20)
	cur := mustParse(t, doc.Bytes())
	if _, err := streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: cur}, ""); err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{3, 5, 7} {
		var err error
		if cur, err = streamstest.DeployNode(ctx, s, ns, doc, cur, k, domain.Origin{}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, _, err := s.FlowsPair(ctx, ns, 2, 4); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FlowsAt(ctx, ns, 3); err != nil {
			t.Fatal(err)
		}
	}
	streamstest.EditEntry(t, ctx, s.Client(), ns, 3, "p", func(p string) string {
		if !strings.Contains(p, `"name":"`) {
			t.Fatalf("revision 3's payload names no node: %.200s", p)
		}
		return strings.Replace(p, `"name":"`, `"name":"tampered `, 1)
	})
	t.Run("ErrCorrupt", func(t *testing.T) {
		_, _, err := s.FlowsPair(ctx, ns, 2, 4)
		wantCode(t, err, domain.ECORRUPT)
		_, err = s.FlowsAt(ctx, ns, 3)
		wantCode(t, err, domain.ECORRUPT)
	})
	t.Run("OK", func(t *testing.T) {
		// What comes before the changed patch still rebuilds.
		if _, _, err := s.FlowsPair(ctx, ns, 1, 2); err != nil {
			t.Fatalf("FlowsPair(1, 2): %v", err)
		}
	})
}
