package usecase

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
)

// rolloutOrigin is who the driver's events name.
var rolloutOrigin = domain.Origin{Actor: domain.Actor{User: domain.ActorRollout, Channel: domain.ChannelAPI}}

// DriveRollout takes ns's rollout one step at the rollout clock's now: it
// starts a rollout of a flows revision newer than every ring's target,
// judges the current ring's gate, and then promotes the rollout to the next
// ring (inside a window, when the policy lists any), completes it, or rolls
// it back to its base. The caller holds ns's lease (RolloutDriver).
// Workers away from the feed for longer than memberIdle are not members.
//
// Errors: EUNAVAILABLE, ECANCELED.
func (a *App) DriveRollout(ctx context.Context, ns string, memberIdle time.Duration) error {
	r, _, err := a.store.Rollout(ctx, ns)
	if err != nil || r == nil || r.Policy == nil {
		return err
	}
	now := a.now()
	pos, err := a.flowsPosition(ctx, ns)
	if err != nil {
		return err
	}
	if pos.Revision > max(r.Target.Revision, r.Stable.Revision) {
		if done, err := a.finishInterruptedRollBack(ctx, ns, r, pos); done || err != nil {
			return err
		}
		if r, err = a.startRollout(ctx, ns, pos); err != nil {
			return err
		}
	}
	if !r.Active() {
		return nil
	}
	members, err := a.ringMembers(ctx, ns, r, memberIdle)
	if err != nil {
		return err
	}
	v := domain.EvaluateGate(r.Policy.Rings[r.Ring], r.Target, r.PromotedAt[r.Ring], now, members)
	switch {
	case v.Failed:
		return a.failRollout(ctx, ns, r, v)
	case !v.Passed || r.State == domain.StatePaused:
		return nil
	case r.Ring+1 < len(r.Policy.Rings) && !r.Policy.InWindow(now):
		if r.State == domain.StateWaiting {
			return nil
		}
		_, err := a.saveRolloutQuietly(ctx, ns, func(r *domain.Rollout) bool {
			if r.State != domain.StateBaking {
				return false
			}
			r.State, r.UpdatedAt = domain.StateWaiting, now
			return true
		})
		return err
	}
	return a.promoteRollout(ctx, ns, r.Target, rolloutOrigin, "gate")
}

// startRollout starts the rollout of pos, unless one of it (or later) was
// started meanwhile.
func (a *App) startRollout(ctx context.Context, ns string, pos domain.Position) (*domain.Rollout, error) {
	r, err := a.changeRollout(ctx, Request{Namespace: ns, Origin: rolloutOrigin}, func(r *domain.Rollout, now time.Time) (domain.EventType, domain.RolloutPayload, error) {
		if r.Policy == nil || pos.Revision <= max(r.Target.Revision, r.Stable.Revision) {
			return "", domain.RolloutPayload{}, errUnchanged
		}
		r.Start(pos, now)
		base := r.Base
		return domain.RolloutStarted, domain.RolloutPayload{Revision: pos.Revision, ID: pos.ID, Base: &base, Ring: r.Policy.Rings[0].Name}, nil
	})
	if err == errUnchanged {
		r, _, err = a.store.Rollout(ctx, ns)
	}
	return r, err
}

// finishInterruptedRollBack ends a rollout whose end was rolled back but
// not recorded: the newest flows event, at pos, is the rollback to the
// rollout's base that the driver appended for a failed gate, or the one
// an operator's abort appended (Rollout.Aborting names who), and whoever
// appended it stopped before recording why. The rollback is every ring's,
// not a new rollout.
func (a *App) finishInterruptedRollBack(ctx context.Context, ns string, r *domain.Rollout, pos domain.Position) (bool, error) {
	if !r.Active() {
		return false, nil
	}
	e, err := a.store.ReadRevision(ctx, ns, pos.Revision)
	if err != nil {
		return false, err
	}
	target := r.Target
	// The failed gate's or the abort's end, as recorded had it not been
	// interrupted.
	state, t, p := domain.StateRolledBack, domain.RolloutFailed, domain.RolloutPayload{Revision: target.Revision, ID: target.ID}
	why, ours := strings.CutPrefix(e.Reason, "rollout: ")
	switch {
	case e.Cause == domain.CauseRollback && e.Actor.User == domain.ActorRollout && e.Token == "" && ours && e.Target == r.Base.Revision:
		p.Reason = why
	case r.Aborting != nil && r.Aborting.IsRollbackOf(e, r.Base):
		state, t, p.Reason = domain.StateAborted, domain.RolloutAborted, r.Aborting.Reason
		why = r.Aborting.RollbackReason()
	default:
		return false, nil
	}
	_, err = a.changeRollout(ctx, Request{Namespace: ns, Origin: rolloutOrigin}, func(r *domain.Rollout, now time.Time) (domain.EventType, domain.RolloutPayload, error) {
		if !r.Active() || r.Target != target {
			return "", domain.RolloutPayload{}, errUnchanged
		}
		if t == domain.RolloutFailed {
			p.Ring = r.Policy.Rings[r.Ring].Name
		}
		r.End(state, pos, why, now)
		return t, p, nil
	})
	if err == errUnchanged {
		err = nil
	}
	return true, err
}

// promoteRollout promotes the rollout of target to its next ring (or
// completes it), by the gate or an operator.
func (a *App) promoteRollout(ctx context.Context, ns string, target domain.Position, o domain.Origin, by string) error {
	_, err := a.changeRollout(ctx, Request{Namespace: ns, Origin: o}, func(r *domain.Rollout, now time.Time) (domain.EventType, domain.RolloutPayload, error) {
		if !r.Active() || r.Target != target || r.State == domain.StatePaused && by == "gate" {
			return "", domain.RolloutPayload{}, errUnchanged
		}
		if r.Promote(now) {
			return domain.RolloutCompleted, domain.RolloutPayload{Revision: target.Revision, ID: target.ID, By: by}, nil
		}
		return domain.RolloutPromoted, domain.RolloutPayload{Revision: target.Revision, ID: target.ID, Ring: r.Policy.Rings[r.Ring].Name, Index: r.Ring, By: by}, nil
	})
	if err == errUnchanged {
		return nil
	}
	return err
}

// failRollout rolls a failed rollout back to its base as the actor
// rollout, with the reason naming the worker and what failed; every ring's
// target becomes the rollback.
func (a *App) failRollout(ctx context.Context, ns string, r *domain.Rollout, v domain.Verdict) error {
	pos, err := a.rollBackTo(ctx, ns, r.Base, rolloutOrigin, "rollout: "+v.Reason)
	if err != nil {
		return err
	}
	target := r.Target
	_, err = a.changeRollout(ctx, Request{Namespace: ns, Origin: rolloutOrigin}, func(r *domain.Rollout, now time.Time) (domain.EventType, domain.RolloutPayload, error) {
		if !r.Active() || r.Target != target {
			return "", domain.RolloutPayload{}, errUnchanged
		}
		ring := r.Policy.Rings[r.Ring].Name
		r.End(domain.StateRolledBack, pos, v.Reason, now)
		return domain.RolloutFailed, domain.RolloutPayload{Revision: target.Revision, ID: target.ID, Ring: ring, Worker: v.Worker, Reason: v.Reason}, nil
	})
	if err == errUnchanged {
		return nil
	}
	return err
}

// rollBackTo appends a rollback to base's flows and returns the position
// every ring runs after it: the rollback's, or (when the flows already are
// as at base, or base had none) the newest flows event's.
func (a *App) rollBackTo(ctx context.Context, ns string, base domain.Position, o domain.Origin, reason string) (domain.Position, error) {
	if base.Revision > 0 {
		rb, err := a.RollBack(ctx, RollBack{Request: Request{Namespace: ns, Origin: o, Expected: domain.ExpectAny}, To: base.Revision, Reason: reason})
		if err != nil {
			return domain.Position{}, err
		}
		if rb.Noop {
			// The flows already are as at base: the newest flows event's
			// (an earlier rollback, say an abort's asked again) is every
			// ring's, or the driver would take it for a new revision.
			return a.flowsPosition(ctx, ns)
		}
		at, ok, err := a.store.EventAt(ctx, ns, rb.Revision)
		if err != nil {
			return domain.Position{}, err
		}
		if ok {
			return domain.Position{Revision: at.Revision, ID: at.ID}, nil
		}
	}
	// Nothing to restore: every ring stays on base.
	return base, nil
}

// ringMembers returns the members of the rollout's current ring, each
// with its last health report.
func (a *App) ringMembers(ctx context.Context, ns string, r *domain.Rollout, memberIdle time.Duration) ([]domain.Member, error) {
	workers, err := a.liveWorkers(ctx, ns, memberIdle)
	if err != nil {
		return nil, err
	}
	var out []domain.Member
	for _, w := range workers {
		if r.Policy.RingIndex(w.ring) == r.Ring {
			out = append(out, w.Member)
		}
	}
	return out, nil
}

// ringWorker is a worker on the feed, its ring and its last health report.
type ringWorker struct {
	domain.Member
	ring string
}

// liveWorkers returns the workers of ns seen on the feed within
// memberIdle that named a ring, each with its ring and its last health
// report, by worker id. Two reads, however many workers: the feed records
// when it saw each (feed: noteRing).
func (a *App) liveWorkers(ctx context.Context, ns string, memberIdle time.Duration) ([]ringWorker, error) {
	rings, err := a.store.WorkerRings(ctx, ns)
	if err != nil {
		return nil, err
	}
	healths, err := a.store.WorkerHealths(ctx, ns)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var out []ringWorker
	for id, r := range rings {
		if now.Sub(r.Seen) > memberIdle {
			continue
		}
		w := ringWorker{Member: domain.Member{Worker: id}, ring: r.Ring}
		if b, ok := healths[id]; ok {
			var h domain.StoredHealth
			// A report judged by another ring's gate (the worker moved
			// since) does not count for this one.
			if json.Unmarshal(b, &h) == nil && (h.Ring == r.Ring || h.Ring == "" && r.Ring == domain.DefaultRing) {
				w.Health = &h
			}
		}
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b ringWorker) int { return strings.Compare(a.Worker, b.Worker) })
	return out, nil
}

// saveRolloutQuietly changes the stored rollout without an event (a
// state nobody acted on, such as waiting for a window).
func (a *App) saveRolloutQuietly(ctx context.Context, ns string, change func(*domain.Rollout) bool) (bool, error) {
	r, v, err := a.store.Rollout(ctx, ns)
	if err != nil || r == nil || !change(r) {
		return false, err
	}
	_, err = a.store.SaveRollout(ctx, ns, v, r)
	if domain.ErrorCode(err) == domain.ECONFLICT {
		return false, nil // another step got in: the next tick looks again
	}
	return err == nil, err
}
