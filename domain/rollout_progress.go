package domain

import (
	"fmt"
	"time"
)

// Rollout states.
const (
	StateIdle       = "idle"
	StateBaking     = "baking"
	StateWaiting    = "waiting"
	StatePaused     = "paused"
	StateCompleted  = "completed"
	StateRolledBack = "rolledback"
	StateAborted    = "aborted"
)

// Rollout is a namespace's rollout: its policy and how far the current (or
// last) rollout got. It is kept in Valkey, so that a restart or another
// replica resumes it; every change of it is also an event in the log.
type Rollout struct {
	Policy *RolloutPolicy `json:"policy"`
	State  string         `json:"state"`
	// Target is the position rolled out; Base the last good one, which
	// the rings not yet promoted run; Stable what every ring runs when no
	// rollout is active.
	Target Position `json:"target"`
	Base   Position `json:"base"`
	Stable Position `json:"stable"`
	// Ring is the index of the newest promoted ring.
	Ring       int         `json:"ring"`
	PromotedAt []time.Time `json:"promotedAt"`
	StartedAt  time.Time   `json:"startedAt,omitzero"`
	UpdatedAt  time.Time   `json:"updatedAt,omitzero"`
	PausedAt   time.Time   `json:"pausedAt,omitzero"`
	Reason     string      `json:"reason,omitempty"`
	// Aborting is an operator's abort under way (nil: none): stored
	// before the abort's rollback is appended, so that a driver finding
	// that rollback with the rollout still active (the operator's replica
	// stopped in between) ends the rollout as aborted instead of rolling
	// the rollback out.
	Aborting *Abort `json:"aborting,omitempty"`
}

// Abort is an operator's abort of a rollout: who asked (the user and the
// token of the request) and the reason they gave.
type Abort struct {
	User   string `json:"user"`
	Token  string `json:"token,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// RollbackReason is the reason of the abort's rollback, as the history
// shows it.
func (a Abort) RollbackReason() string {
	if a.Reason == "" {
		return "rollout aborted"
	}
	return "rollout aborted: " + a.Reason
}

// IsRollbackOf reports whether e is the rollback the abort appended (to
// base): a rollback to base by the same user and token, with its reason.
// Nobody else can append that: the user is the token's (Attribute).
func (a Abort) IsRollbackOf(e *Event, base Position) bool {
	return e.Cause == CauseRollback && e.Target == base.Revision && e.Actor.User == a.User && e.Token == a.Token && e.Reason == a.RollbackReason()
}

// Active reports whether a rollout is under way.
func (r *Rollout) Active() bool {
	return r.Policy != nil && (r.State == StateBaking || r.State == StateWaiting || r.State == StatePaused)
}

// TargetOf is the position the workers of ring run; ok is false without a
// policy (they follow the head).
func (r *Rollout) TargetOf(ring string) (Position, bool) {
	if r == nil || r.Policy == nil {
		return Position{}, false
	}
	if !r.Active() {
		return r.Stable, true
	}
	if r.Policy.RingIndex(ring) <= r.Ring {
		return r.Target, true
	}
	return r.Base, true
}

// Start begins rolling out p at now: the first ring runs it, the others the
// last good position.
func (r *Rollout) Start(p Position, now time.Time) {
	if !r.Active() {
		r.Base = r.Stable
	}
	r.Target, r.State, r.Ring, r.Reason, r.Aborting = p, StateBaking, 0, "", nil
	r.PromotedAt = make([]time.Time, len(r.Policy.Rings))
	r.PromotedAt[0] = now
	r.StartedAt, r.UpdatedAt, r.PausedAt = now, now, time.Time{}
}

// Promote moves the rollout to the next ring at now, or completes it after
// the last (it returns true then).
func (r *Rollout) Promote(now time.Time) (completed bool) {
	r.UpdatedAt = now
	if r.Ring+1 >= len(r.Policy.Rings) {
		r.Complete(now)
		return true
	}
	r.Ring++
	r.PromotedAt[r.Ring] = now
	if r.State == StateWaiting {
		r.State = StateBaking
	}
	return false
}

// Complete ends the rollout with every ring on its target.
func (r *Rollout) Complete(now time.Time) {
	r.Stable, r.Base, r.State, r.UpdatedAt = r.Target, r.Target, StateCompleted, now
	r.Ring, r.Aborting = len(r.Policy.Rings)-1, nil
}

// End ends the rollout with every ring on stable (a rollback's position),
// in state (StateRolledBack or StateAborted), for reason.
func (r *Rollout) End(state string, stable Position, reason string, now time.Time) {
	r.State, r.Stable, r.Base, r.Reason, r.UpdatedAt, r.Aborting = state, stable, stable, reason, now, nil
}

// Pause stops promotions at now.
func (r *Rollout) Pause(reason string, now time.Time) {
	r.State, r.PausedAt, r.Reason, r.UpdatedAt = StatePaused, now, reason, now
}

// Resume goes on after a pause: the current ring's bake goes on where it
// was, so its promotion time moves by the pause.
func (r *Rollout) Resume(now time.Time) {
	if !r.PausedAt.IsZero() && !r.PromotedAt[r.Ring].IsZero() {
		r.PromotedAt[r.Ring] = r.PromotedAt[r.Ring].Add(now.Sub(r.PausedAt))
	}
	r.State, r.PausedAt, r.Reason, r.UpdatedAt = StateBaking, time.Time{}, "", now
}

// Member is a worker of a ring and its last health report (nil: none).
type Member struct {
	Worker string
	Health *StoredHealth
}

// MemberVerdict is how one member stands at its ring's gate.
type MemberVerdict struct {
	Worker   string
	Reported bool // it reported on the ring's target
	Healthy  bool
	Problem  string
}

// Verdict is how a ring stands at its gate.
type Verdict struct {
	Passed, Failed bool
	// Worker and Reason name what failed.
	Worker, Reason string
	// BakeUntil is when the bake ends if every member stays healthy (zero
	// until every member reported healthy).
	BakeUntil time.Time
	Done      int
	Members   []MemberVerdict
}

// EvaluateGate judges ring's members on target, promoted at promotedAt, at
// now: it fails at the first member that reported a problem on target, or
// did not report healthy on it within the gate's deadline, or stopped
// reporting for longer than the deadline; it passes once every member has
// been healthy on target for the bake time.
func EvaluateGate(ring Ring, target Position, promotedAt, now time.Time, members []Member) Verdict {
	v := Verdict{Members: make([]MemberVerdict, 0, len(members))}
	deadline := time.Duration(ring.Gate.Deadline)
	bakeFrom := promotedAt
	for _, m := range members {
		mv := MemberVerdict{Worker: m.Worker}
		h := m.Health
		on := h != nil && h.Revision == target.Revision && h.ID == target.ID
		switch {
		case on && h.Failed != "":
			mv.Reported, mv.Problem = true, h.Failed
			v.fail(m.Worker, h.Failed)
		case on && h.Healthy && now.Sub(h.Updated) > deadline:
			mv.Reported, mv.Problem = true, fmt.Sprintf("stopped reporting (last report %s ago)", now.Sub(h.Updated).Round(time.Second))
			v.fail(m.Worker, mv.Problem)
		case on && h.Healthy:
			mv.Reported, mv.Healthy = true, true
			v.Done++
			if h.HealthySince.After(bakeFrom) {
				bakeFrom = h.HealthySince
			}
		case now.Sub(promotedAt) > deadline:
			mv.Problem = fmt.Sprintf("did not report healthy on revision %d within %s", target.Revision, deadline)
			v.fail(m.Worker, mv.Problem)
		default:
			mv.Problem = "not reported yet"
		}
		v.Members = append(v.Members, mv)
	}
	if v.Failed || v.Done < len(members) {
		return v
	}
	v.BakeUntil = bakeFrom.Add(time.Duration(ring.Bake))
	v.Passed = !now.Before(v.BakeUntil)
	return v
}

func (v *Verdict) fail(worker, problem string) {
	if !v.Failed {
		v.Failed, v.Worker, v.Reason = true, worker, fmt.Sprintf("worker %s: %s", worker, problem)
	}
}
