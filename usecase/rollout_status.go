package usecase

import (
	"context"
	"time"

	"github.com/flowhist/flowhist/domain"
)

// RingStatus is how one ring of a rollout stands.
type RingStatus struct {
	Name     string
	Target   domain.Position
	Promoted bool
	// PromotedAt is when the ring got the rollout's target (zero: not).
	PromotedAt time.Time
	// Verdict is its gate's, for the current ring and those before it;
	// once the rollout completed every ring counts as passed (by its gate
	// or an operator) and bakes no more.
	Verdict domain.Verdict
	Members []domain.Member
}

// RolloutStatus is a namespace's rollout and how each ring stands.
type RolloutStatus struct {
	Rollout *domain.Rollout
	Rings   []RingStatus
}

// RolloutStatus returns ns's rollout with each ring's members (workers
// seen within memberIdle) and gate verdict at the rollout clock's now.
//
// Errors: EUNAVAILABLE.
func (a *App) RolloutStatus(ctx context.Context, ns string, memberIdle time.Duration) (RolloutStatus, error) {
	if memberIdle == 0 {
		memberIdle = 2 * time.Minute
	}
	r, _, err := a.store.Rollout(ctx, ns)
	if err != nil || r == nil || r.Policy == nil {
		return RolloutStatus{Rollout: r}, err
	}
	workers, err := a.liveWorkers(ctx, ns, memberIdle)
	if err != nil {
		return RolloutStatus{}, err
	}
	out := RolloutStatus{Rollout: r, Rings: make([]RingStatus, len(r.Policy.Rings))}
	for i, ring := range r.Policy.Rings {
		t, _ := r.TargetOf(ring.Name)
		out.Rings[i] = RingStatus{Name: ring.Name, Target: t}
		if r.Active() && i <= r.Ring || r.State == domain.StateCompleted {
			out.Rings[i].Promoted, out.Rings[i].PromotedAt = true, promotedAt(r, i)
		}
	}
	for _, w := range workers {
		i := r.Policy.RingIndex(w.ring)
		out.Rings[i].Members = append(out.Rings[i].Members, w.Member)
	}
	now := a.now()
	for i := range out.Rings {
		rs := &out.Rings[i]
		from := rs.PromotedAt
		if from.IsZero() {
			from = r.UpdatedAt
		}
		rs.Verdict = domain.EvaluateGate(r.Policy.Rings[i], rs.Target, from, now, rs.Members)
		if r.State == domain.StateCompleted {
			rs.Verdict.Passed, rs.Verdict.Failed, rs.Verdict.BakeUntil = true, false, time.Time{}
		}
	}
	return out, nil
}

// promotedAt is when ring i got the rollout's target (zero: unknown, e.g.
// rings a policy change added after the rollout).
func promotedAt(r *domain.Rollout, i int) time.Time {
	if i < len(r.PromotedAt) {
		return r.PromotedAt[i]
	}
	return time.Time{}
}
