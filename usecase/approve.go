package usecase

import (
	"context"
	"strings"

	"github.com/flowhist/flowhist/domain"
	"go.uber.org/zap"
)

// Decide is an approval or a rejection of a promotion request into the
// request's namespace.
type Decide struct {
	Request
	ID      string
	Approve bool
	Reason  string
}

// Decide approves (applying it) or rejects request d.ID. The requester may
// reject (withdraw) their own but never approve it; a request whose target
// moved since it was made is stale: it can be rejected, not approved. The
// decision is recorded as promotion.approved or promotion.rejected on the
// target, then the source. A refused decision changes nothing.
//
// Errors: ENOTFOUND, EFORBIDDEN (one's own request), ECONFLICT (already
// decided; stale: a *MovedError), EINVALID, EUNAVAILABLE, ECANCELED.
func (a *App) Decide(ctx context.Context, d Decide) (domain.PromotionRequest, error) {
	to := d.Namespace
	if d.Reason = strings.TrimSpace(d.Reason); d.Reason != "" {
		if err := domain.ValidateLabel("reason", d.Reason, maxReason); err != nil {
			return domain.PromotionRequest{}, err
		}
	}
	r, err := a.store.Promotion(ctx, to, d.ID)
	if err != nil {
		return r, err
	}
	decided, err := r.Decide(domain.IdentityOf(d.Origin), d.Approve, d.Reason, a.now().UTC())
	if err != nil {
		return r, err
	}
	if !d.Approve {
		if ok, err := a.store.UpdatePromotion(ctx, decided, domain.RequestPending); err != nil || !ok {
			return r, decidedMeanwhile(r, err)
		}
		return decided, a.record(ctx, d.Origin, domain.PromotionRejected, decisionOf(decided), to, r.From)
	}
	pl, err := a.replan(ctx, r)
	if err != nil {
		return r, err
	}
	// Claim the request before applying, so that a rejection or a second
	// approval racing this one cannot both land.
	if ok, err := a.store.UpdatePromotion(ctx, decided, domain.RequestPending); err != nil || !ok {
		return r, decidedMeanwhile(r, err)
	}
	req := d.Request
	req.IdempotencyKey = "promotion:" + r.ID
	pl.ref.Request = r.ID
	res, err := a.applyPlan(ctx, req, pl, r.Reason)
	if res.Revision == 0 {
		// Nothing landed: the request is pending again.
		if _, uerr := a.store.UpdatePromotion(ctx, r, domain.RequestApproved); uerr != nil {
			a.log.Error("promotion request left approved after its apply failed", zap.String("ns", to), zap.String("request", r.ID), zap.Error(uerr))
		}
		return r, err
	}
	decided.AppliedRevision = res.Revision
	if _, uerr := a.store.UpdatePromotion(ctx, decided, domain.RequestApproved); uerr != nil && err == nil {
		err = uerr
	}
	if rerr := a.record(ctx, d.Origin, domain.PromotionApproved, decisionOf(decided), to, r.From); rerr != nil && err == nil {
		err = rerr
	}
	return decided, err
}

// replan works request r out again and checks it is what was reviewed:
// the target unmoved, the source event the same, the result the frozen
// one (an overlay or credential change since also makes it stale).
func (a *App) replan(ctx context.Context, r domain.PromotionRequest) (plan, error) {
	pl, err := a.planPromotion(ctx, r.From, r.Source.Revision, r.To, r.WithCredentials)
	if err != nil {
		return plan{}, err
	}
	if err := a.checkHead(ctx, r.To, r.TargetHead, pl.preview.TargetHead, "the request"); err != nil {
		if m, ok := err.(*MovedError); ok {
			m.Err.Message = "stale: " + m.Err.Message + " — reject it and request again"
		}
		return plan{}, err
	}
	switch {
	case pl.preview.Source.ID != r.Source.ID:
		return plan{}, domain.Errorf(domain.ECONFLICT, "stale: %s's revision %d is no longer the event requested (the log lost it): reject it and request again", r.From, r.Source.Revision)
	case pl.preview.ResultSHA256 != r.Preview.ResultSHA256 || pl.preview.Credentials != r.Preview.Credentials:
		return plan{}, domain.Errorf(domain.ECONFLICT, "stale: %s's overlay or credentials changed since the request, so it would apply something else than was reviewed: reject it and request again", r.To)
	}
	return pl, nil
}

func decidedMeanwhile(r domain.PromotionRequest, err error) error {
	if err != nil {
		return err
	}
	return domain.Errorf(domain.ECONFLICT, "promotion request %s was decided meanwhile", r.ID)
}

func decisionOf(r domain.PromotionRequest) domain.PromotionDecision {
	d := domain.PromotionDecision{ID: r.ID, From: r.From, To: r.To, AppliedRevision: r.AppliedRevision}
	if r.DecidedBy != nil {
		d.Reason = r.DecidedBy.Reason
	}
	return d
}

// Promotions returns the requests into ns (out: out of ns), newest first,
// each pending one marked stale when its target's flows moved.
//
// Errors: EUNAVAILABLE, ECORRUPT.
func (a *App) Promotions(ctx context.Context, ns string, out bool) ([]domain.PromotionRequest, error) {
	reqs, err := a.store.Promotions(ctx, ns, out)
	if err != nil {
		return nil, err
	}
	heads := map[string]domain.Revision{}
	for i, r := range reqs {
		if r.State != domain.RequestPending {
			continue
		}
		fr, ok := heads[r.To]
		if !ok {
			h, err := a.store.Head(ctx, r.To)
			if err != nil {
				return nil, err
			}
			fr, heads[r.To] = h.Aggregates[domain.AggregateFlows], h.Aggregates[domain.AggregateFlows]
		}
		reqs[i].Stale = fr != r.TargetHead.FlowsRevision
	}
	return reqs, nil
}

// Promotion returns request id into ns, marked stale as Promotions does.
//
// Errors: ENOTFOUND, EUNAVAILABLE, ECORRUPT.
func (a *App) Promotion(ctx context.Context, ns, id string) (domain.PromotionRequest, error) {
	r, err := a.store.Promotion(ctx, ns, id)
	if err != nil || r.State != domain.RequestPending {
		return r, err
	}
	h, err := a.store.Head(ctx, ns)
	r.Stale = h.Aggregates[domain.AggregateFlows] != r.TargetHead.FlowsRevision
	return r, err
}

func (a *App) logRecordFailure(ns string, t domain.EventType, err error) {
	a.log.Warn("promotion record not appended to the source namespace", zap.String("ns", ns), zap.String("type", string(t)), zap.Error(err))
}
