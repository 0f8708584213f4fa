package httpapi_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

const (
	nrAdminSecret = "nr-admin-secret-6b1d0e3a9f"
	workerSecret  = "worker-secret-2c7e4f8a1d5b"
)

// identityTokens: Node-RED's admin, trusted to name its editor users, and
// a worker's token, which is not.
var identityTokens = []httpapi.Token{
	{Name: "nr-admin", Secret: nrAdminSecret, Scopes: []httpapi.Scope{httpapi.ScopeAdmin}, Namespaces: []string{"*"}, AssertUsers: true},
	{Name: "worker-1", Secret: workerSecret, Scopes: []httpapi.Scope{httpapi.ScopeAdmin}, Namespaces: []string{"*"}},
}

// TestIdentity: every event records the token that appended it; only a
// token with assert_users may name another user, and a claim refused from
// any other token changes nothing.
func TestIdentity(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{Tokens: identityTokens})
	admin := func(h hdr) hdr { h["Authorization"] = "Bearer " + nrAdminSecret; return h }
	worker := func(h hdr) hdr { h["Authorization"] = "Bearer " + workerSecret; return h }

	t.Run("OKAssertingTokenNamesUser", func(t *testing.T) {
		ns := randomNS(t)
		ts.ok(t, "POST", path(ns, "/deploy"), []byte(`{"flows":`+string(flowsDoc("a"))+`,"user":"alice"}`), admin(hdr{"Flowhist-Channel": domain.ChannelNodeRED}), nil)
		ts.ok(t, "PUT", path(ns, "/settings"), []byte(`{"users":{"bob":{"editor":{}}}}`), admin(hdr{"Flowhist-User": "bob"}), nil)
		var h httpapi.History
		ts.ok(t, "GET", path(ns, "/history"), nil, admin(hdr{}), &h)
		if len(h.Entries) != 2 {
			t.Fatalf("got %d entries, want 2", len(h.Entries))
		}
		if e := h.Entries[1]; e.Actor.User != "alice" || e.Token != "nr-admin" || e.Actor.Channel != domain.ChannelNodeRED {
			t.Fatalf("got actor %+v token %q, want alice via nr-admin on node-red", e.Actor, e.Token)
		}
		if e := h.Entries[0]; e.Actor.User != "bob" || e.Token != "nr-admin" {
			t.Fatalf("got actor %+v token %q, want bob via nr-admin", e.Actor, e.Token)
		}
	})

	t.Run("OKUserInUTF8", func(t *testing.T) {
		// The Node-RED module sends a name past Latin-1 as its UTF-8 bytes.
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/settings"), []byte(`{}`), admin(hdr{"Flowhist-User": "李"}), nil)
		if e := ts.events(t, ns)[0]; e.Actor.User != "李" || e.Token != "nr-admin" {
			t.Fatalf("got actor %+v token %q, want 李 via nr-admin", e.Actor, e.Token)
		}
	})

	t.Run("OKNoUserIsTokenName", func(t *testing.T) {
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("a"), worker(hdr{}), nil)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("b"), worker(hdr{"Flowhist-User": "worker-1"}), nil)
		for _, e := range ts.events(t, ns) {
			if e.Actor.User != "worker-1" || e.Token != "worker-1" {
				t.Fatalf("rev %d: got actor %+v token %q, want worker-1 via worker-1", e.Revision, e.Actor, e.Token)
			}
		}
	})

	t.Run("OKClaimRecordedBesideToken", func(t *testing.T) {
		// An import's source says who acted: recorded as its claim, the
		// actor stays the token.
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("a"), worker(hdr{"Flowhist-Claimed-User": "alice", "Flowhist-Claimed-Token": "old-admin", "Flowhist-Claimed-Channel": "node-red"}), nil)
		e := ts.events(t, ns)[0]
		want := domain.Claim{User: "alice", Token: "old-admin", Channel: "node-red"}
		if e.Actor.User != "worker-1" || e.Token != "worker-1" || e.Claimed == nil || *e.Claimed != want {
			t.Fatalf("got actor %+v token %q claimed %+v, want worker-1 via worker-1 claiming %+v", e.Actor, e.Token, e.Claimed, want)
		}
	})

	t.Run("ErrInvalidClaimNotText", func(t *testing.T) {
		ns := randomNS(t)
		wantError(t, ts.do(t, "PUT", path(ns, "/flows"), flowsDoc("a"), worker(hdr{"Flowhist-Claimed-User": "a\tb"})), http.StatusBadRequest, domain.EINVALID)
		if got := ts.head(t, ns); got != 0 {
			t.Fatalf("got head %d, want 0: nothing appended", got)
		}
	})

	// Every refused claim: 403 forbidden naming the option, and the
	// namespace exactly as it was.
	seed := func(t *testing.T) string {
		ns := randomNS(t)
		ts.ok(t, "POST", path(ns, "/deploy"), []byte(`{"flows":`+string(flowsDoc("base"))+`,"credentials":{"$":"c0"}}`), worker(hdr{}), nil)
		ts.ok(t, "PUT", path(ns, "/settings"), []byte(`{"users":{"alice":{"editor":{"view":{}}}}}`), worker(hdr{}), nil)
		return ns
	}
	state := func(t *testing.T, ns string) []byte {
		var b bytes.Buffer
		for _, p := range []string{"/flows", "/credentials", "/settings", "/history"} {
			b.Write(ts.ok(t, "GET", path(ns, p), nil, admin(hdr{}), nil).body)
		}
		return b.Bytes()
	}
	for _, tt := range []struct {
		name, method, path string
		body               []byte
		h                  hdr
	}{
		{"ErrForbiddenHeaderFlows", "PUT", "/flows", flowsDoc("evil"), hdr{"Flowhist-User": "alice"}},
		{"ErrForbiddenDeployBody", "POST", "/deploy", []byte(`{"flows":` + string(flowsDoc("evil")) + `,"user":"alice"}`), hdr{}},
		{"ErrForbiddenSettingsSave", "PUT", "/settings", []byte(`{"users":{"alice":{"editor":{"view":{"x":1}}}}}`), hdr{"Flowhist-User": "alice"}},
		{"ErrForbiddenCredentials", "PUT", "/credentials", []byte(`{"$":"evil"}`), hdr{"Flowhist-User": "alice"}},
		{"ErrForbiddenRollback", "POST", "/rollback", rollbackBody(1, "as alice"), hdr{"Flowhist-User": "alice"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ns := seed(t)
			before, head := state(t, ns), ts.head(t, ns)
			e := wantError(t, ts.do(t, tt.method, path(ns, tt.path), tt.body, worker(tt.h)), http.StatusForbidden, domain.EFORBIDDEN)
			if !strings.Contains(e.Message, "assert_users") || !strings.Contains(e.Message, "worker-1") {
				t.Fatalf("got message %q, want it to name the token and the option assert_users", e.Message)
			}
			if got := ts.head(t, ns); got != head {
				t.Fatalf("got head %d, want %d: nothing appended", got, head)
			}
			if after := state(t, ns); !bytes.Equal(after, before) {
				t.Fatalf("got state\n%s\nwant\n%s", after, before)
			}
		})
	}

	t.Run("ErrInvalidTwoUsers", func(t *testing.T) {
		ns := randomNS(t)
		res := ts.do(t, "POST", path(ns, "/deploy"), []byte(`{"flows":`+string(flowsDoc("a"))+`,"user":"alice"}`), admin(hdr{"Flowhist-User": "bob"}))
		wantError(t, res, http.StatusBadRequest, domain.EINVALID)
		if got := ts.head(t, ns); got != 0 {
			t.Fatalf("got head %d, want 0: nothing appended", got)
		}
	})
}
