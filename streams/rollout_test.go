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
	p := domain.Policy{Rings: []domain.Ring{{Name: "canary"}}}
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
