package projector_test

import (
	"strings"
	"testing"

	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams/streamstest"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := mustClient(t, "")
	s := mustStore(t, c)
	ns := randomNS(t)
	streamstest.AppendMixed(t, ctx, s, ns, 1000)
	if _, err := mustProjector(t, s, projector.Config{}).CatchUpNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if r := mustVerify(t, ctx, s, ns); r.Revisions != 1000 {
		t.Fatalf("got %d revisions verified, want 1000", r.Revisions)
	}
	t.Run("CorruptStateKey", func(t *testing.T) {
		streamstest.CorruptState(t, ctx, c, ns, "credentials", `{"$":"forged"}`)
		r, err := projector.Verify(ctx, s, ns)
		if err != nil {
			t.Fatal(err)
		}
		if r.OK || !strings.HasSuffix(r.BadKey, "credentials") {
			t.Fatalf("got %+v, want the credentials key named", r)
		}
	})
	t.Run("CorruptEvent", func(t *testing.T) {
		bad := streamstest.CorruptEvent(t, ctx, c, ns, 500, []byte(`transform`), []byte(`tr4nsform`))
		r, err := projector.Verify(ctx, s, ns)
		if err != nil {
			t.Fatal(err)
		}
		if r.OK || r.BadRevision != bad {
			t.Fatalf("got %+v, want revision %d named", r, bad)
		}
	})
}

// TestVerifyLogWithoutNodeIndex is a namespace written before flowhist kept
// a node index: verify passes and says the index is incomplete; after a
// replay it is complete and checked.
func TestVerifyLogWithoutNodeIndex(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := mustStore(t, mustClient(t, ""))
	ns := randomNS(t)
	streamstest.AppendMixed(t, ctx, s, ns, 50)
	p := mustProjector(t, s, projector.Config{})
	if _, err := p.CatchUpNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetNodeIndex(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if r := mustVerify(t, ctx, s, ns); !r.NodeIndexIncomplete {
		t.Fatalf("got %+v, want OK with the node index incomplete", r)
	}
	if _, err := p.Rebuild(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if r := mustVerify(t, ctx, s, ns); r.NodeIndexIncomplete {
		t.Fatalf("after replay got %+v, want the node index complete", r)
	}
}
