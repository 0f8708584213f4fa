package feed

import (
	"context"
	"slices"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"go.uber.org/zap"
)

// tail is one namespace's wake-up channel, closed and replaced whenever the
// log grows past last, and the recent entries it saw: a woken waiter that
// was up to date answers from them without reading its group.
//
// After every outage of its read (a failover), and every quiet block, the
// tail checks that the log still holds its last event: when it does not
// (Valkey lost writes, or was restored), it marks the workers whose groups
// are past the divergence (streams.MarkDiverged), starts over from the
// log's end, and bumps epoch: every waiter checks what it was told against
// the log, and is given a reset where the log lost it.
type tail struct {
	ch        chan struct{}
	last      domain.Revision
	lastID    string
	epoch     uint64
	recent    []streams.Entry // ascending, ending at last
	waiters   int
	idleSince time.Time

	// With a rollout policy, a burst of rollout events first wakes the
	// waiters of the rings whose target it moved (rings.go: held).
	rings map[string]*ringWaiters
	held  *heldWake
	// sleepers are the waiters that wait by themselves (Sleeper): woken
	// with the channel.
	sleepers map[Sleeper]struct{}
}

// tailState is what a waiter knows of its tail when it subscribes.
type tailState struct {
	streams.Position
	epoch uint64
}

// maxRecent bounds the entries a tail remembers.
const maxRecent = 1024

// Tail timing: how long one blocked read lasts, and how long a tail with no
// waiters lives on (so that a worker's next poll finds it running).
const (
	tailBlock   = 5 * time.Second
	tailLinger  = 30 * time.Second
	tailBackoff = time.Second
)

// subscribe returns a channel closed at ns's next new entry, one closed
// first when a rollout event moves ring's target (nil for ring ""), the
// revision the tail was at, and a function to call when the caller stops
// waiting; a Sleeper is woken with them. Subscribe before reading the group, so that an entry appended
// between the read and the wait is not missed.
func (f *Feed) subscribe(ns, ring string, sl Sleeper) (<-chan struct{}, <-chan struct{}, tailState, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx.Err() != nil {
		// Closed: no new tails; waiters answer "no news" at once.
		closed := make(chan struct{})
		close(closed)
		return closed, nil, tailState{}, func() {}
	}
	t, ok := f.tails[ns]
	if !ok {
		t = &tail{ch: make(chan struct{})}
		f.tails[ns] = t
		f.wg.Add(1)
		go f.run(ns, t)
	}
	t.waiters++
	f.waiting(1)
	rw := t.ringWaiters(ring)
	var ringCh <-chan struct{}
	if rw != nil {
		rw.n++
		ringCh = rw.ch
	}
	if sl != nil {
		t.sleep(rw, sl, true)
	}
	return t.ch, ringCh, tailState{Position: streams.Position{Revision: t.last, ID: t.lastID}, epoch: t.epoch}, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		t.waiters--
		if rw != nil {
			rw.n--
		}
		if sl != nil {
			t.sleep(rw, sl, false)
		}
		f.waiting(-1)
		if t.waiters == 0 {
			t.idleSince = time.Now()
		}
	}
}

// Notify records new entries of ns and wakes its waiters. Entries at or
// below what the tail has are ignored; a gap (entries this process has not
// seen) empties the recent list, so waiters fall back to their groups.
// Entries without their event's id are ignored too: news names the event,
// and the tail, whose blocked read Valkey wakes on the same write, reads
// them with it.
func (f *Feed) Notify(ns string, entries ...streams.Entry) { f.notify(ns, nil, false, entries) }

// notify is Notify; when first is set (a burst of rollout events only),
// the waiters of the rings it names are woken first and the others once
// those have their news (held).
func (f *Feed) notify(ns string, first []string, ringsFirst bool, entries []streams.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tails[ns]
	if !ok {
		return
	}
	woke := false
	for _, e := range entries {
		if e.Revision <= t.last || e.ID == "" {
			continue
		}
		if e.Revision != t.last+1 {
			t.recent = t.recent[:0]
		}
		t.recent = append(t.recent, e)
		t.last, t.lastID, woke = e.Revision, e.ID, true
	}
	if n := len(t.recent); n > maxRecent {
		t.recent = append(t.recent[:0], t.recent[n-maxRecent:]...)
	}
	if !woke {
		return
	}
	if ringsFirst && f.hold(t, first) {
		return
	}
	f.wakeAll(t)
}

// wakeAll wakes every waiter of t (called with f.mu held).
func (f *Feed) wakeAll(t *tail) {
	f.release(t)
	close(t.ch)
	t.ch = make(chan struct{})
	for sl := range t.sleepers {
		sl.Wake()
	}
}

// sleep adds sl to t's sleepers (and its ring's, rw), or removes it.
// Called with f.mu held.
func (t *tail) sleep(rw *ringWaiters, sl Sleeper, add bool) {
	if !add {
		delete(t.sleepers, sl)
		if rw != nil {
			delete(rw.sleepers, sl)
		}
		return
	}
	if t.sleepers == nil {
		t.sleepers = map[Sleeper]struct{}{}
	}
	t.sleepers[sl] = struct{}{}
	if rw != nil {
		if rw.sleepers == nil {
			rw.sleepers = map[Sleeper]struct{}{}
		}
		rw.sleepers[sl] = struct{}{}
	}
}

// since coalesces what ns's tail saw after revision base, and reports
// false when it cannot tell (it did not see all of it).
func (f *Feed) since(ns string, base domain.Revision) (News, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tails[ns]
	if !ok || len(t.recent) == 0 || t.recent[0].Revision > base+1 || t.last <= base {
		return News{}, false
	}
	i := 0
	for i < len(t.recent) && t.recent[i].Revision <= base {
		i++
	}
	return coalesce(t.recent[i:]), true
}

// run is ns's tail: it blocks on the log and wakes waiters on every new
// entry, until it has had no waiters for tailLinger or the feed is closed.
func (f *Feed) run(ns string, t *tail) {
	defer f.wg.Done()
	// Failures are logged when they start and when they end, not at
	// every retry: the Valkey monitor reports the outage itself.
	failing := false
	var last streams.Position
	err := f.retry(ns, &failing, func() (err error) {
		last, _, err = f.store.EventAt(f.ctx, ns, 0)
		return err
	})
	if err != nil {
		return
	}
	f.mu.Lock()
	if last.Revision > t.last {
		// Entries appended before the tail started: known to exist, not
		// what they were.
		t.last, t.lastID, t.recent = last.Revision, last.ID, t.recent[:0]
		f.wakeAll(t)
	}
	f.mu.Unlock()
	check := false
	for {
		f.mu.Lock()
		if t.waiters == 0 && time.Since(t.idleSince) > tailLinger || f.ctx.Err() != nil {
			delete(f.tails, ns)
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		if check {
			// After an outage or a quiet block: does the log still hold
			// what the tail saw?
			moved, err := f.checkLog(ns, t, last)
			if err != nil {
				f.failed(ns, &failing, err)
				continue
			}
			last, check = moved, false
		}
		entries, err := f.store.WaitEntries(f.ctx, ns, last.Revision, tailBlock)
		if err != nil {
			if f.ctx.Err() == nil {
				f.failed(ns, &failing, err)
			}
			check = true
			continue
		}
		if failing {
			failing = false
			f.log.Info("feed tail resumed", zap.String("ns", ns))
		}
		if len(entries) > 0 {
			e := entries[len(entries)-1]
			last = streams.Position{Revision: e.Revision, ID: e.ID}
			first, ok := f.ringsMoved(ns, t, entries)
			f.notify(ns, first, ok, entries)
		} else {
			check = true
		}
	}
}

// failed logs a failure of the tail of ns when it starts, and waits
// before the next try.
func (f *Feed) failed(ns string, failing *bool, err error) {
	if !*failing {
		*failing = true
		f.log.Warn("feed tail lost Valkey; retrying", zap.String("ns", ns), zap.Error(err))
	}
	select {
	case <-f.ctx.Done():
	case <-time.After(tailBackoff):
	}
}

// retry runs try until it succeeds or the feed closes (its error then).
func (f *Feed) retry(ns string, failing *bool, try func() error) error {
	for {
		err := try()
		if err == nil || f.ctx.Err() != nil {
			return err
		}
		f.failed(ns, failing, err)
	}
}

// checkLog checks that ns's log still holds last, the newest event the tail
// saw, and returns where the tail goes on from: last, or, when the log lost
// it, the log's end, after marking the workers past the divergence and
// waking every waiter to check what it was told (epoch).
func (f *Feed) checkLog(ns string, t *tail, last streams.Position) (streams.Position, error) {
	if last.Revision == 0 {
		return last, nil
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.cfg.Timeout)
	defer cancel()
	at, ok, err := f.store.EventAt(ctx, ns, last.Revision)
	if err != nil || ok && (last.ID == "" || at.ID == last.ID) {
		return last, err
	}
	// Where it diverged: the oldest entry the tail remembers that the log
	// no longer holds as it was, else the newest it saw.
	f.mu.Lock()
	recent := slices.Clone(t.recent)
	f.mu.Unlock()
	from := last.Revision
	revs := make([]domain.Revision, len(recent))
	for i, e := range recent {
		revs[i] = e.Revision
	}
	ids, err := f.store.EventIDs(ctx, ns, revs)
	if err != nil {
		return last, err
	}
	for _, e := range recent {
		if id, ok := ids[e.Revision]; !ok || e.ID != "" && id != e.ID {
			from = e.Revision
			break
		}
	}
	end, _, err := f.store.EventAt(ctx, ns, 0)
	if err != nil {
		return last, err
	}
	marked, err := f.store.MarkDiverged(ctx, ns, from)
	if err != nil {
		return last, err
	}
	f.log.Warn("the log no longer holds events the feed gave out (Valkey lost writes or was restored): workers told to reload the head",
		zap.String("ns", ns), zap.Uint64("rev", uint64(from)), zap.Uint64("head", uint64(end.Revision)), zap.Int("marked", marked))
	f.mu.Lock()
	t.last, t.lastID, t.recent = end.Revision, end.ID, t.recent[:0]
	t.epoch++
	f.wakeAll(t)
	f.mu.Unlock()
	return end, nil
}

// waiting counts n more waiters (n < 0: fewer).
func (f *Feed) waiting(n float64) {
	if f.metrics.Waiters != nil {
		f.metrics.Waiters.Add(n)
	}
}
