package usecase

import (
	"context"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// SetPolicy replaces the request's namespace's promotion policy: one
// namespace.policy event, then the policy in force.
//
// Errors: EINVALID, EUNAVAILABLE, ECANCELED.
func (a *App) SetPolicy(ctx context.Context, req Request, p domain.Policy) (streams.Recorded[domain.Policy], error) {
	if err := p.Validate(); err != nil {
		return streams.Recorded[domain.Policy]{}, err
	}
	rev, err := a.recordOne(ctx, req, domain.PolicySet, p)
	if err != nil {
		return streams.Recorded[domain.Policy]{}, err
	}
	if err := a.store.SavePolicy(ctx, req.Namespace, p, rev); err != nil {
		return streams.Recorded[domain.Policy]{}, err
	}
	return a.store.Policy(ctx, req.Namespace)
}

// SetOverlay replaces the request's namespace's overlay: one
// namespace.overlay event, then the overlay in force.
//
// Errors: EINVALID, EUNAVAILABLE, ECANCELED.
func (a *App) SetOverlay(ctx context.Context, req Request, o domain.Overlay) (streams.Recorded[domain.Overlay], error) {
	if err := o.Validate(); err != nil {
		return streams.Recorded[domain.Overlay]{}, err
	}
	rev, err := a.recordOne(ctx, req, domain.OverlaySet, o)
	if err != nil {
		return streams.Recorded[domain.Overlay]{}, err
	}
	if err := a.store.SaveOverlay(ctx, req.Namespace, o, rev); err != nil {
		return streams.Recorded[domain.Overlay]{}, err
	}
	return streams.Recorded[domain.Overlay]{Value: o, Revision: rev}, nil
}

func (a *App) recordOne(ctx context.Context, req Request, t domain.EventType, v any) (domain.Revision, error) {
	e, err := domain.NewRecordEvent(req.Namespace, t, v, req.Origin)
	if err != nil {
		return 0, err
	}
	res, err := a.appendEvent(ctx, e, domain.ExpectAny, req.IdempotencyKey)
	return res.Revision, err
}

// ReportCredentialFingerprint stores the credential secret fingerprint
// ns's Node-RED module reported (docs/promotion.md).
//
// Errors: EINVALID, EUNAVAILABLE.
func (a *App) ReportCredentialFingerprint(ctx context.Context, ns, fp string) error {
	if err := domain.ValidateFingerprint(fp); err != nil || fp == "" {
		return err
	}
	return a.store.SaveCredentialFingerprint(ctx, ns, fp)
}

// direct is the refusal of a direct deploy or save to a protected
// namespace (nil: not protected): only promotions and rollbacks land
// there.
//
// Errors: EFORBIDDEN, EUNAVAILABLE.
func (a *App) direct(ctx context.Context, ns string) error {
	if err := domain.ValidateNamespace(ns); err != nil {
		return err
	}
	return a.store.Protected(ctx, ns)
}
