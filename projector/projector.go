package projector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"go.uber.org/zap"
)

// Projector materializes namespaces' state. It is safe for concurrent use;
// work on one namespace is serialized.
type Projector struct {
	store *streams.Store
	cfg   Config
	log   *zap.Logger

	mu     sync.Mutex
	nss    map[string]*nsState
	groups sync.Map // namespaces whose projector group this process created
	broken sync.Map // namespace → *Broken: its chain broke (chain.go)
}

// nsState is one namespace's fold as this projector last wrote or read it.
type nsState struct {
	// turn is held by whoever works on the namespace: a channel of one,
	// so that waiting for it ends with the waiter's context.
	turn chan struct{}
	st   *domain.State // nil: load from Valkey before use
	// last is the id of the event at st.Revision, "" when not known (the
	// state was loaded): the next read checks the log still holds it.
	last string
	// link is the chain link of the event at st.Revision, "" when not
	// known; chain is what meta records of the chain (read once).
	link  string
	chain *streams.Chain
	// expected is the flows document an append of this process said the
	// event at its revision leads to (Expect), nil if none.
	expected atomic.Pointer[expectedFlows]
}

// expectedFlows is a flows document and the revision of the event that
// leads to it.
type expectedFlows struct {
	rev   domain.Revision
	flows *domain.Flows
}

// New returns a Projector over store.
func New(store *streams.Store, cfg Config, log *zap.Logger) (*Projector, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Projector{store: store, cfg: cfg, log: log, nss: map[string]*nsState{}}, nil
}

func (p *Projector) ns(ns string) *nsState {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.nss[ns]
	if !ok {
		s = &nsState{turn: make(chan struct{}, 1)}
		p.nss[ns] = s
	}
	return s
}

// lock takes s's turn, or fails when ctx ends first: a request that waits
// behind another (on a Valkey that hangs, say) gives up at its own deadline.
func (s *nsState) lock(ctx context.Context) error {
	select {
	case s.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		code := domain.EUNAVAILABLE // the deadline passed
		if errors.Is(ctx.Err(), context.Canceled) {
			code = domain.ECANCELED
		}
		return &domain.Error{Code: code, Message: "the namespace's projection is busy (waiting for Valkey)", Err: ctx.Err()}
	}
}

func (s *nsState) unlock() { <-s.turn }

// CatchUp applies everything up to the end of every namespace's log; a
// namespace whose hash chain breaks is folded up to the break and marked.
func (p *Projector) CatchUp(ctx context.Context) error {
	names, err := p.store.Namespaces(ctx)
	if err != nil {
		return err
	}
	for _, ns := range names {
		if _, err := p.CatchUpNamespace(ctx, ns); err != nil && !errors.Is(err, ErrChainBroken) {
			return err
		}
		// A namespace whose chain broke is marked (Refuse): it must not
		// keep the others, or serve, from starting.
	}
	return nil
}

// CatchUpNamespace applies everything up to the end of ns's log and returns
// the revision the state is at. The HTTP API calls it after each append, so
// that a client reads its own writes.
//
// A log whose hash chain breaks is folded up to the break only: the
// namespace is marked (Refuse, BrokenNamespaces) and the error wraps
// ErrChainBroken.
//
// Errors: ECORRUPT (the log does not fold or its chain breaks: the message
// names the revision), EUNAVAILABLE.
func (p *Projector) CatchUpNamespace(ctx context.Context, ns string) (domain.Revision, error) {
	s := p.ns(ns)
	if err := s.lock(ctx); err != nil {
		return 0, err
	}
	defer s.unlock()
	if s.st == nil {
		if err := p.load(ctx, ns, s); err != nil {
			return 0, err
		}
	}
	for {
		after, err := p.store.ReadAfter(ctx, ns, s.st.Revision, s.last, p.cfg.Batch)
		if err != nil {
			return s.st.Revision, err
		}
		if after.Diverged {
			// The log is not the one this state was folded from: Valkey
			// lost data (a failover without durability) or was restored.
			// Serving the old fold would answer flows that no longer
			// exist.
			if err := p.diverged(ctx, ns, s); err != nil {
				return 0, err
			}
			continue
		}
		if s.last == "" {
			s.last = after.IDAt
		}
		good, err := p.checkLinks(ctx, ns, s, after)
		if err != nil {
			return s.st.Revision, err
		}
		for i, e := range after.Events[:good] {
			if err := ctx.Err(); err != nil {
				return s.st.Revision, err
			}
			if err := p.apply(ctx, s, e); err != nil {
				// apply dropped the fold (s.st is nil): the revision
				// stored is unknown until the next load.
				return e.Revision - 1, err
			}
			s.link = after.Links[i].Stored
		}
		if good < len(after.Events) {
			return s.st.Revision, p.Refuse(ns)
		}
		if len(after.Events) == 0 {
			return s.st.Revision, nil
		}
	}
}

// diverged marks the workers past the divergence (streams.MarkDiverged)
// and starts ns's fold again from revision 1 after its log changed
// under it, rewriting the stored state: that state, too, may have been
// folded from events the log no longer has (written to the old primary
// before a failover, say), and its checkpoint alone cannot tell.
func (p *Projector) diverged(ctx context.Context, ns string, s *nsState) error {
	at := s.st.Revision
	// Workers that were delivered what the log lost run it: each is
	// marked diverged, so that none shows as up to date and its feed
	// tells it to reload the head.
	marked, err := p.store.MarkDiverged(ctx, ns, at)
	if err != nil {
		return err
	}
	p.log.Warn("the log no longer holds what was projected (Valkey lost or restored data): rebuilding the state from revision 1",
		zap.String("ns", ns), zap.Uint64("rev", uint64(at)), zap.Int("workersDiverged", marked))
	s.st, s.last, s.link = nil, "", ""
	if err := p.store.ResetState(ctx, ns); err != nil {
		return err
	}
	s.st = domain.NewState(ns)
	return nil
}

// load reads ns's stored state into s, repairing the old module's keys if a
// crash left them behind the state.
func (p *Projector) load(ctx context.Context, ns string, s *nsState) error {
	stored, err := p.store.LoadState(ctx, ns)
	if err != nil {
		return err
	}
	s.st, s.last, s.link = stored.State, "", ""
	if cc, ok := p.cfg.compatFor(ns); ok && stored.CompatRevision < stored.Revision {
		all := domain.Change{Flows: true, Credentials: true, Settings: true, Packages: true, Project: true}
		if err := p.writeCompat(ctx, cc, s.st, all, true); err != nil {
			s.st = nil
			return err
		}
	}
	return nil
}

// apply folds e into s and writes its changes. On any failure to write, the
// in-memory fold is dropped so that the next call starts again from what
// Valkey holds.
func (p *Projector) apply(ctx context.Context, s *nsState, e *domain.Event) error {
	ch, err := p.fold(s, e)
	if err != nil {
		p.log.Error("event does not fold; run flowhist verify", zap.String("ns", e.Namespace), zap.Uint64("rev", uint64(e.Revision)), zap.Error(err))
		return domain.Errorf(domain.ECORRUPT, "namespace %s: %v: run flowhist verify", e.Namespace, err)
	}
	s.last = e.ID
	applied, err := p.store.SaveState(ctx, s.st, ch)
	if err != nil {
		s.st = nil
		return err
	}
	if !applied {
		return nil // another projector wrote this revision, and its compat keys
	}
	if cc, ok := p.cfg.compatFor(e.Namespace); ok {
		if err := p.writeCompat(ctx, cc, s.st, ch, false); err != nil {
			s.st = nil
			return err
		}
	}
	return nil
}

// Expect tells the projector that the flows event at revision rev of ns,
// which this process just appended, leads to f, whose SHA256 it computed
// already. Folding that event then compares the patched document with f
// byte for byte instead of hashing it again: the same check (a document
// equal to f hashes to f's sha256, which must be the event's), at a
// fraction of the cost of a megabyte's hash. A wrong expectation costs
// only the hash it meant to save.
func (p *Projector) Expect(ns string, rev domain.Revision, f *domain.Flows) {
	if f == nil {
		return
	}
	p.ns(ns).expected.Store(&expectedFlows{rev: rev, flows: f})
}

// fold applies e to s's state: checked against the document Expect
// named for it when there is one, else by hashing (State.Apply). On an
// error after the state changed, the fold is dropped (s.st is nil).
func (p *Projector) fold(s *nsState, e *domain.Event) (domain.Change, error) {
	x := s.expected.Load()
	if x != nil && x.rev <= e.Revision {
		s.expected.CompareAndSwap(x, nil) // used now, or stale
	}
	if x == nil || x.rev != e.Revision || e.Aggregate != domain.AggregateFlows || x.flows.SHA256() != e.SHA256 {
		return s.st.Apply(e)
	}
	ch, err := s.st.ApplyUnhashed(e)
	if err != nil {
		return ch, err
	}
	if s.st.Flows.Equal(x.flows) {
		// The same bytes, held once (x's are whole, and hashed): the
		// state and the head cache share them, and saving the state
		// need not join the patched document's nodes again.
		s.st.Flows = x.flows
		return ch, nil
	}
	if err := domain.CheckFlowsSHA256(e, s.st.Flows); err != nil {
		s.st = nil
		return ch, err
	}
	return ch, nil
}

// Run follows the projector consumer group of every namespace until ctx is
// done: it takes new entries (and entries another projector left
// unacknowledged for ReclaimIdle), projects up to them and acknowledges them.
// It returns nil when ctx is cancelled. A failing pass is logged once, and
// so is the first pass that succeeds after it: an outage of Valkey is two
// lines, not one a second.
func (p *Projector) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	failing := false
	for {
		pctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
		err := p.RunOnce(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
		case err != nil && !failing:
			failing = true
			p.log.Warn("projector pass failed; retrying every interval until one succeeds", zap.Error(err))
		case err != nil:
			p.log.Debug("projector pass failed again", zap.Error(err))
		case failing:
			failing = false
			p.log.Info("projector resumed")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunOnce makes one pass of Run over every namespace.
func (p *Projector) RunOnce(ctx context.Context) error {
	names, err := p.store.Namespaces(ctx)
	if err != nil {
		return err
	}
	var first error
	for _, ns := range names {
		if err := p.follow(ctx, ns); err != nil && first == nil {
			first = fmt.Errorf("projector: %s: %w", ns, err)
		}
	}
	return first
}

func (p *Projector) follow(ctx context.Context, ns string) error {
	// Create the group once per process; if it disappears, the reads
	// below notice and create it again.
	if _, ok := p.groups.Load(ns); !ok {
		if _, err := p.store.CreateGroup(ctx, ns, streams.ProjectorGroup, 0); err != nil {
			return err
		}
		p.groups.Store(ns, true)
	}
	for {
		events, err := p.store.Reclaim(ctx, ns, streams.ProjectorGroup, p.cfg.Consumer, p.cfg.ReclaimIdle, p.cfg.Batch)
		if err == nil && len(events) == 0 {
			events, err = p.store.ReadGroup(ctx, ns, streams.ProjectorGroup, p.cfg.Consumer, p.cfg.Batch, 0)
		}
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			// The log was deleted and recreated under us (an operator's
			// restore): the group went with it. The checkpoint, not the
			// group, says what is projected, so start the group over.
			if _, err := p.store.CreateGroup(ctx, ns, streams.ProjectorGroup, 0); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		// The log, not the delivery, decides the order: catching up to the
		// end covers every delivered entry, whoever else was handed the
		// ones before it.
		at, err := p.CatchUpNamespace(ctx, ns)
		if err != nil {
			return err
		}
		revs := make([]domain.Revision, 0, len(events))
		for _, e := range events {
			if e.Revision <= at {
				revs = append(revs, e.Revision)
			}
		}
		if err := p.store.Ack(ctx, ns, streams.ProjectorGroup, revs...); err != nil {
			return err
		}
	}
}

// View catches ns up to the end of its log and calls fn with its state,
// which fn must not modify or keep. Reads through View see every append
// that returned before they started, whichever replica made it.
//
// Errors: those of CatchUpNamespace, and fn's.
//
// A namespace whose chain broke is read as it was folded up to the break.
func (p *Projector) View(ctx context.Context, ns string, fn func(*domain.State) error) error {
	if _, err := p.CatchUpNamespace(ctx, ns); err != nil && !errors.Is(err, ErrChainBroken) {
		return err
	}
	s := p.ns(ns)
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	if s.st == nil {
		// A concurrent write failed and dropped the fold: load it again.
		if err := p.load(ctx, ns, s); err != nil {
			return err
		}
	}
	return fn(s.st)
}
