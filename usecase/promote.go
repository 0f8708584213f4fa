package usecase

import (
	"context"
	"fmt"
	"strings"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"github.com/google/uuid"
)

// Promote takes the flows of a source namespace's revision onto the
// request's namespace, the target (docs/promotion.md).
type Promote struct {
	Request
	// From is the source namespace; Rev its revision (0: its head).
	From string
	Rev  domain.Revision
	// DryRun answers the preview and changes nothing.
	DryRun bool
	// ExpectedHead is the target head the caller previewed; nil: the
	// current one.
	ExpectedHead *domain.EventRef
	// WithCredentials copies the source's encrypted credentials.
	WithCredentials bool
	// ForReview records a pending request instead of applying.
	ForReview bool
	Reason    string
}

// Promoted is what Promote did: the preview, and either the flows event
// appended (Applied), the request recorded (Request), or neither (dry run,
// noop).
type Promoted struct {
	Preview domain.PromotionPreview
	Applied *streams.FlowsResult
	Request *domain.PromotionRequest
	Ref     domain.PromotionRef
}

// maxReason bounds a promotion's or decision's reason.
const maxReason = 1000

// Promote previews, applies or requests a promotion. Applying appends one
// flows.deployed event (cause promotion, its provenance naming the source
// revision, event and hash) conditional on the target's flows being as at
// the previewed head.
//
// Errors: EINVALID, ENOTFOUND (no such source revision), EFORBIDDEN (the
// target takes no promotion from the source, or only reviewed ones),
// ECONFLICT (the target moved: a *MovedError), EUNAVAILABLE, ECANCELED.
func (a *App) Promote(ctx context.Context, p Promote) (Promoted, error) {
	to := p.Namespace
	if err := domain.ValidateNamespace(p.From); err != nil {
		return Promoted{}, err
	}
	if p.From == to {
		return Promoted{}, domain.Errorf(domain.EINVALID, "promotion from %s to itself: name another source", to)
	}
	if p.Reason = strings.TrimSpace(p.Reason); len(p.Reason) > maxReason {
		return Promoted{}, domain.Errorf(domain.EINVALID, "reason is longer than %d bytes", maxReason)
	}
	if err := domain.ValidateLabel("reason", p.Reason, maxReason); err != nil {
		return Promoted{}, err
	}
	if p.ForReview && p.Reason == "" {
		return Promoted{}, domain.Errorf(domain.EINVALID, "a promotion request needs a reason: the reviewer reads it")
	}
	plan, err := a.planPromotion(ctx, p.From, p.Rev, to, p.WithCredentials)
	if err != nil {
		return Promoted{}, err
	}
	if p.ExpectedHead != nil {
		if err := a.checkHead(ctx, to, *p.ExpectedHead, plan.preview.TargetHead, "the preview"); err != nil {
			return Promoted{}, err
		}
	}
	out := Promoted{Preview: plan.preview, Ref: plan.ref}
	if p.DryRun {
		return out, nil
	}
	if p.ForReview {
		r, err := a.requestPromotion(ctx, p, plan)
		out.Request = &r
		return out, err
	}
	if plan.policy.Protected && !plan.policy.DirectPromotions {
		return Promoted{}, domain.Errorf(domain.EFORBIDDEN, "%s is protected: promotions into it are reviewed: request one (--request) for another person to approve", to)
	}
	if plan.preview.Noop {
		return out, nil
	}
	res, err := a.applyPlan(ctx, p.Request, plan, p.Reason)
	if res.Revision != 0 {
		out.Applied = &res
	}
	return out, err
}

// plan is a promotion worked out: what to write and what to show.
type plan struct {
	preview domain.PromotionPreview
	ref     domain.PromotionRef
	policy  domain.Policy // the target's
	merged  *domain.Flows
	creds   []byte // nil: the target's are kept
}

// planPromotion reads the source at rev and the target's head, policy and
// overlay, and merges.
func (a *App) planPromotion(ctx context.Context, from string, rev domain.Revision, to string, withCreds bool) (plan, error) {
	tpol, err := a.store.Policy(ctx, to)
	if err != nil {
		return plan{}, err
	}
	if err := tpol.Value.AcceptsFrom(from, to); err != nil {
		return plan{}, err
	}
	src, srcEv, err := a.flowsAtEvent(ctx, from, rev)
	if err != nil {
		return plan{}, err
	}
	if srcEv == nil || src.Flows == nil {
		return plan{}, domain.Errorf(domain.EINVALID, "%s has no flows to promote", from)
	}
	tgt, tgtEv, err := a.flowsAtEvent(ctx, to, 0)
	if err != nil {
		return plan{}, err
	}
	overlay, err := a.store.Overlay(ctx, to)
	if err != nil {
		return plan{}, err
	}
	var creds []byte
	if withCreds {
		spol, err := a.store.Policy(ctx, from)
		if err != nil {
			return plan{}, err
		}
		if err := domain.CredentialsCopy(from, to, spol.Value, tpol.Value); err != nil {
			return plan{}, err
		}
		creds = src.Credentials
		if creds == nil {
			return plan{}, domain.Errorf(domain.EINVALID, "%s has no credentials to copy", from)
		}
	}
	m, err := domain.MergePromotion(src.Flows, tgt.Flows, overlay.Value)
	if err != nil {
		return plan{}, err
	}
	pv := domain.NewPromotionPreview(m, tgt.Flows, tgt.Credentials, src.Credentials, creds)
	pv.From, pv.To = from, to
	pv.Source = refOf(srcEv, src)
	pv.TargetHead = refOf(tgtEv, tgt)
	return plan{
		preview: pv, policy: tpol.Value, merged: m.Flows, creds: creds,
		ref: domain.PromotionRef{Namespace: from, Revision: pv.Source.Revision, ID: pv.Source.ID, Hash: pv.Source.Hash},
	}, nil
}

// flowsAtEvent returns ns's flows as of rev (0: the head) and the event at
// rev (nil for an empty namespace).
func (a *App) flowsAtEvent(ctx context.Context, ns string, rev domain.Revision) (*streams.FlowsVersion, *domain.Event, error) {
	if rev == 0 {
		h, err := a.store.Head(ctx, ns)
		if err != nil {
			return nil, nil, err
		}
		if h.Revision == 0 {
			return &streams.FlowsVersion{}, nil, nil
		}
		// The cached head, unless the meta says another replica moved the
		// flows since: rebuilding a large document costs more than the
		// rest of a promotion.
		v, err := a.store.FlowsHead(ctx, ns, false)
		if err == nil && v.AggregateRevision != h.Aggregates[domain.AggregateFlows] {
			v, err = a.store.FlowsHead(ctx, ns, true)
		}
		if err != nil {
			return nil, nil, err
		}
		ev, err := a.store.ReadRevision(ctx, ns, h.Revision)
		return v, ev, err
	}
	ev, err := a.store.ReadRevision(ctx, ns, rev)
	if err != nil {
		return nil, nil, err
	}
	v, err := a.store.FlowsAt(ctx, ns, rev)
	return v, ev, err
}

func refOf(e *domain.Event, v *streams.FlowsVersion) domain.EventRef {
	if e == nil {
		return domain.EventRef{}
	}
	return domain.EventRef{Revision: e.Revision, FlowsRevision: v.AggregateRevision, ID: e.ID, Hash: e.Hash}
}

// applyPlan appends the plan's flows event, expecting the target's flows
// as the plan read them.
func (a *App) applyPlan(ctx context.Context, req Request, pl plan, reason string) (streams.FlowsResult, error) {
	req.Namespace = pl.preview.To
	req.Expected = domain.ExpectRevision(pl.preview.TargetHead.FlowsRevision)
	res, err := a.appendFlows(ctx, req, domain.FlowsChange{
		Flows: pl.merged, Credentials: pl.creds, Cause: domain.CausePromotion, Reason: reason, Promotion: &pl.ref,
	})
	if domain.ErrorCode(err) == domain.ECONFLICT {
		return res, a.moved(ctx, pl.preview.To, pl.preview.TargetHead, "the preview")
	}
	return res, err
}

// checkHead checks that the target is still at the head expected (its
// flows unchanged, the event at the expected revision the same).
//
// Errors: ECONFLICT (a *MovedError), EUNAVAILABLE.
func (a *App) checkHead(ctx context.Context, ns string, expected, current domain.EventRef, since string) error {
	if expected.Revision == current.Revision && expected.ID == current.ID {
		return nil
	}
	if expected.FlowsRevision == current.FlowsRevision && expected.Revision <= current.Revision {
		pos, ok, err := a.store.EventAt(ctx, ns, expected.Revision)
		if err != nil {
			return err
		}
		if expected.Revision == 0 || ok && pos.ID == expected.ID {
			return nil // only other aggregates moved: the flows are as previewed
		}
	}
	return a.moved(ctx, ns, expected, since)
}

// MovedError is the conflict of a promotion whose target moved since its
// preview or request: what moved.
type MovedError struct {
	Err               *domain.Error
	Expected, Current domain.EventRef
	// Events are the events after Expected (at most maxMoved).
	Events []*domain.Event
}

func (e *MovedError) Error() string { return e.Err.Error() }

// Unwrap makes errors.As find the domain error.
func (e *MovedError) Unwrap() error { return e.Err }

const maxMoved = 20

// moved builds the conflict of a target that moved from expected.
func (a *App) moved(ctx context.Context, ns string, expected domain.EventRef, since string) error {
	cur, ev, err := a.flowsAtEvent(ctx, ns, 0)
	if err != nil {
		return err
	}
	current := refOf(ev, cur)
	events, err := a.store.Read(ctx, ns, streams.Query{From: expected.Revision + 1, Limit: maxMoved})
	if err != nil {
		return err
	}
	var who []string
	for _, e := range events {
		if len(who) < 3 {
			who = append(who, fmt.Sprintf("%s by %s", e.Type, e.Actor.User))
		}
	}
	msg := fmt.Sprintf("%s moved since %s: revision %d → %d", ns, since, expected.Revision, current.Revision)
	if len(who) > 0 {
		msg += fmt.Sprintf(" (%s)", strings.Join(who, ", "))
	}
	if expected.Revision > current.Revision || len(events) == 0 {
		msg += ": the event previewed is no longer in its log"
	}
	e := domain.Errorf(domain.ECONFLICT, "%s: preview again", msg)
	e.CurrentRevision = current.FlowsRevision
	return &MovedError{Err: e, Expected: expected, Current: current, Events: events}
}

// requestPromotion records a pending request with its frozen preview: one
// promotion.requested event on the target, then one on the source.
func (a *App) requestPromotion(ctx context.Context, p Promote, pl plan) (domain.PromotionRequest, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return domain.PromotionRequest{}, domain.Errorf(domain.EINTERNAL, "promotion request id: %v", err)
	}
	r := domain.PromotionRequest{
		ID: id.String(), State: domain.RequestPending, From: p.From, To: p.Namespace,
		Source: pl.preview.Source, TargetHead: pl.preview.TargetHead, WithCredentials: p.WithCredentials, Reason: p.Reason,
		RequestedBy: domain.Decision{Identity: domain.IdentityOf(p.Origin), Time: a.now().UTC()},
		Preview:     pl.preview,
	}
	// Stored first: a request whose event then fails is listed, and its
	// requester may reject it; an event naming a request nobody can find
	// would be worse.
	if err := a.store.SavePromotion(ctx, r); err != nil {
		return r, err
	}
	return r, a.record(ctx, p.Origin, domain.PromotionRequested, r, p.Namespace, p.From)
}

// record appends a promotion record event to each namespace, the target
// first.
func (a *App) record(ctx context.Context, o domain.Origin, t domain.EventType, payload any, namespaces ...string) error {
	for i, ns := range namespaces {
		e, err := domain.NewRecordEvent(ns, t, payload, o)
		if err != nil {
			return err
		}
		if _, err := a.appendEvent(ctx, e, domain.ExpectAny, ""); err != nil {
			if i == 0 {
				return err
			}
			a.logRecordFailure(ns, t, err)
		}
	}
	return nil
}
