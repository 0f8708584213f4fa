package usecase

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/flowhist/flowhist/domain"
)

// RolloutAction is an operator stepping into a rollout.
type RolloutAction struct {
	Request
	// Action is "promote", "pause", "resume" or "abort".
	Action string
	// Reason is the operator's, shown in the history (optional).
	Reason string
}

// maxActionReason bounds an operator's reason.
const maxActionReason = 500

// StepInRollout does what an operator asked of ns's active rollout:
// promote (the current ring counts as passed now), pause (no promotion
// until resume; a failed gate still rolls back), resume, or abort (roll
// back to the rollout's base). Each is an event by the operator. It returns
// the rollout afterwards.
//
// Errors: EINVALID (an unknown action, a reason too long), ECONFLICT (no
// rollout is active, or it is not in a state the action applies to),
// EUNAVAILABLE, ECANCELED.
func (a *App) StepInRollout(ctx context.Context, act RolloutAction) (*domain.Rollout, error) {
	ns := act.Namespace
	switch act.Action {
	case "promote", "pause", "resume", "abort":
	default:
		return nil, domain.Errorf(domain.EINVALID, "%q is not a rollout action: promote, pause, resume or abort", domain.Clip(act.Action))
	}
	act.Reason = strings.TrimSpace(act.Reason)
	if len(act.Reason) > maxActionReason {
		return nil, domain.Errorf(domain.EINVALID, "reason is %d bytes, at most %d", len(act.Reason), maxActionReason)
	}
	if err := domain.CheckText("reason", []byte(act.Reason)); err != nil {
		return nil, err
	}
	r, _, err := a.store.Rollout(ctx, ns)
	if err != nil {
		return nil, err
	}
	if r == nil || !r.Active() {
		return nil, domain.Errorf(domain.ECONFLICT, "namespace %s: no rollout is active", ns)
	}
	target := r.Target
	step := func(want []string, t domain.EventType, apply func(*domain.Rollout, time.Time)) (*domain.Rollout, error) {
		return a.changeRollout(ctx, act.Request, func(r *domain.Rollout, now time.Time) (domain.EventType, domain.RolloutPayload, error) {
			if !r.Active() || r.Target != target {
				return "", domain.RolloutPayload{}, domain.Errorf(domain.ECONFLICT, "namespace %s: the rollout of revision %d is over", ns, target.Revision)
			}
			ok := false
			for _, s := range want {
				ok = ok || r.State == s
			}
			if !ok {
				return "", domain.RolloutPayload{}, domain.Errorf(domain.ECONFLICT, "namespace %s: the rollout is %s: cannot %s it", ns, r.State, act.Action)
			}
			apply(r, now)
			return t, domain.RolloutPayload{Revision: target.Revision, ID: target.ID, Reason: act.Reason}, nil
		})
	}
	switch act.Action {
	case "pause":
		return step([]string{domain.StateBaking, domain.StateWaiting}, domain.RolloutPaused, func(r *domain.Rollout, now time.Time) { r.Pause(act.Reason, now) })
	case "resume":
		return step([]string{domain.StatePaused}, domain.RolloutResumed, func(r *domain.Rollout, now time.Time) { r.Resume(now) })
	case "promote":
		if err := a.promoteRollout(ctx, ns, target, act.Origin, "operator"); err != nil {
			return nil, err
		}
		return a.RolloutOf(ctx, ns)
	}
	// abort
	abort := domain.Abort{User: act.Origin.Actor.User, Token: act.Origin.Token, Reason: act.Reason}
	if err := a.markAborting(ctx, ns, target, abort); err != nil {
		return nil, err
	}
	reason := abort.RollbackReason()
	pos, err := a.rollBackTo(ctx, ns, r.Base, act.Origin, reason)
	if err != nil {
		return nil, err
	}
	if hook, ok := afterAbortRollBack.Load(ns); ok {
		hook.(func())()
	}
	out, err := a.changeRollout(ctx, act.Request, func(r *domain.Rollout, now time.Time) (domain.EventType, domain.RolloutPayload, error) {
		if r.Target == target && r.State == domain.StateAborted {
			// A driver found the rollback first and recorded this abort.
			return "", domain.RolloutPayload{}, errUnchanged
		}
		if r.Target != target || !r.Active() {
			return "", domain.RolloutPayload{}, domain.Errorf(domain.ECONFLICT, "namespace %s: the rollout of revision %d is over", ns, target.Revision)
		}
		r.End(domain.StateAborted, pos, reason, now)
		return domain.RolloutAborted, domain.RolloutPayload{Revision: target.Revision, ID: target.ID, Reason: act.Reason}, nil
	})
	if err == errUnchanged {
		return a.RolloutOf(ctx, ns)
	}
	return out, err
}

// afterAbortRollBack holds, by namespace, what a test runs between an
// abort's rollback and its recording (rollout_export_test.go).
var afterAbortRollBack sync.Map

// markAborting stores, before the abort's rollback, that the rollout of
// target is being aborted (Rollout.Aborting): should this replica stop
// between the rollback and recording the abort, the driver then knows the
// rollback for the abort's (finishInterruptedRollBack) and does not roll
// it out.
//
// Errors: ECONFLICT (the rollout of target is over, or others' steps kept
// getting in first), EUNAVAILABLE, ECANCELED.
func (a *App) markAborting(ctx context.Context, ns string, target domain.Position, abort domain.Abort) error {
	for range 10 {
		over := true
		saved, err := a.saveRolloutQuietly(ctx, ns, func(r *domain.Rollout) bool {
			if over = !r.Active() || r.Target != target; !over {
				r.Aborting = &abort
			}
			return !over
		})
		switch {
		case err != nil || saved:
			return err
		case over:
			return domain.Errorf(domain.ECONFLICT, "namespace %s: the rollout of revision %d is over", ns, target.Revision)
		}
	}
	return domain.Errorf(domain.ECONFLICT, "namespace %s: the rollout changed meanwhile: try again", ns)
}
