package usecase

import (
	"context"
	"errors"

	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// SetRolloutPolicy is setting (or, with a nil Policy, removing) a
// namespace's rollout policy.
type SetRolloutPolicy struct {
	Request
	Policy *domain.RolloutPolicy
}

// SetRolloutPolicy stores the policy (with its defaults) and appends
// rollout.policy. A namespace's first policy starts with every ring on the
// flows it runs now; removing it ends an active rollout at once (every
// worker follows the head). It returns the rollout as stored.
//
// Errors: EINVALID (the policy), EUNAVAILABLE, ECANCELED.
func (a *App) SetRolloutPolicy(ctx context.Context, s SetRolloutPolicy) (*domain.Rollout, error) {
	var p *domain.RolloutPolicy
	if s.Policy != nil {
		d := s.Policy.WithDefaults()
		if err := d.Validate(); err != nil {
			return nil, err
		}
		p = &d
	}
	if err := domain.ValidateNamespace(s.Namespace); err != nil {
		return nil, err
	}
	return a.changeRollout(ctx, s.Request, func(r *domain.Rollout, now time.Time) (domain.EventType, domain.RolloutPayload, error) {
		if r.Policy == nil && p == nil {
			return "", domain.RolloutPayload{}, domain.Errorf(domain.ENOTFOUND, "namespace %s has no rollout policy", s.Namespace)
		}
		if r.Policy == nil && p != nil {
			pos, err := a.flowsPosition(ctx, s.Namespace)
			if err != nil {
				return "", domain.RolloutPayload{}, err
			}
			r.Stable, r.Base, r.State = pos, pos, domain.StateIdle
		}
		if p == nil && r.Active() {
			r.Complete(now)
		}
		if p != nil && r.Active() && len(p.Rings) != len(r.PromotedAt) {
			// The rings changed under a rollout: it goes on from the
			// first ring of the new policy.
			r.PromotedAt = make([]time.Time, len(p.Rings))
			r.Ring, r.PromotedAt[0] = 0, now
		}
		r.Policy, r.UpdatedAt = p, now
		return domain.RolloutPolicySet, domain.RolloutPayload{Policy: p}, nil
	})
}

// RolloutOf returns ns's rollout (nil: never had a policy).
//
// Errors: EUNAVAILABLE.
func (a *App) RolloutOf(ctx context.Context, ns string) (*domain.Rollout, error) {
	r, _, err := a.store.Rollout(ctx, ns)
	return r, err
}

// flowsPosition is the position of ns's newest flows event (zero: none).
// The driver asks several times a second: the flows document is rebuilt
// only when the flows aggregate's revision moved since the last answer.
func (a *App) flowsPosition(ctx context.Context, ns string) (domain.Position, error) {
	h, err := a.store.Head(ctx, ns)
	if err != nil {
		return domain.Position{}, err
	}
	agg := h.Aggregates[domain.AggregateFlows]
	if c, ok := a.flowsAt.Load(ns); ok && c.(flowsAt).aggregate == agg {
		return c.(flowsAt).at, nil
	}
	v, err := a.store.FlowsHead(ctx, ns, true)
	if err != nil || v.Revision == 0 {
		return domain.Position{}, err
	}
	at, ok, err := a.store.EventAt(ctx, ns, v.Revision)
	if err != nil || !ok {
		return domain.Position{}, err
	}
	pos := domain.Position{Revision: at.Revision, ID: at.ID}
	a.flowsAt.Store(ns, flowsAt{aggregate: v.AggregateRevision, at: pos})
	return pos, nil
}

// flowsAt is a namespace's newest flows event as flowsPosition last found
// it, with the flows aggregate's revision then.
type flowsAt struct {
	aggregate domain.Revision
	at        domain.Position
}

// errUnchanged is what a change returns when there is nothing to do (the
// rollout moved on meanwhile): nothing is stored or appended.
var errUnchanged = errors.New("usecase: the rollout moved on")

// changeRollout applies change to ns's stored rollout and appends the
// event of type t with the payload change returns, in one atomic step
// (streams.AppendRollout): a step is never stored without the event that
// wakes the workers to it, nor the event without the step (a worker woken
// by it reads the new targets). When another step got in first, change is
// applied again to the rollout as it is now.
func (a *App) changeRollout(ctx context.Context, req Request, change func(r *domain.Rollout, now time.Time) (domain.EventType, domain.RolloutPayload, error)) (*domain.Rollout, error) {
	ns := req.Namespace
	for attempt := 0; ; attempt++ {
		r, v, err := a.store.Rollout(ctx, ns)
		if err != nil {
			return nil, err
		}
		if r == nil {
			r = &domain.Rollout{State: domain.StateIdle}
		}
		t, p, err := change(r, a.now())
		if err != nil {
			return nil, err
		}
		e, err := domain.NewRolloutEvent(ns, t, p, req.Origin)
		if err != nil {
			return nil, err
		}
		res, err := a.appendRolloutStep(ctx, e, req.IdempotencyKey, v, r)
		if domain.ErrorCode(err) == domain.ECONFLICT && attempt < 10 {
			continue
		}
		if err != nil {
			return nil, err
		}
		a.kickDriver(ns)
		if res.Duplicate {
			// A retried request: its step was stored the first time.
			r, _, err = a.store.Rollout(ctx, ns)
		}
		return r, err
	}
}

// appendRolloutStep appends e and stores r as ns's rollout, if its version
// is still prev, as one write; then what follows every append.
func (a *App) appendRolloutStep(ctx context.Context, e domain.Event, key string, prev streams.RolloutVersion, r *domain.Rollout) (streams.AppendResult, error) {
	if err := a.refuse(e.Namespace); err != nil {
		return streams.AppendResult{}, err
	}
	res, err := a.store.AppendRollout(ctx, e, key, prev, r)
	if domain.ErrorCode(err) != domain.ECONFLICT {
		// A step that lost the race is not a request refused as stale:
		// it is applied again.
		a.landed(e.Namespace, res, err, e.Type, e.Aggregate)
	}
	return res, err
}
