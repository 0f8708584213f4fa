package usecase

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// The two ways a use case's event enters the log: appendEvent for an event
// built from the request alone, appendFlows for a flows change, which is
// built against the current head. Both end in landed.

// appendEvent appends e expecting exp, with idempotency key key.
func (a *App) appendEvent(ctx context.Context, e domain.Event, exp domain.Expected, key string) (streams.AppendResult, error) {
	if err := a.refuse(e.Namespace); err != nil {
		return streams.AppendResult{}, err
	}
	res, err := a.store.Append(ctx, streams.AppendRequest{Event: e, Expected: exp, IdempotencyKey: key})
	a.landed(e.Namespace, res, err, e.Type, e.Aggregate)
	return res, err
}

// appendFlows appends change c of req's namespace flows as a patch against
// the current document. With ExpectAny it never conflicts: when another
// replica's deploy got in first it re-diffs against the new head and tries
// again, until ctx ends. Otherwise a stale expectation is a conflict.
//
// This process's flows appends to one namespace take turns: concurrent
// deploys queue instead of racing for the head, and each diffs against the
// head the one before it cached.
//
// Errors: EINVALID, ECONFLICT (carrying the current revision; never with
// ExpectAny), EUNAVAILABLE (also when ctx's deadline passes while it waits
// its turn, or after maxAnyAttempts lost races), ECANCELED (ctx cancelled).
func (a *App) appendFlows(ctx context.Context, req Request, c domain.FlowsChange) (streams.FlowsResult, error) {
	ns := req.Namespace
	if err := domain.ValidateNamespace(ns); err != nil {
		return streams.FlowsResult{}, err
	}
	if err := a.refuse(ns); err != nil {
		return streams.FlowsResult{}, err
	}
	c.Origin = req.Origin
	typ := c.Type
	if typ == "" {
		typ = domain.FlowsDeployed
	}
	turn := a.flowsTurn(ns)
	select {
	case turn <- struct{}{}:
		defer func() { <-turn }()
	case <-ctx.Done():
		return streams.FlowsResult{}, fmt.Errorf("usecase: append flows to %s: waiting for the deploys before it: %w", ns, streams.ContextError(ctx))
	}
	for attempt := 0; ; attempt++ {
		base, err := a.store.FlowsHead(ctx, ns, attempt > 0)
		if err != nil {
			return streams.FlowsResult{}, err
		}
		if !req.Expected.Allows(base.AggregateRevision) && attempt == 0 {
			// The cached head may lag another replica's deploys.
			if base, err = a.store.FlowsHead(ctx, ns, true); err != nil {
				return streams.FlowsResult{}, err
			}
		}
		if !req.Expected.Allows(base.AggregateRevision) {
			a.conflict()
			return streams.FlowsResult{}, domain.ConflictError(domain.AggregateFlows, req.Expected, base.AggregateRevision)
		}
		fe, err := domain.NewFlowsEvent(ns, base.Head(), c)
		if err != nil {
			return streams.FlowsResult{}, err
		}
		res, snap, err := a.store.AppendFlowsSnapshotLater(ctx, ns, base, fe, req.IdempotencyKey)
		if snap != nil {
			a.snapshotSoon(snap)
		}
		var conflict *domain.Error
		if !errors.As(err, &conflict) || conflict.Code != domain.ECONFLICT {
			if a.proj != nil && res.Revision != 0 && !res.Duplicate {
				// Its projection compares instead of hashing again.
				a.proj.Expect(ns, res.Revision, fe.Next.Flows)
			}
			a.landed(ns, res.AppendResult, err, typ, domain.AggregateFlows)
			return res, err
		}
		if !req.Expected.IsAny() {
			// Report the caller's expectation, not the internal base.
			a.conflict()
			return streams.FlowsResult{}, domain.ConflictError(domain.AggregateFlows, req.Expected, conflict.CurrentRevision)
		}
		// Another replica appended between our head and our append: one
		// of us always lands, so this ends — unless the meta and the log
		// disagree (damage), which the bound turns into an answer.
		if attempt >= maxAnyAttempts {
			return streams.FlowsResult{}, domain.Errorf(domain.EUNAVAILABLE, "namespace %s: %d deploys in a row lost the race for the head: retry", ns, attempt+1)
		}
		select {
		case <-ctx.Done():
			return streams.FlowsResult{}, fmt.Errorf("usecase: append flows to %s: %w", ns, streams.ContextError(ctx))
		case <-time.After(time.Duration(attempt) * time.Millisecond):
		}
	}
}

// maxAnyAttempts bounds the re-diffs of an append with ExpectAny that
// other replicas keep beating to the head; between attempts it backs off a
// millisecond more each time.
const maxAnyAttempts = 100

// flowsTurn returns ns's turn token: a channel of capacity one that a flows
// append holds while it runs.
func (a *App) flowsTurn(ns string) chan struct{} {
	if t, ok := a.turns.Load(ns); ok {
		return t.(chan struct{})
	}
	t, _ := a.turns.LoadOrStore(ns, make(chan struct{}, 1))
	return t.(chan struct{})
}

// refuse is the error of a namespace nothing may be appended to: one whose
// log failed verification as the projector caught up (its hash chain
// breaks). Appending would chain new events onto a log that is not what
// was appended.
//
// Errors: ECORRUPT wrapping projector.ErrChainBroken.
func (a *App) refuse(ns string) error {
	if a.proj == nil {
		return nil
	}
	return a.proj.Refuse(ns)
}
