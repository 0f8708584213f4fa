package httpapi

import (
	"context"
	"sync"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"go.uber.org/zap"
)

// feed wakes waiting workers when their namespace's log grows, with one
// blocked Valkey read per namespace that has waiters (a "tail"), however
// many workers wait: each woken waiter then reads its own consumer group
// without blocking. Appends made by this process wake waiters directly.
type feed struct {
	store   *streams.Store
	log     *zap.Logger
	metrics *metrics

	ctx    context.Context // cancelled by close: ends every tail
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	tails map[string]*tail
}

// tail is one namespace's wake-up channel: closed and replaced whenever the
// log grows past last.
type tail struct {
	ch        chan struct{}
	last      domain.Revision
	waiters   int
	idleSince time.Time
}

// Tail timing: how long one blocked read lasts, and how long a tail with no
// waiters lives on (so that a worker's next poll finds it running).
const (
	tailBlock   = 5 * time.Second
	tailLinger  = 30 * time.Second
	tailBackoff = time.Second
)

func newFeed(store *streams.Store, log *zap.Logger, m *metrics) *feed {
	ctx, cancel := context.WithCancel(context.Background())
	return &feed{store: store, log: log, metrics: m, ctx: ctx, cancel: cancel, tails: map[string]*tail{}}
}

// subscribe returns a channel closed at ns's next new entry, and a function
// to call when the caller stops waiting. Subscribe before reading, so that
// an entry appended between the read and the wait is not missed.
func (f *feed) subscribe(ns string) (<-chan struct{}, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx.Err() != nil {
		// Closed: no new tails; waiters answer "no news" at once.
		closed := make(chan struct{})
		close(closed)
		return closed, func() {}
	}
	t, ok := f.tails[ns]
	if !ok {
		t = &tail{ch: make(chan struct{})}
		f.tails[ns] = t
		f.wg.Add(1)
		go f.run(ns, t)
	}
	t.waiters++
	f.metrics.feedWaiters.Inc()
	return t.ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		t.waiters--
		f.metrics.feedWaiters.Dec()
		if t.waiters == 0 {
			t.idleSince = time.Now()
		}
	}
}

// notify wakes ns's waiters if rev is news.
func (f *feed) notify(ns string, rev domain.Revision) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.tails[ns]; ok && rev > t.last {
		t.last = rev
		close(t.ch)
		t.ch = make(chan struct{})
	}
}

// run is ns's tail: it blocks on the log and wakes waiters on every new
// entry, until it has had no waiters for tailLinger or the feed is closed.
func (f *feed) run(ns string, t *tail) {
	defer f.wg.Done()
	last, err := f.store.LastEntry(f.ctx, ns)
	for err != nil {
		f.log.Warn("feed tail cannot read the log; retrying", zap.String("ns", ns), zap.Error(err))
		select {
		case <-f.ctx.Done():
			return
		case <-time.After(tailBackoff):
		}
		last, err = f.store.LastEntry(f.ctx, ns)
	}
	f.notify(ns, last) // entries appended before the tail started
	for {
		f.mu.Lock()
		if t.waiters == 0 && time.Since(t.idleSince) > tailLinger || f.ctx.Err() != nil {
			delete(f.tails, ns)
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		rev, err := f.store.WaitEntries(f.ctx, ns, last, tailBlock)
		if err != nil {
			if f.ctx.Err() != nil {
				continue
			}
			f.log.Warn("feed tail lost Valkey; retrying", zap.String("ns", ns), zap.Error(err))
			select {
			case <-f.ctx.Done():
			case <-time.After(tailBackoff):
			}
			continue
		}
		if rev > last {
			last = rev
			f.notify(ns, rev)
		}
	}
}

// close ends every tail and waits for them; waiting requests answer "no
// news" at once.
func (f *feed) close() {
	f.mu.Lock() // no tail starts between the cancel and the wait
	f.cancel()
	f.mu.Unlock()
	f.wg.Wait()
}
