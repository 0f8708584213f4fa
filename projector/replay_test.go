package projector_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams/streamstest"
)

// progressCalls records progress callbacks.
type progressCalls struct{ done, total []domain.Revision }

func (p *progressCalls) update(done, total domain.Revision) {
	p.done, p.total = append(p.done, done), append(p.total, total)
}

// check fails unless the calls advanced, page by page, to n of n.
func (p *progressCalls) check(t *testing.T, n domain.Revision, pages int) {
	t.Helper()
	if len(p.done) < pages {
		t.Fatalf("got %d progress calls %v, want at least %d", len(p.done), p.done, pages)
	}
	for i := range p.done {
		if p.total[i] != n || i > 0 && p.done[i] <= p.done[i-1] {
			t.Fatalf("got progress %v of %v, want it rising to %d of %d", p.done, p.total, n, n)
		}
	}
	if last := p.done[len(p.done)-1]; last != n {
		t.Fatalf("got progress ending at %d, want %d", last, n)
	}
}

func TestReplayAndVerifyAtSpeed(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := mustClient(t, "")
	s := mustStore(t, c)
	ns := randomNS(t)
	const n = 2500 // three pages
	streamstest.AppendMixed(t, ctx, s, ns, n)
	p := mustProjector(t, s, projector.Config{})

	t.Run("ReplayRebuildsStateAndNodeIndex", func(t *testing.T) {
		if err := s.ResetNodeIndex(ctx, ns); err != nil {
			t.Fatal(err)
		}
		// Nothing projected yet, and no index: the state is reported.
		if r, err := projector.Verify(ctx, s, ns); err != nil || r.OK {
			t.Fatalf("before replay: got %+v (%v), want the state reported", r, err)
		}
		var calls progressCalls
		at, err := p.RebuildProgress(ctx, ns, calls.update)
		if err != nil || at != n {
			t.Fatalf("got %d (%v), want %d", at, err, n)
		}
		calls.check(t, n, 3)
		if r, err := projector.Verify(ctx, s, ns); err != nil || !r.OK || r.NodeIndexIncomplete {
			t.Fatalf("after replay: got %+v (%v), want the state and a complete index verified", r, err)
		}
		page, ok, err := s.NodeRevisions(ctx, ns, domaintest.ID(1), 0, 1000)
		if err != nil || !ok || page.Total == 0 {
			t.Fatalf("node %s: got %+v, %v, %v, want its revisions indexed", domaintest.ID(1), page, ok, err)
		}
		var vcalls progressCalls
		r, err := projector.VerifyProgress(ctx, s, ns, vcalls.update)
		if err != nil || !r.OK || r.Revisions != n {
			t.Fatalf("after replay: got %+v (%v), want OK at %d", r, err, n)
		}
		vcalls.check(t, n, 3)
	})

	t.Run("VerifyNamesTheBadNode", func(t *testing.T) {
		if err := s.IndexNodes(ctx, ns, map[string][]domain.Revision{"n1": {n - 1}}); err != nil {
			t.Fatal(err)
		}
		r, err := projector.Verify(ctx, s, ns)
		if err != nil || r.OK || !strings.HasSuffix(r.BadKey, ":node:n1") || !strings.Contains(r.Problem, fmt.Sprintf(`node "n1": the index holds revision %d`, n-1)) {
			t.Fatalf("got %+v (%v), want node n1's extra revision %d named", r, err, n-1)
		}
		if _, err := p.Rebuild(ctx, ns); err != nil {
			t.Fatal(err)
		}
		mustVerify(t, ctx, s, ns)
	})

	t.Run("ReplayNamesTheCorruptRevision", func(t *testing.T) {
		// Not the page's last event: replay hashes only the page's last
		// document, and must still name this one. (A node is deployed
		// again only every 60 events here, so the damage lasts to the end
		// of the page and changes the state.)
		bad := streamstest.CorruptEvent(t, ctx, c, ns, n-40, []byte(`transform`), []byte(`tr4nsform`))
		if bad >= n-1 {
			t.Fatalf("got revision %d corrupted, want one before the last two", bad)
		}
		_, err := p.Rebuild(ctx, ns)
		if domain.ErrorCode(err) != domain.ECORRUPT || !strings.Contains(err.Error(), fmt.Sprintf("revision %d:", bad)) {
			t.Fatalf("got %v, want ECORRUPT naming revision %d", err, bad)
		}
		r, err := projector.Verify(ctx, s, ns)
		if err != nil || r.BadRevision != bad {
			t.Fatalf("verify: got %+v (%v), want revision %d named", r, err, bad)
		}
	})
}
