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

// Document is a stored JSON document as GET flows, credentials, settings
// and revisions/{rev}/flows answer it: the bytes as they are (flows are
// byte-exact), with the revisions the answer's headers name.
type Document struct {
	Body json.RawMessage
	// AggregateRevision is the ETag: the document's own revision, to send
	// back as Write.IfMatch.
	AggregateRevision domain.Revision
	// Revision is the namespace's revision (Flowhist-Revision), where the
	// answer has one.
	Revision domain.Revision
}

func (c *Client) document(ctx context.Context, path string) (Document, error) {
	a, err := c.Do(ctx, Request{Method: http.MethodGet, Path: path})
	if err != nil {
		return Document{}, err
	}
	return Document{Body: a.Body, AggregateRevision: etagRevision(a.Header, "ETag"), Revision: etagRevision(a.Header, "Flowhist-Revision")}, nil
}

// Flows returns the namespace's current flows. Errors: ENOTFOUND,
// EUNAUTHORIZED, EFORBIDDEN, EUNAVAILABLE.
func (c *Client) Flows(ctx context.Context) (Document, error) { return c.document(ctx, "/flows") }

// PutFlows deploys flows (a JSON array) without touching credentials.
// Errors: EINVALID, ECONFLICT (with the current revision), ETOOLARGE,
// EUNAUTHORIZED, EFORBIDDEN, EUNAVAILABLE.
func (c *Client) PutFlows(ctx context.Context, flows []byte, w Write) (httpapi.Saved, error) {
	return c.save(ctx, http.MethodPut, "/flows", nil, flows, w)
}

// Deploy is the body of POST deploy: flows with their credentials in one
// event.
type Deploy struct {
	Flows json.RawMessage `json:"flows"`
	// Credentials, when set, replace the flows' credentials (the
	// ciphertext Node-RED writes).
	Credentials json.RawMessage `json:"credentials,omitempty"`
	// User is the acting user, as Node-RED's storage module names it.
	User string `json:"user,omitempty"`
}

// Deploy deploys flows and credentials in one event. Errors: as PutFlows.
func (c *Client) Deploy(ctx context.Context, d Deploy, w Write) (httpapi.Saved, error) {
	return c.saveJSON(ctx, http.MethodPost, "/deploy", nil, d, w)
}

// Credentials returns the flows' credentials (Node-RED's ciphertext).
func (c *Client) Credentials(ctx context.Context) (Document, error) {
	return c.document(ctx, "/credentials")
}

// PutCredentials saves credentials alone. Errors: as PutFlows.
func (c *Client) PutCredentials(ctx context.Context, creds []byte, w Write) (httpapi.Saved, error) {
	return c.save(ctx, http.MethodPut, "/credentials", nil, creds, w)
}

// Settings returns the runtime settings.
func (c *Client) Settings(ctx context.Context) (Document, error) {
	return c.document(ctx, "/settings")
}

// PutSettings saves the runtime settings; the answer's PackagesRevision is
// set when they imply a change of the installed modules. Errors: as
// PutFlows.
func (c *Client) PutSettings(ctx context.Context, settings []byte, w Write) (httpapi.Saved, error) {
	return c.save(ctx, http.MethodPut, "/settings", nil, settings, w)
}

// Sessions returns the editor's sessions. Errors: EFORBIDDEN without the
// deploy scope, EUNAVAILABLE.
func (c *Client) Sessions(ctx context.Context) (json.RawMessage, error) {
	a, err := c.Do(ctx, Request{Method: http.MethodGet, Path: "/sessions"})
	if err != nil {
		return nil, err
	}
	return a.Body, nil
}

// PutSessions saves the editor's sessions.
func (c *Client) PutSessions(ctx context.Context, sessions []byte) (httpapi.SessionsSaved, error) {
	var s httpapi.SessionsSaved
	err := c.call(ctx, Request{Method: http.MethodPut, Path: "/sessions", Body: sessions}, &s)
	return s, err
}

// Library is a GET library answer: an entry, or a directory's listing.
type Library struct {
	Entry   *httpapi.LibraryEntry
	Listing *httpapi.LibraryListing
}

func libraryQuery(typ, path string) (string, url.Values) {
	return "/library/" + url.PathEscape(typ), url.Values{"path": {path}}
}

// Library returns the library entry of type typ at path, or the listing of
// the directory there (path "" is the type's top). Errors: EINVALID,
// ENOTFOUND, EUNAVAILABLE.
func (c *Client) Library(ctx context.Context, typ, path string) (Library, error) {
	p, q := libraryQuery(typ, path)
	a, err := c.Do(ctx, Request{Method: http.MethodGet, Path: p, Query: q})
	if err != nil {
		return Library{}, err
	}
	var probe map[string]json.RawMessage
	if err := c.decode(p, a.Body, &probe); err != nil {
		return Library{}, err
	}
	if _, ok := probe["listing"]; ok {
		l := &httpapi.LibraryListing{}
		dec := json.NewDecoder(bytes.NewReader(a.Body))
		dec.UseNumber() // a number beyond float64 stays as it was saved
		if err := dec.Decode(l); err != nil {
			return Library{}, c.decode(p, a.Body, l) // says why
		}
		return Library{Listing: l}, nil
	}
	e := &httpapi.LibraryEntry{}
	return Library{Entry: e}, c.decode(p, a.Body, e)
}

// LibraryEntry is the body of PUT library: an entry's meta (a JSON object,
// or nil) and its text.
type LibraryEntry struct {
	Meta json.RawMessage `json:"meta"`
	Body string          `json:"body"`
}

// PutLibrary saves a library entry of type typ at path. Errors: as
// PutFlows.
func (c *Client) PutLibrary(ctx context.Context, typ, path string, e LibraryEntry, w Write) (httpapi.Saved, error) {
	if e.Meta == nil {
		e.Meta = json.RawMessage("{}")
	}
	p, q := libraryQuery(typ, path)
	return c.saveJSON(ctx, http.MethodPut, p, q, e, w)
}

// Project returns the active Node-RED project ("" when none).
func (c *Client) Project(ctx context.Context) (httpapi.Project, error) {
	var p httpapi.Project
	return p, c.get(ctx, "/project", nil, &p)
}

// PutProject activates a project. Errors: as PutFlows.
func (c *Client) PutProject(ctx context.Context, name string, w Write) (httpapi.Saved, error) {
	return c.saveJSON(ctx, http.MethodPut, "/project", nil, httpapi.Project{Name: name}, w)
}
