package feed

import (
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"go.uber.org/zap"
)

// tail is one namespace's wake-up channel, closed and replaced whenever the
// log grows past last, and the recent entries it saw: a woken waiter that
// was up to date answers from them without reading its group.
type tail struct {
	ch        chan struct{}
	last      domain.Revision
	recent    []streams.Entry // ascending, ending at last
	waiters   int
	idleSince time.Time
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

// subscribe returns a channel closed at ns's next new entry, the revision
// the tail was at, and a function to call when the caller stops waiting.
// Subscribe before reading the group, so that an entry appended between the
// read and the wait is not missed.
func (f *Feed) subscribe(ns string) (<-chan struct{}, domain.Revision, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx.Err() != nil {
		// Closed: no new tails; waiters answer "no news" at once.
		closed := make(chan struct{})
		close(closed)
		return closed, 0, func() {}
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
	return t.ch, t.last, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		t.waiters--
		f.waiting(-1)
		if t.waiters == 0 {
			t.idleSince = time.Now()
		}
	}
}

// Notify records new entries of ns and wakes its waiters. Entries at or
// below what the tail has are ignored; a gap (entries this process has not
// seen) empties the recent list, so waiters fall back to their groups.
func (f *Feed) Notify(ns string, entries ...streams.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tails[ns]
	if !ok {
		return
	}
	woke := false
	for _, e := range entries {
		if e.Revision <= t.last {
			continue
		}
		if e.Revision != t.last+1 {
			t.recent = t.recent[:0]
		}
		t.recent = append(t.recent, e)
		t.last, woke = e.Revision, true
	}
	if n := len(t.recent); n > maxRecent {
		t.recent = append(t.recent[:0], t.recent[n-maxRecent:]...)
	}
	if woke {
		close(t.ch)
		t.ch = make(chan struct{})
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
	last, err := f.store.LastEntry(f.ctx, ns)
	for err != nil {
		if !failing {
			failing = true
			f.log.Warn("feed tail cannot read the log; retrying", zap.String("ns", ns), zap.Error(err))
		}
		select {
		case <-f.ctx.Done():
			return
		case <-time.After(tailBackoff):
		}
		last, err = f.store.LastEntry(f.ctx, ns)
	}
	f.mu.Lock()
	if last > t.last {
		// Entries appended before the tail started: known to exist, not
		// what they were.
		t.last, t.recent = last, t.recent[:0]
		close(t.ch)
		t.ch = make(chan struct{})
	}
	f.mu.Unlock()
	for {
		f.mu.Lock()
		if t.waiters == 0 && time.Since(t.idleSince) > tailLinger || f.ctx.Err() != nil {
			delete(f.tails, ns)
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		entries, err := f.store.WaitEntries(f.ctx, ns, last, tailBlock)
		if err != nil {
			if f.ctx.Err() != nil {
				continue
			}
			if !failing {
				failing = true
				f.log.Warn("feed tail lost Valkey; retrying", zap.String("ns", ns), zap.Error(err))
			}
			select {
			case <-f.ctx.Done():
			case <-time.After(tailBackoff):
			}
			continue
		}
		if failing {
			failing = false
			f.log.Info("feed tail resumed", zap.String("ns", ns))
		}
		if len(entries) > 0 {
			last = entries[len(entries)-1].Revision
			f.Notify(ns, entries...)
		}
	}
}

// waiting counts n more waiters (n < 0: fewer).
func (f *Feed) waiting(n float64) {
	if f.metrics.Waiters != nil {
		f.metrics.Waiters.Add(n)
	}
}
