package httpapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// Tokens of the rollback tests, one per scope.
const (
	opsAdminSecret = "ops-admin-secret-9c2f7a10"
	ciDeploySecret = "ci-deploy-secret-3b8e6d21"
	dashReadSecret = "dash-read-secret-5a4c1e90"
)

var rollbackTokens = []httpapi.Token{
	{Name: "ops-admin", Secret: opsAdminSecret, Scopes: []httpapi.Scope{httpapi.ScopeAdmin}, Namespaces: []string{"*"}, AssertUsers: true},
	{Name: "ci-deploy", Secret: ciDeploySecret, Scopes: []httpapi.Scope{httpapi.ScopeDeploy}, Namespaces: []string{"*"}},
	{Name: "dash-read", Secret: dashReadSecret, Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{"*"}},
}

// versionDoc returns version n of a document: a tab, a function whose code
// names n, and a node whose strings need every kind of escape.
func versionDoc(n int) []byte {
	return []byte(fmt.Sprintf(`[{"id":"t1","type":"tab","label":"Main"},`+
		`{"id":"f1","type":"function","z":"t1","name":"calc","func":"// version %d\nmsg.payload = %d;\nreturn msg;","outputs":1,"x":200,"y":80,"wires":[[]]},`+
		`%s]`, n, n, escapedNode))
}

// rollbackAnswer is the answer of POST …/rollback.
type rollbackAnswer struct {
	appendResult
	Noop    bool   `json:"noop"`
	Message string `json:"message"`
}

func rollbackBody(to domain.Revision, reason string) []byte {
	return []byte(fmt.Sprintf(`{"to":%d,"reason":%q}`, to, reason))
}

func TestRollback(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{Tokens: rollbackTokens})
	ts.token = opsAdminSecret
	ns := randomNS(t)
	v1, v2, v3 := versionDoc(1), versionDoc(2), versionDoc(3)
	// 1: v1 with credentials A; 2: v2; 3: settings; 4: v3 with credentials
	// B. The flows revision (3) differs from the log's (4).
	ts.ok(t, "POST", path(ns, "/deploy"), []byte(`{"flows":`+string(v1)+`,"credentials":`+credsPlain+`,"user":"alice"}`), nil, nil)
	ts.ok(t, "PUT", path(ns, "/flows"), v2, hdr{"Flowhist-User": "bob"}, nil)
	ts.ok(t, "PUT", path(ns, "/settings"), []byte(`{"telemetryEnabled":false}`), nil, nil)
	ts.ok(t, "POST", path(ns, "/deploy"), []byte(`{"flows":`+string(v3)+`,"credentials":`+credsCipher+`,"user":"bob"}`), nil, nil)

	// unchanged checks that a refused rollback appended nothing.
	unchanged := func(t *testing.T, want domain.Revision) {
		t.Helper()
		if got := ts.head(t, ns); got != want {
			t.Fatalf("got head %d after a refused rollback, want %d: nothing appended", got, want)
		}
	}
	post := func(body []byte, h hdr) response { return ts.do(t, "POST", path(ns, "/rollback"), body, h) }

	t.Run("Forbidden", func(t *testing.T) {
		for _, secret := range []string{dashReadSecret, ciDeploySecret} {
			wantError(t, post(rollbackBody(1, "bad deploy"), hdr{"Authorization": "Bearer " + secret}), http.StatusForbidden, domain.EFORBIDDEN)
		}
		unchanged(t, 4)
	})

	t.Run("Unauthorized", func(t *testing.T) {
		wantError(t, post(rollbackBody(1, "bad deploy"), hdr{"Authorization": ""}), http.StatusUnauthorized, domain.EUNAUTHORIZED)
		wantError(t, post(rollbackBody(1, "bad deploy"), hdr{"Authorization": "Bearer not-a-token-at-all"}), http.StatusUnauthorized, domain.EUNAUTHORIZED)
		unchanged(t, 4)
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, body := range []string{
			`{"to":1}`, `{"to":1,"reason":""}`, `{"to":1,"reason":"   "}`,
			`{"to":0,"reason":"bad deploy"}`, `{"reason":"bad deploy"}`, `{"to":-1,"reason":"bad deploy"}`,
			`{"to":"1","reason":"bad deploy"}`, `not json`, `[]`, ``,
		} {
			r := post([]byte(body), nil)
			if r.status != http.StatusBadRequest {
				t.Fatalf("body %s: got status %d (%s), want 400", body, r.status, r.body)
			}
			wantError(t, r, http.StatusBadRequest, domain.EINVALID)
		}
		wantError(t, post(rollbackBody(1, "bad deploy"), hdr{"If-Match": "abc"}), http.StatusBadRequest, domain.EINVALID)
		unchanged(t, 4)
	})

	t.Run("UnknownRevision", func(t *testing.T) {
		wantError(t, post(rollbackBody(5, "bad deploy"), nil), http.StatusNotFound, domain.ENOTFOUND)
		wantError(t, post(rollbackBody(99999, "bad deploy"), nil), http.StatusNotFound, domain.ENOTFOUND)
		unchanged(t, 4)
	})

	t.Run("Conflict", func(t *testing.T) {
		// "4" is the log's revision, not the flows': stale too.
		for _, ifMatch := range []string{`"2"`, `"4"`, `"0"`} {
			e := wantError(t, post(rollbackBody(1, "bad deploy"), hdr{"If-Match": ifMatch}), http.StatusConflict, domain.ECONFLICT)
			if e.CurrentRevision == nil || *e.CurrentRevision != 3 {
				t.Fatalf("If-Match %s: got currentRevision %v, want 3", ifMatch, e.CurrentRevision)
			}
		}
		unchanged(t, 4)
	})

	t.Run("OK", func(t *testing.T) {
		var got rollbackAnswer
		ts.ok(t, "POST", path(ns, "/rollback"), rollbackBody(1, "bad deploy"), hdr{"If-Match": `"3"`, "Flowhist-User": "olga"}, &got)
		if got.Noop || got.Revision != 5 || got.FlowsRevision != 4 || got.SHA256 != domain.SHA256Hex(v1) {
			t.Fatalf("got %+v, want revision 5, flows revision 4, sha256 of v1, no noop", got)
		}
		events := ts.events(t, ns)
		e := events[len(events)-1]
		if e.Type != domain.FlowsRolledBack || e.Cause != domain.CauseRollback || e.Target != 1 || e.Reason != "bad deploy" || e.Actor.User != "olga" {
			t.Fatalf("got %s cause %q target %d reason %q by %q, want flows.rolledback cause rollback target 1 reason \"bad deploy\" by olga",
				e.Type, e.Cause, e.Target, e.Reason, e.Actor.User)
		}
		if flows := ts.ok(t, "GET", path(ns, "/flows"), nil, nil, nil).body; !bytes.Equal(flows, v1) {
			t.Fatalf("got flows differing from v1 at byte %d", firstDiff(flows, v1))
		}
		if creds := ts.ok(t, "GET", path(ns, "/credentials"), nil, nil, nil).body; string(creds) != credsPlain {
			t.Fatalf("got credentials %s, want A %s", creds, credsPlain)
		}
		if flows := ts.ok(t, "GET", path(ns, "/revisions/5/flows"), nil, nil, nil).body; !bytes.Equal(flows, v1) {
			t.Fatalf("got revision 5's flows differing from v1 at byte %d", firstDiff(flows, v1))
		}
		h, _ := ts.history(t, ns, "kind=rollback")
		if len(h.Entries) != 1 {
			t.Fatalf("got rollback entries %v, want [5]", revisionsOf(h.Entries))
		}
		if r := h.Entries[0]; r.Revision != 5 || r.Type != domain.FlowsRolledBack || r.Cause != "rollback" || r.Target != 1 || r.Reason != "bad deploy" ||
			r.Actor.User != "olga" || r.Credentials == nil || r.Credentials.SHA256 != domain.SHA256Hex([]byte(credsPlain)) {
			t.Fatalf("got %+v, want the rollback to 1 by olga, restoring credentials A", r)
		}
		var d diffAnswer
		ts.ok(t, "GET", path(ns, "/diff?from=1&to=5"), nil, nil, &d)
		if len(d.Added)+len(d.Removed)+len(d.Changed) != 0 || d.Credentials.Changed {
			t.Fatalf("got diff %+v from v1 to its rollback, want none", d)
		}
	})

	t.Run("NoOp", func(t *testing.T) {
		// To v1 again, and to the rollback's own revision: both are what is
		// current.
		for _, to := range []domain.Revision{1, 5} {
			var got rollbackAnswer
			ts.ok(t, "POST", path(ns, "/rollback"), rollbackBody(to, "again"), nil, &got)
			if !got.Noop || got.FlowsRevision != 4 {
				t.Fatalf("to %d: got %+v, want noop at flows revision 4", to, got)
			}
			unchanged(t, 5)
		}
		// A stale If-Match is a conflict even when nothing would change.
		wantError(t, post(rollbackBody(1, "again"), hdr{"If-Match": `"3"`}), http.StatusConflict, domain.ECONFLICT)
		unchanged(t, 5)
	})

	t.Run("ToTheNewestAgain", func(t *testing.T) {
		// No user named: the actor is the token's name.
		var got rollbackAnswer
		ts.ok(t, "POST", path(ns, "/rollback"), rollbackBody(4, "v1 was worse"), nil, &got)
		if got.Noop || got.Revision != 6 {
			t.Fatalf("got %+v, want revision 6", got)
		}
		if flows := ts.ok(t, "GET", path(ns, "/flows"), nil, nil, nil).body; !bytes.Equal(flows, v3) {
			t.Fatalf("got flows differing from v3 at byte %d", firstDiff(flows, v3))
		}
		if creds := ts.ok(t, "GET", path(ns, "/credentials"), nil, nil, nil).body; string(creds) != credsCipher {
			t.Fatalf("got credentials %s, want B %s", creds, credsCipher)
		}
		var n nodeHistoryAnswer
		ts.ok(t, "GET", path(ns, "/nodes/f1/history?limit=1"), nil, nil, &n)
		if e := n.Entries[0]; e.Revision != 6 || e.Type != domain.FlowsRolledBack || e.Cause != "rollback" || e.Reason != "v1 was worse" || e.Actor.User != "ops-admin" {
			t.Fatalf("got %+v, want the rollback at 6 by ops-admin", e)
		}
	})
}

func TestRollbackCredentialsToNone(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	ts.ok(t, "PUT", path(ns, "/flows"), versionDoc(1), nil, nil)
	ts.ok(t, "POST", path(ns, "/deploy"), []byte(`{"flows":`+string(versionDoc(2))+`,"credentials":`+credsCipher+`}`), nil, nil)
	ts.ok(t, "POST", path(ns, "/rollback"), rollbackBody(1, "leaked token"), nil, nil)
	if creds := ts.ok(t, "GET", path(ns, "/credentials"), nil, nil, nil).body; string(creds) != "{}" {
		t.Fatalf("got credentials %s, want {} (revision 1 had none)", creds)
	}
	h, res := ts.history(t, ns, "kind=credentials")
	if got := revisionsOf(h.Entries); len(got) != 2 || got[0] != 3 || got[1] != 2 {
		t.Fatalf("got credentials entries %v, want [3 2]", got)
	}
	if contains(res.body, credsCipherText) {
		t.Fatalf("got %s, want no credentials' text in it", res.body)
	}
}

func TestRollbackNoFlowsAtTarget(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	ts.ok(t, "PUT", path(ns, "/settings"), []byte(`{"telemetryEnabled":false}`), nil, nil)
	ts.ok(t, "PUT", path(ns, "/flows"), versionDoc(1), nil, nil)
	wantError(t, ts.do(t, "POST", path(ns, "/rollback"), rollbackBody(1, "before flows"), nil), http.StatusBadRequest, domain.EINVALID)
	if got := ts.head(t, ns); got != 2 {
		t.Fatalf("got head %d, want 2: nothing appended", got)
	}
}

func TestRollbackWakesFeed(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	ts.ok(t, "PUT", path(ns, "/flows"), versionDoc(1), nil, nil)
	ts.ok(t, "PUT", path(ns, "/flows"), versionDoc(2), nil, nil)
	ch := ts.startFeed(t, feedURL(ns, "w1", 2, "30s"))
	ts.waitForWaiters(t, 1)
	ts.ok(t, "POST", path(ns, "/rollback"), rollbackBody(1, "bad deploy"), nil, nil)
	wantNews(t, await(t, ch), 3, 1, true)
}
