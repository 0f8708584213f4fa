package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// An attacker's probes of the routes of audit, rollout, promotion and the
// worker bindings: each names the hole it would show.

const (
	atkNRSecret     = "atk-nr-9d41c07be2a35f6810c4e7d2b9a3f551"
	atkProdSecret   = "atk-prod-4be7a019c3d25e86f1a07c4d92be3156"
	atkEdgeSecret   = "atk-edge-b03f6d1e27c4a8590de2f71b46c3a9e8"
	atkAuditSecret  = "atk-audit-71c2e9a40bd35f1868e0a3c7d24b9f06"
	atkDaveSecret   = "atk-dave-2a96e0d4c17b3f58a0e2d9c6174b35f8"
	atkOpsNoAssert  = "atk-ops-e54b1a9c0d7f2368b4e1c0a9d73f2b65"
	atkAliceSecret  = "atk-alice-58c1e0b7a2d94f3601bc7e2a9d5f4c83"
	atkCredsMarker  = "c0ffee5ec7e7c0ffee5ec7e7"
	atkProdNSPrefix = "t-"
)

// attackServer: Node-RED's admin naming users (everywhere), a prod-only
// admin that also audits and approves, a worker token bound to edge-1, an
// auditor covering prod only, a plain deployer-approver "dave" and an
// admin that may not name users, and Alice's own approving token.
func attackServer(t *testing.T, prod string) *testServer {
	t.Helper()
	return mustServer(t, httpapi.Config{Tokens: []httpapi.Token{
		{Name: "nr", Secret: atkNRSecret, Scopes: []httpapi.Scope{httpapi.ScopeAdmin}, Namespaces: []string{"*"}, AssertUsers: true},
		{Name: "prod-admin", Secret: atkProdSecret, Scopes: []httpapi.Scope{httpapi.ScopeAdmin}, Namespaces: []string{prod}, Workers: []string{"*"}},
		{Name: "edge-1", Secret: atkEdgeSecret, Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{"*"}, Workers: []string{"edge-1"}},
		{Name: "auditor", Secret: atkAuditSecret, Scopes: []httpapi.Scope{httpapi.ScopeAudit}, Namespaces: []string{prod}},
		{Name: "dave", Secret: atkDaveSecret, Scopes: []httpapi.Scope{httpapi.ScopeDeploy, httpapi.ScopeApprove}, Namespaces: []string{"*"}},
		{Name: "ops", Secret: atkOpsNoAssert, Scopes: []httpapi.Scope{httpapi.ScopeAdmin}, Namespaces: []string{"*"}},
		{Name: "Alice", Secret: atkAliceSecret, Scopes: []httpapi.Scope{httpapi.ScopeRead, httpapi.ScopeApprove}, Namespaces: []string{"*"}},
	}})
}

// TestAttackNamespaceReach: a token covering only prod reaches no other
// namespace through promotion, audit, rollout or health routes.
func TestAttackNamespaceReach(t *testing.T) {
	t.Parallel()
	ts, staging, prod := attackSetup(t)
	ts.ok(t, "PUT", path(staging, "/rollout/policy"), []byte(`{"rings":[{"name":"canary","bake":"1s","gate":{"deadline":"5s"}},{"name":"default"}]}`), as(atkNRSecret, ""), nil)
	// A request from staging into prod, made by someone who covers both.
	reqID := ts.requestPromotion(t, staging, prod, atkNRSecret, "alice")
	stagingHead, prodHead := ts.head(t, staging), ts.head(t, prod)

	for _, c := range []struct{ name, method, p, body string }{
		{"PromoteFromUncovered", "POST", path(prod, "/promotions"), `{"from":"` + staging + `","dryRun":true}`},
		{"PromoteIntoUncovered", "POST", path(staging, "/promotions"), `{"from":"` + prod + `"}`},
		{"ApproveFromUncovered", "POST", path(prod, "/promotions/"+reqID+"/approve"), ``},
		{"RejectFromUncovered", "POST", path(prod, "/promotions/"+reqID+"/reject"), ``},
		{"ListPromotionsUncovered", "GET", path(staging, "/promotions?direction=out"), ``},
		{"RolloutStatusUncovered", "GET", path(staging, "/rollout"), ``},
		{"RolloutPolicyUncovered", "GET", path(staging, "/rollout/policy"), ``},
		{"RolloutPolicyPutUncovered", "PUT", path(staging, "/rollout/policy"), `{"rings":[{"name":"default"}]}`},
		{"RolloutPolicyDeleteUncovered", "DELETE", path(staging, "/rollout/policy"), ``},
		{"RolloutAbortUncovered", "POST", path(staging, "/rollout/abort"), ``},
		{"HealthUncovered", "PUT", path(staging, "/workers/edge-9/health"), `{"ring":"canary","started":true}`},
		{"PolicyPutUncovered", "PUT", path(staging, "/policy"), `{"protected":true}`},
		{"OverlayPutUncovered", "PUT", path(staging, "/overlay"), `{"env":["X"]}`},
	} {
		t.Run("ErrForbidden"+c.name, func(t *testing.T) {
			e := wantError(t, ts.do(t, c.method, c.p, optBody(c.body), as(atkProdSecret, "")), http.StatusForbidden, domain.EFORBIDDEN)
			if strings.Contains(e.Message, "return 42") {
				t.Fatalf("refusal leaks staging's flows: %s", e.Message)
			}
		})
	}
	if ts.head(t, staging) != stagingHead || ts.head(t, prod) != prodHead {
		t.Fatalf("refused requests moved a log: staging %d→%d prod %d→%d", stagingHead, ts.head(t, staging), prodHead, ts.head(t, prod))
	}

	t.Run("OKAuditGlobsStayInCoverage", func(t *testing.T) {
		var own httpapi.Audit
		ts.ok(t, "GET", "/v1/audit?ns="+prod, nil, as(atkAuditSecret, ""), &own)
		if len(own.Entries) == 0 {
			t.Fatalf("the auditor sees none of %s's events: the probe below would prove nothing", prod)
		}
		for _, q := range []string{"", "ns=*", "ns=" + staging, "ns=" + atkProdNSPrefix + "*", "ns=" + prod + "," + staging, "ns=*&ns=" + staging, "ns=%2A"} {
			for _, secret := range []string{atkAuditSecret, atkProdSecret} {
				var a httpapi.Audit
				ts.ok(t, "GET", "/v1/audit?limit=1000&"+q, nil, as(secret, ""), &a)
				for _, e := range a.Entries {
					if e.Namespace != prod {
						t.Fatalf("audit?%s showed %s's event to a token covering only %s", q, e.Namespace, prod)
					}
				}
			}
			res := ts.do(t, "GET", "/v1/audit?format=ndjson&"+q, nil, as(atkAuditSecret, ""))
			if contains(res.body, staging) {
				t.Fatalf("audit ndjson ?%s names %s: %s", q, staging, res.body)
			}
		}
	})
	t.Run("ErrForbiddenAuditWithoutScope", func(t *testing.T) {
		wantError(t, ts.do(t, "GET", "/v1/audit", nil, as(atkEdgeSecret, "")), http.StatusForbidden, domain.EFORBIDDEN)
		wantError(t, ts.do(t, "GET", "/v1/audit", nil, as(atkDaveSecret, "")), http.StatusForbidden, domain.EFORBIDDEN)
	})
	t.Run("ErrAuditorReadsNoFlows", func(t *testing.T) {
		wantError(t, ts.do(t, "GET", path(prod, "/flows"), nil, as(atkAuditSecret, "")), http.StatusForbidden, domain.EFORBIDDEN)
		wantError(t, ts.do(t, "GET", path(prod, "/credentials"), nil, as(atkAuditSecret, "")), http.StatusForbidden, domain.EFORBIDDEN)
	})
}

// TestAttackWorkerBinding: a worker token acts as no other worker, and a
// token that may not name users names none through the new routes.
func TestAttackWorkerBinding(t *testing.T) {
	t.Parallel()
	ts, staging, prod := attackSetup(t)
	// edge-2 has a group the attacker would move.
	ts.ok(t, "GET", path(prod, "/feed?worker=edge-2&wait=0s"), nil, as(atkProdSecret, ""), nil)

	for _, c := range []struct{ name, method, p, body string }{
		{"HealthOther", "PUT", path(prod, "/workers/edge-2/health"), `{"ring":"canary","started":true}`},
		{"HealthGlobID", "PUT", path(prod, "/workers/edge-%2A/health"), `{"started":true}`},
		{"FeedOther", "GET", path(prod, "/feed?worker=edge-2&wait=0s"), ``},
		{"FeedOtherRing", "GET", path(prod, "/feed?worker=edge-2&ring=canary&wait=0s"), ``},
		{"FeedDuplexOther", "POST", path(prod, "/feed?worker=edge-2&wait=0s"), `{"ack":1}`},
		{"AckOther", "POST", path(prod, "/feed/ack"), `{"worker":"edge-2","revision":1}`},
		{"AckOtherCaseKey", "POST", path(prod, "/feed/ack"), `{"Worker":"edge-2","revision":1}`},
		{"PackagesOther", "PUT", path(prod, "/workers/edge-2/packages"), `{"packages":{}}`},
	} {
		t.Run("ErrForbidden"+c.name, func(t *testing.T) {
			wantError(t, ts.do(t, c.method, c.p, optBody(c.body), as(atkEdgeSecret, "")), http.StatusForbidden, domain.EFORBIDDEN)
		})
	}
	t.Run("ErrAckDuplicateKeysActsAsNoOther", func(t *testing.T) {
		res := ts.do(t, "POST", path(prod, "/feed/ack"), []byte(`{"worker":"edge-1","Worker":"edge-2","revision":1}`), as(atkEdgeSecret, ""))
		if res.status == http.StatusOK {
			var w httpapi.Workers
			ts.ok(t, "GET", path(prod, "/workers"), nil, as(atkNRSecret, ""), &w)
			for _, wi := range w.Workers {
				if wi.Worker == "edge-2" && wi.Acknowledged != 0 {
					t.Fatalf("edge-1's token acknowledged for edge-2: %+v", wi)
				}
			}
		}
	})
	t.Run("ErrForbiddenDeployerSteersNoRollout", func(t *testing.T) {
		for _, a := range []string{"promote", "pause", "resume", "abort"} {
			wantError(t, ts.do(t, "POST", path(prod, "/rollout/"+a), nil, as(atkDaveSecret, "")), http.StatusForbidden, domain.EFORBIDDEN)
		}
		wantError(t, ts.do(t, "PUT", path(prod, "/rollout/policy"), []byte(`{"rings":[{"name":"default"}]}`), as(atkDaveSecret, "")), http.StatusForbidden, domain.EFORBIDDEN)
		wantError(t, ts.do(t, "PUT", path(prod, "/workers/edge-1/health"), []byte(`{"started":true}`), as(atkAuditSecret, "")), http.StatusForbidden, domain.EFORBIDDEN)
	})
	t.Run("ErrForbiddenDeployerActsAsNoWorker", func(t *testing.T) {
		wantError(t, ts.do(t, "PUT", path(prod, "/workers/edge-1/health"), []byte(`{"started":true}`), as(atkDaveSecret, "")), http.StatusForbidden, domain.EFORBIDDEN)
		wantError(t, ts.do(t, "GET", path(prod, "/feed?worker=edge-1&wait=0s"), nil, as(atkDaveSecret, "")), http.StatusForbidden, domain.EFORBIDDEN)
	})

	// Naming a user without assert_users.
	reqID := ts.requestPromotion(t, staging, prod, atkNRSecret, "alice")
	before := ts.head(t, prod)
	for _, c := range []struct{ name, secret, method, p, body string }{
		{"PromoteRequest", atkDaveSecret, "POST", path(prod, "/promotions"), `{"from":"` + staging + `","request":true,"reason":"r"}`},
		{"Promote", atkDaveSecret, "POST", path(prod, "/promotions"), `{"from":"` + staging + `"}`},
		{"Approve", atkDaveSecret, "POST", path(prod, "/promotions/"+reqID+"/approve"), ``},
		{"Reject", atkDaveSecret, "POST", path(prod, "/promotions/"+reqID+"/reject"), ``},
		{"RolloutPolicy", atkOpsNoAssert, "PUT", path(prod, "/rollout/policy"), `{"rings":[{"name":"default"}]}`},
		{"RolloutPause", atkOpsNoAssert, "POST", path(prod, "/rollout/pause"), ``},
		{"RolloutPromote", atkOpsNoAssert, "POST", path(prod, "/rollout/promote"), `{"reason":"go"}`},
		{"RolloutAbort", atkOpsNoAssert, "POST", path(prod, "/rollout/abort"), ``},
		{"RolloutPolicyDelete", atkOpsNoAssert, "DELETE", path(prod, "/rollout/policy"), ``},
		{"Policy", atkOpsNoAssert, "PUT", path(prod, "/policy"), `{"protected":true}`},
		{"Overlay", atkOpsNoAssert, "PUT", path(prod, "/overlay"), `{"env":["X"]}`},
	} {
		t.Run("ErrForbiddenNamesUser"+c.name, func(t *testing.T) {
			wantError(t, ts.do(t, c.method, c.p, optBody(c.body), as(c.secret, "bob")), http.StatusForbidden, domain.EFORBIDDEN)
		})
	}
	ts.unmoved(t, prod, before, reqID)
}

// TestAttackSelfApproval: a requester does not approve their own request
// by another spelling of their name, nor a token its own.
func TestAttackSelfApproval(t *testing.T) {
	t.Parallel()
	ts, staging, prod := attackSetup(t)
	request := func(secret, user string) string { return ts.requestPromotion(t, staging, prod, secret, user) }
	approve := func(id string, h hdr) response {
		return ts.do(t, "POST", path(prod, "/promotions/"+id+"/approve"), nil, h)
	}
	alice := request(atkNRSecret, "alice")
	for _, name := range []string{"alice", "Alice", "ALICE", " alice", "alice ", "\talice"} {
		t.Run("ErrForbiddenUser"+strings.TrimSpace(name), func(t *testing.T) {
			wantError(t, approve(alice, as(atkNRSecret, name)), http.StatusForbidden, domain.EFORBIDDEN)
		})
	}
	// Alice switching to a token of her own named after her.
	t.Run("ErrForbiddenAliceOwnToken", func(t *testing.T) {
		wantError(t, approve(alice, as(atkAliceSecret, "")), http.StatusForbidden, domain.EFORBIDDEN)
	})
	// dave, a token that names no user, requests: he approves it neither
	// as himself, nor by naming himself in another case, and Node-RED's
	// admin naming "Dave" is dave too.
	dave := request(atkDaveSecret, "")
	before := ts.head(t, prod)
	for _, c := range []struct {
		name string
		h    hdr
	}{
		{"Himself", as(atkDaveSecret, "")},
		{"HimselfNamed", as(atkDaveSecret, "dave")},
		{"HimselfOtherCase", as(atkDaveSecret, "DAVE")},
		{"ThroughNodeRED", as(atkNRSecret, "Dave")},
	} {
		t.Run("ErrForbiddenDave"+c.name, func(t *testing.T) {
			res := approve(dave, c.h)
			if res.status != http.StatusForbidden {
				t.Fatalf("got %d %s, want 403", res.status, res.body)
			}
		})
	}
	ts.unmoved(t, prod, before, alice, dave)
	// Another person approves.
	ts.ok(t, "POST", path(prod, "/promotions/"+dave+"/approve"), nil, as(atkNRSecret, "carol"), nil)
}

// TestAttackNoSecretsNoUnbounded: the new routes answer no credentials
// and no token, and refuse oversized lists, strings and bodies.
func TestAttackNoSecretsNoUnbounded(t *testing.T) {
	t.Parallel()
	ts, staging, prod := attackSetup(t)
	creds := []byte(`{"$":"` + atkCredsMarker + `"}`)
	for _, ns := range []string{staging, prod} {
		ts.ok(t, "PUT", path(ns, "/credentials"), creds, as(atkNRSecret, ""), nil)
	}
	ts.ok(t, "PUT", path(prod, "/rollout/policy"), []byte(`{"rings":[{"name":"canary","bake":"1s","gate":{"deadline":"5s"}},{"name":"default"}]}`), as(atkNRSecret, ""), nil)
	ts.ok(t, "PUT", path(prod, "/workers/edge-1/health"), []byte(`{"ring":"canary","started":true}`), as(atkEdgeSecret, ""), nil)
	reqID := ts.requestPromotion(t, staging, prod, atkNRSecret, "alice")

	secrets := []string{atkCredsMarker, atkNRSecret, atkProdSecret, atkEdgeSecret, atkAuditSecret, atkDaveSecret, atkOpsNoAssert}
	for _, p := range []string{
		path(prod, "/promotions"), path(prod, "/promotions?direction=out"), path(staging, "/promotions?direction=out"),
		path(prod, "/promotions/"+reqID), path(prod, "/policy"), path(prod, "/overlay"),
		path(prod, "/rollout"), path(prod, "/rollout/policy"), path(prod, "/workers"),
		"/v1/audit?limit=1000", "/v1/audit?format=ndjson", "/v1/audit?format=csv",
	} {
		res := ts.ok(t, "GET", p, nil, as(atkNRSecret, ""), nil)
		for _, s := range secrets {
			if contains(res.body, s) {
				t.Fatalf("GET %s answers a secret: %s", p, res.body)
			}
		}
	}
	// Refusals quote no token either.
	for _, p := range []string{path(prod, "/workers/edge-2/health"), path(staging, "/workers/edge-1/health")} {
		res := ts.do(t, "PUT", p, []byte(`{"started":true}`), as(atkEdgeSecret, ""))
		for _, s := range secrets {
			if contains(res.body, s) {
				t.Fatalf("PUT %s answers a secret: %s", p, res.body)
			}
		}
	}

	many := func(n int, item string) string {
		return strings.TrimSuffix(strings.Repeat(item+",", n), ",")
	}
	long := strings.Repeat("x", 70<<10)
	before := ts.head(t, prod)
	for _, c := range []struct{ name, secret, method, p, body string }{
		{"PolicyList", atkNRSecret, "PUT", path(prod, "/policy"), `{"promotesFrom":[` + many(101, `"a"`) + `]}`},
		{"PolicyFingerprint", atkNRSecret, "PUT", path(prod, "/policy"), `{"credentialFingerprint":"` + long + `"}`},
		{"OverlayEnvList", atkNRSecret, "PUT", path(prod, "/overlay"), `{"env":[` + many(1001, `"A"`) + `]}`},
		{"OverlayLongPath", atkNRSecret, "PUT", path(prod, "/overlay"), `{"properties":[{"node":"h1","path":"` + long + `"}]}`},
		{"RolloutPolicyBody", atkNRSecret, "PUT", path(prod, "/rollout/policy"), `{"rings":[{"name":"default"}],"windows":["` + long + `"]}`},
		{"RolloutPolicyRings", atkNRSecret, "PUT", path(prod, "/rollout/policy"), `{"rings":[` + many(200, `{"name":"r"}`) + `]}`},
		{"RolloutReason", atkNRSecret, "POST", path(prod, "/rollout/pause"), `{"reason":"` + strings.Repeat("y", 600) + `"}`},
		{"HealthBody", atkEdgeSecret, "PUT", path(prod, "/workers/edge-1/health"), `{"message":"` + long + `"}`},
		{"HealthMessage", atkEdgeSecret, "PUT", path(prod, "/workers/edge-1/health"), `{"message":"` + strings.Repeat("m", 501) + `"}`},
		{"HealthTypes", atkEdgeSecret, "PUT", path(prod, "/workers/edge-1/health"), `{"failedTypes":[` + many(101, `"t"`) + `]}`},
		{"HealthProbes", atkEdgeSecret, "PUT", path(prod, "/workers/edge-1/health"), `{"probes":[` + many(21, `{"path":"/h"}`) + `]}`},
		{"HealthID", atkEdgeSecret, "PUT", path(prod, "/workers/edge-1/health"), `{"revision":1,"id":"` + strings.Repeat("a", 65) + `"}`},
		{"PromotionReason", atkNRSecret, "POST", path(prod, "/promotions"), `{"from":"` + staging + `","request":true,"reason":"` + strings.Repeat("r", 1001) + `"}`},
		{"DecisionReason", atkDaveSecret, "POST", path(prod, "/promotions/"+reqID+"/reject"), `{"reason":"` + strings.Repeat("r", 1001) + `"}`},
		{"AuditLimit", atkNRSecret, "GET", "/v1/audit?limit=100000", ``},
		{"AuditPatterns", atkNRSecret, "GET", "/v1/audit?ns=" + many(101, "*a*b"), ``},
		{"AuditPatternsRepeated", atkAuditSecret, "GET", "/v1/audit?format=ndjson" + strings.Repeat("&ns=p*", 101), ``},
	} {
		t.Run("ErrRefuses"+c.name, func(t *testing.T) {
			res := ts.do(t, c.method, c.p, optBody(c.body), as(c.secret, ""))
			if res.status != http.StatusBadRequest && res.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("got %d %.300s, want 400 or 413", res.status, res.body)
			}
			var e httpapi.Error
			if json.Unmarshal(res.body, &e) != nil || e.Code == "" || len(e.Message) > 2000 {
				t.Fatalf("got %.300s, want a short {code, message}", res.body)
			}
		})
	}
	ts.ok(t, "GET", "/v1/audit?ns="+many(100, "*a*b"), nil, as(atkNRSecret, ""), nil)
	ts.unmoved(t, prod, before, reqID)
}

// optBody is a request body, nil for none.
func optBody(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// unmoved fails t unless ns's log is still at before and each promotion
// request ids is still pending: what was refused changed nothing.
func (ts *testServer) unmoved(t *testing.T, ns string, before domain.Revision, ids ...string) {
	t.Helper()
	if got := ts.head(t, ns); got != before {
		t.Fatalf("refused requests moved %s from %d to %d", ns, before, got)
	}
	for _, id := range ids {
		var got domain.PromotionRequest
		ts.ok(t, "GET", path(ns, "/promotions/"+id), nil, as(atkNRSecret, ""), &got)
		if got.State != domain.RequestPending {
			t.Fatalf("request %s: got state %s, want pending", id, got.State)
		}
	}
}

// attackSetup starts attackServer with a staging and a prod namespace
// holding flows.
func attackSetup(t *testing.T) (ts *testServer, staging, prod string) {
	t.Helper()
	staging, prod = randomNS(t), randomNS(t)
	ts = attackServer(t, prod)
	ts.ok(t, "PUT", path(prod, "/flows"), prodFlows, as(atkNRSecret, "alice"), nil)
	ts.ok(t, "PUT", path(staging, "/flows"), stagingFlows("return 42"), as(atkNRSecret, "alice"), nil)
	return ts, staging, prod
}

// requestPromotion requests a promotion of from into to for review and
// returns its id.
func (ts *testServer) requestPromotion(t *testing.T, from, to, secret, user string) string {
	t.Helper()
	r := ts.do(t, "POST", path(to, "/promotions"), promoteBody(from, `,"request":true,"reason":"r"`), as(secret, user))
	if r.status != http.StatusCreated {
		t.Fatalf("request: got %d %s", r.status, r.body)
	}
	var req domain.PromotionRequest
	r.decode(t, &req)
	return req.ID
}

// TestAttackSelfApprovalUnicode: a name that reads as the requester's —
// fullwidth letters, a zero-width space or soft hyphen inside, a
// no-break space after — is the requester: it does not approve their
// request. A name that reads otherwise (an accent) is another person.
func TestAttackSelfApprovalUnicode(t *testing.T) {
	t.Parallel()
	ts, staging, prod := attackSetup(t)
	id := ts.requestPromotion(t, staging, prod, atkNRSecret, "alice")
	before := ts.head(t, prod)
	for _, name := range []string{"ａｌｉｃｅ", "ＡＬＩＣＥ", "ali\u200bce", "a\u00adlice", "alice\u00a0", "\u3000alice", "alice\ufeff"} {
		t.Run("ErrForbidden"+fmt.Sprintf("%+q", name), func(t *testing.T) {
			wantError(t, ts.do(t, "POST", path(prod, "/promotions/"+id+"/approve"), nil, as(atkNRSecret, name)), http.StatusForbidden, domain.EFORBIDDEN)
		})
	}
	ts.unmoved(t, prod, before, id)
	ts.ok(t, "POST", path(prod, "/promotions/"+id+"/approve"), nil, as(atkNRSecret, "alicé"), nil)
}

// TestAttackPromotionPreviewNeedsSource: a request's preview carries the
// source's new values (a function's code), so a token covering only the
// target neither lists nor reads a request from a source it does not
// cover, as it may not approve one (docs/promotion.md: a token covers
// both namespaces of a promotion).
func TestAttackPromotionPreviewNeedsSource(t *testing.T) {
	t.Parallel()
	ts, staging, prod := attackSetup(t)
	id := ts.requestPromotion(t, staging, prod, atkNRSecret, "alice")
	var all httpapi.PromotionRequests
	ts.ok(t, "GET", path(prod, "/promotions"), nil, as(atkNRSecret, ""), &all)
	if len(all.Requests) != 1 || !strings.Contains(string(ts.ok(t, "GET", path(prod, "/promotions/"+id), nil, as(atkNRSecret, ""), nil).body), "return 42") {
		t.Fatalf("a token covering both does not see the request and its preview: %+v", all)
	}
	// The request's record event in prod's log carries no preview either.
	for _, p := range []string{path(prod, "/promotions"), path(prod, "/promotions?state=pending"), path(prod, "/promotions?direction=in"),
		path(prod, "/history"), path(prod, "/revisions/2"), "/v1/audit", "/v1/audit?format=ndjson"} {
		res := ts.ok(t, "GET", p, nil, as(atkProdSecret, ""), nil)
		if contains(res.body, "return 42") || strings.HasPrefix(p, path(prod, "/promotions")) && contains(res.body, staging) {
			t.Fatalf("GET %s shows a prod-only token the request from %s: %s", p, staging, res.body)
		}
	}
	e := wantError(t, ts.do(t, "GET", path(prod, "/promotions/"+id), nil, as(atkProdSecret, "")), http.StatusForbidden, domain.EFORBIDDEN)
	if strings.Contains(e.Message, "return 42") {
		t.Fatalf("refusal leaks the source: %s", e.Message)
	}
}

// TestAttackAuditStreamsCountAsFeeds: an audit stream (format=ndjson or
// csv, follow=1 holding it for up to a day) counts against its token's
// limits.feeds as a feed request does, so a token cannot hold thousands.
func TestAttackAuditStreamsCountAsFeeds(t *testing.T) {
	t.Parallel()
	ns := randomNS(t)
	ts := mustServer(t, httpapi.Config{Tokens: []httpapi.Token{
		{Name: "nr", Secret: atkNRSecret, Scopes: []httpapi.Scope{httpapi.ScopeAdmin}, Namespaces: []string{"*"}, AssertUsers: true},
		{Name: "auditor", Secret: atkAuditSecret, Scopes: []httpapi.Scope{httpapi.ScopeAudit}, Namespaces: []string{ns}, Limits: httpapi.Limits{Feeds: 1}},
	}})
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("a"), as(atkNRSecret, ""), nil)
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("b"), as(atkNRSecret, ""), nil)
	var page httpapi.Audit
	ts.ok(t, "GET", "/v1/audit?limit=2", nil, as(atkAuditSecret, ""), &page)
	if len(page.Entries) != 2 {
		t.Fatalf("got %d entries, want 2", len(page.Entries))
	}
	// One follow, open: it has sent the event after the older cursor.
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/v1/audit?format=ndjson&follow=1&cursor="+url.QueryEscape(page.Entries[1].Cursor), nil)
	req.Header.Set("Authorization", "Bearer "+atkAuditSecret)
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("follow: got %d", res.StatusCode)
	}
	for _, format := range []string{"ndjson", "csv"} {
		wantError(t, ts.do(t, "GET", "/v1/audit?format="+format, nil, as(atkAuditSecret, "")), http.StatusTooManyRequests, domain.ETOOMANY)
	}
	// A page is not a stream.
	ts.ok(t, "GET", "/v1/audit?limit=1", nil, as(atkAuditSecret, ""), nil)
	cancel()
	res.Body.Close()
	waitFor(t, "the follow's slot to be given back", func() bool {
		return ts.do(t, "GET", "/v1/audit?format=csv", nil, as(atkAuditSecret, "")).status == http.StatusOK
	})
}
