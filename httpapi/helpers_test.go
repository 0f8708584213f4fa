package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
)

func TestMain(m *testing.M) { os.Exit(valkeytest.Main(m)) }

// Bearer tokens of the default configuration, each covering every
// namespace. They are at least 16 characters, as Config.Validate wants.
const (
	adminSecret  = "admin-secret-7f3a9c41d2"
	deploySecret = "deploy-secret-51be0c9e77"
	readSecret   = "read-secret-c0ffee1234ab"
)

var defaultTokens = []httpapi.Token{
	{Name: "admin", Secret: adminSecret, Scopes: []httpapi.Scope{httpapi.ScopeAdmin}, Namespaces: []string{"*"}, AssertUsers: true, Workers: []string{"*"}},
	{Name: "deployer", Secret: deploySecret, Scopes: []httpapi.Scope{httpapi.ScopeDeploy}, Namespaces: []string{"*"}},
	{Name: "reader", Secret: readSecret, Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{"*"}, Workers: []string{"*"}},
}

// testServer is an httpapi.Server behind a real HTTP server on loopback,
// over a real valkey-server.
type testServer struct {
	*httptest.Server
	api   *httpapi.Server
	store *streams.Store
	proj  *projector.Projector
	reg   *prometheus.Registry
	// token is sent when a request names no Authorization of its own.
	token string
}

// mustServer returns a server on the shared valkey-server. With no tokens
// and auth enabled, cfg gets defaultTokens and requests the admin token.
func mustServer(tb testing.TB, cfg httpapi.Config) *testServer {
	tb.Helper()
	return mustServerAt(tb, valkeytest.Shared(tb), cfg)
}

// mustServerAt returns a server on the valkey-server at addr.
func mustServerAt(tb testing.TB, addr string, cfg httpapi.Config) *testServer {
	tb.Helper()
	return mustServerWith(tb, addr, streams.Config{}, cfg)
}

// mustServerWith returns a server on the valkey-server at addr with a store
// configured by scfg.
func mustServerWith(tb testing.TB, addr string, scfg streams.Config, cfg httpapi.Config) *testServer {
	tb.Helper()
	return mustServerOver(tb, rueidis.ClientOption{InitAddress: []string{addr}}, scfg, cfg, false)
}

// mustServerTLS is mustServer over HTTPS (httptest's certificate, which
// ts.Client trusts): for the cost of TLS.
func mustServerTLS(tb testing.TB, cfg httpapi.Config) *testServer {
	tb.Helper()
	return mustServerOver(tb, rueidis.ClientOption{InitAddress: []string{valkeytest.Shared(tb)}}, streams.Config{}, cfg, true)
}

// mustServerOpt returns a server on the Valkey opt reaches (a cluster, the
// primary of Sentinels) with a store configured by scfg.
func mustServerOpt(tb testing.TB, opt rueidis.ClientOption, scfg streams.Config, cfg httpapi.Config) *testServer {
	tb.Helper()
	return mustServerOver(tb, opt, scfg, cfg, false)
}

func mustServerOver(tb testing.TB, opt rueidis.ClientOption, scfg streams.Config, cfg httpapi.Config, overTLS bool) *testServer {
	tb.Helper()
	if len(cfg.Tokens) == 0 && !cfg.AuthDisabled {
		cfg.Tokens = defaultTokens
	}
	client, err := streams.NewClient(opt)
	if err != nil {
		tb.Fatalf("connect to valkey at %v: %v", opt.InitAddress, err)
	}
	tb.Cleanup(client.Close) // last: after the HTTP server and the feed are done
	store, err := streams.New(client, scfg, nil)
	if err != nil {
		tb.Fatalf("streams.New: %v", err)
	}
	proj, err := projector.New(store, projector.Config{}, nil)
	if err != nil {
		tb.Fatalf("projector.New: %v", err)
	}
	reg := prometheus.NewRegistry()
	api, err := httpapi.New(store, proj, cfg, nil, reg)
	if err != nil {
		tb.Fatalf("httpapi.New: %v", err)
	}
	srv := httptest.NewUnstartedServer(api.Handler())
	if overTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	tb.Cleanup(srv.Close)
	// Runs before srv.Close: it ends waiting feed requests, which Close
	// would otherwise wait for.
	tb.Cleanup(api.Close)
	return &testServer{Server: srv, api: api, store: store, proj: proj, reg: reg, token: adminSecret}
}

// randomNS returns a namespace of the test's own, so that tests sharing a
// valkey-server run in parallel.
func randomNS(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	return "t-" + hex.EncodeToString(b)
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// path returns ns's API path for rest ("/flows", "/feed?…").
func path(ns, rest string) string { return "/v1/namespaces/" + ns + rest }

// hdr are request headers. An empty Authorization sends none; no
// Authorization sends the server's default token.
type hdr map[string]string

type response struct {
	status int
	header http.Header
	body   []byte
}

// send makes a request and reads the whole answer; it is safe in any
// goroutine.
func (ts *testServer) send(ctx context.Context, method, p string, body []byte, h hdr) (response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, ts.URL+p, r)
	if err != nil {
		return response{}, err
	}
	auth, ok := h["Authorization"]
	if !ok {
		auth = "Bearer " + ts.token
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for k, v := range h {
		if k != "Authorization" {
			req.Header.Set(k, v)
		}
	}
	res, err := ts.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: res.StatusCode, header: res.Header, body: b}, nil
}

// do makes a request and fails the test if it cannot.
func (ts *testServer) do(tb testing.TB, method, p string, body []byte, h hdr) response {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := ts.send(ctx, method, p, body, h)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, p, err)
	}
	return res
}

// ok makes a request that must answer 200 and decodes its JSON into v
// (unless v is nil).
func (ts *testServer) ok(tb testing.TB, method, p string, body []byte, h hdr, v any) response {
	tb.Helper()
	res := ts.do(tb, method, p, body, h)
	if res.status != http.StatusOK {
		tb.Fatalf("%s %s: got status %d (%s), want 200", method, p, res.status, res.body)
	}
	if v != nil {
		res.decode(tb, v)
	}
	return res
}

func (r response) decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.body, err)
	}
}

// errorBody is every error answer.
type errorBody = httpapi.Error

// wantError checks that r is a JSON error answer with status and code and
// a message, and returns it.
func wantError(tb testing.TB, r response, status int, code string) errorBody {
	tb.Helper()
	if r.status != status {
		tb.Fatalf("got status %d (%s), want %d", r.status, r.body, status)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("got Content-Type %q, want application/json", ct)
	}
	var e errorBody
	r.decode(tb, &e)
	if e.Code != code {
		tb.Fatalf("got code %q (%s), want %q", e.Code, e.Message, code)
	}
	if e.Message == "" {
		tb.Fatalf("got an empty message in %s, want one naming the fault", r.body)
	}
	return e
}

// appendResult is the answer of a successful save.
type appendResult = httpapi.Saved

// head returns ns's log revision as the store sees it.
func (ts *testServer) head(tb testing.TB, ns string) domain.Revision {
	tb.Helper()
	h, err := ts.store.Head(testCtx(tb), ns)
	if err != nil {
		tb.Fatalf("Head: %v", err)
	}
	return h.Revision
}

// events returns ns's whole log.
func (ts *testServer) events(tb testing.TB, ns string) []*domain.Event {
	tb.Helper()
	events, err := ts.store.Read(testCtx(tb), ns, streams.Query{})
	if err != nil {
		tb.Fatalf("Read: %v", err)
	}
	return events
}

// metric returns the sum of the values of the metric family name.
func (ts *testServer) metric(tb testing.TB, name string) float64 {
	tb.Helper()
	mfs, err := ts.reg.Gather()
	if err != nil {
		tb.Fatalf("Gather: %v", err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return sum
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within 10s", what)
		}
		<-tick.C
	}
}

// waitForWaiters returns once n feed requests wait on ts.
func (ts *testServer) waitForWaiters(tb testing.TB, n int) {
	tb.Helper()
	waitFor(tb, fmt.Sprintf("%d feed requests waiting", n), func() bool {
		return ts.metric(tb, "flowhist_feed_waiters") >= float64(n)
	})
}

// escapedNode is a node whose strings use every escape JSON.stringify and
// hand-written JSON produce: they must come back byte for byte.
const escapedNode = `{"id":"esc0000000000001","type":"comment","z":"t000000000000000","name":"\u003cb\u003e \"quoted\" \\ back\/slash \ud83d\ude00 <&> ü ✓","info":"line\nbreak\ttab \u2028"}`

// realisticDoc returns a flows document of n generated nodes (tabs,
// function, http in, change and debug nodes, with <, & and unicode in their
// text) and escapedNode.
func realisticDoc(n int) []byte {
	doc := domaintest.NewDoc(n).Bytes()
	return append(append(doc[:len(doc)-1:len(doc)-1], ","+escapedNode...), ']')
}

// flowsDoc returns a small valid document whose nodes are named after tag.
func flowsDoc(tag string) []byte {
	return []byte(fmt.Sprintf(`[{"id":"tab1","type":"tab","label":"%s"},{"id":"n1","type":"inject","z":"tab1","name":"%s"}]`, tag, tag))
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
