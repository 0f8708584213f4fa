package feed

import (
	"context"
	"errors"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"go.uber.org/zap"
)

// Request is one worker's request to follow its namespace.
type Request struct {
	Namespace, Worker string
	// Start is where the worker's group begins if it is new: the revision
	// the worker runs. StartID is its event's id ("": not named); the log
	// must hold it, or the first news is a reset.
	Start   domain.Revision
	StartID string
	// Ack is acknowledged before anything is read (0: nothing); AckID is
	// its event's id ("": not named), which the log must hold.
	Ack   domain.Revision
	AckID string
	// Ring is the ring the worker names ("": default).
	Ring string
}

// News is a burst of entries given to a worker, coalesced to its newest
// revision, or a reset.
type News struct {
	// Revision is the newest namespace revision delivered; ID its event's
	// id.
	Revision domain.Revision
	ID       string
	// Flows is true when any entry changed flows or credentials.
	Flows bool
	// Packages is true when the user-installed modules changed.
	Packages bool
	// Events is how many entries the burst had.
	Events int
	// Reset: the log does not hold what the worker runs (Valkey lost a
	// write it was told of, or was restored): it reloads everything at
	// Revision, the head, and acknowledges that. Flows and Packages are
	// true, Events 0.
	Reset bool
	// Rollout: a rollout event was among the entries.
	Rollout bool
	// Target is the position whose flows the worker's ring runs, when the
	// namespace has a rollout policy (nil: none; it follows the head).
	Target *domain.Position
}

// Answer takes the news Follow gives out.
type Answer interface {
	// Give hands news over; news with no Events that is not a reset says
	// only that the follower is up to date (a stream may start on it). It
	// fails when the follower has gone away.
	Give(News) error
	// Done reports whether the answer is complete (a long poll's first
	// news), which ends Follow.
	Done() bool
}

// Sleeper is an Answer that waits for news by itself, on something other
// than a channel (a connection it reads the worker's acknowledgements
// from): Follow then waits in Sleep, and the namespace's tail calls Wake.
// A waiting worker then costs its connection one goroutine, not two.
type Sleeper interface {
	Answer
	// Sleep blocks until Wake is called, or was called since the last
	// Sleep returned (true), or until its own end: its deadline, its
	// failure, ctx (false).
	Sleep(ctx context.Context) bool
	// Wake ends the Sleep under way, or the next one at once. The feed
	// calls it with its lock held: it must not block.
	Wake()
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
	if err := f.noteRing(ctx, req); err != nil {
		return err
	}
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
// Each read of the group checks that the log holds what the worker runs
// (req.Start, req.Ack, then the news it was given): where it does not, the
// news is a reset to the head. So is it when the tail finds that the log
// lost events it had seen.
//
// Errors: ENOTFOUND, EUNAVAILABLE, ECANCELED, reading the group.
func (f *Feed) Follow(ctx context.Context, req Request, out Answer, end <-chan time.Time) error {
	// The state lives on the heap and the work in step: a waiting worker's
	// stack holds only this frame and wait's or sleep's (a thousand wait
	// at once).
	fl := newFollower(f, req, out, end)
	for f.ctx.Err() == nil { // a closed feed's subscriptions are always woken
		wait, stop, err := fl.step(ctx)
		if stop {
			return err
		}
		if !wait {
			continue
		}
		if fl.sleeper != nil {
			wait = fl.sleep(ctx)
		} else {
			wait = fl.wait(ctx)
		}
		if !wait {
			return nil
		}
	}
	return nil
}

// newFollower is Follow's state at its start.
//
//go:noinline
func newFollower(f *Feed, req Request, out Answer, end <-chan time.Time) *follower {
	fl := &follower{f: f, req: req, out: out, end: end, read: true, first: true}
	fl.sleeper, _ = out.(Sleeper)
	fl.at = streams.Position{Revision: req.Start, ID: req.StartID}
	if req.Ack > 0 {
		fl.at = streams.Position{Revision: req.Ack, ID: req.AckID}
	}
	f.ran(req.Namespace, req.Worker, fl.at)
	fl.ack = streams.Position{Revision: req.Ack, ID: req.AckID}
	return fl
}

// follower is one Follow's state.
type follower struct {
	f       *Feed
	req     Request
	out     Answer
	sleeper Sleeper // out, if it waits by itself
	end     <-chan time.Time
	// known is the position up to which the worker has been told
	// everything: acknowledged, given out, or up to date when its group
	// was read. at is what it says it runs, checked at the next read; ack
	// what it acknowledges at the next read.
	known, at, ack streams.Position
	read, first    bool
	epoch          uint64
	// What step subscribed to, for wait.
	woken, moved <-chan struct{}
	done         func()
}

// step subscribes to the tail and gives out what the worker has not been
// told. It reports whether to wait for the tail next (or to go on at once),
// and whether Follow is over (with its error).
func (fl *follower) step(ctx context.Context) (wait, stop bool, err error) {
	f, req := fl.f, &fl.req
	woken, moved, base, done := f.subscribe(req.Namespace, req.Ring, fl.sleeper)
	if !fl.first && base.epoch != fl.epoch {
		// The tail found the log lost events it had seen: check what the
		// worker was told against the log.
		fl.read = true
	}
	fl.first, fl.epoch = false, base.epoch
	var news News
	switch {
	case fl.read:
		news, fl.known, fl.read, err = f.readNews(ctx, *req, fl.ack, fl.known, fl.at, base.Position)
		if err != nil {
			done()
			return false, true, err
		}
		fl.ack, fl.at = streams.Position{}, streams.Position{}
	case base.Revision > fl.known.Revision:
		// The tail is past what the worker was told: what it saw since is
		// the news, unless it missed some (then read the group). The
		// group records the delivery when the worker acks.
		n, ok := f.since(req.Namespace, fl.known.Revision)
		if !ok {
			done()
			fl.read = true
			return false, false, nil
		}
		news, fl.known = n, n.position()
	}
	if news.Events > 0 || news.Reset {
		f.ran(req.Namespace, req.Worker, news.position())
		if err := f.target(ctx, *req, &news); err != nil {
			done()
			return false, true, err
		}
	}
	if err := fl.out.Give(news); err != nil || fl.out.Done() {
		done()
		return false, true, nil // given, or the worker went away
	}
	if fl.read {
		// Check, next read, that the log still holds the last news.
		fl.at = fl.known
		done()
		return false, false, nil
	}
	fl.woken, fl.moved, fl.done = woken, moved, done
	return true, false, nil
}

// sleep is wait for a Sleeper.
func (fl *follower) sleep(ctx context.Context) bool {
	defer fl.done()
	// Closed: its subscription did not take the sleeper (Close wakes those
	// it did).
	if fl.f.ctx.Err() != nil || !fl.sleeper.Sleep(ctx) || fl.f.ctx.Err() != nil {
		return false
	}
	fl.at = fl.known
	return true
}

// wait waits for what step subscribed to, and reports whether to go on
// (false: the wait ended, the feed closed or the follower went away).
func (fl *follower) wait(ctx context.Context) bool {
	defer fl.done()
	select {
	case <-fl.woken:
	case <-fl.moved:
	case <-fl.end:
		return false
	case <-fl.f.ctx.Done():
		return false
	case <-ctx.Done():
		return false
	}
	fl.at = fl.known
	return true
}

// readNews reads the worker's group (acknowledging ack first) for what
// follows known, checking that the log holds at; base is where the tail
// was. It returns the news (a reset where the log does not hold what the
// worker runs), what the worker then knows, and whether to read the group
// again (a full batch). Apart from Follow, so that Follow's frame, on the
// stack of every waiting worker, stays small.
func (f *Feed) readNews(ctx context.Context, req Request, ack, known, at, base streams.Position) (News, streams.Position, bool, error) {
	entries, err := f.readGroup(ctx, req, ack, known, at)
	var d *streams.Diverged
	switch {
	case errors.As(err, &d):
		f.log.Info("worker runs what the log does not hold: told to reload the head", zap.String("ns", req.Namespace),
			zap.String("worker", req.Worker), zap.Uint64("rev", uint64(d.At)), zap.Uint64("head", uint64(d.Head.Revision)))
		return News{Revision: d.Head.Revision, ID: d.Head.ID, Flows: true, Packages: true, Reset: true}, d.Head, false, nil
	case err != nil:
		return News{}, known, true, err
	}
	if ack.Revision > 0 {
		f.ackWritten()
		f.acknowledged(req.Namespace, req.Ring, ack.Revision)
	}
	news := coalesce(entries)
	if len(entries) == batch {
		// More may be pending: the next round reads on from here.
		return news, news.position(), true, nil
	}
	// Everything up to the log's end when it was read is acknowledged or
	// in news.
	switch {
	case news.Revision > max(known.Revision, base.Revision):
		known = news.position()
	case base.Revision > known.Revision:
		known = base
	}
	return news, known, false, nil
}

// position is the news's revision and event.
func (n News) position() streams.Position { return streams.Position{Revision: n.Revision, ID: n.ID} }

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
func (f *Feed) readGroup(ctx context.Context, req Request, ack, after, at streams.Position) ([]streams.Entry, error) {
	poll := streams.WorkerPoll{Worker: req.Worker, Ack: ack.Revision, AckID: ack.ID, After: after.Revision, Count: batch, At: at}
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

// coalesce is the news of entries: their newest revision and its event,
// and whether flows or packages changed.
func coalesce(entries []streams.Entry) News {
	n := News{Events: len(entries)}
	for _, e := range entries {
		if e.Revision > n.Revision {
			n.Revision, n.ID = e.Revision, e.ID
		}
		switch e.Aggregate {
		case domain.AggregateFlows:
			n.Flows = true
		case domain.AggregatePackages:
			n.Packages = true
		case domain.AggregateRollout:
			n.Rollout = true
		}
	}
	return n
}
