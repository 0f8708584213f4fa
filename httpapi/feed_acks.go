package httpapi

import (
	"context"
	"sync"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// Workers' acknowledgements, written to Valkey in batches: a thousand
// workers acknowledging one deploy at once cost a few script calls, not a
// thousand.

// acker batches acknowledgements by group commit: an acknowledgement joins
// the open batch; when no batch is being written, its caller writes it at
// once, and otherwise the batch fills while the one before is written, and
// one of its callers writes it next. So a lone acknowledgement waits for
// one round trip, and a burst for about two, however large. No goroutine
// of its own: callers do the writing.
type acker struct {
	store   *streams.Store
	metrics *metrics
	timeout time.Duration // of one batch's write

	mu      sync.Mutex
	open    *ackBatch // filling; nil: none
	writing bool      // a batch is being written
}

// maxAckScript bounds the workers one script call acknowledges, so that a
// large batch does not hold Valkey for long in one go.
const maxAckScript = 250

// ackBatch is acknowledgements written together.
type ackBatch struct {
	revs map[string]map[string]domain.Revision // ns → worker → newest revision
	lead chan struct{}                         // a token when it is this batch's turn to be written
	done chan struct{}                         // closed once written

	// Once done: entries acknowledged by ns → worker (-1: no group), and
	// the write's error by namespace.
	acked map[string]map[string]int
	errs  map[string]error
}

func newAcker(store *streams.Store, m *metrics, timeout time.Duration) *acker {
	return &acker{store: store, metrics: m, timeout: timeout}
}

// ack acknowledges every entry of worker's group at or below rev, with
// other workers' acknowledgements, and returns how many entries it
// acknowledged. It waits at most about two writes' timeouts, whatever ctx
// says: a batch it joined is written by whoever of its callers is there.
//
// Errors: ENOTFOUND (the worker has no group), EUNAVAILABLE.
func (a *acker) ack(ns, worker string, rev domain.Revision) (int, error) {
	a.mu.Lock()
	b := a.open
	if b == nil {
		b = &ackBatch{revs: map[string]map[string]domain.Revision{}, lead: make(chan struct{}, 1), done: make(chan struct{})}
		a.open = b
	}
	ws := b.revs[ns]
	if ws == nil {
		ws = map[string]domain.Revision{}
		b.revs[ns] = ws
	}
	ws[worker] = max(ws[worker], rev)
	if !a.writing {
		a.writing = true
		b.lead <- struct{}{}
	}
	a.mu.Unlock()

	select {
	case <-b.lead:
		a.write(b)
	case <-b.done:
	}
	if err := b.errs[ns]; err != nil {
		return 0, err
	}
	n := b.acked[ns][worker]
	if n < 0 {
		return 0, domain.Errorf(domain.ENOTFOUND, "namespace %s has no worker %s: follow the feed first", ns, worker)
	}
	return n, nil
}

// write writes b, closed to new acknowledgements, and hands the turn to
// the batch that filled meanwhile.
func (a *acker) write(b *ackBatch) {
	a.mu.Lock()
	if a.open == b {
		a.open = nil
	}
	a.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	b.acked, b.errs = map[string]map[string]int{}, map[string]error{}
	for ns, ws := range b.revs {
		acks := make([]streams.WorkerAck, 0, len(ws))
		for w, rev := range ws {
			acks = append(acks, streams.WorkerAck{Worker: w, Revision: rev})
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
					a.metrics.feedAcks.Inc()
				}
			}
		}
		b.acked[ns] = got
	}
	cancel()
	close(b.done)

	a.mu.Lock()
	if a.open != nil {
		a.open.lead <- struct{}{}
	} else {
		a.writing = false
	}
	a.mu.Unlock()
}
