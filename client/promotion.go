package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// Promotion is what POST …/promotions answered: exactly one field is set.
type Promotion struct {
	// Preview: a dry run, or a promotion that would change nothing
	// (Preview.Noop).
	Preview *domain.PromotionPreview
	// Applied: the promotion landed.
	Applied *httpapi.Promoted
	// Request: a request for review was recorded.
	Request *domain.PromotionRequest
}

// Promote previews, applies or requests a promotion from p.From into the
// client's namespace (docs/promotion.md). Errors: EINVALID, ENOTFOUND,
// EFORBIDDEN (protected, review required, scopes), ECONFLICT (the target
// moved: the message says what), EUNAUTHORIZED, EUNAVAILABLE.
func (c *Client) Promote(ctx context.Context, p httpapi.PromoteRequest, w Write) (Promotion, error) {
	body, err := encodeJSON(p)
	if err != nil {
		return Promotion{}, err
	}
	a, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/promotions", Body: body, Write: w})
	if err != nil {
		return Promotion{}, err
	}
	var out Promotion
	var probe struct {
		Promotion json.RawMessage `json:"promotion"`
	}
	switch {
	case a.Status == http.StatusCreated:
		out.Request = &domain.PromotionRequest{}
		return out, c.decode("/promotions", a.Body, out.Request)
	case json.Unmarshal(a.Body, &probe) == nil && len(probe.Promotion) > 0:
		out.Applied = &httpapi.Promoted{}
		return out, c.decode("/promotions", a.Body, out.Applied)
	}
	out.Preview = &domain.PromotionPreview{}
	return out, c.decode("/promotions", a.Body, out.Preview)
}

// Promotions lists the requests into the namespace (out: out of it),
// newest first, of one state ("" all). Errors: EINVALID, EUNAUTHORIZED,
// EFORBIDDEN, EUNAVAILABLE.
func (c *Client) Promotions(ctx context.Context, state string, out bool) (httpapi.PromotionRequests, error) {
	q := url.Values{}
	if state != "" {
		q.Set("state", state)
	}
	if out {
		q.Set("direction", "out")
	}
	var l httpapi.PromotionRequests
	return l, c.get(ctx, "/promotions", q, &l)
}

// PromotionRequest returns one request into the namespace. Errors:
// ENOTFOUND, as Promotions.
func (c *Client) PromotionRequest(ctx context.Context, id string) (domain.PromotionRequest, error) {
	var r domain.PromotionRequest
	return r, c.get(ctx, "/promotions/"+url.PathEscape(id), nil, &r)
}

// DecidePromotion approves (applying it) or rejects request id. Errors:
// ENOTFOUND, EFORBIDDEN (one's own approval, scope), ECONFLICT (decided,
// stale), EUNAUTHORIZED, EUNAVAILABLE.
func (c *Client) DecidePromotion(ctx context.Context, id string, approve bool, reason string, w Write) (domain.PromotionRequest, error) {
	verb := "/reject"
	if approve {
		verb = "/approve"
	}
	body, err := encodeJSON(map[string]string{"reason": reason})
	if err != nil {
		return domain.PromotionRequest{}, err
	}
	var r domain.PromotionRequest
	return r, c.call(ctx, Request{Method: http.MethodPost, Path: "/promotions/" + url.PathEscape(id) + verb, Body: body, Write: w}, &r)
}

// Policy returns the namespace's promotion policy.
func (c *Client) Policy(ctx context.Context) (httpapi.Policy, error) {
	var p httpapi.Policy
	return p, c.get(ctx, "/policy", nil, &p)
}

// SetPolicy replaces the namespace's promotion policy (admin scope).
func (c *Client) SetPolicy(ctx context.Context, p domain.Policy, w Write) (httpapi.Policy, error) {
	var out httpapi.Policy
	return out, c.put(ctx, "/policy", p, w, &out)
}

// Overlay returns the namespace's overlay.
func (c *Client) Overlay(ctx context.Context) (httpapi.Overlay, error) {
	var o httpapi.Overlay
	return o, c.get(ctx, "/overlay", nil, &o)
}

// SetOverlay replaces the namespace's overlay (admin scope).
func (c *Client) SetOverlay(ctx context.Context, o domain.Overlay, w Write) (httpapi.Overlay, error) {
	var out httpapi.Overlay
	return out, c.put(ctx, "/overlay", o, w, &out)
}

func (c *Client) put(ctx context.Context, path string, v any, w Write, out any) error {
	body, err := encodeJSON(v)
	if err != nil {
		return err
	}
	return c.call(ctx, Request{Method: http.MethodPut, Path: path, Body: body, Write: w}, out)
}

// encodeJSON encodes v without HTML escapes.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, &domain.Error{Code: domain.EINVALID, Message: "encoding the request: " + err.Error(), Err: err}
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
