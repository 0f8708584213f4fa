package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/flowhist/flowhist/bundle"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

const (
	opsSecret      = "ops-secret-9e2b7c1f4a6d8e03"
	approverSecret = "approver-secret-5d8c3a1e7f2b"
)

// promotionTokens: Node-RED's admin naming its editor users, an operator's
// token that also names users, a reviewer who may approve but not deploy,
// and a plain deployer.
var promotionTokens = []httpapi.Token{
	{Name: "nr-admin", Secret: nrAdminSecret, Scopes: []httpapi.Scope{httpapi.ScopeAdmin}, Namespaces: []string{"*"}, AssertUsers: true},
	{Name: "ops", Secret: opsSecret, Scopes: []httpapi.Scope{httpapi.ScopeDeploy, httpapi.ScopeApprove}, Namespaces: []string{"*"}, AssertUsers: true},
	{Name: "carol", Secret: approverSecret, Scopes: []httpapi.Scope{httpapi.ScopeRead, httpapi.ScopeApprove}, Namespaces: []string{"*"}},
	{Name: "deployer", Secret: deploySecret, Scopes: []httpapi.Scope{httpapi.ScopeDeploy}, Namespaces: []string{"*"}},
}

func as(secret, user string) hdr {
	h := hdr{"Authorization": "Bearer " + secret}
	if user != "" {
		h["Flowhist-User"] = user
	}
	return h
}

// stagingFlows and prodFlows: a tab with env entries, an HTTP endpoint
// whose path each environment keeps, and a function whose code moves on.
func stagingFlows(code string) []byte {
	return []byte(`[{"id":"t1","type":"tab","label":"Orders","env":[{"name":"API_URL","value":"https://staging.example","type":"str"},{"name":"RETRIES","value":"3","type":"num"}]},` +
		`{"id":"h1","type":"http in","z":"t1","url":"/staging/orders","method":"post"},` +
		`{"id":"f1","type":"function","z":"t1","func":"` + code + `"}]`)
}

var prodFlows = []byte(`[{"id":"t1","type":"tab","label":"Orders","env":[{"name":"API_URL","value":"https://prod.example","type":"str"}]},` +
	`{"id":"h1","type":"http in","z":"t1","url":"/orders","method":"post"},` +
	`{"id":"f1","type":"function","z":"t1","func":"return 1"}]`)

// promotionPair seeds a staging and a prod namespace and prod's overlay.
func promotionPair(t *testing.T, ts *testServer) (staging, prod string) {
	t.Helper()
	staging, prod = randomNS(t), randomNS(t)
	ts.ok(t, "PUT", path(prod, "/flows"), prodFlows, as(nrAdminSecret, "alice"), nil)
	ts.ok(t, "PUT", path(prod, "/overlay"), []byte(`{"properties":[{"node":"h1","path":"url"}]}`), as(nrAdminSecret, "admin"), nil)
	ts.ok(t, "PUT", path(staging, "/flows"), stagingFlows("return 2"), as(nrAdminSecret, "alice"), nil)
	return staging, prod
}

func promoteBody(from string, extra string) []byte {
	return []byte(`{"from":"` + from + `"` + extra + `}`)
}

func (ts *testServer) flows(t *testing.T, ns string) string {
	t.Helper()
	return string(ts.ok(t, "GET", path(ns, "/flows"), nil, as(nrAdminSecret, ""), nil).body)
}

func TestPromotion(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{Tokens: promotionTokens})

	t.Run("OKPreviewThenApplyKeepsEnvAndOverlay", func(t *testing.T) {
		staging, prod := promotionPair(t, ts)
		before := ts.head(t, prod)
		var pv domain.PromotionPreview
		ts.ok(t, "POST", path(prod, "/promotions"), promoteBody(staging, `,"dryRun":true`), as(nrAdminSecret, "alice"), &pv)
		if got := ts.head(t, prod); got != before {
			t.Fatalf("dry run moved prod from %d to %d", before, got)
		}
		if len(pv.EnvNew) != 1 || pv.EnvNew[0].Key != "RETRIES" || pv.EnvNew[0].Node != "t1" {
			t.Errorf("envNew: got %+v, want RETRIES on t1", pv.EnvNew)
		}
		if len(pv.OverlayKept) != 1 || pv.OverlayKept[0].Path != "url" {
			t.Errorf("overlayKept: got %+v, want h1 url", pv.OverlayKept)
		}
		changed := map[string]bool{}
		for _, c := range pv.Diff.Changed {
			changed[c.ID] = true
		}
		if !changed["f1"] || !changed["t1"] || changed["h1"] || len(pv.Diff.Added)+len(pv.Diff.Removed) != 0 {
			t.Errorf("diff: got %+v, want f1 and t1 changed, nothing else", pv.Diff)
		}
		if pv.TargetHead.Revision != before || pv.TargetHead.ID == "" || pv.Source.Hash == "" || pv.Noop {
			t.Errorf("preview heads: got %+v", pv)
		}
		head, _ := json.Marshal(pv.TargetHead)
		var res httpapi.Promoted
		ts.ok(t, "POST", path(prod, "/promotions"), promoteBody(staging, `,"reason":"release 2.3","expectedHead":`+string(head)), as(nrAdminSecret, "alice"), &res)
		got := ts.flows(t, prod)
		for _, want := range []string{`"value":"https://prod.example"`, `"name":"RETRIES","value":"3"`, `"url":"/orders"`, `"func":"return 2"`} {
			if !strings.Contains(got, want) {
				t.Errorf("prod flows %s lack %s", got, want)
			}
		}
		if strings.Contains(got, "staging") {
			t.Errorf("prod flows %s took a staging value", got)
		}
		e := ts.events(t, prod)[res.Revision-1]
		src := ts.events(t, staging)[0]
		if e.Type != domain.FlowsDeployed || e.Cause != domain.CausePromotion || e.Promotion == nil ||
			e.Promotion.Namespace != staging || e.Promotion.Revision != src.Revision || e.Promotion.ID != src.ID || e.Promotion.Hash != src.Hash || src.Hash == "" {
			t.Fatalf("got event %+v promotion %+v, want a promotion naming %s@%d %s %s", e, e.Promotion, staging, src.Revision, src.ID, src.Hash)
		}
		// Promoting again changes nothing.
		var again domain.PromotionPreview
		ts.ok(t, "POST", path(prod, "/promotions"), promoteBody(staging, ``), as(nrAdminSecret, "alice"), &again)
		if !again.Noop || ts.head(t, prod) != res.Revision {
			t.Fatalf("got %+v head %d, want a noop at %d", again, ts.head(t, prod), res.Revision)
		}
	})

	t.Run("OKIntoNewNamespace", func(t *testing.T) {
		staging, _ := promotionPair(t, ts)
		fresh := randomNS(t)
		var res httpapi.Promoted
		ts.ok(t, "POST", path(fresh, "/promotions"), promoteBody(staging, ``), as(nrAdminSecret, "alice"), &res)
		if got, want := ts.flows(t, fresh), string(stagingFlows("return 2")); got != want || res.Revision != 1 || len(res.Preview.EnvNew) != 2 {
			t.Fatalf("got %s at %d (envNew %+v), want staging's flows byte for byte at 1 with both env keys new", got, res.Revision, res.Preview.EnvNew)
		}
	})

	t.Run("ErrConflictTargetMoved", func(t *testing.T) {
		staging, prod := promotionPair(t, ts)
		var pv domain.PromotionPreview
		ts.ok(t, "POST", path(prod, "/promotions"), promoteBody(staging, `,"dryRun":true`), as(nrAdminSecret, "alice"), &pv)
		ts.ok(t, "PUT", path(prod, "/flows"), []byte(strings.Replace(string(prodFlows), "return 1", "return 9", 1)), as(nrAdminSecret, "bob"), nil)
		moved := ts.head(t, prod)
		head, _ := json.Marshal(pv.TargetHead)
		e := wantError(t, ts.do(t, "POST", path(prod, "/promotions"), promoteBody(staging, `,"expectedHead":`+string(head)), as(nrAdminSecret, "alice")), http.StatusConflict, domain.ECONFLICT)
		if e.Moved == nil || e.Moved.Current.Revision != moved || len(e.Moved.Events) != 1 || e.Moved.Events[0].Actor.User != "bob" {
			t.Fatalf("got %+v moved %+v, want what bob deployed", e, e.Moved)
		}
		if ts.head(t, prod) != moved {
			t.Fatalf("a refused promotion appended")
		}
	})

	t.Run("ErrForbiddenProtected", func(t *testing.T) {
		staging, prod := promotionPair(t, ts)
		ts.ok(t, "PUT", path(prod, "/policy"), []byte(`{"protected":true,"promotesFrom":["`+staging+`"]}`), as(nrAdminSecret, "admin"), nil)
		before := ts.head(t, prod)
		for _, req := range []struct{ method, path, body string }{
			{"PUT", "/flows", string(stagingFlows("return 7"))},
			{"POST", "/deploy", `{"flows":` + string(stagingFlows("return 7")) + `}`},
			{"PUT", "/credentials", `{"$":"abc"}`},
		} {
			e := wantError(t, ts.do(t, req.method, path(prod, req.path), []byte(req.body), as(nrAdminSecret, "alice")), http.StatusForbidden, domain.EFORBIDDEN)
			if e.Message != "protected: promote from "+staging {
				t.Errorf("%s %s: got %q, want protected: promote from %s", req.method, req.path, e.Message, staging)
			}
		}
		// Without review, a direct promotion is refused too.
		wantError(t, ts.do(t, "POST", path(prod, "/promotions"), promoteBody(staging, ``), as(nrAdminSecret, "alice")), http.StatusForbidden, domain.EFORBIDDEN)
		// From another namespace, even a request is refused.
		other := randomNS(t)
		ts.ok(t, "PUT", path(other, "/flows"), flowsDoc("x"), as(nrAdminSecret, "alice"), nil)
		wantError(t, ts.do(t, "POST", path(prod, "/promotions"), promoteBody(other, `,"request":true,"reason":"r"`), as(nrAdminSecret, "alice")), http.StatusForbidden, domain.EFORBIDDEN)
		if got := ts.head(t, prod); got != before {
			t.Fatalf("refused writes moved prod from %d to %d", before, got)
		}
		// Rollbacks still land.
		ts.ok(t, "POST", path(prod, "/rollback"), []byte(`{"to":1,"reason":"drill"}`), as(nrAdminSecret, "alice"), nil)
		// Settings are each environment's own: saved as before.
		ts.ok(t, "PUT", path(prod, "/settings"), []byte(`{"users":{}}`), as(nrAdminSecret, "alice"), nil)
	})

	t.Run("OKReviewFourEyes", func(t *testing.T) {
		staging, prod := promotionPair(t, ts)
		ts.ok(t, "PUT", path(prod, "/policy"), []byte(`{"protected":true,"promotesFrom":["`+staging+`"]}`), as(nrAdminSecret, "admin"), nil)
		res := ts.do(t, "POST", path(prod, "/promotions"), promoteBody(staging, `,"request":true,"reason":"release 2.3"`), as(nrAdminSecret, "alice"))
		if res.status != http.StatusCreated {
			t.Fatalf("request: got %d %s, want 201", res.status, res.body)
		}
		var r domain.PromotionRequest
		res.decode(t, &r)
		if r.State != domain.RequestPending || r.RequestedBy.User != "alice" || r.Preview.ResultSHA256 == "" {
			t.Fatalf("got %+v, want pending by alice with its preview", r)
		}
		for _, ns := range []string{prod, staging} {
			evs := ts.events(t, ns)
			if last := evs[len(evs)-1]; last.Type != domain.PromotionRequested || last.Actor.User != "alice" {
				t.Fatalf("%s: last event %s by %s, want promotion.requested by alice", ns, last.Type, last.Actor.User)
			}
		}
		var list httpapi.PromotionRequests
		ts.ok(t, "GET", path(prod, "/promotions?state=pending"), nil, as(approverSecret, ""), &list)
		if len(list.Requests) != 1 || list.Requests[0].ID != r.ID || list.Requests[0].Stale {
			t.Fatalf("got %+v, want the one request, fresh", list)
		}
		before := ts.head(t, prod)
		approve := path(prod, "/promotions/"+r.ID+"/approve")
		// The requester, through the same token or another one naming
		// the same user, may not approve; a deployer lacks the scope.
		wantError(t, ts.do(t, "POST", approve, nil, as(nrAdminSecret, "alice")), http.StatusForbidden, domain.EFORBIDDEN)
		wantError(t, ts.do(t, "POST", approve, nil, as(opsSecret, "Alice")), http.StatusForbidden, domain.EFORBIDDEN)
		wantError(t, ts.do(t, "POST", approve, nil, as(deploySecret, "")), http.StatusForbidden, domain.EFORBIDDEN)
		wantError(t, ts.do(t, "POST", path(prod, "/promotions/"+r.ID+"/reject"), nil, as(deploySecret, "")), http.StatusForbidden, domain.EFORBIDDEN)
		if got := ts.head(t, prod); got != before {
			t.Fatalf("refused approvals moved prod from %d to %d", before, got)
		}
		var done domain.PromotionRequest
		ts.ok(t, "POST", approve, []byte(`{"reason":"looks good"}`), as(nrAdminSecret, "bob"), &done)
		if done.State != domain.RequestApproved || done.DecidedBy == nil || done.DecidedBy.User != "bob" || done.AppliedRevision == 0 {
			t.Fatalf("got %+v, want approved by bob and applied", done)
		}
		if got := ts.flows(t, prod); !strings.Contains(got, `"func":"return 2"`) || !strings.Contains(got, `"url":"/orders"`) {
			t.Fatalf("prod flows after approval: %s", got)
		}
		evs := ts.events(t, prod)
		applied := evs[done.AppliedRevision-1]
		if applied.Promotion == nil || applied.Promotion.Request != r.ID || applied.Actor.User != "bob" {
			t.Fatalf("applied event %+v promotion %+v, want bob's naming request %s", applied, applied.Promotion, r.ID)
		}
		for _, ns := range []string{prod, staging} {
			evs := ts.events(t, ns)
			if last := evs[len(evs)-1]; last.Type != domain.PromotionApproved || last.Actor.User != "bob" {
				t.Fatalf("%s: last event %s by %s, want promotion.approved by bob", ns, last.Type, last.Actor.User)
			}
		}
		// Decided once.
		wantError(t, ts.do(t, "POST", approve, nil, as(approverSecret, "")), http.StatusConflict, domain.ECONFLICT)
		var audit httpapi.Audit
		ts.ok(t, "GET", "/v1/audit?format=json&namespace="+prod, nil, as(nrAdminSecret, ""), &audit)
		types := map[domain.EventType]bool{}
		for _, e := range audit.Entries {
			types[e.Type] = true
		}
		if !types[domain.PromotionRequested] || !types[domain.PromotionApproved] {
			t.Errorf("audit of %s: got types %v, want the request and its approval", prod, types)
		}
		// The history bundle carries the records, and reads back.
		var buf bytes.Buffer
		if _, err := bundle.Write(testCtx(t), ts.store, prod, ts.head(t, prod), &buf); err != nil {
			t.Fatalf("export a history with promotions: %v", err)
		}
		br, err := bundle.NewReader(&buf, "bundle")
		if err != nil {
			t.Fatal(err)
		}
		var read []domain.EventType
		for {
			e, err := br.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			read = append(read, e.Type)
		}
		if len(read) != int(ts.head(t, prod)) {
			t.Errorf("bundle read back %v, want %d events", read, ts.head(t, prod))
		}
	})

	t.Run("ErrStaleRequest", func(t *testing.T) {
		staging, prod := promotionPair(t, ts)
		ts.ok(t, "PUT", path(prod, "/policy"), []byte(`{"protected":true}`), as(nrAdminSecret, "admin"), nil)
		res := ts.do(t, "POST", path(prod, "/promotions"), promoteBody(staging, `,"request":true,"reason":"r1"`), as(nrAdminSecret, "alice"))
		var r domain.PromotionRequest
		res.decode(t, &r)
		// The target moves: a rollback lands on a protected namespace.
		ts.ok(t, "PUT", path(prod, "/policy"), []byte(`{"protected":false}`), as(nrAdminSecret, "admin"), nil)
		ts.ok(t, "PUT", path(prod, "/flows"), flowsDoc("hotfix"), as(nrAdminSecret, "dave"), nil)
		var got domain.PromotionRequest
		ts.ok(t, "GET", path(prod, "/promotions/"+r.ID), nil, as(approverSecret, ""), &got)
		if !got.Stale {
			t.Fatalf("got %+v, want stale", got)
		}
		before := ts.head(t, prod)
		e := wantError(t, ts.do(t, "POST", path(prod, "/promotions/"+r.ID+"/approve"), nil, as(approverSecret, "")), http.StatusConflict, domain.ECONFLICT)
		if !strings.HasPrefix(e.Message, "stale:") || e.Moved == nil {
			t.Fatalf("got %+v, want a stale conflict saying what moved", e)
		}
		if ts.head(t, prod) != before {
			t.Fatalf("a stale approval appended")
		}
		ts.ok(t, "GET", path(prod, "/promotions/"+r.ID), nil, as(approverSecret, ""), &got)
		if got.State != domain.RequestPending {
			t.Fatalf("got state %s, want pending still", got.State)
		}
		// The requester withdraws it.
		ts.ok(t, "POST", path(prod, "/promotions/"+r.ID+"/reject"), []byte(`{"reason":"stale"}`), as(nrAdminSecret, "alice"), &got)
		if got.State != domain.RequestRejected {
			t.Fatalf("got %s, want rejected", got.State)
		}
	})

	t.Run("Credentials", func(t *testing.T) {
		staging, prod := promotionPair(t, ts)
		ts.ok(t, "PUT", path(staging, "/credentials"), []byte(`{"$":"c-staging"}`), as(nrAdminSecret, ""), nil)
		before := ts.head(t, prod)
		wantError(t, ts.do(t, "POST", path(prod, "/promotions"), promoteBody(staging, `,"withCredentials":true`), as(nrAdminSecret, "")), http.StatusBadRequest, domain.EINVALID)
		fpA, fpB := strings.Repeat("a", 64), strings.Repeat("b", 64)
		wantError(t, ts.do(t, "PUT", path(prod, "/credentials"), []byte(`{"$":"x"}`), hdr{"Authorization": "Bearer " + nrAdminSecret, "Flowhist-Credential-Fingerprint": "nothex"}), http.StatusBadRequest, domain.EINVALID)
		if ts.head(t, prod) != before {
			t.Fatalf("a bad fingerprint header appended")
		}
		ts.ok(t, "PUT", path(staging, "/credentials"), []byte(`{"$":"c-staging2"}`), hdr{"Authorization": "Bearer " + nrAdminSecret, "Flowhist-Credential-Fingerprint": fpA}, nil)
		ts.ok(t, "PUT", path(prod, "/policy"), []byte(`{"credentialFingerprint":"`+fpB+`"}`), as(nrAdminSecret, ""), nil)
		before = ts.head(t, prod)
		e := wantError(t, ts.do(t, "POST", path(prod, "/promotions"), promoteBody(staging, `,"withCredentials":true`), as(nrAdminSecret, "")), http.StatusBadRequest, domain.EINVALID)
		if !strings.Contains(e.Message, "differ") || ts.head(t, prod) != before {
			t.Fatalf("got %q, want credential secrets differ and nothing appended", e.Message)
		}
		ts.ok(t, "PUT", path(prod, "/policy"), []byte(`{"credentialFingerprint":"`+fpA+`"}`), as(nrAdminSecret, ""), nil)
		var res httpapi.Promoted
		ts.ok(t, "POST", path(prod, "/promotions"), promoteBody(staging, `,"withCredentials":true`), as(nrAdminSecret, ""), &res)
		if res.Preview.Credentials != domain.CredentialsCopied {
			t.Fatalf("got %+v, want credentials copied", res.Preview)
		}
		creds := ts.ok(t, "GET", path(prod, "/credentials"), nil, as(nrAdminSecret, ""), nil).body
		if !strings.Contains(string(creds), "c-staging2") {
			t.Fatalf("prod credentials %s, want staging's", creds)
		}
		// Without the flag, the target's stay and nothing says which are
		// missing: they are encrypted.
		var pv domain.PromotionPreview
		ts.ok(t, "POST", path(prod, "/promotions"), promoteBody(staging, `,"dryRun":true`), as(nrAdminSecret, ""), &pv)
		if pv.Credentials != domain.CredentialsUnknown {
			t.Fatalf("got %q, want unknown", pv.Credentials)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		staging, prod := promotionPair(t, ts)
		before := ts.head(t, prod)
		for _, body := range []string{
			`{"from":"` + prod + `"}`,
			`{"from":"bad name!"}`,
			`{"from":"` + staging + `","colour":"red"}`,
			`{"from":"` + staging + `","request":true}`,
			`{"from":"` + staging + `","rev":99}`,
		} {
			res := ts.do(t, "POST", path(prod, "/promotions"), []byte(body), as(nrAdminSecret, ""))
			if res.status != http.StatusBadRequest && res.status != http.StatusNotFound {
				t.Errorf("%s: got %d %s, want 400 or 404", body, res.status, res.body)
			}
		}
		wantError(t, ts.do(t, "PUT", path(prod, "/overlay"), []byte(`{"properties":[{"node":"h1","path":"a..b"}]}`), as(nrAdminSecret, "")), http.StatusBadRequest, domain.EINVALID)
		wantError(t, ts.do(t, "PUT", path(prod, "/policy"), []byte(`{"protected":true}`), as(deploySecret, "")), http.StatusForbidden, domain.EFORBIDDEN)
		wantError(t, ts.do(t, "POST", path(prod, "/promotions"), promoteBody(staging, ``), as(approverSecret, "")), http.StatusForbidden, domain.EFORBIDDEN)
		if ts.head(t, prod) != before {
			t.Fatalf("refused requests moved prod")
		}
	})
}

// TestPromotionCoverage: a token must cover both namespaces of a
// promotion; one covering only the target learns nothing of the source.
func TestPromotionCoverage(t *testing.T) {
	t.Parallel()
	staging, prod := randomNS(t), randomNS(t)
	const prodOnly = "prod-only-secret-3f9a1c7e5b2d"
	ts := mustServer(t, httpapi.Config{Tokens: append([]httpapi.Token{
		{Name: "prod-admin", Secret: prodOnly, Scopes: []httpapi.Scope{httpapi.ScopeAdmin}, Namespaces: []string{prod}},
	}, promotionTokens...)})
	ts.ok(t, "PUT", path(prod, "/flows"), prodFlows, as(nrAdminSecret, ""), nil)
	ts.ok(t, "PUT", path(staging, "/flows"), stagingFlows("return 2"), as(nrAdminSecret, ""), nil)
	before := ts.head(t, prod)
	for _, body := range []string{`,"dryRun":true`, ``, `,"request":true,"reason":"r"`} {
		e := wantError(t, ts.do(t, "POST", path(prod, "/promotions"), promoteBody(staging, body), as(prodOnly, "")), http.StatusForbidden, domain.EFORBIDDEN)
		if strings.Contains(e.Message, "return 2") {
			t.Fatalf("refusal leaks the source: %s", e.Message)
		}
	}
	if ts.head(t, prod) != before {
		t.Fatalf("refused promotions moved prod")
	}
}

// TestPromotionApproveRace: two reviewers approve, and a third rejects,
// the same request at once: exactly one decision lands, and the flows are
// promoted at most once.
func TestPromotionApproveRace(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{Tokens: promotionTokens})
	for round := 0; round < 5; round++ {
		staging, prod := promotionPair(t, ts)
		res := ts.do(t, "POST", path(prod, "/promotions"), promoteBody(staging, `,"request":true,"reason":"race"`), as(nrAdminSecret, "alice"))
		var r domain.PromotionRequest
		res.decode(t, &r)
		var wg sync.WaitGroup
		statuses := make([]int, 3)
		for i, d := range []struct {
			verb string
			h    hdr
		}{{"approve", as(nrAdminSecret, "bob")}, {"approve", as(approverSecret, "")}, {"reject", as(opsSecret, "dave")}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := ts.send(testCtx(t), "POST", path(prod, "/promotions/"+r.ID+"/"+d.verb), nil, d.h)
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i] = r.status
			}()
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			if s == http.StatusOK {
				ok++
			} else if s != http.StatusConflict {
				t.Fatalf("round %d: got statuses %v, want one 200 and 409s", round, statuses)
			}
		}
		promoted := 0
		for _, e := range ts.events(t, prod) {
			if e.Cause == domain.CausePromotion {
				promoted++
			}
		}
		var got domain.PromotionRequest
		ts.ok(t, "GET", path(prod, "/promotions/"+r.ID), nil, as(approverSecret, ""), &got)
		wantPromoted := 0
		if got.State == domain.RequestApproved {
			wantPromoted = 1
		}
		if ok != 1 || promoted != wantPromoted || got.State == domain.RequestPending {
			t.Fatalf("round %d: statuses %v, %d promotions, state %s: want one decision and the flows promoted once if approved", round, statuses, promoted, got.State)
		}
	}
}
