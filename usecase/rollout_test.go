package usecase_test

import (
	"slices"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/usecase"
)

func deployDoc(tb testing.TB, app *usecase.App, ns, label string) {
	tb.Helper()
	f, err := domain.ParseFlowsInput([]byte(`[{"id":"t","type":"tab","label":"` + label + `"}]`))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := app.Deploy(testCtx(tb), usecase.Deploy{Request: req(ns, domain.ExpectAny), Flows: f}); err != nil {
		tb.Fatal(err)
	}
}

func mustRollout(tb testing.TB, app *usecase.App, ns string) *domain.Rollout {
	tb.Helper()
	r, err := app.RolloutOf(testCtx(tb), ns)
	if err != nil || r == nil {
		tb.Fatalf("RolloutOf: %v, %v", r, err)
	}
	return r
}

// startedRollout is ns with flows A, a two-ring policy and flows B under
// rollout at the canaries.
func startedRollout(t *testing.T) (*usecase.App, string) {
	app, _, ns := startedRolloutOn(t)
	return app, ns
}

// startedRolloutOn is startedRollout with the store under the app.
func startedRolloutOn(t *testing.T) (*usecase.App, *streams.Store, string) {
	s, ns := mustStore(t)
	app := mustApp(t, s)
	ctx := testCtx(t)
	deployDoc(t, app, ns, "A")
	p := domain.RolloutPolicy{Rings: []domain.Ring{{Name: "canary", Bake: domain.Duration(time.Hour)}, {Name: "default"}}}
	if _, err := app.SetRolloutPolicy(ctx, usecase.SetRolloutPolicy{Request: req(ns, domain.ExpectAny), Policy: &p}); err != nil {
		t.Fatal(err)
	}
	deployDoc(t, app, ns, "B")
	if err := app.DriveRollout(ctx, ns, time.Minute); err != nil {
		t.Fatal(err)
	}
	if r := mustRollout(t, app, ns); r.State != domain.StateBaking || r.Target.Revision != 3 || r.Base.Revision != 1 {
		t.Fatalf("after the deploy: got %+v, want baking revision 3 on base 1", r)
	}
	return app, s, ns
}

func TestRolloutOperatorSteps(t *testing.T) {
	t.Parallel()
	app, ns := startedRollout(t)
	ctx := testCtx(t)
	step := func(action string) (*domain.Rollout, error) {
		return app.StepInRollout(ctx, usecase.RolloutAction{Request: req(ns, domain.ExpectAny), Action: action, Reason: "<b>why</b>"})
	}
	if _, err := step("resume"); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("resume of a baking rollout: got %v, want conflict", err)
	}
	if r, err := step("pause"); err != nil || r.State != domain.StatePaused {
		t.Fatalf("pause: got %+v, %v", r, err)
	}
	// Paused: the driver promotes nothing, even with nobody to wait for.
	if err := app.DriveRollout(ctx, ns, time.Minute); err != nil || mustRollout(t, app, ns).State != domain.StatePaused {
		t.Fatalf("driven while paused: got %+v, %v", mustRollout(t, app, ns), err)
	}
	if r, err := step("resume"); err != nil || r.State != domain.StateBaking {
		t.Fatalf("resume: got %+v, %v", r, err)
	}
	if r, err := step("promote"); err != nil || r.Ring != 1 {
		t.Fatalf("promote: got %+v, %v", r, err)
	}
	if r, err := step("abort"); err != nil || r.State != domain.StateAborted || r.Stable.Revision <= 3 {
		t.Fatalf("abort: got %+v, %v; want aborted on a rollback after revision 3", r, err)
	}
	if _, err := step("abort"); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("abort with none active: got %v, want conflict", err)
	}
	if _, err := step("explode"); domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("an unknown action: got %v, want invalid", err)
	}
	// The abort's rollback is every ring's: no new rollout starts from it.
	if err := app.DriveRollout(ctx, ns, time.Minute); err != nil || mustRollout(t, app, ns).State != domain.StateAborted {
		t.Fatalf("after the abort: got %+v, %v", mustRollout(t, app, ns), err)
	}
}

func TestRolloutInterruptedRollBackIsNotRolledOut(t *testing.T) {
	t.Parallel()
	app, ns := startedRollout(t)
	ctx := testCtx(t)
	// The driver appended its rollback and stopped before it recorded it.
	o := domain.Origin{Actor: domain.Actor{User: domain.ActorRollout, Channel: domain.ChannelAPI}}
	rb, err := app.RollBack(ctx, usecase.RollBack{Request: usecase.Request{Namespace: ns, Origin: o}, To: 1, Reason: "rollout: worker c1: 3 runtime errors (at most 0)"})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.DriveRollout(ctx, ns, time.Minute); err != nil {
		t.Fatal(err)
	}
	r := mustRollout(t, app, ns)
	if r.State != domain.StateRolledBack || r.Stable.Revision != rb.Revision || r.Reason != "worker c1: 3 runtime errors (at most 0)" {
		t.Fatalf("got %+v, want rolled back on revision %d", r, rb.Revision)
	}
}

func TestRolloutPolicyDeleteWithoutPolicy(t *testing.T) {
	t.Parallel()
	s, ns := mustStore(t)
	app := mustApp(t, s)
	if _, err := app.SetRolloutPolicy(testCtx(t), usecase.SetRolloutPolicy{Request: req(ns, domain.ExpectAny)}); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("got %v, want not found", err)
	}
}

// TestRolloutStepFailsWhole: a step whose event cannot be appended is not
// stored either. Here the append fails after the rollout was read and
// changed (the operator's idempotency key was used for another request):
// the rollout stays as it was, with no step the log does not record.
func TestRolloutStepFailsWhole(t *testing.T) {
	t.Parallel()
	app, s, ns := startedRolloutOn(t)
	ctx := testCtx(t)
	used := req(ns, domain.ExpectAny)
	used.IdempotencyKey = "op-7f3a9c2e"
	f, err := domain.ParseFlowsInput([]byte(`[{"id":"t","type":"tab","label":"C"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Deploy(ctx, usecase.Deploy{Request: used, Flows: f}); err != nil {
		t.Fatal(err)
	}
	before, err := s.Head(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	r0 := mustRollout(t, app, ns)
	_, err = app.StepInRollout(ctx, usecase.RolloutAction{Request: used, Action: "pause", Reason: "look"})
	if domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("pause with a used key: got %v, want invalid", err)
	}
	if r := mustRollout(t, app, ns); r.State != r0.State || r.State == domain.StatePaused {
		t.Fatalf("after the failed pause: got state %q, want %q: a step stored without its event", r.State, r0.State)
	}
	if after, err := s.Head(ctx, ns); err != nil || after.Revision != before.Revision {
		t.Fatalf("head: got %d (%v), want %d", after.Revision, err, before.Revision)
	}
	// Asked again with its own key, the pause is stored with its event.
	if r, err := app.StepInRollout(ctx, usecase.RolloutAction{Request: req(ns, domain.ExpectAny), Action: "pause"}); err != nil || r.State != domain.StatePaused {
		t.Fatalf("pause: got %+v, %v", r, err)
	}
	e, err := s.ReadRevision(ctx, ns, before.Revision+1)
	if err != nil || e.Type != domain.RolloutPaused {
		t.Fatalf("the pause's event: got %+v, %v", e, err)
	}
}

// TestRolloutInterruptedAbortIsNotRolledOut: an operator's abort that
// appended its rollback but stopped before recording the abort (here its
// recording fails: the request's idempotency key was used before) leaves
// the rollback every ring's, recorded as the abort by the driver, not a
// rollout of the rollback. A rollback that only looks like an abort's,
// by another user, is rolled out as any rollback.
func TestRolloutInterruptedAbortIsNotRolledOut(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	operator := func(ns, user, key string) usecase.Request {
		r := req(ns, domain.ExpectAny)
		r.Origin = domain.Origin{Actor: domain.Actor{User: user, Channel: domain.ChannelCLI}, Token: user + "-token"}
		r.IdempotencyKey = key
		return r
	}
	t.Run("OK", func(t *testing.T) {
		app, s, ns := startedRolloutOn(t)
		used := operator(ns, "alice", "op-51d0e8b4")
		f, err := domain.ParseFlowsInput([]byte(`[{"id":"t","type":"tab","label":"B"}]`))
		if err != nil {
			t.Fatal(err)
		}
		// Redeploys B (a no-op) under the key: the key is used.
		if _, err := app.Deploy(ctx, usecase.Deploy{Request: used, Flows: f}); err != nil {
			t.Fatal(err)
		}
		_, err = app.StepInRollout(ctx, usecase.RolloutAction{Request: used, Action: "abort", Reason: "<img src=x onerror=alert(1)>"})
		if domain.ErrorCode(err) != domain.EINVALID {
			t.Fatalf("abort recorded with a used key: got %v, want invalid", err)
		}
		head, err := s.Head(ctx, ns)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := s.ReadRevision(ctx, ns, head.Revision)
		if err != nil || rb.Cause != domain.CauseRollback || rb.Actor.User != "alice" {
			t.Fatalf("the abort's rollback: got %+v, %v", rb, err)
		}
		if r := mustRollout(t, app, ns); !r.Active() || r.Aborting == nil {
			t.Fatalf("interrupted: got %+v, want active and aborting", r)
		}
		for range 2 {
			if err := app.DriveRollout(ctx, ns, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		r := mustRollout(t, app, ns)
		if r.State != domain.StateAborted || r.Stable.Revision != head.Revision || r.Aborting != nil || r.Reason != "rollout aborted: <img src=x onerror=alert(1)>" {
			t.Fatalf("driven: got %+v, want aborted on the rollback at %d", r, head.Revision)
		}
		last, err := s.Head(ctx, ns)
		if err != nil || last.Revision != head.Revision+1 {
			t.Fatalf("head: got %d (%v), want one event after the rollback", last.Revision, err)
		}
		e, err := s.ReadRevision(ctx, ns, last.Revision)
		if err != nil || e.Type != domain.RolloutAborted || e.Actor.User != domain.ActorRollout {
			t.Fatalf("the abort's record: got %+v, %v, want rollout.aborted by rollout", e, err)
		}
		// Asked again, the abort finds nothing to abort.
		if _, err := app.StepInRollout(ctx, usecase.RolloutAction{Request: operator(ns, "alice", ""), Action: "abort"}); domain.ErrorCode(err) != domain.ECONFLICT {
			t.Fatalf("abort again: got %v, want conflict", err)
		}
	})
	t.Run("RetriedAbortEndsOnTheRollback", func(t *testing.T) {
		app, s, ns := startedRolloutOn(t)
		used := operator(ns, "alice", "op-0c9e77aa")
		f, _ := domain.ParseFlowsInput([]byte(`[{"id":"t","type":"tab","label":"B"}]`))
		if _, err := app.Deploy(ctx, usecase.Deploy{Request: used, Flows: f}); err != nil {
			t.Fatal(err)
		}
		app.StepInRollout(ctx, usecase.RolloutAction{Request: used, Action: "abort"})
		head, _ := s.Head(ctx, ns)
		// The operator asks again before the driver looked: the flows are
		// already at base, so the abort ends on the rollback it appended.
		r, err := app.StepInRollout(ctx, usecase.RolloutAction{Request: operator(ns, "alice", ""), Action: "abort"})
		if err != nil || r.State != domain.StateAborted || r.Stable.Revision != head.Revision {
			t.Fatalf("abort again: got %+v, %v, want aborted on %d", r, err, head.Revision)
		}
		if err := app.DriveRollout(ctx, ns, time.Minute); err != nil || mustRollout(t, app, ns).State != domain.StateAborted {
			t.Fatalf("driven: got %+v, %v, want still aborted", mustRollout(t, app, ns), err)
		}
	})
	t.Run("LookalikeWithoutAbortIsRolledOut", func(t *testing.T) {
		// Nobody asked to abort: mallory's rollback, worded as an abort's,
		// is rolled out as any rollback (Abort.IsRollbackOf covers an
		// abort under way and others' rollbacks).
		app, s, ns := startedRolloutOn(t)
		rb, err := app.RollBack(ctx, usecase.RollBack{Request: operator(ns, "mallory", ""), To: 1, Reason: "rollout aborted"})
		if err != nil {
			t.Fatal(err)
		}
		if err := app.DriveRollout(ctx, ns, time.Minute); err != nil {
			t.Fatal(err)
		}
		if r := mustRollout(t, app, ns); r.State != domain.StateBaking || r.Target.Revision != rb.Revision {
			t.Fatalf("got %+v, want the rollout of revision %d", r, rb.Revision)
		}
		if e, err := s.ReadRevision(ctx, ns, rb.Revision+1); err != nil || e.Type != domain.RolloutStarted {
			t.Fatalf("got %+v, %v, want rollout.started", e, err)
		}
	})
}

// TestRolloutStatusCompleted: once completed, every ring shows promoted
// and passed, with no bake left.
func TestRolloutStatusCompleted(t *testing.T) {
	t.Parallel()
	app, ns := startedRollout(t)
	ctx := testCtx(t)
	for range 2 {
		if _, err := app.StepInRollout(ctx, usecase.RolloutAction{Request: req(ns, domain.ExpectAny), Action: "promote"}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := app.RolloutStatus(ctx, ns, time.Minute)
	if err != nil || st.Rollout.State != domain.StateCompleted {
		t.Fatalf("got %+v, %v, want completed", st.Rollout, err)
	}
	for _, rs := range st.Rings {
		if !rs.Promoted || rs.PromotedAt.IsZero() || !rs.Verdict.Passed || rs.Verdict.Failed || !rs.Verdict.BakeUntil.IsZero() || rs.Target != st.Rollout.Target {
			t.Errorf("ring %s: got %+v, want promoted and passed on %d", rs.Name, rs, st.Rollout.Target.Revision)
		}
	}
}

// TestRolloutAbortRacesTheDriver: a driver that finds an abort's rollback
// before the abort is recorded records it; the abort then answers the
// rollout it ended, and the log holds one rollout.aborted, not two.
func TestRolloutAbortRacesTheDriver(t *testing.T) {
	t.Parallel()
	app, s, ns := startedRolloutOn(t)
	ctx := testCtx(t)
	usecase.AfterAbortRollBack(ns, func() {
		if err := app.DriveRollout(ctx, ns, time.Minute); err != nil {
			t.Error(err)
		}
	})
	before, err := s.Head(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	r, err := app.StepInRollout(ctx, usecase.RolloutAction{Request: req(ns, domain.ExpectAny), Action: "abort", Reason: "late"})
	if err != nil || r.State != domain.StateAborted || r.Stable.Revision != before.Revision+1 {
		t.Fatalf("abort: got %+v, %v, want aborted on the rollback at %d", r, err, before.Revision+1)
	}
	after, err := s.Head(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	var types []domain.EventType
	for rev := before.Revision + 1; rev <= after.Revision; rev++ {
		e, err := s.ReadRevision(ctx, ns, rev)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, e.Type)
	}
	if want := []domain.EventType{domain.FlowsRolledBack, domain.RolloutAborted}; !slices.Equal(types, want) {
		t.Fatalf("the abort's events: got %v, want %v", types, want)
	}
}
