package feed

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// Workers' acknowledgements, written to Valkey in batches: a thousand
// workers acknowledging one deploy at once cost a few script calls, not a
// thousand.

// acker batches acknowledgements by group commit: an acknowledgement joins
// the open batch, and its writer writes the open batch as soon as it has
// written the one before. So a lone acknowledgement waits for one round
// trip, and a burst for about two, however large.
type acker struct {
	store   *streams.Store
	written func()        // counts one acknowledgement written
	timeout time.Duration // of one batch's write

	kick   chan struct{} // the open batch has something (a token)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	open   *ackBatch // filling; nil: none
	closed bool      // no writer: each caller writes its own
}

// maxAckScript bounds the workers one script call acknowledges, so that a
// large batch does not hold Valkey for long in one go.
const maxAckScript = 250

// ackBatch is acknowledgements written together.
type ackBatch struct {
	revs map[string]map[string]streams.Position // ns → worker → newest position
	done chan struct{}                          // closed once written

	// Once done: entries acknowledged by ns → worker (-1: no group, -2:
	// the log does not hold the event), and the write's error by
	// namespace.
	acked map[string]map[string]int
	errs  map[string]error
}

func newAckBatch() *ackBatch {
	return &ackBatch{revs: map[string]map[string]streams.Position{}, done: make(chan struct{})}
}

// newAcker returns an acker whose writer runs until close.
func newAcker(store *streams.Store, written func(), timeout time.Duration) *acker {
	ctx, cancel := context.WithCancel(context.Background())
	a := &acker{store: store, written: written, timeout: timeout, kick: make(chan struct{}, 1), ctx: ctx, cancel: cancel}
	a.wg.Add(1)
	go a.run()
	return a
}

// ack acknowledges every entry of worker's group at or below rev's
// revision, with other workers' acknowledgements, and returns how many
// entries it acknowledged. If ctx ends first it returns, and the
// acknowledgement is written all the same.
//
// Errors: ECONFLICT (the log does not hold rev), ENOTFOUND (the worker has
// no group), EUNAVAILABLE, ECANCELED.
func (a *acker) ack(ctx context.Context, ns, worker string, rev streams.Position) (int, error) {
	a.mu.Lock()
	if a.closed {
		// Shutting down: no batching, but the acknowledgement is
		// written, for the requests still draining.
		a.mu.Unlock()
		b := newAckBatch()
		b.add(ns, worker, rev)
		a.write(b)
		return b.result(ns, worker)
	}
	if a.open == nil {
		a.open = newAckBatch()
	}
	b := a.open
	b.add(ns, worker, rev)
	a.mu.Unlock()
	select {
	case a.kick <- struct{}{}:
	default: // the writer has been told already
	}
	select {
	case <-b.done:
		return b.result(ns, worker)
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return 0, domain.Errorf(domain.EUNAVAILABLE, "the acknowledgement was not written within the deadline: valkey is slow or unreachable")
		}
		return 0, domain.Errorf(domain.ECANCELED, "the request was cancelled before the acknowledgement was written")
	}
}

func (b *ackBatch) add(ns, worker string, rev streams.Position) {
	ws := b.revs[ns]
	if ws == nil {
		ws = map[string]streams.Position{}
		b.revs[ns] = ws
	}
	// The newest wins; at the same revision, the one naming its event.
	if old, ok := ws[worker]; !ok || rev.Revision > old.Revision || rev.Revision == old.Revision && rev.ID != "" {
		ws[worker] = rev
	}
}

// result is worker's part of b, once done.
func (b *ackBatch) result(ns, worker string) (int, error) {
	if err := b.errs[ns]; err != nil {
		return 0, err
	}
	n := b.acked[ns][worker]
	switch n {
	case -1:
		return 0, domain.Errorf(domain.ENOTFOUND, "namespace %s has no worker %s: follow the feed first", ns, worker)
	case -2:
		rev := b.revs[ns][worker].Revision
		return 0, &domain.Error{Code: domain.ECONFLICT, CurrentRevision: rev,
			Message: fmt.Sprintf("namespace %s does not hold the event worker %s acknowledged at revision %d (Valkey lost it in a failover or was restored): reload from the head", ns, worker, rev)}
	}
	return n, nil
}

// run is the writer: it writes the open batch whenever there is one,
// until close, and then the last one.
func (a *acker) run() {
	defer a.wg.Done()
	for {
		select {
		case <-a.kick:
		case <-a.ctx.Done():
		}
		a.mu.Lock()
		b := a.open
		a.open = nil
		closed := a.closed
		a.mu.Unlock()
		if b != nil {
			a.write(b)
		}
		if closed {
			return
		}
	}
}

// write writes b, closed to new acknowledgements, and closes b.done.
func (a *acker) write(b *ackBatch) {
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	b.acked, b.errs = map[string]map[string]int{}, map[string]error{}
	for ns, ws := range b.revs {
		acks := make([]streams.WorkerAck, 0, len(ws))
		for w, p := range ws {
			acks = append(acks, streams.WorkerAck{Worker: w, Revision: p.Revision, ID: p.ID})
		}
		got := make(map[string]int, len(acks))
		for len(acks) > 0 {
			part := acks[:min(len(acks), maxAckScript)]
			acks = acks[len(part):]
			counts, err := a.store.AckWorkers(ctx, ns, part)
			if err != nil {
				b.errs[ns] = err
				break
			}
			for i, n := range counts {
				got[part[i].Worker] = n
				if n >= 0 {
					a.written()
				}
			}
		}
		b.acked[ns] = got
	}
	close(b.done)
}

// close stops the writer once it has written what it was given; later
// acknowledgements are written by their callers, one by one.
func (a *acker) close() {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.cancel()
	a.wg.Wait()
}

// Ack acknowledges every entry of worker's group in ns at or below
// rev.Revision, batched with other workers' acknowledgements, and returns
// how many entries it acknowledged. If ctx ends first it returns, and the
// acknowledgement is written all the same.
//
// The log must hold rev (its event rev.ID, when named): otherwise nothing
// is acknowledged, the worker is marked diverged (its next feed answer is a
// reset) and the error is ECONFLICT naming the revision.
//
// Errors: ECONFLICT, ENOTFOUND (the worker has no group), EUNAVAILABLE,
// ECANCELED.
func (f *Feed) Ack(ctx context.Context, ns, worker string, rev streams.Position) (int, error) {
	n, err := f.acks.ack(ctx, ns, worker, rev)
	if err == nil {
		f.ran(ns, worker, rev)
		if v, ok := f.rings.Load(ns + "/" + worker); ok {
			f.acknowledged(ns, v.(ringNoted).ring, rev.Revision)
		}
	}
	return n, err
}
