package usecase_test

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/checkpoint"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

// TestCheckpointAll signs each namespace whose head moved since its last
// checkpoint, the head its projector verified; a namespace whose chain
// breaks gets nothing signed and does not stop the others.
func TestCheckpointAll(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	// A server of its own: CheckpointAll signs every namespace on it.
	c := streamstest.Client(t, valkeytest.Start(t).Addr)
	s, err := streams.New(c, streams.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	app := mustApp(t, s)
	pub, priv, _ := ed25519.GenerateKey(nil)
	good, bad, empty := streamstest.Namespace(t), streamstest.Namespace(t), streamstest.Namespace(t)
	streamstest.AppendMixed(t, ctx, s, good, 5)
	streamstest.AppendMixed(t, ctx, s, bad, 5)
	if _, err := s.CreateGroup(ctx, empty, "worker:w", 0); err != nil { // a log without events
		t.Fatal(err)
	}
	streamstest.EditEntry(t, ctx, c, bad, 3, "e", func(e string) string { return strings.Replace(e, `"type":"`, `"reason":"x","type":"`, 1) })

	n, err := app.CheckpointAll(ctx, priv)
	if n != 1 || domain.ErrorCode(err) != domain.ECORRUPT || !strings.Contains(err.Error(), bad) {
		t.Fatalf("got %d signed, %v; want 1 and the broken namespace named", n, err)
	}
	if n, _ := app.CheckpointAll(ctx, priv); n != 0 {
		t.Fatalf("again with no change: got %d signed, want 0", n)
	}
	streamstest.AppendMixed(t, ctx, s, good, 1)
	if n, _ := app.CheckpointAll(ctx, priv); n != 1 {
		t.Fatalf("after an append: got %d signed, want 1", n)
	}
	var got []checkpoint.Checkpoint
	for _, ns := range []string{good, bad} {
		if err := s.Checkpoints(ctx, ns, time.Time{}, func(b []byte) error {
			cp, err := checkpoint.Unmarshal(b)
			if err != nil {
				return err
			}
			got = append(got, cp)
			return cp.Verify(pub)
		}); err != nil {
			t.Fatal(err)
		}
	}
	head, _ := s.ChainOf(ctx, good)
	if len(got) != 2 || got[0].Revision != 5 || got[1].Revision != 6 || got[1].Hash != head.Head {
		t.Fatalf("got %+v, want revisions 5 and 6 of %s, the last at its head %s", got, good, head.Head)
	}
}
