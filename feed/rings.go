package feed

import (
	"context"
	"sync"

	"github.com/flowhist/flowhist/domain"
)

// Rings: with a rollout policy, a worker follows its ring's target, not
// the head. Each news then carries the target of the worker's ring, read
// from a per-namespace copy of the rollout that is read again from Valkey
// when a rollout event passes (every change of a target is one). Without
// a policy nothing is added, and the cost is one map lookup per news.

// rollouts is this process's copy of each namespace's rollout.
type rollout struct {
	mu     sync.Mutex
	loaded bool
	at     domain.Revision // the newest rollout event it reflects
	r      *domain.Rollout
}

func (f *Feed) rolloutOf(ns string) *rollout {
	if v, ok := f.rollouts.Load(ns); ok {
		return v.(*rollout)
	}
	v, _ := f.rollouts.LoadOrStore(ns, &rollout{})
	return v.(*rollout)
}

// target sets news's Target to the target of the worker's ring, when the
// namespace has a rollout policy. A burst with a rollout event reads the
// rollout again first (once per event among the workers it wakes).
func (f *Feed) target(ctx context.Context, req Request, news *News) error {
	ro := f.rolloutOf(req.Namespace)
	ro.mu.Lock()
	defer ro.mu.Unlock()
	if !ro.loaded || news.Rollout && news.Revision > ro.at {
		vctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
		r, _, err := f.store.Rollout(vctx, req.Namespace)
		cancel()
		if err != nil {
			return err
		}
		ro.r, ro.loaded = r, true
		if news.Rollout {
			ro.at = max(ro.at, news.Revision)
		}
	}
	ring := req.Ring
	if ring == "" {
		ring = domain.DefaultRing
	}
	if p, ok := ro.r.TargetOf(ring); ok {
		news.Target = &p
	}
	return nil
}

// Forget drops this process's copy of ns's rollout: the next news reads
// it again (a use case that changed it calls this before the event that
// says so is appended).
func (f *Feed) Forget(ns string) { f.rollouts.Delete(ns) }

// Target returns the position the workers of ring run in ns, and false
// when ns has no rollout policy (they run the head).
//
// Errors: EUNAVAILABLE.
func (f *Feed) Target(ctx context.Context, ns, ring string) (domain.Position, bool, error) {
	if ring == "" {
		ring = domain.DefaultRing
	}
	r, _, err := f.store.Rollout(ctx, ns)
	if err != nil {
		return domain.Position{}, false, err
	}
	p, ok := r.TargetOf(ring)
	return p, ok, nil
}

// noteRing records the ring a worker named, once per process and change.
func (f *Feed) noteRing(ctx context.Context, req Request) {
	if req.Ring == "" {
		return
	}
	k := req.Namespace + "/" + req.Worker
	if v, ok := f.rings.Load(k); ok && v.(string) == req.Ring {
		return
	}
	vctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	if err := f.store.SaveWorkerRing(vctx, req.Namespace, req.Worker, req.Ring); err == nil {
		f.rings.Store(k, req.Ring)
	}
}
