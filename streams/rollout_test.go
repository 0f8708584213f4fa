package streams_test

import (
	"slices"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

func TestRolloutLease(t *testing.T) {
	t.Parallel()
	s, ns := mustStore(t, streams.Config{})
	ctx := testCtx(t)
	hold := func(owner string, ttl time.Duration) bool {
		t.Helper()
		ok, err := s.HoldRolloutLease(ctx, ns, owner, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !hold("a", 300*time.Millisecond) {
		t.Fatal("a free lease: got refused, want taken")
	}
	if hold("b", time.Second) {
		t.Fatal("a held lease: got taken by another")
	}
	if !hold("a", 300*time.Millisecond) {
		t.Fatal("renewal by its holder: got refused")
	}
	// a stops renewing (it died): b takes over once it expires.
	deadline := time.Now().Add(5 * time.Second)
	for !hold("b", time.Second) {
		if time.Now().After(deadline) {
			t.Fatal("an expired lease: not taken over within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if holder, _ := s.RolloutLeaseHolder(ctx, ns); holder != "b" {
		t.Fatalf("holder: got %q, want b", holder)
	}
	// Releasing what another holds does nothing.
	s.ReleaseRolloutLease(ctx, ns, "a")
	if holder, _ := s.RolloutLeaseHolder(ctx, ns); holder != "b" {
		t.Fatalf("after a's release: got %q, want b", holder)
	}
	s.ReleaseRolloutLease(ctx, ns, "b")
	if holder, _ := s.RolloutLeaseHolder(ctx, ns); holder != "" {
		t.Fatalf("after b's release: got %q, want nobody", holder)
	}
}

func TestSaveRolloutCompareAndSet(t *testing.T) {
	t.Parallel()
	s, ns := mustStore(t, streams.Config{})
	ctx := testCtx(t)
	if r, v, err := s.Rollout(ctx, ns); r != nil || v != 0 || err != nil {
		t.Fatalf("none stored: got %v, %d, %v", r, v, err)
	}
	p := domain.RolloutPolicy{Rings: []domain.Ring{{Name: "canary"}}}
	v1, err := s.SaveRollout(ctx, ns, 0, &domain.Rollout{Policy: &p, State: domain.StateIdle})
	if err != nil || v1 != 1 {
		t.Fatalf("first save: got %d, %v", v1, err)
	}
	if _, err := s.SaveRollout(ctx, ns, 0, &domain.Rollout{State: domain.StateIdle}); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("a save from a stale version: got %v, want conflict", err)
	}
	names, err := s.RolloutNamespaces(ctx)
	if err != nil || !slices.Contains(names, ns) {
		t.Fatalf("namespaces with a policy: got %v, %v, want %s among them", names, err, ns)
	}
	if _, err := s.SaveRollout(ctx, ns, v1, &domain.Rollout{State: domain.StateIdle}); err != nil {
		t.Fatal(err)
	}
	if names, _ := s.RolloutNamespaces(ctx); slices.Contains(names, ns) {
		t.Fatal("a namespace whose policy was removed is still listed")
	}
	r, v, err := s.Rollout(ctx, ns)
	if err != nil || v != 2 || r.Policy != nil {
		t.Fatalf("got %+v, %d, %v", r, v, err)
	}
}

// rolloutStep is the event of a rollout step in ns.
func rolloutStep(tb testing.TB, ns string, t domain.EventType, rev domain.Revision) domain.Event {
	tb.Helper()
	e, err := domain.NewRolloutEvent(ns, t, domain.RolloutPayload{Revision: rev, ID: "0190aaaa-0000-7000-8000-000000000001"},
		domain.Origin{Actor: domain.Actor{User: domain.ActorRollout, Channel: domain.ChannelAPI}})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// TestAppendRolloutIsOneWrite: a rollout step and its event are stored
// together or not at all — whatever fails, no step is left without the
// event that wakes the workers to it — and the event is chained like any.
func TestAppendRolloutIsOneWrite(t *testing.T) {
	t.Parallel()
	s, ns := mustStore(t, streams.Config{})
	ctx := testCtx(t)
	p := domain.RolloutPolicy{Rings: []domain.Ring{{Name: "canary"}, {Name: "default"}}}
	if _, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	stored := func() (*domain.Rollout, streams.RolloutVersion, domain.Revision) {
		t.Helper()
		r, v, err := s.Rollout(ctx, ns)
		if err != nil {
			t.Fatal(err)
		}
		h, err := s.Head(ctx, ns)
		if err != nil {
			t.Fatal(err)
		}
		return r, v, h.Revision
	}

	res, err := s.AppendRollout(ctx, rolloutStep(t, ns, domain.RolloutStarted, 1), "", 0, &domain.Rollout{Policy: &p, State: domain.StateBaking})
	if err != nil || res.Revision != 2 || res.AggregateRevision != 1 {
		t.Fatalf("OK: got %+v, %v, want revision 2", res, err)
	}
	if r, v, head := stored(); r.State != domain.StateBaking || v != 1 || head != 2 {
		t.Fatalf("OK: got %+v version %d head %d, want baking, version 1, head 2", r, v, head)
	}
	if names, _ := s.RolloutNamespaces(ctx); !slices.Contains(names, ns) {
		t.Fatal("OK: a namespace with a policy is not listed")
	}

	t.Run("ErrStaleVersion", func(t *testing.T) {
		_, err := s.AppendRollout(ctx, rolloutStep(t, ns, domain.RolloutPaused, 1), "", 0, &domain.Rollout{Policy: &p, State: domain.StatePaused})
		wantCode(t, err, domain.ECONFLICT)
		if r, v, head := stored(); r.State != domain.StateBaking || v != 1 || head != 2 {
			t.Fatalf("got %+v version %d head %d: the stale step left a trace", r, v, head)
		}
	})
	t.Run("ErrAppendFails", func(t *testing.T) {
		// The append refuses after the version was checked (a keyspace
		// written by a newer flowhist): the step is not stored either.
		c := mustClient(t, "")
		meta := "fh:{" + ns + "}:meta"
		if err := c.Do(ctx, c.B().Hset().Key(meta).FieldValue().FieldValue("schema", "99").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		_, err := s.AppendRollout(ctx, rolloutStep(t, ns, domain.RolloutPaused, 1), "", 1, &domain.Rollout{Policy: &p, State: domain.StatePaused})
		wantCode(t, err, domain.EINTERNAL)
		if err := c.Do(ctx, c.B().Hset().Key(meta).FieldValue().FieldValue("schema", "2").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		if r, v, head := stored(); r.State != domain.StateBaking || v != 1 || head != 2 {
			t.Fatalf("got %+v version %d head %d, want the step unstored", r, v, head)
		}
	})
	t.Run("DuplicateStoresNothing", func(t *testing.T) {
		e := rolloutStep(t, ns, domain.RolloutPaused, 1)
		first, err := s.AppendRollout(ctx, e, "pause-1", 1, &domain.Rollout{Policy: &p, State: domain.StatePaused})
		if err != nil {
			t.Fatal(err)
		}
		// The same request again (its version is stale now): the first
		// result, nothing stored.
		again, err := s.AppendRollout(ctx, e, "pause-1", 1, &domain.Rollout{Policy: &p, State: domain.StateAborted})
		if err != nil || !again.Duplicate || again.Revision != first.Revision {
			t.Fatalf("got %+v, %v, want the first append's revision %d as a duplicate", again, err, first.Revision)
		}
		if r, v, head := stored(); r.State != domain.StatePaused || v != 2 || head != first.Revision {
			t.Fatalf("got %+v version %d head %d, want paused at version 2", r, v, head)
		}
		// The key used for another step: refused, nothing stored.
		_, err = s.AppendRollout(ctx, rolloutStep(t, ns, domain.RolloutResumed, 1), "pause-1", 2, &domain.Rollout{Policy: &p, State: domain.StateBaking})
		wantCode(t, err, domain.EINVALID)
		if r, v, _ := stored(); r.State != domain.StatePaused || v != 2 {
			t.Fatalf("got %+v version %d, want paused at version 2", r, v)
		}
	})
	t.Run("PolicyRemovedUnlists", func(t *testing.T) {
		_, v, _ := stored()
		if _, err := s.AppendRollout(ctx, rolloutStep(t, ns, domain.RolloutPolicySet, 0), "", v, &domain.Rollout{State: domain.StateIdle}); err != nil {
			t.Fatal(err)
		}
		if names, _ := s.RolloutNamespaces(ctx); slices.Contains(names, ns) {
			t.Fatal("a namespace whose policy was removed is still listed")
		}
	})
	t.Run("Chained", func(t *testing.T) {
		chain, err := s.ChainOf(ctx, ns)
		if err != nil {
			t.Fatal(err)
		}
		_, links, err := s.ReadLinked(ctx, ns, 1, 100)
		if err != nil {
			t.Fatal(err)
		}
		check := streams.NewChainCheck(chain)
		for _, l := range links {
			if err := check.Next(l); err != nil {
				t.Fatalf("got %v, want the chain intact", err)
			}
		}
		if err := check.End(chain); err != nil || check.Revision() != 4 {
			t.Fatalf("got %v at revision %d, want the chain intact to revision 4", err, check.Revision())
		}
	})
}
