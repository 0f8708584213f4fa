package projector_test

import (
	"bytes"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams/streamstest"
)

// TestExpect: a fold that compares with the document Expect named instead
// of hashing keeps every check: the state is the deployed document, and
// an event whose patch does not lead to its recorded sha256 is still
// refused, whatever was expected.
func TestExpect(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := mustStore(t, mustClient(t, ""))
	p := mustProjector(t, s, projector.Config{})
	ns := randomNS(t)
	doc := domaintest.NewDoc(50)
	deploy := func(f *domain.Flows) (domain.FlowsEvent, domain.Revision) {
		t.Helper()
		base, err := s.FlowsHead(ctx, ns, false)
		if err != nil {
			t.Fatal(err)
		}
		fe, err := domain.NewFlowsEvent(ns, base.Head(), domain.FlowsChange{Flows: f})
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.AppendFlows(ctx, ns, base, fe, "")
		if err != nil {
			t.Fatal(err)
		}
		return fe, res.Revision
	}
	if _, err := streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: doc.Flows(t)}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CatchUpNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		doc.Touch(3)
		want := doc.Flows(t)
		fe, rev := deploy(want)
		p.Expect(ns, rev, fe.Next.Flows)
		if _, err := p.CatchUpNamespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
		err := p.View(ctx, ns, func(st *domain.State) error {
			if !bytes.Equal(st.Flows.Bytes(), want.Bytes()) {
				t.Fatal("state differs from the deployed document")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		mustVerify(t, ctx, s, ns)
	})
	t.Run("ErrCorruptPatchDespiteExpectation", func(t *testing.T) {
		base, err := s.FlowsHead(ctx, ns, false)
		if err != nil {
			t.Fatal(err)
		}
		doc.Touch(4)
		claimed := doc.Flows(t)
		fe, err := domain.NewFlowsEvent(ns, base.Head(), domain.FlowsChange{Flows: claimed})
		if err != nil {
			t.Fatal(err)
		}
		// A patch that leads elsewhere than the sha256 it records.
		doc.Touch(5)
		other, err := domain.NewFlowsEvent(ns, base.Head(), domain.FlowsChange{Flows: doc.Flows(t)})
		if err != nil {
			t.Fatal(err)
		}
		fe.Event.Payload = other.Event.Payload
		res, err := s.AppendFlows(ctx, ns, base, fe, "")
		if err != nil {
			t.Fatal(err)
		}
		p.Expect(ns, res.Revision, claimed)
		_, err = p.CatchUpNamespace(ctx, ns)
		if domain.ErrorCode(err) != domain.ECORRUPT {
			t.Fatalf("got %v, want ECORRUPT", err)
		}
	})
}
