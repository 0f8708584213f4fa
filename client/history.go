package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// Page is a page of a newest-first list: Limit entries (0: the server's
// default, 50) below Cursor (a NextCursor of the page before; "" starts at
// the newest).
type Page struct {
	Limit  int
	Cursor string
}

func (p Page) query() url.Values {
	q := url.Values{}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	return q
}

// HistoryQuery filters GET history; empty fields do not filter.
type HistoryQuery struct {
	Page
	// Kind is comma-separated: flows, credentials, settings, library,
	// packages, project, rollback.
	Kind  string
	Actor string
	// Since and Until are RFC 3339 times.
	Since, Until string
	Node         string
	Project      string
}

func (h HistoryQuery) query() url.Values {
	q := h.Page.query()
	for k, v := range map[string]string{"kind": h.Kind, "actor": h.Actor, "since": h.Since, "until": h.Until, "node": h.Node, "project": h.Project} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// History returns a page of the namespace's events, newest first. Errors:
// EINVALID (a filter), ENOTFOUND, EUNAUTHORIZED, EFORBIDDEN, EUNAVAILABLE.
func (c *Client) History(ctx context.Context, q HistoryQuery) (httpapi.History, error) {
	var h httpapi.History
	return h, c.get(ctx, "/history", q.query(), &h)
}

// Revision returns one event as the history shows it, with its payload
// for settings, library, packages and project events. Errors: ENOTFOUND,
// as History.
func (c *Client) Revision(ctx context.Context, rev domain.Revision) (httpapi.HistoryEntry, error) {
	var e httpapi.HistoryEntry
	return e, c.get(ctx, "/revisions/"+rev.String(), nil, &e)
}

// RevisionFlows returns the flows as they were at namespace revision rev.
// Errors: as Revision.
func (c *Client) RevisionFlows(ctx context.Context, rev domain.Revision) (Document, error) {
	return c.document(ctx, "/revisions/"+rev.String()+"/flows")
}

// DiffQuery asks what changed in the flows from one revision to another.
type DiffQuery struct {
	From, To domain.Revision
	// Reverse shows the change undone (what rolling back To to From
	// would do).
	Reverse bool
	// NoPositions leaves out nodes that only moved.
	NoPositions bool
}

// Diff returns the nodes added, changed and removed between two
// revisions. Errors: EINVALID, ENOTFOUND, as History.
func (c *Client) Diff(ctx context.Context, d DiffQuery) (httpapi.Diff, error) {
	q := url.Values{"from": {d.From.String()}, "to": {d.To.String()}}
	if d.Reverse {
		q.Set("reverse", "1")
	}
	if d.NoPositions {
		q.Set("positions", "false")
	}
	var out httpapi.Diff
	return out, c.get(ctx, "/diff", q, &out)
}

// NodeHistory returns a page of the revisions that changed node id,
// newest first. Errors: ENOTFOUND when none did, as History.
func (c *Client) NodeHistory(ctx context.Context, id string, p Page) (httpapi.NodeHistory, error) {
	var h httpapi.NodeHistory
	return h, c.get(ctx, "/nodes/"+url.PathEscape(id)+"/history", p.query(), &h)
}

// Rollback is the answer of a rollback: Saved when it appended a revision,
// Noop when the flows already were as at the target.
type Rollback struct {
	Saved *httpapi.Saved
	Noop  *httpapi.RollbackNoop
}

// Rollback restores the flows and credentials as they were at revision to,
// recording reason. w.IfMatch makes it a conflict unless the flows are at
// that flows revision. Errors: EINVALID, ENOTFOUND, ECONFLICT,
// EFORBIDDEN without the admin scope, EUNAVAILABLE.
func (c *Client) Rollback(ctx context.Context, to domain.Revision, reason string, w Write) (Rollback, error) {
	body, _ := json.Marshal(struct {
		To     domain.Revision `json:"to"`
		Reason string          `json:"reason"`
	}{to, reason})
	a, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/rollback", Body: body, Write: w})
	if err != nil {
		return Rollback{}, err
	}
	var probe struct {
		Noop bool `json:"noop"`
	}
	if err := c.decode("/rollback", a.Body, &probe); err != nil {
		return Rollback{}, err
	}
	if probe.Noop {
		n := &httpapi.RollbackNoop{}
		return Rollback{Noop: n}, c.decode("/rollback", a.Body, n)
	}
	s := &httpapi.Saved{}
	return Rollback{Saved: s}, c.decode("/rollback", a.Body, s)
}
