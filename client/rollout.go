package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// Staged rollout (docs/rollout.md).

// RingDocument is a ring's flows or credentials as GET flows?ring= answers
// them: the document with the position it was at (Flowhist-Revision,
// Flowhist-Event).
type RingDocument struct {
	Document
	Event string
}

// RingFlows returns the flows the workers of ring run (the head without a
// rollout policy). Errors: EINVALID, EUNAUTHORIZED, EFORBIDDEN,
// EUNAVAILABLE.
func (c *Client) RingFlows(ctx context.Context, ring string) (RingDocument, error) {
	return c.ringDocument(ctx, "/flows", ring)
}

// RingCredentials returns the credentials the workers of ring run.
// Errors: as RingFlows.
func (c *Client) RingCredentials(ctx context.Context, ring string) (RingDocument, error) {
	return c.ringDocument(ctx, "/credentials", ring)
}

func (c *Client) ringDocument(ctx context.Context, path, ring string) (RingDocument, error) {
	a, err := c.Do(ctx, Request{Method: http.MethodGet, Path: path, Query: url.Values{"ring": {ring}}})
	if err != nil {
		return RingDocument{}, err
	}
	d := Document{Body: a.Body, AggregateRevision: etagRevision(a.Header, "ETag"), Revision: etagRevision(a.Header, "Flowhist-Revision")}
	return RingDocument{Document: d, Event: a.Header.Get("Flowhist-Event")}, nil
}

// ReportHealth sends a worker's health report. Errors: EINVALID,
// ETOOLARGE, EUNAUTHORIZED, EFORBIDDEN (a token not bound to the worker),
// EUNAVAILABLE.
func (c *Client) ReportHealth(ctx context.Context, worker string, h domain.WorkerHealth) (httpapi.WorkerHealthSaved, error) {
	body, err := json.Marshal(h)
	if err != nil {
		return httpapi.WorkerHealthSaved{}, err
	}
	var s httpapi.WorkerHealthSaved
	return s, c.call(ctx, Request{Method: http.MethodPut, Path: "/workers/" + url.PathEscape(worker) + "/health", Body: body}, &s)
}

// RolloutPolicy returns the namespace's rollout policy. Errors: ENOTFOUND
// (none), EUNAUTHORIZED, EFORBIDDEN, EUNAVAILABLE.
func (c *Client) RolloutPolicy(ctx context.Context) (domain.Policy, error) {
	var p domain.Policy
	return p, c.get(ctx, "/rollout/policy", nil, &p)
}

// SetRolloutPolicy sets the namespace's rollout policy (JSON, as the API
// takes it) and returns it as stored. Errors: EINVALID, EUNAUTHORIZED,
// EFORBIDDEN (an admin token is needed), EUNAVAILABLE.
func (c *Client) SetRolloutPolicy(ctx context.Context, policy []byte) (domain.Policy, error) {
	var p domain.Policy
	return p, c.call(ctx, Request{Method: http.MethodPut, Path: "/rollout/policy", Body: policy}, &p)
}

// DeleteRolloutPolicy removes the namespace's rollout policy. Errors: as
// SetRolloutPolicy.
func (c *Client) DeleteRolloutPolicy(ctx context.Context) (httpapi.RolloutStatus, error) {
	var s httpapi.RolloutStatus
	return s, c.call(ctx, Request{Method: http.MethodDelete, Path: "/rollout/policy"}, &s)
}

// Rollout returns the namespace's rollout status. Errors: EUNAUTHORIZED,
// EFORBIDDEN, EUNAVAILABLE.
func (c *Client) Rollout(ctx context.Context) (httpapi.RolloutStatus, error) {
	var s httpapi.RolloutStatus
	return s, c.get(ctx, "/rollout", nil, &s)
}

// RolloutAction asks for "promote", "pause", "resume" or "abort" of the
// active rollout, with an optional reason. Errors: EINVALID, ECONFLICT (no
// rollout is active), EUNAUTHORIZED, EFORBIDDEN, EUNAVAILABLE.
func (c *Client) RolloutAction(ctx context.Context, action, reason string) (httpapi.RolloutStatus, error) {
	var body []byte
	if reason != "" {
		body, _ = json.Marshal(struct {
			Reason string `json:"reason"`
		}{reason})
	}
	var s httpapi.RolloutStatus
	return s, c.call(ctx, Request{Method: http.MethodPost, Path: "/rollout/" + url.PathEscape(action), Body: body}, &s)
}
