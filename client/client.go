package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// DefaultTimeout bounds a request when Config.Timeout is zero: long enough
// for a large export or import item on a slow link.
const DefaultTimeout = 5 * time.Minute

// Config is what a Client needs. Its zero value is not enough: URL and
// Namespace are required.
type Config struct {
	// URL is the flowhist server's base URL (http:// or https://).
	URL string
	// Token is the bearer token; empty sends none.
	Token string
	// Namespace is the namespace every call is about.
	Namespace string
	// Channel is sent as Flowhist-Channel (domain.ChannelCLI,
	// domain.ChannelAPI, …); empty sends none, which the server records as
	// the API channel.
	Channel string
	// Timeout bounds each request, answer included (default
	// DefaultTimeout). A feed request's wait is added to it.
	Timeout time.Duration
	// HTTP is the HTTP client (default: a new one). Its own Timeout, if
	// any, applies too.
	HTTP *http.Client
	// CAFile is a PEM file of the CA that signed an https:// server's
	// certificate, trusted instead of the system's (a private CA). With
	// CertFile and KeyFile, the client shows that certificate (mTLS).
	// Used only when HTTP is nil.
	CAFile, CertFile, KeyFile string
}

// Client talks to a flowhist server's API for one namespace. It is safe
// for concurrent use.
type Client struct {
	base    string // the server URL, without a trailing slash
	shown   string // base as messages show it, without any password
	token   string
	ns      string
	channel string
	timeout time.Duration
	http    *http.Client
}

// New returns a client for cfg. It returns EINVALID if the URL is not an
// http:// or https:// URL or the namespace is missing or not a valid name.
func New(cfg Config) (*Client, error) {
	c := &Client{
		base:    strings.TrimRight(cfg.URL, "/"),
		token:   cfg.Token,
		ns:      cfg.Namespace,
		channel: cfg.Channel,
		timeout: cfg.Timeout,
		http:    cfg.HTTP,
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.http == nil {
		tc, err := cfg.TLS()
		if err != nil {
			return nil, err
		}
		c.http = &http.Client{}
		if tc != nil {
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.TLSClientConfig = tc
			c.http.Transport = t
		}
	}
	u, err := url.Parse(c.base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		shown := c.base
		if err == nil {
			shown = u.Redacted()
		}
		return nil, &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("flowhist URL %q is not an http:// or https:// URL: set --url or FLOWHIST_URL", shown)}
	}
	c.shown = u.Redacted()
	if c.ns == "" {
		return nil, &domain.Error{Code: domain.EINVALID, Message: "no namespace: set --namespace/-n, FLOWHIST_NAMESPACE or cli.namespace in the config file"}
	}
	if err := domain.ValidateNamespace(c.ns); err != nil {
		return nil, err
	}
	return c, nil
}

// Namespace is the namespace the client speaks for.
func (c *Client) Namespace() string { return c.ns }

// URL is the server's URL as messages show it: without any password.
func (c *Client) URL() string { return c.shown }

// Write is what a save may say besides its body, each sent as a header
// when set.
type Write struct {
	// IfMatch is the aggregate revision the save expects (If-Match); nil
	// expects nothing.
	IfMatch *domain.Revision
	// User is the acting user (Flowhist-User), for tokens that may name
	// one.
	User string
	// CorrelationID is recorded on the event (Flowhist-Correlation-Id).
	CorrelationID string
	// IdempotencyKey makes a retried save answer the first one's result.
	IdempotencyKey string
	// Project is the active Node-RED project (Flowhist-Project).
	Project string
	// Claimed is who an import's source says acted, recorded as its claim
	// beside the token (Flowhist-Claimed-User, -Token, -Channel).
	Claimed *domain.Claim
}

// header adds w's headers to h.
func (w Write) header(h http.Header) {
	if w.IfMatch != nil {
		h.Set("If-Match", `"`+w.IfMatch.String()+`"`)
	}
	var cl domain.Claim
	if w.Claimed != nil {
		cl = *w.Claimed
	}
	for k, v := range map[string]string{"Flowhist-User": w.User, "Flowhist-Correlation-Id": w.CorrelationID, "Idempotency-Key": w.IdempotencyKey, "Flowhist-Project": w.Project,
		"Flowhist-Claimed-User": cl.User, "Flowhist-Claimed-Token": cl.Token, "Flowhist-Claimed-Channel": cl.Channel} {
		if v != "" {
			h.Set(k, v)
		}
	}
}

// Request is one call below the namespace's path, for what the typed
// methods do not cover.
type Request struct {
	Method string
	// Path is below /v1/namespaces/{ns}: "/flows", "/library/flows".
	Path  string
	Query url.Values
	// Body is sent as application/json when not nil.
	Body   []byte
	Header http.Header
	Write  Write
	// wait lengthens the deadline (a feed's long poll).
	wait time.Duration
}

// Answer is a 2xx answer.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends r and returns its 2xx answer. An error answer becomes a
// *domain.Error with the answer's code, message and current revision (or,
// for an answer that is not flowhist's, the code of its status); a server
// that cannot be reached, or that does not answer by the deadline, is
// EUNAVAILABLE.
func (c *Client) Do(ctx context.Context, r Request) (*Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout+r.wait)
	defer cancel()
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &domain.Error{Code: domain.EUNAVAILABLE, Message: fmt.Sprintf("reading the answer of flowhist at %s: %v", c.shown, err)}
	}
	if resp.StatusCode/100 != 2 {
		return nil, answerError(resp.StatusCode, data)
	}
	return &Answer{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// send sends r; the caller closes the answer's body.
func (c *Client) send(ctx context.Context, r Request) (*http.Response, error) {
	u := c.base + "/v1/namespaces/" + url.PathEscape(c.ns) + r.Path
	if len(r.Query) > 0 {
		u += "?" + r.Query.Encode()
	}
	var rd io.Reader
	if r.Body != nil {
		rd = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u, rd)
	if err != nil {
		return nil, &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("bad request to %s: %v", c.shown, err)}
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	r.Write.header(req.Header)
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.channel != "" {
		req.Header.Set("Flowhist-Channel", c.channel)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.unreachable(err)
	}
	return resp, nil
}

// unreachable is the error of a request that got no answer.
func (c *Client) unreachable(err error) error {
	// url.Error repeats the whole URL; the cause alone is clearer.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &domain.Error{Code: domain.EUNAVAILABLE, Message: fmt.Sprintf("cannot reach flowhist at %s: %v (check --url / FLOWHIST_URL)", c.shown, err)}
}

// answerError turns an error answer into a *domain.Error. An answer that is
// not flowhist's {"code","message"} (a proxy's page) gets the code of its
// status.
func answerError(status int, body []byte) error {
	var e httpapi.Error
	if json.Unmarshal(body, &e) == nil && e.Code != "" {
		de := &domain.Error{Code: e.Code, Message: e.Message}
		if e.CurrentRevision != nil {
			de.CurrentRevision = *e.CurrentRevision
		}
		return de
	}
	code, ok := codeOfStatus[status]
	if !ok {
		code = domain.EINTERNAL
	}
	return &domain.Error{Code: code, Message: fmt.Sprintf("flowhist answered %d %s", status, http.StatusText(status))}
}

// codeOfStatus is the code of an error answer that is not flowhist's.
var codeOfStatus = map[int]string{
	http.StatusBadRequest:            domain.EINVALID,
	http.StatusNotFound:              domain.ENOTFOUND,
	http.StatusConflict:              domain.ECONFLICT,
	http.StatusUnauthorized:          domain.EUNAUTHORIZED,
	http.StatusForbidden:             domain.EFORBIDDEN,
	http.StatusRequestEntityTooLarge: domain.ETOOLARGE,
	http.StatusTooManyRequests:       domain.ETOOMANY,
	http.StatusBadGateway:            domain.EUNAVAILABLE,
	http.StatusServiceUnavailable:    domain.EUNAVAILABLE,
	http.StatusGatewayTimeout:        domain.EUNAVAILABLE,
}

// call sends r and decodes the JSON answer into out.
func (c *Client) call(ctx context.Context, r Request, out any) error {
	a, err := c.Do(ctx, r)
	if err != nil {
		return err
	}
	return c.decode(r.Path, a.Body, out)
}

func (c *Client) decode(path string, data []byte, out any) error {
	if err := json.Unmarshal(data, out); err != nil {
		return &domain.Error{Code: domain.EINTERNAL, Message: fmt.Sprintf("flowhist at %s answered %s with unexpected JSON: %v", c.shown, path, err), Err: err}
	}
	return nil
}

// get GETs a namespace path and decodes its JSON answer into out.
func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	return c.call(ctx, Request{Method: http.MethodGet, Path: path, Query: q}, out)
}

// Save sends a save that the typed methods do not name (import replays
// requests as they were recorded) and decodes its answer. Errors: as
// PutFlows.
func (c *Client) Save(ctx context.Context, r Request) (httpapi.Saved, error) {
	var s httpapi.Saved
	return s, c.call(ctx, r, &s)
}

// save sends a save's JSON body and decodes its answer.
func (c *Client) save(ctx context.Context, method, path string, q url.Values, body []byte, w Write) (httpapi.Saved, error) {
	return c.Save(ctx, Request{Method: method, Path: path, Query: q, Body: body, Write: w})
}

// saveJSON encodes body and saves it. Not json.Marshal: it would write <,
// > and & in strings as \u003c…, and flows are stored byte for byte as
// sent.
func (c *Client) saveJSON(ctx context.Context, method, path string, q url.Values, body any, w Write) (httpapi.Saved, error) {
	b, err := encodeJSON(body)
	if err != nil {
		return httpapi.Saved{}, err
	}
	return c.save(ctx, method, path, q, b, w)
}

// etagRevision reads an ETag "N" (or N) as a revision; 0 if absent.
func etagRevision(h http.Header, name string) domain.Revision {
	v := strings.Trim(strings.TrimSpace(h.Get(name)), `"`)
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0
	}
	return domain.Revision(n)
}
