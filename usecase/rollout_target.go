package usecase

import (
	"context"
	"sync"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// RingFlows is what a worker of a ring loads: the flows and credentials
// of its ring's target.
type RingFlows struct {
	// Staged is false when the namespace has no rollout policy: the worker
	// loads the head as always, and nothing else is set.
	Staged bool
	// At is the target's position; Flows what the flows were there (nil:
	// none yet).
	At    domain.Position
	Flows *streams.FlowsVersion
}

// targetCache keeps the target documents asked for lately (by namespace
// and event id): a promotion sends every worker of a ring for the same
// one. It is emptied when it grows past maxTargets.
type targetCache struct {
	mu sync.Mutex
	m  map[string]cachedTarget
}

const maxTargets = 64

type cachedTarget struct {
	at domain.Position
	v  *streams.FlowsVersion
}

// FlowsOfRing returns what the workers of ring in ns run: with a rollout
// policy, the flows (and credentials) as they were at the ring's target;
// without one, Staged false.
//
// Errors: EUNAVAILABLE, ECANCELED, ENOTFOUND (the target is gone: the log
// lost it).
func (a *App) FlowsOfRing(ctx context.Context, ns, ring string) (RingFlows, error) {
	if ring == "" {
		ring = domain.DefaultRing
	}
	r, _, err := a.store.Rollout(ctx, ns)
	if err != nil {
		return RingFlows{}, err
	}
	at, ok := r.TargetOf(ring)
	if !ok {
		return RingFlows{}, nil
	}
	out := RingFlows{Staged: true, At: at}
	if at.Revision == 0 {
		return out, nil
	}
	a.targets.mu.Lock()
	key := ns + "/" + at.ID
	c, hit := a.targets.m[key]
	a.targets.mu.Unlock()
	if hit && c.at == at {
		out.Flows = c.v
		return out, nil
	}
	v, err := a.store.FlowsAt(ctx, ns, at.Revision)
	if err != nil {
		return RingFlows{}, err
	}
	a.targets.mu.Lock()
	if a.targets.m == nil || len(a.targets.m) >= maxTargets {
		a.targets.m = map[string]cachedTarget{}
	}
	a.targets.m[key] = cachedTarget{at: at, v: v}
	a.targets.mu.Unlock()
	out.Flows = v
	return out, nil
}
