package projector_test

import (
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams/streamstest"
)

// TestFillBigWritesALogVerifyAccepts is make bench-big's million-event log
// at 3 000 events: written by several goroutines at once, it must be a log
// the real code accepts: replay folds it to its end, and verify finds its
// chain, every revision's hash, the state and the node index right.
func TestFillBigWritesALogVerifyAccepts(t *testing.T) {
	t.Parallel()
	s := mustStore(t, mustClient(t, ""))
	ns := randomNS(t)
	ctx := testCtx(t)
	steps := 0
	err := streamstest.FillBig(ctx, s, ns, streamstest.BigLog{Events: 3000, Nodes: 20, Step: 1000, At: func(done int) error {
		steps++
		if done != 1000*steps {
			t.Errorf("step %d: got %d events done, want %d", steps, done, 1000*steps)
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if steps != 3 {
		t.Errorf("got %d steps, want 3", steps)
	}
	// Nothing projected it yet: replay does, then verify compares.
	rev, err := mustProjector(t, s, projector.Config{}).Rebuild(ctx, ns)
	if err != nil || rev != domain.Revision(3000) {
		t.Fatalf("replay: got revision %d (%v), want 3000", rev, err)
	}
	if r := mustVerify(t, ctx, s, ns); r.Revisions != 3000 {
		t.Fatalf("verify: got %+v, want OK over 3000 revisions", r)
	}
}
