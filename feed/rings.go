package feed

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
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
//
// A worker that names no ring (a module that predates rings) is told no
// target: it follows the head, as GET flows without ring= answers it.
func (f *Feed) target(ctx context.Context, req Request, news *News) error {
	if req.Ring == "" {
		return nil
	}
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
	if p, ok := snap.r.TargetOf(req.Ring); ok {
		news.Target = &p
	} else if news.Rollout {
		// The policy was removed (a rollout event, no policy): a worker
		// of a ring that ran a target other than the head reloads it.
		news.Flows = true
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
// when the ring changed, or ringSeenEvery after the last record. Its
// failure is the request's (Valkey is away: the request would wait out
// its next step's deadline too).
//
// Errors: EUNAVAILABLE, ECANCELED.
func (f *Feed) noteRing(ctx context.Context, req Request) error {
	if req.Ring == "" {
		return nil
	}
	k := req.Namespace + "/" + req.Worker
	now := time.Now()
	if v, ok := f.rings.Load(k); ok && v.(ringNoted).ring == req.Ring && now.Sub(v.(ringNoted).at) < ringSeenEvery {
		return nil
	}
	vctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	if err := f.store.SaveWorkerRing(vctx, req.Namespace, req.Worker, req.Ring, now); err != nil {
		return err
	}
	f.rings.Store(k, ringNoted{ring: req.Ring, at: now})
	return nil
}

// A promotion is a rollout event: every worker hears it and acknowledges
// it, but only the workers of the promoted ring have anything to do. So a
// burst of rollout events first wakes the waiters of the rings whose
// target it moved, and the others once those have acknowledged it (or
// after heldMax): the promoted ring's news and acknowledgements do not
// queue behind every other worker's.

// heldMax bounds how long the waiters of rings a rollout event did not
// move wait for those of the rings it moved to acknowledge it (a worker
// reloading its flows, or gone, is not waited for longer).
const heldMax = 100 * time.Millisecond

// ringWaiters is the waiters of one ring on a tail: ch is closed when a
// rollout event moves the ring's target.
type ringWaiters struct {
	ch       chan struct{}
	n        int
	sleepers map[Sleeper]struct{} // those of the n that wait by themselves
}

// heldWake is a wake of a tail's other waiters put off until the waiters
// of the moved rings have acknowledged rev.
type heldWake struct {
	rev     domain.Revision
	rings   []string
	pending int
	timer   *time.Timer
}

// ringWaiters returns t's waiters of ring (nil for ""), called with f.mu
// held.
func (t *tail) ringWaiters(ring string) *ringWaiters {
	if ring == "" {
		return nil
	}
	if t.rings == nil {
		t.rings = map[string]*ringWaiters{}
	}
	rw := t.rings[ring]
	if rw == nil {
		rw = &ringWaiters{ch: make(chan struct{})}
		t.rings[ring] = rw
	}
	return rw
}

// hold wakes the waiters of rings and puts off waking the others until
// they have acknowledged t.last, and reports whether it did (no waiter in
// rings: the caller wakes everyone). Called with f.mu held.
func (f *Feed) hold(t *tail, rings []string) bool {
	pending := 0
	for _, r := range rings {
		if rw := t.rings[r]; rw != nil {
			pending += rw.n
		}
	}
	if pending == 0 {
		return false
	}
	if t.held != nil {
		f.wakeAll(t) // an earlier hold's other waiters are woken now
	}
	for _, r := range rings {
		if rw := t.rings[r]; rw != nil && rw.n > 0 {
			close(rw.ch)
			rw.ch = make(chan struct{})
			for sl := range rw.sleepers {
				sl.Wake()
			}
		}
	}
	h := &heldWake{rev: t.last, rings: rings, pending: pending}
	h.timer = time.AfterFunc(heldMax, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if t.held == h {
			f.wakeAll(t)
		}
	})
	t.held = h
	f.holds.Add(1)
	return true
}

// release drops t's held wake (the caller wakes everyone). Called with
// f.mu held.
func (f *Feed) release(t *tail) {
	if t.held != nil {
		t.held.timer.Stop()
		t.held = nil
		f.holds.Add(-1)
	}
}

// acknowledged records that a worker of ring in ns acknowledged rev: the
// last of the moved rings' waiters to do so wakes the others.
func (f *Feed) acknowledged(ns, ring string, rev domain.Revision) {
	if ring == "" || f.holds.Load() == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tails[ns]
	if t == nil {
		return
	}
	if h := t.held; h != nil && rev >= h.rev && slices.Contains(h.rings, ring) {
		if h.pending--; h.pending <= 0 {
			f.wakeAll(t)
		}
	}
}

// ringsMoved reads ns's rollout when entries (a tail's burst) are rollout
// events only, keeps it as the copy every news's target is read from, and
// returns the rings with waiters on t whose target it moved; ok is false
// when every waiter is to be woken at once (other events among them, the
// rollout unknown before or unreadable now).
func (f *Feed) ringsMoved(ns string, t *tail, entries []streams.Entry) (moved []string, ok bool) {
	for _, e := range entries {
		if e.Aggregate != domain.AggregateRollout || e.ID == "" {
			return nil, false
		}
	}
	f.mu.Lock()
	rings := make([]string, 0, len(t.rings))
	for r, rw := range t.rings {
		if rw.n > 0 {
			rings = append(rings, r)
		}
	}
	f.mu.Unlock()
	if len(rings) == 0 {
		return nil, false
	}
	ro := f.rolloutOf(ns)
	ro.mu.Lock()
	defer ro.mu.Unlock()
	old := ro.snap.Load()
	if old == nil {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.cfg.Timeout)
	r, _, err := f.store.Rollout(ctx, ns)
	cancel()
	if err != nil {
		return nil, false
	}
	ro.snap.Store(&rolloutSnap{r: r, at: max(old.at, entries[len(entries)-1].Revision)})
	for _, ring := range rings {
		was, wok := old.r.TargetOf(ring)
		is, iok := r.TargetOf(ring)
		if was != is || wok != iok {
			moved = append(moved, ring)
		}
	}
	return moved, true
}
