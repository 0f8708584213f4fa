package e2e_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flowhist/flowhist/streams/valkeytest"
)

// TestPromotion runs two real Node-RED clusters (staging: admin + worker,
// prod: admin + worker) on one flowhist, and promotes between them from
// the editor in a real Chromium: a promotion with prod's overlay keeps
// prod's env value and its own HTTP endpoint path while the code change
// arrives, and prod's worker serves it; protected prod refuses a direct
// editor deploy with flowhist's message in the editor; a request is
// refused to its requester's own approval, lands when a second user
// approves it, and a stale one is refused. It runs on Node-RED 4.1 (whose
// pictures of the promote preview and of the approval the README shows)
// and 5. Each run has its own Valkey and flowhist, so the namespaces are
// plainly staging and prod.
func TestPromotion(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is not installed: run `make deps-e2e` (or `apt-get install -y chromium`): %v", err)
	}
	for _, red := range []redRuntime{nodeRED4, nodeRED5} {
		t.Run("NodeRED"+red.name, func(t *testing.T) { promotion(t, red) })
	}
}

func promotion(t *testing.T, red redRuntime) {
	pictures := red.name == nodeRED4.name // the README shows Node-RED 4.1's
	dir := t.TempDir()
	v := valkeytest.Start(t)
	tokens := map[string]string{"admin-staging": randomHex(24), "admin-prod": randomHex(24), "read-workers": randomHex(24), "admin-cli": randomHex(24)}
	fh := startFlowhist(t, dir, fhConfig{valkeyAddr: v.Addr, tokens: tokens})
	env := func(name string) *cluster {
		return &cluster{dir: dir, valkey: v, fh: fh, ns: name, tokens: tokens, secret: randomHex(16), opts: clusterOpts{red: red}}
	}
	staging, prod := env("staging"), env("prod")
	for _, c := range []*cluster{staging, prod} {
		c.admin = startEditorAdmin(t, c, red, tokens["admin-"+c.ns], false)
		c.workers = append(c.workers, c.startNode(t, "worker", "w1"))
	}
	cli := func(method, path string, body any) (int, string) {
		t.Helper()
		b, _ := json.Marshal(body)
		a := send(client, method, fh.URL+path, b, http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + tokens["admin-cli"]}})
		return a.status, string(a.body)
	}
	mustCLI := func(method, path string, body any) string {
		t.Helper()
		code, out := cli(method, path, body)
		if code/100 != 2 {
			t.Fatalf("%s %s: got %d %s, want 2xx", method, path, code, out)
		}
		return out
	}
	alice := map[*cluster]string{staging: staging.admin.login(t, "alice", ""), prod: prod.admin.login(t, "alice", "")}

	// Each environment its own greeting and endpoint path; the same nodes.
	staging.admin.mustDeploy(t, alice[staging], greetingFlow("v1", "staging", "/hello-staging", false))
	prod.admin.mustDeploy(t, alice[prod], greetingFlow("v1", "prod", "/hello-prod", false))
	waitServesAt(t, 20*time.Second, "/hello-staging", "v1 staging", staging.workers...)
	waitServesAt(t, 20*time.Second, "/hello-prod", "v1 prod", prod.workers...)
	prodV1, err := strconv.Atoi(prod.namespaceRevision(t))
	if err != nil {
		t.Fatal(err)
	}

	// prod keeps its endpoint path, takes promotions from staging only, and
	// refuses direct deploys; staging offers "Promote to prod…".
	mustCLI(http.MethodPut, "/v1/namespaces/"+prod.ns+"/overlay", map[string]any{"properties": []map[string]string{{"node": "in1", "path": "url"}}, "env": []string{}})
	mustCLI(http.MethodPut, "/v1/namespaces/"+prod.ns+"/policy", map[string]any{"protected": true, "promotesFrom": []string{staging.ns}, "directPromotions": true})
	mustCLI(http.MethodPut, "/v1/namespaces/"+staging.ns+"/policy", map[string]any{"promotionTargets": []string{prod.ns}})

	t.Run("AdminReportsTheFingerprintNotTheSecret", func(t *testing.T) {
		var p struct {
			CredentialFingerprint string `json:"credentialFingerprint"`
		}
		if err := json.Unmarshal([]byte(mustCLI(http.MethodGet, "/v1/namespaces/"+staging.ns+"/policy", nil)), &p); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte("flowhist credential fingerprint\n" + staging.secret))
		if want := hex.EncodeToString(sum[:]); p.CredentialFingerprint != want {
			t.Errorf("staging's credentialFingerprint: got %q, want %q (sha256 of the label and the secret)", p.CredentialFingerprint, want)
		}
	})

	// The code changes on staging, and a key new to prod comes with it.
	staging.admin.mustDeploy(t, alice[staging], greetingFlow("v2", "staging", "/hello-staging", true))
	waitServesAt(t, 20*time.Second, "/hello-staging", "v2 staging", staging.workers...)

	b := newBrowser(t, "alice")
	defer b.close()
	b.login(t, staging.admin.URL, "alice")
	// openPromote opens the promote tray and answers how long the preview
	// took to show, measured in the page from the click.
	openPromote := func(t *testing.T) time.Duration {
		t.Helper()
		b.do(t, 10*time.Second, chromedp.Evaluate[chromedp.Void](`RED.actions.invoke("flowhist:show-history-tab")`))
		button := fmt.Sprintf(`.red-ui-flowhist-promote[data-target=%q]`, prod.ns)
		b.waitJS(t, 20*time.Second, fmt.Sprintf(`!!document.querySelector(%q)`, button))
		took := b.timeUntil(t, 20*time.Second, `!!document.querySelector(".red-ui-flowhist-view[data-done] #red-ui-flowhist-promote-confirm")`, func() { b.click(t, button) })
		b.trayOpen(t, 20*time.Second, `.red-ui-flowhist-view[data-done] #red-ui-flowhist-promote-confirm`)
		return took
	}

	t.Run("PromoteKeepsProdsValuesAndItsWorkerServesTheCode", func(t *testing.T) {
		t.Logf("Node-RED %s: the promote preview showed %s after the click (measured in the page)", red.name, openPromote(t).Round(time.Millisecond))
		if got := b.text(t, `.red-ui-flowhist-env-new li`); got != "tab Orders: RETRIES" {
			t.Errorf("the preview's new env keys: got %q, want %q", got, "tab Orders: RETRIES")
		}
		if n := b.count(t, `.red-ui-flowhist-promote-diff .red-ui-flowhist-node.changed[data-node="fn1"]`); n != 1 {
			t.Errorf("the preview's diff: got %d changed entries for fn1, want 1", n)
		}
		// prod's endpoint path is its own: not a change the preview shows.
		if got := b.text(t, `.red-ui-flowhist-promote-diff [data-node="in1"] [data-property="url"]`); got != "" {
			t.Errorf("the preview changes prod's endpoint path: %q", got)
		}
		if pictures {
			b.screenshot(t, "promotion-preview.png", ".red-ui-tray")
		}
		b.click(t, `#red-ui-flowhist-promote-confirm`)
		b.waitJS(t, 20*time.Second, `document.querySelector(".red-ui-flowhist-promote-result").dataset.state === "promoted"`)
		b.closeTray(t)
		waitServesAt(t, 20*time.Second, "/hello-prod", "v2 prod", prod.workers...)
		if ok, got := prod.workers[0].answers("/hello-staging", "v2 staging"); ok {
			t.Errorf("prod's worker took staging's endpoint path: %s", got)
		}
	})

	t.Run("ProtectedProdRefusesADirectDeployInTheEditor", func(t *testing.T) {
		b.do(t, 10*time.Second, chromedp.Evaluate[chromedp.Void](`localStorage.clear()`))
		b.login(t, prod.admin.URL, "alice")
		b.do(t, 10*time.Second, chromedp.Evaluate[chromedp.Void](`(() => { const n = RED.nodes.node("fn1"); n.name = "edited"; n.changed = true; n.dirty = true; RED.nodes.dirty(true); RED.view.redraw(); RED.actions.invoke("core:deploy-flows"); })()`))
		b.waitJS(t, 20*time.Second, `Array.from(document.querySelectorAll(".red-ui-notification-error")).some(n => n.textContent.includes("protected: promote from"))`)
		got := b.text(t, `.red-ui-notification-error`)
		want := "flowhist refused this deploy: protected: promote from " + staging.ns + ". Nothing was saved."
		if !strings.Contains(got, want) {
			t.Errorf("the editor's deploy error: got %q, want it to contain %q", got, want)
		}
		if ok, got := prod.workers[0].answers("/hello-prod", "v2 prod"); !ok {
			t.Errorf("prod's worker after the refused deploy: %s, want v2 prod", got)
		}
		// Leave the page without its "unsaved changes" question.
		b.do(t, 10*time.Second, chromedp.Evaluate[chromedp.Void](`RED.nodes.dirty(false); $(window).off("beforeunload"); window.onbeforeunload = null`))
	})

	// Promotions into prod are reviewed from now on.
	mustCLI(http.MethodPut, "/v1/namespaces/"+prod.ns+"/policy", map[string]any{"protected": true, "promotesFrom": []string{staging.ns}})
	staging.admin.mustDeploy(t, alice[staging], greetingFlow("v3", "staging", "/hello-staging", true))

	t.Run("ARequestApprovedBySecondUserLands", func(t *testing.T) {
		b.do(t, 10*time.Second, chromedp.Evaluate[chromedp.Void](`localStorage.clear()`))
		b.login(t, staging.admin.URL, "alice")
		openPromote(t)
		if got := b.text(t, `#red-ui-flowhist-promote-confirm`); got != "Request approval" {
			t.Errorf("the confirm on a reviewed target: got %q, want Request approval", got)
		}
		b.do(t, 10*time.Second, chromedp.SendKeys(chromedp.CSS(`.red-ui-flowhist-promote-reason`), "release v3"))
		b.click(t, `#red-ui-flowhist-promote-confirm`)
		b.waitJS(t, 20*time.Second, `document.querySelector(".red-ui-flowhist-promote-result").dataset.state === "requested"`)
		b.closeTray(t)

		// Alice may not approve her own request: the server's message shows.
		b.do(t, 10*time.Second, chromedp.Evaluate[chromedp.Void](`localStorage.clear()`))
		b.login(t, prod.admin.URL, "alice")
		pending := `.red-ui-flowhist-requests li.pending`
		openPending := func() {
			t.Helper()
			// The sidebar settled (its history page loaded, which can
			// reflow the panel above it) before the click.
			b.do(t, 10*time.Second, chromedp.Evaluate[chromedp.Void](`RED.actions.invoke("flowhist:show-history-tab")`))
			b.waitJS(t, 20*time.Second, fmt.Sprintf(`document.querySelectorAll(%q).length === 1 && document.querySelectorAll(".red-ui-flowhist-list li.red-ui-flowhist-entry").length > 0`, pending))
			b.do(t, 10*time.Second, chromedp.Evaluate[chromedp.Void](`window.__fhIdle = false; requestIdleCallback(() => { window.__fhIdle = true; }, { timeout: 5000 })`))
			b.waitJS(t, 10*time.Second, `window.__fhIdle === true`)
		}
		openPending()
		b.click(t, pending+` .red-ui-flowhist-approve`)
		b.waitJS(t, 20*time.Second, fmt.Sprintf(`document.querySelector(%q).dataset.state === "refused"`, pending+` .red-ui-flowhist-request-message`))
		if got := b.text(t, pending+` .red-ui-flowhist-request-message`); !strings.Contains(got, "another person approves it") {
			t.Errorf("alice approving her own request: got %q, want the server's refusal", got)
		}
		if pictures {
			b.screenshot(t, "promotion-approval.png", ".red-ui-flowhist-promotion")
		}
		if ok, got := prod.workers[0].answers("/hello-prod", "v2 prod"); !ok {
			t.Errorf("prod's worker after the refused approval: %s, want v2 prod", got)
		}

		b.do(t, 10*time.Second, chromedp.Evaluate[chromedp.Void](`localStorage.clear()`))
		b.login(t, prod.admin.URL, "bob")
		openPending()
		b.click(t, pending+` .red-ui-flowhist-approve`)
		b.waitJS(t, 20*time.Second, fmt.Sprintf(`document.querySelector(%q).dataset.state === "approved"`, `.red-ui-flowhist-requests li .red-ui-flowhist-request-message`))
		waitServesAt(t, 20*time.Second, "/hello-prod", "v3 prod", prod.workers...)
	})

	t.Run("AStaleRequestIsRefused", func(t *testing.T) {
		staging.admin.mustDeploy(t, alice[staging], greetingFlow("v4", "staging", "/hello-staging", true))
		route := func(n *nodeRed, token, path string, body any) (int, string) {
			b, _ := json.Marshal(body)
			return postJSON(n.URL+"/flowhist/promotion/"+path, token, string(b))
		}
		code, out := route(staging.admin, alice[staging], "preview", map[string]any{"to": prod.ns})
		if code != 200 {
			t.Fatalf("preview: got %d %s", code, out)
		}
		var pv struct {
			Preview struct {
				Source     struct{ Revision int } `json:"source"`
				TargetHead json.RawMessage        `json:"targetHead"`
			} `json:"preview"`
		}
		if err := json.Unmarshal([]byte(out), &pv); err != nil {
			t.Fatal(err)
		}
		code, out = route(staging.admin, alice[staging], "promote", map[string]any{"to": prod.ns, "rev": pv.Preview.Source.Revision, "expectedHead": pv.Preview.TargetHead, "reason": "release v4 " + hostileImg, "request": true})
		if code != 201 {
			t.Fatalf("request: got %d %s, want 201", code, out)
		}
		var req struct{ ID string }
		if err := json.Unmarshal([]byte(out), &req); err != nil || req.ID == "" {
			t.Fatalf("request: %v %s", err, out)
		}
		// prod's flows move after the request: a rollback to its v1.
		mustCLI(http.MethodPost, "/v1/namespaces/"+prod.ns+"/rollback", map[string]any{"to": prodV1, "reason": "hotfix"})
		waitServesAt(t, 20*time.Second, "/hello-prod", "v1 prod", prod.workers...)
		bob := prod.admin.login(t, "bob", "")
		code, out = postJSON(prod.admin.URL+"/flowhist/promotion/requests/"+req.ID+"/approve", bob, `{}`)
		if code != 409 || !strings.Contains(out, "stale") {
			t.Errorf("approving a stale request: got %d %s, want 409 saying stale", code, out)
		}
		if ok, got := prod.workers[0].answers("/hello-prod", "v1 prod"); !ok {
			t.Errorf("prod's worker after the refused stale approval: %s, want v1 prod", got)
		}
		// Bob's editor lists it as stale, offers no approval, and shows its
		// reason as text.
		b.click(t, `.red-ui-flowhist-requests-refresh`)
		stale := fmt.Sprintf(`.red-ui-flowhist-requests li.stale[data-request=%q]`, req.ID)
		b.waitJS(t, 20*time.Second, fmt.Sprintf(`!!document.querySelector(%q)`, stale))
		if got, want := b.text(t, stale+` .red-ui-flowhist-reason`), "release v4 "+hostileImg; got != want {
			t.Errorf("the stale request's reason: got %q, want %q as text", got, want)
		}
		b.waitJS(t, 5*time.Second, fmt.Sprintf(`document.querySelector(%q).disabled === true && window.__fhXSS === undefined && !document.querySelector(%q)`, stale+` .red-ui-flowhist-approve`, stale+` img`))
	})
}

// greetingFlow is the promotion tests' flows: a tab whose env holds the
// environment's GREETING (and RETRIES with retries), an HTTP endpoint at
// path, and a function that answers version and the greeting.
func greetingFlow(version, greeting, path string, retries bool) []map[string]any {
	env := []map[string]string{{"name": "GREETING", "value": greeting, "type": "str"}}
	if retries {
		env = append(env, map[string]string{"name": "RETRIES", "value": "3", "type": "num"})
	}
	return []map[string]any{
		{"id": "tab1", "type": "tab", "label": "Orders", "env": env},
		{"id": "in1", "type": "http in", "z": "tab1", "name": "hello", "url": path, "method": "get", "x": 120, "y": 80, "wires": [][]string{{"fn1"}}},
		{"id": "fn1", "type": "function", "z": "tab1", "name": "greet", "func": fmt.Sprintf("msg.payload = %q + \" \" + env.get(\"GREETING\");\nreturn msg;", version), "outputs": 1, "x": 300, "y": 80, "wires": [][]string{{"out1"}}},
		{"id": "out1", "type": "http response", "z": "tab1", "name": "", "x": 480, "y": 80, "wires": []any{}},
	}
}
