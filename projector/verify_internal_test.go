package projector

import (
	"context"
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
)

// TestVerifyHashesWhatItHolds folds with room for a few documents only, so
// that verify hashes many times a page, and must still name the first bad
// revision and pass a good log.
func TestVerifyHashesWhatItHolds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := streamstest.Client(t, "")
	s, err := streams.New(c, streams.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ns := streamstest.Namespace(t)
	streamstest.AppendMixed(t, ctx, s, ns, 400)
	p, err := New(s, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CatchUpNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	r, err := verify(ctx, s, ns, Options{}, 100)
	if err != nil || !r.OK || r.Revisions != 400 {
		t.Fatalf("good log: got %+v (%v), want OK at 400", r, err)
	}
	bad := streamstest.CorruptEvent(t, ctx, c, ns, 200, []byte(`transform`), []byte(`tr4nsform`))
	r, err = verify(ctx, s, ns, Options{}, 100)
	if err != nil || r.OK || r.BadRevision != bad {
		t.Fatalf("got %+v (%v), want revision %d named", r, err, bad)
	}
}
