package projector

import (
	"context"
	"maps"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"go.uber.org/zap"
)

// replayPage is how many events replay and verify read, fold and write at
// a time.
const replayPage = 1000

// Rebuild deletes ns's projected state and node index and replays its log
// from revision 1.
func (p *Projector) Rebuild(ctx context.Context, ns string) (domain.Revision, error) {
	return p.RebuildProgress(ctx, ns, nil)
}

// RebuildProgress is Rebuild calling progress(done, total) after each page
// of events, for operators' progress bars.
//
// It reads a page ahead while it folds the one before, folds a page without
// hashing each flows document (the page's last one is checked against its
// recorded sha256, and a page that fails is folded again event by event to
// name the revision), then writes the page's state in one round trip and
// its node index in another. The index is marked complete once the log is
// read to its end; until then node history scans the log.
//
// So replay guarantees the state it writes, not every revision: a damaged
// flows event whose damage a later event of the same page overwrites leaves
// the rebuilt state right and is not reported. flowhist verify (and replay
// --dry-run) hashes every revision and names it.
//
// Errors: ECORRUPT (the log does not fold, or its hash chain breaks: the
// message names the revision), EUNAVAILABLE.
func (p *Projector) RebuildProgress(ctx context.Context, ns string, progress func(done, total domain.Revision)) (domain.Revision, error) {
	head, err := p.store.Head(ctx, ns)
	if err != nil {
		return 0, err
	}
	at, err := p.rebuild(ctx, ns, head.Revision, progress)
	if err != nil {
		return at, err
	}
	return p.CatchUpNamespace(ctx, ns)
}

func (p *Projector) rebuild(ctx context.Context, ns string, head domain.Revision, progress func(done, total domain.Revision)) (domain.Revision, error) {
	s := p.ns(ns)
	// Live catch-ups of ns in this process wait for the rebuild rather than
	// fold the same events beside it.
	if err := s.lock(ctx); err != nil {
		return 0, err
	}
	defer s.unlock()
	if err := p.store.ResetState(ctx, ns); err != nil {
		return 0, err
	}
	if err := p.store.ResetNodeIndex(ctx, ns); err != nil {
		return 0, err
	}
	s.st = nil
	if err := p.load(ctx, ns, s); err != nil {
		return 0, err
	}
	chain, err := p.store.ChainOf(ctx, ns)
	if err != nil {
		return 0, err
	}
	check := streams.NewChainCheck(chain)
	pages := readAhead(ctx, p.store, ns, s.st.Revision+1, replayPage)
	defer pages.stop()
	for {
		events, links, err := pages.nextLinked()
		if err != nil {
			return p.at(s), err
		}
		if len(events) == 0 {
			break
		}
		// A log whose chain breaks is not what was appended: replay
		// folds nothing of it past the break.
		for i, l := range links {
			if err := check.Next(l); err != nil {
				p.markBroken(ns, l.Revision, err)
				if i > 0 {
					if err := p.applyPage(ctx, s, events[:i]); err != nil {
						return p.at(s), err
					}
				}
				return p.at(s), p.Refuse(ns)
			}
		}
		if err := p.applyPage(ctx, s, events); err != nil {
			return p.at(s), err
		}
		if progress != nil {
			progress(s.st.Revision, max(s.st.Revision, head))
		}
	}
	if err := p.store.CompleteNodeIndex(ctx, ns); err != nil {
		return s.st.Revision, err
	}
	p.broken.Delete(ns) // the whole chain held
	return s.st.Revision, nil
}

// at is the revision s's fold is at, 0 if it was dropped.
func (p *Projector) at(s *nsState) domain.Revision {
	if s.st == nil {
		return 0
	}
	return s.st.Revision
}

// applyPage folds events, the next ones of s, into s and writes what they
// changed: state, node index and the old module's keys. On failure the fold
// is dropped, as apply does.
func (p *Projector) applyPage(ctx context.Context, s *nsState, events []*domain.Event) error {
	st := s.st
	from := st.Revision + 1
	before := *st
	before.Library, before.Aggregates = maps.Clone(st.Library), maps.Clone(st.Aggregates)
	changes := make([]domain.Change, 0, len(events))
	index := map[string][]domain.Revision{}
	var lastFlows *domain.Event
	// refold folds the page again from before, hashing every document, to
	// name the first event that is not what was appended.
	refold := func() error {
		s.st = nil
		again := &before
		for _, e := range events {
			if _, err := again.Apply(e); err != nil {
				return p.corrupt(e, err)
			}
		}
		return nil
	}
	for _, e := range events {
		ch, err := st.ApplyUnhashed(e)
		if err != nil {
			// A damaged event may break only a later one: name the
			// first, as verify does.
			if ferr := refold(); ferr != nil {
				return ferr
			}
			return p.corrupt(e, err)
		}
		changes = append(changes, ch)
		if e.Aggregate == domain.AggregateFlows {
			lastFlows = e
		}
		for _, id := range streams.IndexedNodes(e) {
			index[id] = append(index[id], e.Revision)
		}
	}
	if lastFlows != nil {
		if err := domain.CheckFlowsSHA256(lastFlows, st.Flows); err != nil {
			// Some flows event of the page is not what was appended.
			if ferr := refold(); ferr != nil {
				return ferr
			}
			return p.corrupt(lastFlows, err)
		}
	}
	if err := p.store.IndexNodes(ctx, st.Namespace, index); err != nil {
		s.st = nil
		return err
	}
	applied, err := p.store.SaveStates(ctx, st, from, changes)
	if err != nil {
		s.st = nil
		return err
	}
	if cc, ok := p.cfg.compatFor(st.Namespace); ok && applied {
		all := domain.Change{}
		for _, ch := range changes {
			all.Flows, all.Credentials, all.Settings = all.Flows || ch.Flows, all.Credentials || ch.Credentials, all.Settings || ch.Settings
			all.Packages, all.Project = all.Packages || ch.Packages, all.Project || ch.Project
		}
		if err := p.writeCompat(ctx, cc, st, all, false); err != nil {
			s.st = nil
			return err
		}
		for _, ch := range changes {
			if ch.Library != "" {
				if err := p.writeCompat(ctx, cc, st, domain.Change{Library: ch.Library}, false); err != nil {
					s.st = nil
					return err
				}
			}
		}
	}
	return nil
}

// corrupt logs and returns the error of an event that does not fold.
func (p *Projector) corrupt(e *domain.Event, err error) error {
	p.log.Error("event does not fold; run flowhist verify", zap.String("ns", e.Namespace), zap.Uint64("rev", uint64(e.Revision)), zap.Error(err))
	return domain.Errorf(domain.ECORRUPT, "namespace %s: %v: run flowhist verify", e.Namespace, err)
}

// pageReader reads a namespace's log a page ahead of its caller: the next
// page is read and decoded on another goroutine while the caller folds the
// one before.
type pageReader struct {
	pages  chan page
	cancel context.CancelFunc
	done   chan struct{}
	// stopped says why the reader ended without reaching the end of the
	// log (its context's error), nil otherwise.
	stopped func() error
}

type page struct {
	events []*domain.Event
	links  []streams.Link
	err    error
}

// readAhead starts reading ns's log from revision from in pages of n. The
// caller must call stop.
func readAhead(ctx context.Context, store *streams.Store, ns string, from domain.Revision, n int) *pageReader {
	ctx, cancel := context.WithCancel(ctx)
	r := &pageReader{pages: make(chan page, 1), cancel: cancel, done: make(chan struct{}), stopped: ctx.Err}
	go func() {
		defer close(r.done)
		defer close(r.pages)
		for {
			events, links, err := store.ReadLinked(ctx, ns, from, n)
			select {
			case r.pages <- page{events, links, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || len(events) == 0 {
				return
			}
			from = events[len(events)-1].Revision + 1
		}
	}()
	return r
}

// nextLinked returns the next page and its events' links; none at the end
// of the log.
func (r *pageReader) nextLinked() ([]*domain.Event, []streams.Link, error) {
	p, ok := <-r.pages
	if !ok {
		// After the last page, or cancelled before it: an empty page is
		// the end only when the reader said so.
		return nil, nil, r.stopped()
	}
	return p.events, p.links, p.err
}

// stop ends the reading and waits for it.
func (r *pageReader) stop() {
	r.cancel()
	<-r.done
}
