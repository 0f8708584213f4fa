package projector_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/redis/rueidis"
)

// TestVerifyCatchesTampering edits the log the way someone with Valkey's
// password could, each attack on a namespace of its own, and shows verify
// naming the revision: the chain catches what the per-document sha256
// could not (a resealed sha256, an actor, two entries swapped).
func TestVerifyCatchesTampering(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := mustClient(t, "")
	s := mustStore(t, c)
	fresh := func(t *testing.T) string {
		ns := randomNS(t)
		streamstest.AppendMixed(t, ctx, s, ns, 40)
		if _, err := mustProjector(t, s, projector.Config{}).CatchUpNamespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
		mustVerify(t, ctx, s, ns)
		return ns
	}
	wantBreak := func(t *testing.T, ns string, rev domain.Revision, what string) {
		t.Helper()
		r, err := projector.Verify(ctx, s, ns)
		if err != nil {
			t.Fatal(err)
		}
		if r.OK || r.BadRevision != rev || !strings.Contains(r.Problem, what) {
			t.Fatalf("got %+v, want revision %d named with %q", r, rev, what)
		}
	}
	t.Run("PayloadByteWithResealedSHA256", func(t *testing.T) {
		ns := fresh(t)
		rev := streamstest.FindEntry(t, ctx, c, ns, "e", `"settings.saved"`)
		var oldDoc, newDoc string
		streamstest.EditEntry(t, ctx, c, ns, rev, "p", func(p string) string {
			// The settings document is a JSON string inside the payload.
			i := strings.Index(p, `\"n\":`)
			oldDoc = settingsDoc(t, p)
			p = p[:i+6] + "9" + p[i+7:]
			newDoc = settingsDoc(t, p)
			return p
		})
		streamstest.EditEntry(t, ctx, c, ns, rev, "e", func(e string) string {
			return strings.Replace(e, domain.SHA256Hex([]byte(oldDoc)), domain.SHA256Hex([]byte(newDoc)), 1)
		})
		wantBreak(t, ns, rev, "chain breaks")
	})
	t.Run("Actor", func(t *testing.T) {
		ns := fresh(t)
		rev := streamstest.FindEntry(t, ctx, c, ns, "e", `"user":"admin"`)
		streamstest.EditEntry(t, ctx, c, ns, rev, "e", func(e string) string {
			return strings.Replace(e, `"user":"admin"`, `"user":"mallory"`, 1)
		})
		wantBreak(t, ns, rev, "chain breaks")
	})
	t.Run("XDEL", func(t *testing.T) {
		ns := fresh(t)
		if err := c.Do(ctx, c.B().Xdel().Key(streams.KeysOf(ns).Log).Id("17-0").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		wantBreak(t, ns, 17, "missing")
	})
	t.Run("SwapDifferentKinds", func(t *testing.T) {
		ns := fresh(t)
		entries := streamstest.Entries(t, ctx, c, ns)
		// Revisions 5 and 6: settings.saved and library.saved.
		a, b := entries[4], entries[5]
		if a.FieldValues["a"] == b.FieldValues["a"] {
			t.Fatalf("revisions 5 and 6 are both %s", a.FieldValues["a"])
		}
		entries[4] = rueidis.XRangeEntry{ID: a.ID, FieldValues: b.FieldValues}
		entries[5] = rueidis.XRangeEntry{ID: b.ID, FieldValues: a.FieldValues}
		streamstest.RewriteLog(t, ctx, c, ns, entries)
		wantBreak(t, ns, 5, "chain breaks")
	})
	t.Run("TruncateTail", func(t *testing.T) {
		ns := fresh(t)
		for _, id := range []string{"38-0", "39-0", "40-0"} {
			if err := c.Do(ctx, c.B().Xdel().Key(streams.KeysOf(ns).Log).Id(id).Build()).Error(); err != nil {
				t.Fatal(err)
			}
		}
		wantBreak(t, ns, 38, "meta says")
	})
	t.Run("TrimHead", func(t *testing.T) {
		ns := fresh(t)
		if err := c.Do(ctx, c.B().Xtrim().Key(streams.KeysOf(ns).Log).Maxlen().Threshold("30").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		wantBreak(t, ns, 1, "missing")
	})
	t.Run("RewrittenConsistentlyNeedsACheckpoint", func(t *testing.T) {
		ns := fresh(t)
		signed := chainAt(t, s, ns, 30)
		streamstest.EditEntry(t, ctx, c, ns, 12, "e", func(e string) string {
			return strings.Replace(e, `"type":"`, `"reason":"forged","type":"`, 1)
		})
		streamstest.Reseal(t, ctx, s, c, ns)
		// The chain holds: without a checkpoint this is undetectable.
		if _, err := mustProjector(t, s, projector.Config{}).Rebuild(ctx, ns); err != nil {
			t.Fatal(err)
		}
		mustVerify(t, ctx, s, ns)
		r, err := projector.VerifyWith(ctx, s, ns, projector.Options{Expect: []projector.Expected{{Revision: 30, Hash: signed, Label: "checkpoint A"}}})
		if err != nil {
			t.Fatal(err)
		}
		if r.OK || r.BadCheckpoint != "checkpoint A" || r.BadRevision != 30 {
			t.Fatalf("got %+v, want checkpoint A named at revision 30", r)
		}
	})
	t.Run("RestoredToEarlierStateNeedsACheckpoint", func(t *testing.T) {
		ns := fresh(t)
		before := streamstest.DumpNamespace(t, ctx, c, ns)
		streamstest.AppendMixed(t, ctx, s, ns, 5)
		signed := chainAt(t, s, ns, 43)
		streamstest.RestoreNamespace(t, ctx, c, ns, before)
		mustVerify(t, ctx, s, ns)
		r, err := projector.VerifyWith(ctx, s, ns, projector.Options{Expect: []projector.Expected{
			{Revision: 20, Hash: chainAt(t, s, ns, 20), Label: "checkpoint A"},
			{Revision: 43, Hash: signed, Label: "checkpoint B"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if r.OK || r.BadCheckpoint != "checkpoint B" || !strings.Contains(r.Problem, "ends at 40") || r.Checkpoints != 1 {
			t.Fatalf("got %+v, want checkpoint A matched and B named: the log ends at 40", r)
		}
	})
}

// chainAt is the link the log holds at rev now.
func chainAt(t *testing.T, s *streams.Store, ns string, rev domain.Revision) string {
	t.Helper()
	events, err := s.Read(testCtx(t), ns, streams.Query{From: rev, To: rev})
	if err != nil || len(events) != 1 {
		t.Fatalf("read revision %d: %v", rev, err)
	}
	return events[0].Hash
}

// settingsDoc is the settings document in a settings.saved payload.
func settingsDoc(t *testing.T, payload string) string {
	t.Helper()
	var p domain.SettingsPayload
	if err := domain.DecodePayload(&domain.Event{Type: domain.SettingsSaved, Schema: domain.SettingsPayloadSchema, Payload: []byte(payload)}, &p); err != nil {
		t.Fatalf("decode settings payload %s: %v", payload, err)
	}
	return string(p.Settings)
}

// TestCatchUpRefusesABrokenChain: a projector that catches up over a
// tampered entry folds the events before it only, marks the namespace
// and refuses writes; once the log is put back, it resumes.
func TestCatchUpRefusesABrokenChain(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := mustClient(t, "")
	s := mustStore(t, c)
	ns := randomNS(t)
	streamstest.AppendMixed(t, ctx, s, ns, 20)
	p := mustProjector(t, s, projector.Config{})
	if _, err := p.CatchUpNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	streamstest.AppendMixed(t, ctx, s, ns, 10)
	good := streamstest.Entries(t, ctx, c, ns)
	// The first flows event past the fold gets another actor.
	entries := streamstest.Entries(t, ctx, c, ns)
	rev := domain.Revision(21)
	if !strings.Contains(entries[20].FieldValues["e"], `"user":"admin"`) {
		t.Fatalf("revision 21 is not admin's deploy: %s", entries[20].FieldValues["e"])
	}
	entries[20].FieldValues["e"] = strings.Replace(entries[20].FieldValues["e"], `"user":"admin"`, `"user":"adm1n"`, 1)
	streamstest.RewriteLog(t, ctx, c, ns, entries)
	at, err := p.CatchUpNamespace(ctx, ns)
	if !errors.Is(err, projector.ErrChainBroken) || domain.ErrorCode(err) != domain.ECORRUPT || at != rev-1 {
		t.Fatalf("got %d, %v; want the fold stopped at %d with a broken chain", at, err, rev-1)
	}
	if b := p.BrokenNamespaces(); len(b) != 1 || b[0].Namespace != ns || b[0].Revision != rev {
		t.Fatalf("got broken %+v, want %s at %d", b, ns, rev)
	}
	if err := p.Refuse(ns); !errors.Is(err, projector.ErrChainBroken) {
		t.Fatalf("got %v, want writes refused", err)
	}

	// Reads see the state folded before the break.
	if err := p.View(ctx, ns, func(st *domain.State) error {
		if st.Revision != rev-1 {
			t.Fatalf("view at %d, want %d", st.Revision, rev-1)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	streamstest.RewriteLog(t, ctx, c, ns, good)
	if at, err := p.CatchUpNamespace(ctx, ns); err != nil || at != 30 {
		t.Fatalf("after repair got %d, %v; want 30", at, err)
	}
	if err := p.Refuse(ns); err != nil {
		t.Fatalf("after repair got %v, want writes accepted", err)
	}
}

// TestCatchUpAllSkipsABrokenChain: at start serve catches every namespace
// up; one whose chain breaks is marked, not a reason to refuse to start or
// to leave the others behind.
func TestCatchUpAllSkipsABrokenChain(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	// A server of its own: CatchUp reads every namespace on it.
	c := mustClient(t, valkeytest.Start(t).Addr)
	s := mustStore(t, c)
	bad, good := randomNS(t), randomNS(t)
	streamstest.AppendMixed(t, ctx, s, bad, 10)
	streamstest.AppendMixed(t, ctx, s, good, 10)
	streamstest.EditEntry(t, ctx, c, bad, 4, "e", func(e string) string { return strings.Replace(e, `"type":"`, `"reason":"x","type":"`, 1) })
	p := mustProjector(t, s, projector.Config{})
	if err := p.CatchUp(ctx); err != nil {
		t.Fatalf("got %v, want the broken namespace marked and no error", err)
	}
	if b := p.BrokenNamespaces(); len(b) != 1 || b[0].Namespace != bad || b[0].Revision != 4 {
		t.Fatalf("got broken %+v, want %s at 4", b, bad)
	}
	if st, err := s.LoadState(ctx, good); err != nil || st.Revision != 10 {
		t.Fatalf("%s: state at %v (%v), want 10", good, st, err)
	}
}
