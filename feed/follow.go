package feed

import (
	"context"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// Request is one worker's request to follow its namespace.
type Request struct {
	Namespace, Worker string
	// Start is where the worker's group begins if it is new.
	Start domain.Revision
	// Ack is acknowledged before anything is read (0: nothing).
	Ack domain.Revision
}

// News is a burst of entries given to a worker, coalesced to its newest
// revision.
type News struct {
	// Revision is the newest namespace revision delivered.
	Revision domain.Revision
	// Flows is true when any entry changed flows or credentials.
	Flows bool
	// Packages is true when the user-installed modules changed.
	Packages bool
	// Events is how many entries the burst had.
	Events int
}

// Answer takes the news Follow gives out.
type Answer interface {
	// Give hands news over; news with no Events says only that the
	// follower is up to date (a stream may start on it). It fails when the
	// follower has gone away.
	Give(News) error
	// Done reports whether the answer is complete (a long poll's first
	// news), which ends Follow.
	Done() bool
}

// batch is the most entries one read of a worker's group returns.
const batch = 1000

// Join creates the worker's group at req.Start, unless this process knows
// it exists. Call it before anything that needs the group (an
// acknowledgement on a request's own body); Follow creates a group that
// was destroyed since.
//
// Errors: EUNAVAILABLE, ECANCELED.
func (f *Feed) Join(ctx context.Context, req Request) error {
	if f.created(req.Namespace, req.Worker) {
		return nil
	}
	if err := f.createGroup(ctx, req); err != nil {
		return err
	}
	f.remember(req.Namespace, req.Worker)
	return nil
}

// Follow reads the worker's group (acknowledging req.Ack first) and then
// waits on the namespace's tail, giving out each burst of news, until out
// is done, end fires, the feed closes or ctx ends (the follower went away).
// Entries delivered before and not acknowledged come first.
//
// Errors: ENOTFOUND, EUNAVAILABLE, ECANCELED, reading the group.
func (f *Feed) Follow(ctx context.Context, req Request, out Answer, end <-chan time.Time) error {
	// known is the revision up to which the worker has been told
	// everything: acknowledged, given out, or up to date when its group
	// was read.
	var known domain.Revision
	ack, read := req.Ack, true
	for f.ctx.Err() == nil { // a closed feed's subscriptions are always woken
		woken, base, done := f.subscribe(req.Namespace)
		var news News
		switch {
		case read:
			entries, err := f.readGroup(ctx, req, ack, known)
			if err != nil {
				done()
				return err
			}
			if ack > 0 {
				f.ackWritten()
			}
			ack, read = 0, false
			news = coalesce(entries)
			if len(entries) == batch {
				// More may be pending: the next round reads on from here.
				known, read = news.Revision, true
			} else {
				// Everything up to the log's end when it was read is
				// acknowledged or in news.
				known = max(known, base, news.Revision)
			}
		case base > known:
			// The tail is past what the worker was told: what it saw
			// since is the news, unless it missed some (then read the
			// group). The group records the delivery when the worker acks.
			n, ok := f.since(req.Namespace, known)
			if !ok {
				done()
				read = true
				continue
			}
			news, known = n, n.Revision
		}
		if err := out.Give(news); err != nil || out.Done() {
			done()
			return nil // given, or the worker went away
		}
		if read {
			done()
			continue
		}
		select {
		case <-woken:
			done()
		case <-end:
			done()
			return nil
		case <-f.ctx.Done():
			done()
			return nil
		case <-ctx.Done():
			done()
			return nil
		}
	}
	return nil
}

// createGroup creates the worker's group at req.Start, unless it exists.
// Each step of the feed's work has the feed's timeout: the request's own
// deadline leaves room for the wait.
func (f *Feed) createGroup(ctx context.Context, req Request) error {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	start := req.Start
	if start > 0 {
		// A worker past the log's end (it read a log Valkey has since
		// lost, or the namespace was restored) starts at the end: a group
		// past it would hide the next revisions from it.
		h, err := f.store.Head(ctx, req.Namespace)
		if err != nil {
			return err
		}
		start = min(start, h.Revision)
	}
	_, err := f.store.CreateWorkerGroup(ctx, req.Namespace, req.Worker, start)
	return err
}

// readGroup acknowledges up to ack and returns the worker's pending
// entries after revision after. A group reaped since this process created
// it (by another replica, say) is created again where the worker asked,
// and read: what was appended since is the worker's news.
func (f *Feed) readGroup(ctx context.Context, req Request, ack, after domain.Revision) ([]streams.Entry, error) {
	poll := streams.WorkerPoll{Worker: req.Worker, Ack: ack, After: after, Count: batch}
	vctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	entries, _, err := f.store.Poll(vctx, req.Namespace, poll)
	if domain.ErrorCode(err) != domain.ENOTFOUND {
		return entries, err
	}
	if err := f.createGroup(ctx, req); err != nil {
		return nil, err
	}
	entries, _, err = f.store.Poll(vctx, req.Namespace, poll)
	return entries, err
}

// coalesce is the news of entries: their newest revision, and whether
// flows or packages changed.
func coalesce(entries []streams.Entry) News {
	n := News{Events: len(entries)}
	for _, e := range entries {
		n.Revision = max(n.Revision, e.Revision)
		switch e.Aggregate {
		case domain.AggregateFlows:
			n.Flows = true
		case domain.AggregatePackages:
			n.Packages = true
		}
	}
	return n
}
