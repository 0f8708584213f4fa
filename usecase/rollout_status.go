package usecase

import (
	"context"
	"encoding/json"
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
	// Verdict is its gate's, for the current ring and those before it.
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
	groups, err := a.store.Groups(ctx, ns)
	if err != nil {
		return RolloutStatus{}, err
	}
	rings, err := a.store.WorkerRings(ctx, ns)
	if err != nil {
		return RolloutStatus{}, err
	}
	healths, err := a.store.WorkerHealths(ctx, ns)
	if err != nil {
		return RolloutStatus{}, err
	}
	out := RolloutStatus{Rollout: r, Rings: make([]RingStatus, len(r.Policy.Rings))}
	for i, ring := range r.Policy.Rings {
		t, _ := r.TargetOf(ring.Name)
		out.Rings[i] = RingStatus{Name: ring.Name, Target: t}
		if r.Active() && i <= r.Ring {
			out.Rings[i].Promoted, out.Rings[i].PromotedAt = true, r.PromotedAt[i]
		}
	}
	for _, g := range groups {
		if g.Worker == "" || g.Idle > memberIdle {
			continue
		}
		name := rings[g.Worker]
		if name == "" {
			name = domain.DefaultRing
		}
		m := domain.Member{Worker: g.Worker}
		if b, ok := healths[g.Worker]; ok {
			var h domain.StoredHealth
			if json.Unmarshal(b, &h) == nil {
				m.Health = &h
			}
		}
		i := r.Policy.RingIndex(name)
		out.Rings[i].Members = append(out.Rings[i].Members, m)
	}
	now := a.now()
	for i := range out.Rings {
		rs := &out.Rings[i]
		from := rs.PromotedAt
		if from.IsZero() {
			from = r.UpdatedAt
		}
		rs.Verdict = domain.EvaluateGate(r.Policy.Rings[i], rs.Target, from, now, rs.Members)
	}
	return out, nil
}
