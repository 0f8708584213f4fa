package usecase

import (
	"context"
	"strings"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// RollBack restores the flows and credentials of an earlier revision.
type RollBack struct {
	Request
	// To is the revision whose flows are restored.
	To domain.Revision
	// Reason says why, for the auditors; it is required.
	Reason string
}

// RolledBack is what RollBack did.
type RolledBack struct {
	streams.FlowsResult
	// Noop is set when the flows were already as at To: nothing was
	// appended, and Current is the head they are at.
	Noop    bool
	Current *streams.FlowsVersion
}

// RollBack appends a new event restoring the flows and credentials of
// revision To; history is never rewritten, and workers reload as after any
// deploy. Rolling back to what is current appends nothing (Noop). With
// ExpectAny it rolls back from the head it read: a deploy racing it is a
// conflict.
//
// Errors: EINVALID (no reason, no flows at To), ENOTFOUND (no revision
// To), ECONFLICT, EUNAVAILABLE, ECANCELED.
func (a *App) RollBack(ctx context.Context, rb RollBack) (RolledBack, error) {
	ns := rb.Namespace
	if rb.Reason = strings.TrimSpace(rb.Reason); rb.Reason == "" {
		return RolledBack{}, domain.Errorf(domain.EINVALID, "rollback needs a reason: auditors will ask why")
	}
	target, err := a.store.FlowsAt(ctx, ns, rb.To)
	if err != nil {
		return RolledBack{}, err
	}
	current, err := a.store.FlowsAt(ctx, ns, 0)
	if err != nil {
		return RolledBack{}, err
	}
	change, err := domain.RollbackChange(current.Head(), target.Head(), rb.To, rb.Reason)
	if err != nil {
		return RolledBack{}, domain.Errorf(domain.EINVALID, "namespace %s: %s", ns, domain.ErrorMessage(err))
	}
	if !rb.Expected.Allows(current.AggregateRevision) {
		a.conflict()
		return RolledBack{}, domain.ConflictError(domain.AggregateFlows, rb.Expected, current.AggregateRevision)
	}
	if change.IsNoop(current.Head()) {
		return RolledBack{Noop: true, Current: current}, nil
	}
	if rb.Expected.IsAny() {
		rb.Expected = domain.ExpectRevision(current.AggregateRevision)
	}
	res, err := a.appendFlows(ctx, rb.Request, change)
	return RolledBack{FlowsResult: res}, err
}
