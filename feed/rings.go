package feed

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowhist/flowhist/domain"
)

// Rings: with a rollout policy, a worker follows its ring's target, not
// the head. Each news then carries the target of the worker's ring, read
// from a per-namespace copy of the rollout that is read again from Valkey
// when a rollout event passes (every change of a target is one). Without
// a policy nothing is added, and the cost is one map lookup per news.

// rollout is this process's copy of a namespace's rollout: read without
// a lock by every news (a promotion wakes 1 000 workers at once), loaded
// again under mu when a rollout event passes.
type rollout struct {
	mu   sync.Mutex
	snap atomic.Pointer[rolloutSnap]
}

type rolloutSnap struct {
	r  *domain.Rollout
	at domain.Revision // the newest rollout event it reflects
}

func (f *Feed) rolloutOf(ns string) *rollout {
	if v, ok := f.rollouts.Load(ns); ok {
		return v.(*rollout)
	}
	v, _ := f.rollouts.LoadOrStore(ns, &rollout{})
	return v.(*rollout)
}

// stale reports whether s does not reflect news.
func (s *rolloutSnap) stale(news *News) bool {
	return s == nil || news.Rollout && news.Revision > s.at
}

// target sets news's Target to the target of the worker's ring, when the
// namespace has a rollout policy. A burst with a rollout event reads the
// rollout again first (once per event among the workers it wakes).
func (f *Feed) target(ctx context.Context, req Request, news *News) error {
	ro := f.rolloutOf(req.Namespace)
	snap := ro.snap.Load()
	if snap.stale(news) {
		ro.mu.Lock()
		if snap = ro.snap.Load(); snap.stale(news) {
			vctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
			r, _, err := f.store.Rollout(vctx, req.Namespace)
			cancel()
			if err != nil {
				ro.mu.Unlock()
				return err
			}
			next := &rolloutSnap{r: r}
			if snap != nil {
				next.at = snap.at
			}
			if news.Rollout {
				next.at = max(next.at, news.Revision)
			}
			ro.snap.Store(next)
			snap = next
		}
		ro.mu.Unlock()
	}
	ring := req.Ring
	if ring == "" {
		ring = domain.DefaultRing
	}
	if p, ok := snap.r.TargetOf(ring); ok {
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

// ringSeenEvery is how often this process records that a worker is still
// on the feed in its ring: the rollout's gate counts the workers seen
// lately (usecase: liveWorkers) without asking Valkey of each one's group.
const ringSeenEvery = 30 * time.Second

// ringNoted is what noteRing last recorded of a worker.
type ringNoted struct {
	ring string
	at   time.Time
}

// noteRing records the ring a worker named and that it is on the feed:
// when the ring changed, or ringSeenEvery after the last record.
func (f *Feed) noteRing(ctx context.Context, req Request) {
	if req.Ring == "" {
		return
	}
	k := req.Namespace + "/" + req.Worker
	now := time.Now()
	if v, ok := f.rings.Load(k); ok && v.(ringNoted).ring == req.Ring && now.Sub(v.(ringNoted).at) < ringSeenEvery {
		return
	}
	vctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	if err := f.store.SaveWorkerRing(vctx, req.Namespace, req.Worker, req.Ring, now); err == nil {
		f.rings.Store(k, ringNoted{ring: req.Ring, at: now})
	}
}
