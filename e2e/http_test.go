package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	fhclient "github.com/flowhist/flowhist/client"
)

// How the tests speak HTTP. Flowhist's API, where the exchange itself is
// not what a test checks, through flowhist's Go client (package client,
// api). Where it is (the fault suite's statuses, headers and timings, a
// byte-exact answer) and to Node-RED: send, the one function that makes a
// request and reads its answer, and callFlowhist, flowhist's API on top of
// it. Only rawRequest writes requests by hand, for the malformed ones Go's
// client refuses to send.

// client is the tests' default HTTP client.
var client = &http.Client{Timeout: 30 * time.Second}

// answer is one HTTP exchange.
type answer struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
	err    error
}

func (a answer) String() string {
	if a.err != nil {
		return fmt.Sprintf("no answer after %s (%v)", a.took.Round(time.Millisecond), a.err)
	}
	b := a.body
	if len(b) > 300 {
		b = append(b[:300:300], "…"...)
	}
	return fmt.Sprintf("%d %s %q after %s", a.status, a.header.Get("Content-Type"), b, a.took.Round(time.Millisecond))
}

// apiError is every error answer's body.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// jsonError reports whether a is an error answer in the API's shape
// (application/json, {"code","message"} both set) and returns it.
func (a answer) jsonError() (apiError, bool) {
	var e apiError
	if a.err != nil || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		return e, false
	}
	if err := json.Unmarshal(a.body, &e); err != nil || e.Code == "" || e.Message == "" {
		return e, false
	}
	return e, true
}

// send sends one request with hc (hdr as given, body unless nil) and reads
// the whole answer.
func send(hc *http.Client, method, u string, body []byte, hdr http.Header) answer {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return answer{err: err}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return answer{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b, took: time.Since(start), err: err}
}

// get returns the status and body of a GET, or 0 and the error.
func get(u string, header http.Header) (int, string) {
	a := send(client, http.MethodGet, u, nil, header)
	if a.status == 0 && a.err != nil {
		return 0, a.err.Error()
	}
	return a.status, string(a.body)
}

// callFlowhist sends one request to the flowhist at base with token (none
// if ""), and hdr; path is absolute ("/readyz") or, with ns, below
// /v1/namespaces/{ns} ("/flows"). A body is sent as application/json.
func callFlowhist(hc *http.Client, base, token, method, ns, path string, body []byte, hdr http.Header) answer {
	u := base + path
	if ns != "" {
		u = base + "/v1/namespaces/" + ns + path
	}
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		h[k] = v
	}
	return send(hc, method, u, body, h)
}

// api is flowhist's Go client for namespace ns of the flowhist at base,
// with token.
func api(tb testing.TB, base, token, ns string) *fhclient.Client {
	tb.Helper()
	c, err := fhclient.New(fhclient.Config{URL: base, Token: token, Namespace: ns, Timeout: 30 * time.Second})
	if err != nil {
		tb.Fatalf("flowhist client for %s: %v", base, err)
	}
	return c
}

// getJSON GETs path (below the namespace, with a query if any) through c
// and decodes the JSON answer into out; it fails the test on an error.
func getJSON(tb testing.TB, c *fhclient.Client, path string, out any) {
	tb.Helper()
	p, q, _ := strings.Cut(path, "?")
	query, err := url.ParseQuery(q)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	a, err := c.Do(context.Background(), fhclient.Request{Method: http.MethodGet, Path: p, Query: query})
	if err != nil {
		tb.Fatalf("GET %s on %s: %v", path, c.URL(), err)
	}
	if err := json.Unmarshal(a.Body, out); err != nil {
		tb.Fatalf("GET %s on %s: %v in %s", path, c.URL(), err, a.Body)
	}
}
