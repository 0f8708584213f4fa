package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/usecase"
	"go.uber.org/zap"
)

// Promotion between namespaces (docs/promotion.md): its routes, their
// bodies and answers.

func (s *Server) promotionRoutes(nsPath string) {
	s.route("POST "+nsPath+"/promotions", ScopeRead, s.postPromotion)
	s.route("GET "+nsPath+"/promotions", ScopeRead, s.getPromotions)
	s.route("GET "+nsPath+"/promotions/{id}", ScopeRead, s.getPromotion)
	s.route("POST "+nsPath+"/promotions/{id}/approve", ScopeApprove, s.decidePromotion(true))
	s.route("POST "+nsPath+"/promotions/{id}/reject", ScopeRead, s.decidePromotion(false))
	s.route("GET "+nsPath+"/policy", ScopeRead, s.getPolicy)
	s.route("PUT "+nsPath+"/policy", ScopeAdmin, s.putPolicy)
	s.route("GET "+nsPath+"/overlay", ScopeRead, s.getOverlay)
	s.route("PUT "+nsPath+"/overlay", ScopeAdmin, s.putOverlay)
}

// PromoteRequest is the body of POST …/promotions.
type PromoteRequest struct {
	From            string           `json:"from"`
	Rev             domain.Revision  `json:"rev,omitempty"`
	DryRun          bool             `json:"dryRun,omitempty"`
	ExpectedHead    *domain.EventRef `json:"expectedHead,omitempty"`
	WithCredentials bool             `json:"withCredentials,omitempty"`
	Request         bool             `json:"request,omitempty"`
	Reason          string           `json:"reason,omitempty"`
}

// Promoted is the answer of an applied promotion.
type Promoted struct {
	Saved
	Promotion domain.PromotionRef     `json:"promotion"`
	Preview   domain.PromotionPreview `json:"preview"`
}

// PromotionRequests is the answer of GET …/promotions.
type PromotionRequests struct {
	Requests []domain.PromotionRequest `json:"requests"`
}

// Policy is the answer of GET and PUT …/policy.
type Policy struct {
	domain.Policy
	Revision domain.Revision `json:"revision"`
}

// Overlay is the answer of GET and PUT …/overlay.
type Overlay struct {
	domain.Overlay
	Revision domain.Revision `json:"revision"`
}

// Moved is what moved on a promotion's target (Error.Moved).
type Moved struct {
	Expected domain.EventRef `json:"expected"`
	Current  domain.EventRef `json:"current"`
	Events   []MovedEvent    `json:"events"`
}

// MovedEvent is one event in Moved.
type MovedEvent struct {
	Revision domain.Revision  `json:"revision"`
	Type     domain.EventType `json:"type"`
	Actor    domain.Actor     `json:"actor"`
	Token    string           `json:"token,omitempty"`
}

func movedOf(err error) *Moved {
	var m *usecase.MovedError
	if !errors.As(err, &m) {
		return nil
	}
	out := &Moved{Expected: m.Expected, Current: m.Current, Events: []MovedEvent{}}
	for _, e := range m.Events {
		out.Events = append(out.Events, MovedEvent{Revision: e.Revision, Type: e.Type, Actor: e.Actor, Token: e.Token})
	}
	return out
}

// decodeObject decodes a JSON object body into v, refusing unknown
// fields so that a misspelt option is not silently ignored.
func (s *Server) decodeObject(w http.ResponseWriter, r *http.Request, what, shape string, v any) error {
	body, err := s.readJSONObject(w, r, what)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return domain.Errorf(domain.EINVALID, "%s must be %s: %s", what, shape, clip(err.Error()))
	}
	return nil
}

// postPromotion previews, applies or requests a promotion into {ns}. The
// token needs read on the source, and deploy on the target unless it only
// previews.
func (s *Server) postPromotion(w http.ResponseWriter, r *http.Request) error {
	var body PromoteRequest
	if err := s.decodeObject(w, r, "promotion", `{"from": "<namespace>", "rev": N, "dryRun": true, …} (docs/promotion.md)`, &body); err != nil {
		return err
	}
	if err := domain.ValidateNamespace(body.From); err != nil {
		return err
	}
	if _, err := s.authorize(r, ScopeRead, body.From); err != nil {
		return err
	}
	if !body.DryRun {
		if _, err := s.authorize(r, ScopeDeploy, r.PathValue("ns")); err != nil {
			return err
		}
	}
	req, err := request(r)
	if err != nil {
		return err
	}
	res, err := s.app.Promote(r.Context(), usecase.Promote{
		Request: req, From: body.From, Rev: body.Rev, DryRun: body.DryRun, ExpectedHead: body.ExpectedHead,
		WithCredentials: body.WithCredentials, ForReview: body.Request, Reason: body.Reason,
	})
	switch {
	case err != nil:
		return err
	case res.Request != nil:
		writeJSON(w, http.StatusCreated, res.Request)
		return nil
	case res.Applied != nil:
		a := res.Applied
		w.Header().Set("ETag", etag(a.AggregateRevision))
		writeJSON(w, http.StatusOK, Promoted{
			Saved:     Saved{Revision: a.Revision, AggregateRevision: a.AggregateRevision, FlowsRevision: a.AggregateRevision, SHA256: a.SHA256, Summary: &a.Summary, Duplicate: a.Duplicate, Durability: a.Durability},
			Promotion: res.Ref, Preview: res.Preview,
		})
		return nil
	}
	writeJSON(w, http.StatusOK, res.Preview)
	return nil
}

func (s *Server) getPromotions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	out := false
	switch q.Get("direction") {
	case "", "in":
	case "out":
		out = true
	default:
		return domain.Errorf(domain.EINVALID, "direction %q is not in or out", clip(q.Get("direction")))
	}
	state := q.Get("state")
	switch state {
	case "", domain.RequestPending, domain.RequestApproved, domain.RequestRejected:
	default:
		return domain.Errorf(domain.EINVALID, "state %q is not pending, approved or rejected", clip(state))
	}
	reqs, err := s.app.Promotions(r.Context(), r.PathValue("ns"), out)
	if err != nil {
		return err
	}
	body := PromotionRequests{Requests: []domain.PromotionRequest{}}
	for _, p := range reqs {
		// A request's preview holds both namespaces' values: requests
		// whose other namespace the token does not cover are not shown.
		other := p.From
		if out {
			other = p.To
		}
		if _, err := s.authorize(r, ScopeRead, other); err != nil {
			continue
		}
		if state == "" || p.State == state {
			body.Requests = append(body.Requests, p)
		}
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) getPromotion(w http.ResponseWriter, r *http.Request) error {
	p, err := s.app.Promotion(r.Context(), r.PathValue("ns"), r.PathValue("id"))
	if err != nil {
		return err
	}
	// Its preview holds the source's values.
	if _, err := s.authorize(r, ScopeRead, p.From); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// decisionRequest is the body of approve and reject (optional).
type decisionRequest struct {
	Reason string `json:"reason"`
}

// decidePromotion approves (approve scope) or rejects a request; the
// requester may reject their own without the approve scope.
func (s *Server) decidePromotion(approve bool) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var body decisionRequest
		if r.ContentLength != 0 {
			if err := s.decodeObject(w, r, "decision", `{"reason": "<why>"}`, &body); err != nil {
				return err
			}
		}
		req, err := request(r)
		if err != nil {
			return err
		}
		ns, id := r.PathValue("ns"), r.PathValue("id")
		p, err := s.app.Promotion(r.Context(), ns, id)
		if err != nil {
			return err
		}
		if _, err := s.authorize(r, ScopeRead, p.From); err != nil {
			return err
		}
		if !approve && !domain.SamePerson(p.RequestedBy.Identity, domain.IdentityOf(req.Origin)) {
			if _, err := s.authorize(r, ScopeApprove, ns); err != nil {
				return err
			}
		}
		d, err := s.app.Decide(r.Context(), usecase.Decide{Request: req, ID: id, Approve: approve, Reason: body.Reason})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, d)
		return nil
	}
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := s.store.Policy(r.Context(), r.PathValue("ns"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Policy{Policy: p.Value, Revision: p.Revision})
	return nil
}

func (s *Server) putPolicy(w http.ResponseWriter, r *http.Request) error {
	var body domain.Policy
	if err := s.decodeObject(w, r, "policy", `{"protected": true, "promotesFrom": ["staging"], …} (docs/promotion.md)`, &body); err != nil {
		return err
	}
	req, err := request(r)
	if err != nil {
		return err
	}
	p, err := s.app.SetPolicy(r.Context(), req, body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Policy{Policy: p.Value, Revision: p.Revision})
	return nil
}

func (s *Server) getOverlay(w http.ResponseWriter, r *http.Request) error {
	o, err := s.store.Overlay(r.Context(), r.PathValue("ns"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Overlay{Overlay: o.Value, Revision: o.Revision})
	return nil
}

func (s *Server) putOverlay(w http.ResponseWriter, r *http.Request) error {
	var body domain.Overlay
	if err := s.decodeObject(w, r, "overlay", `{"properties": [{"node": "<id>", "path": "url"}], "env": ["API_URL"]}`, &body); err != nil {
		return err
	}
	req, err := request(r)
	if err != nil {
		return err
	}
	o, err := s.app.SetOverlay(r.Context(), req, body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Overlay{Overlay: o.Value, Revision: o.Revision})
	return nil
}

// fingerprintHeader is the header the Node-RED module reports its
// credential secret's fingerprint in.
const fingerprintHeader = "Flowhist-Credential-Fingerprint"

// credentialFingerprint reads the fingerprint a saving request reports
// ("" when none, or the route saves nothing).
//
// Errors: EINVALID.
func credentialFingerprint(r *http.Request, scope Scope) (string, error) {
	fp := r.Header.Get(fingerprintHeader)
	if fp == "" || scope != ScopeDeploy || r.Method == http.MethodGet {
		return "", nil
	}
	if err := domain.ValidateFingerprint(fp); err != nil {
		return "", domain.Errorf(domain.EINVALID, "%s: %s", fingerprintHeader, domain.ErrorMessage(err))
	}
	return fp, nil
}

// reportFingerprint stores fp for ns after a save succeeded; a failure is
// logged, not answered (the save landed).
func (s *Server) reportFingerprint(r *http.Request, ns, fp string) {
	if fp == "" || ns == "" {
		return
	}
	if err := s.app.ReportCredentialFingerprint(r.Context(), ns, fp); err != nil {
		s.log.Warn("credential fingerprint not stored", zap.String("ns", ns), zap.Error(err))
	}
}
