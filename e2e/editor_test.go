package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/flowhist/flowhist/streams/valkeytest"
)

// The browser test drives Debian's chromium through the DevTools protocol
// with chromedp: a real browser, nothing downloaded (no browser build of
// a test library's own), and no driver process in between.

// chromiumPath is Debian's chromium, which `make test` installs
// (.ci/install-deps.sh nodered).
const chromiumPath = "/usr/bin/chromium"

// The editor users of TestEditorHistory: alice and bob may deploy, carol
// may only read. All have editorPassword.
var editorUsers = map[string]string{"alice": "*", "bob": "*", "carol": "read"}

// TestEditorHistory drives the History sidebar in a real Chromium against
// a real Node-RED admin with adminAuth: three deploys by two users appear
// with their actors and summaries, a function change's diff shows the
// removed and the added code, a node's history opens from its context
// menu, a restore with a reason rolls back (the worker serves v1, the
// sidebar shows the rollback and its reason, the workspace shows v1's
// nodes), and a user without deploy permission is offered no Restore.
// It runs on Node-RED 4.1 (whose pictures the README shows) and 5.
func TestEditorHistory(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is not installed: run `make deps-e2e` (or `apt-get install -y chromium`): %v", err)
	}
	for _, red := range []redRuntime{nodeRED4, nodeRED5} {
		t.Run("NodeRED"+red.name, func(t *testing.T) { editorHistory(t, red) })
	}
}

// newEditorCluster is valkey, flowhist, a worker and an admin with the
// History plugin, whose flowhist token has the admin scope (restore is a
// rollback); adminAuth with editorUsers unless noAuth.
func newEditorCluster(t *testing.T, red redRuntime, noAuth bool) *cluster {
	t.Helper()
	dir := t.TempDir()
	c := &cluster{
		dir:    dir,
		valkey: valkeytest.Start(t),
		ns:     "e2e-" + randomHex(4),
		// The admin's token has the admin scope: restore is a rollback.
		tokens: map[string]string{"admin-node-red": randomHex(24), "read-workers": randomHex(24), "admin-cli": randomHex(24), "deploy-ci": randomHex(24)},
		secret: randomHex(16),
		opts:   clusterOpts{red: red},
	}
	c.fh = startFlowhist(t, dir, fhConfig{valkeyAddr: c.valkey.Addr, tokens: c.tokens})
	c.admin = startEditorAdmin(t, c, red, c.tokens["admin-node-red"], noAuth)
	c.workers = append(c.workers, c.startNode(t, "worker", "w1"))
	return c
}

func editorHistory(t *testing.T, red redRuntime) {
	c := newEditorCluster(t, red, false)
	pictures := red.name == nodeRED4.name
	tok := map[string]string{}
	for u := range editorUsers {
		tok[u] = c.admin.login(t, u, "")
	}

	// Three deploys by two users; each is one namespace revision.
	revs := map[string]int{}
	for _, d := range []struct{ user, version string }{{"alice", "v1"}, {"bob", "v2"}, {"alice", "v3"}} {
		c.admin.mustDeploy(t, tok[d.user], versionFlow(d.version))
		revs[d.version], _ = strconv.Atoi(c.namespaceRevision(t))
	}
	c.waitServes(t, 10*time.Second, "v3")

	b := newBrowser(t, "alice")
	defer b.close()
	b.login(t, c.admin.URL, "alice")

	t.Run("SidebarShowsDeploysWithActorsAndSummaries", func(t *testing.T) {
		firstPage := b.timeUntil(t, 20*time.Second, `document.querySelectorAll(".red-ui-flowhist-list li.red-ui-flowhist-entry").length >= 3`, func() {
			b.do(t, 20*time.Second, chromedp.Evaluate[chromedp.Void](`startMark(); RED.actions.invoke("flowhist:show-history-tab")`))
		})
		t.Logf("Node-RED %s: the sidebar showed the first page %s after the History tab was opened (measured in the page; its request to the admin took %s)", red.name, firstPage.Round(time.Millisecond), b.requestTime(t, "flowhist/history?"))
		// What of it is the route (Node-RED, the admin's client, flowhist).
		h := http.Header{"Authorization": {"Bearer " + tok["alice"]}}
		routeStart := time.Now()
		if code, body := get(c.admin.URL+"/flowhist/history?limit=50", h); code != 200 {
			t.Fatalf("GET flowhist/history: got %d %s, want 200", code, body)
		}
		t.Logf("Node-RED %s: GET flowhist/history?limit=50 answered in %s", red.name, time.Since(routeStart).Round(time.Millisecond))
		want := map[int]string{revs["v1"]: "alice", revs["v2"]: "bob", revs["v3"]: "alice"}
		for rev, user := range want {
			got := b.text(t, fmt.Sprintf(`.red-ui-flowhist-list li[data-revision="%d"] .red-ui-flowhist-user`, rev))
			if got != user {
				t.Errorf("revision %d: got actor %q, want %q", rev, got, user)
			}
		}
		if s := b.text(t, fmt.Sprintf(`.red-ui-flowhist-list li[data-revision="%d"] .red-ui-flowhist-summary`, revs["v1"])); !strings.Contains(s, "+4") || !strings.Contains(s, "version") {
			t.Errorf("revision %d's summary: got %q, want +4 nodes added, naming the function \"version\"", revs["v1"], s)
		}
		if s := b.text(t, fmt.Sprintf(`.red-ui-flowhist-list li[data-revision="%d"] .red-ui-flowhist-summary`, revs["v2"])); !strings.Contains(s, "~1 version") {
			t.Errorf("revision %d's summary: got %q, want ~1 version", revs["v2"], s)
		}
		if pictures {
			b.screenshot(t, "history-sidebar.png", `#red-ui-sidebar`)
		}
	})

	t.Run("DiffOfFunctionChangeShowsRemovedAndAddedCode", func(t *testing.T) {
		b.click(t, fmt.Sprintf(`.red-ui-flowhist-list li[data-revision="%d"]`, revs["v2"]))
		b.trayOpen(t, 20*time.Second, `.red-ui-flowhist-view[data-done="true"] .red-ui-flowhist-diff[data-ready="true"]`)
		// The code in the colours of the editor's own code editor (Monaco,
		// Node-RED 4's and 5's default), as in the node's edit dialog.
		b.waitJS(t, 10*time.Second, `(function () {
			var el = document.querySelector('.red-ui-flowhist-view [data-property="func"] .red-ui-flowhist-code');
			return !!el && el.getAttribute("data-colors") === "monaco" && !!el.querySelector('.ins span[class*="mtk"]');
		})()`)
		del := b.text(t, `.red-ui-flowhist-view [data-property="func"] .del`)
		ins := b.text(t, `.red-ui-flowhist-view [data-property="func"] .ins`)
		if !strings.Contains(del, `msg.payload = "v1";`) {
			t.Errorf("removed line: got %q, want msg.payload = \"v1\";", del)
		}
		if !strings.Contains(ins, `msg.payload = "v2";`) {
			t.Errorf("added line: got %q, want msg.payload = \"v2\";", ins)
		}
		if pictures {
			b.screenshot(t, "history-diff.png", `.red-ui-tray`)
		}
		// The node's name reveals it in the workspace.
		b.click(t, `.red-ui-flowhist-view [data-node="fn1"] .red-ui-flowhist-reveal`)
		b.waitJS(t, 10*time.Second, `!document.querySelector(".red-ui-tray") && !!RED.nodes.node("fn1").__flashTimer`)
	})

	t.Run("NodeHistoryFromContextMenu", func(t *testing.T) {
		b.rightClickNode(t, "fn1")
		b.click(t, `.red-ui-flowhist-menu-item`)
		b.trayOpen(t, 20*time.Second, `.red-ui-flowhist-node-history[data-done="true"]`)
		for _, v := range []string{"v1", "v2", "v3"} {
			sel := fmt.Sprintf(`.red-ui-flowhist-node-history li[data-revision="%d"]`, revs[v])
			if n := b.count(t, sel); n != 1 {
				t.Errorf("node fn1's history: got %d entries for revision %d (%s), want 1", n, revs[v], v)
			}
		}
		// Each entry opens as a diff.
		b.click(t, fmt.Sprintf(`.red-ui-flowhist-node-history li[data-revision="%d"] .red-ui-flowhist-open-diff`, revs["v3"]))
		b.trayOpen(t, 20*time.Second, fmt.Sprintf(`.red-ui-flowhist-view[data-revision="%d"][data-done="true"] .red-ui-flowhist-diff[data-ready="true"]`, revs["v3"]))
		if ins := b.text(t, `.red-ui-flowhist-view [data-property="func"] .ins`); !strings.Contains(ins, `"v3"`) {
			t.Errorf("revision %d's diff from fn1's history: got added lines %q, want v3's", revs["v3"], ins)
		}
		b.closeTray(t)
	})

	t.Run("ShiftClickComparesTwoRevisions", func(t *testing.T) {
		b.click(t, fmt.Sprintf(`.red-ui-flowhist-list li[data-revision="%d"]`, revs["v1"]))
		b.trayOpen(t, 20*time.Second, `.red-ui-flowhist-view[data-done="true"]`)
		b.closeTray(t)
		b.shiftClick(t, fmt.Sprintf(`.red-ui-flowhist-list li[data-revision="%d"]`, revs["v3"]))
		b.trayOpen(t, 20*time.Second, fmt.Sprintf(`.red-ui-flowhist-view[data-revision="%d"][data-done="true"] .red-ui-flowhist-diff[data-ready="true"]`, revs["v3"]))
		del := b.text(t, `.red-ui-flowhist-view [data-property="func"] .del`)
		ins := b.text(t, `.red-ui-flowhist-view [data-property="func"] .ins`)
		if !strings.Contains(del, `"v1"`) || !strings.Contains(ins, `"v3"`) {
			t.Errorf("revisions %d to %d compared: got removed %q and added %q, want v1's line removed and v3's added", revs["v1"], revs["v3"], del, ins)
		}
		b.closeTray(t)
	})

	// A 1 MB flows document and a deploy that changes 20 of its functions.
	t.Run("DiffOfOneMegabyteDocument", func(t *testing.T) {
		c.admin.mustDeploy(t, tok["bob"], bigFlow(0))
		c.admin.mustDeploy(t, tok["bob"], bigFlow(1))
		big, _ := strconv.Atoi(c.namespaceRevision(t))
		sel := fmt.Sprintf(`.red-ui-flowhist-list li[data-revision="%d"]`, big)
		// The sidebar learns of it live (comms), without a refresh.
		b.waitJS(t, 20*time.Second, fmt.Sprintf(`!!document.querySelector(%q)`, sel))
		ready := `.red-ui-flowhist-view[data-done="true"] .red-ui-flowhist-diff[data-ready="true"]`
		took := b.timeUntil(t, 60*time.Second, fmt.Sprintf(`!!document.querySelector(%q)`, ready), func() { b.click(t, sel) })
		b.trayOpen(t, 60*time.Second, ready)
		routeStart := time.Now()
		code, body := get(fmt.Sprintf("%s/flowhist/diff?from=%d&to=%d&positions=false", c.admin.URL, big-1, big), http.Header{"Authorization": {"Bearer " + tok["alice"]}})
		if code != 200 {
			t.Fatalf("GET flowhist/diff: got %d %s, want 200", code, body)
		}
		t.Logf("Node-RED %s: GET flowhist/diff of the 1 MB document answered %d bytes in %s", red.name, len(body), time.Since(routeStart).Round(time.Millisecond))
		if n := b.count(t, `.red-ui-flowhist-view .red-ui-flowhist-node.changed`); n != 20 {
			t.Errorf("the 1 MB document's diff: got %d changed nodes, want 20", n)
		}
		t.Logf("Node-RED %s: the diff of a %d-byte flows document (20 functions changed) was on the page %s after the click (measured in the page; its request to the admin took %s)", red.name, bigFlowSize, took.Round(time.Millisecond), b.requestTime(t, "flowhist/diff?"))
		b.closeTray(t)
	})

	t.Run("RestoreRevision1WithReason", func(t *testing.T) {
		const reason = "v3 broke the checkout"
		b.click(t, fmt.Sprintf(`.red-ui-flowhist-list li[data-revision="%d"]`, revs["v1"]))
		b.trayOpen(t, 20*time.Second, `.red-ui-flowhist-view[data-done="true"]`)
		b.click(t, `.red-ui-flowhist-restore-open`)
		b.do(t, 10*time.Second, chromedp.SendKeys(chromedp.CSS(`.red-ui-flowhist-reason-input`), reason))
		b.click(t, `.red-ui-flowhist-restore-confirm`)
		c.waitServes(t, 20*time.Second, "v1")
		b.waitJS(t, 20*time.Second, fmt.Sprintf(`Array.from(document.querySelectorAll(".red-ui-flowhist-list li.red-ui-flowhist-entry")).some(li => li.querySelector(".red-ui-flowhist-kind.rollback") && li.textContent.includes(%q) && li.textContent.includes("alice"))`, reason))
		b.waitJS(t, 20*time.Second, `!!RED.nodes.node("fn1") && RED.nodes.node("fn1").func.includes('"v1"') && !RED.nodes.dirty()`)
		// The tray closed itself after the restore.
		b.waitJS(t, 10*time.Second, `!document.querySelector(".red-ui-tray")`)
		var h struct {
			Entries []struct {
				Reason string `json:"reason"`
				Target int    `json:"target"`
				Actor  struct {
					User string `json:"user"`
				} `json:"actor"`
			} `json:"entries"`
		}
		c.flowhistJSON(t, "/history?kind=rollback", &h)
		if len(h.Entries) != 1 || h.Entries[0].Reason != reason || h.Entries[0].Target != revs["v1"] || h.Entries[0].Actor.User != "alice" {
			t.Errorf("flowhist's rollback history: got %+v, want one rollback to %d by alice with reason %q", h.Entries, revs["v1"], reason)
		}
	})

	t.Run("FilterByKindShowsOnlyTheRollback", func(t *testing.T) {
		b.click(t, `.red-ui-flowhist-filter-toggle`)
		b.do(t, 10*time.Second, chromedp.SetValue(chromedp.CSS(`.red-ui-flowhist-f-kind`), "rollback"))
		b.click(t, `.red-ui-flowhist-f-apply`)
		b.waitJS(t, 20*time.Second, `(() => { const li = document.querySelectorAll(".red-ui-flowhist-list li.red-ui-flowhist-entry"); return li.length > 0 && Array.from(li).every(e => e.querySelector(".red-ui-flowhist-kind.rollback")); })()`)
		if n := b.count(t, `.red-ui-flowhist-list li.red-ui-flowhist-entry`); n != 1 {
			t.Errorf("filtered by kind rollback: got %d entries, want 1", n)
		}
	})

	t.Run("ReadOnlyUserSeesNoRestore", func(t *testing.T) {
		r := newBrowser(t, "carol")
		defer r.close()
		r.login(t, c.admin.URL, "carol")
		r.do(t, 20*time.Second, chromedp.Evaluate[chromedp.Void](`RED.actions.invoke("flowhist:show-history-tab")`))
		sel := fmt.Sprintf(`.red-ui-flowhist-list li[data-revision="%d"]`, revs["v1"])
		r.waitJS(t, 20*time.Second, fmt.Sprintf(`!!document.querySelector(%q)`, sel))
		r.click(t, sel)
		r.trayOpen(t, 20*time.Second, `.red-ui-flowhist-view[data-done="true"]`)
		if n := r.count(t, `.red-ui-flowhist-restore-open`); n != 0 {
			t.Errorf("carol (read only): got %d Restore buttons, want 0", n)
		}
		if n := r.count(t, `.red-ui-flowhist-denied`); n != 1 {
			t.Errorf("carol (read only): got %d notes saying why there is no Restore, want 1", n)
		}
		// And the route refuses her, whatever the page shows.
		code, body := postJSON(c.admin.URL+"/flowhist/restore", tok["carol"], `{"revision":1,"reason":"x"}`)
		if code != 401 && code != 403 {
			t.Errorf("POST flowhist/restore as carol: got %d %s, want 401 or 403", code, body)
		}
	})
}

// TestEditorHistoryWithoutAdminAuth is the sidebar with adminAuth off,
// used from the keyboard: everyone may restore. Its code comes from the
// module's resources/ folder, and a node id with HTML in it stays text in
// a tray title, which Node-RED fills as HTML.
func TestEditorHistoryWithoutAdminAuth(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is not installed: run `make deps-e2e` (or `apt-get install -y chromium`): %v", err)
	}
	c := newEditorCluster(t, nodeRED4, true)
	h := http.Header{"Node-Red-Api-Version": {"v2"}}
	code, body := get(c.admin.URL+"/flows", h)
	var cur struct {
		Rev string `json:"rev"`
	}
	if err := json.Unmarshal([]byte(body), &cur); code != 200 || err != nil {
		t.Fatalf("GET /flows without adminAuth: %d %s", code, body)
	}
	var revs []int
	for i := 1; i <= 7; i++ {
		if code, body := c.admin.deploy("", versionFlow(fmt.Sprintf("v%d", i)), cur.Rev); code != 200 {
			t.Fatalf("deploy without adminAuth: %d %s", code, body)
		}
		code, body = get(c.admin.URL+"/flows", h)
		if err := json.Unmarshal([]byte(body), &cur); code != 200 || err != nil {
			t.Fatalf("GET /flows without adminAuth: %d %s", code, body)
		}
		r, _ := strconv.Atoi(c.namespaceRevision(t))
		revs = append(revs, r)
	}
	rev := revs[0]

	b := newBrowser(t, "anonymous")
	defer b.close()
	b.do(t, 60*time.Second, chromedp.Navigate(c.admin.URL+"/"))
	b.waitJS(t, 60*time.Second, `typeof RED !== "undefined" && RED.nodes && RED.nodes.version() !== null && !!RED.actions.get("flowhist:show-history-tab")`)
	b.do(t, 20*time.Second, chromedp.Evaluate[chromedp.Void](`RED.actions.invoke("flowhist:show-history-tab")`))
	sel := fmt.Sprintf(`.red-ui-flowhist-list li[data-revision="%d"]`, rev)
	// Pages of 2 (historyPageSize): the list pages on until it is full or
	// at the beginning of the history, which has the first deploy.
	b.waitJS(t, 20*time.Second, fmt.Sprintf(`!!document.querySelector(%q)`, sel))
	for _, r := range revs {
		if n := b.count(t, fmt.Sprintf(`.red-ui-flowhist-list li[data-revision="%d"]`, r)); n != 1 {
			t.Errorf("revision %d: got %d entries in the sidebar, want 1", r, n)
		}
	}
	if n := b.count(t, `.red-ui-flowhist-list li.red-ui-flowhist-entry`); n < len(revs) {
		t.Errorf("got %d entries, want at least %d", n, len(revs))
	}
	// Keyboard: the entry takes the focus and Enter opens its diff.
	b.do(t, 10*time.Second, chromedp.Focus(chromedp.CSS(sel)), chromedp.KeyEvent(kb.Enter))
	b.trayOpen(t, 20*time.Second, `.red-ui-flowhist-view[data-done="true"] .red-ui-flowhist-diff[data-ready="true"]`)
	if n := b.count(t, `.red-ui-flowhist-view .red-ui-flowhist-node.added`); n != 4 {
		t.Errorf("revision %d's diff: got %d added nodes, want 4", rev, n)
	}
	if n := b.count(t, `.red-ui-flowhist-restore-open`); n != 1 {
		t.Errorf("without adminAuth: got %d Restore buttons, want 1", n)
	}
	b.closeTray(t)

	// The sidebar's code is the module's resources/history.js, as Node-RED
	// serves a module's resources/ folder.
	b.waitJS(t, 10*time.Second, `performance.getEntriesByType("resource").some(e => new URL(e.name).pathname === "/resources/node-red-storage-flowhist/history.js")`)

	// A node id is text in the title of its history's tray, which Node-RED
	// fills as HTML.
	const evil = `<img src=x onerror="window.flowhistXSS=1">`
	b.do(t, 10*time.Second, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(function () {
		RED.nodes.import([{ id: %q, type: "inject", z: RED.workspaces.active(), x: 400, y: 300, wires: [] }]);
		RED.view.select(%q);
		RED.actions.invoke("flowhist:show-node-history");
	})()`, evil, evil)))
	b.trayOpen(t, 20*time.Second, `.red-ui-flowhist-view.red-ui-flowhist-node-history[data-done="true"]`)
	title := b.text(t, `.red-ui-tray-titlebar`)
	if !strings.Contains(title, evil) || b.count(t, `.red-ui-tray-titlebar img`) != 0 {
		t.Errorf("the node history's tray title: got %q with %d img elements, want the node id as text", title, b.count(t, `.red-ui-tray-titlebar img`))
	}
	b.waitJS(t, 5*time.Second, `window.flowhistXSS === undefined`)
}

// startEditorAdmin starts the Node-RED admin of the editor tests: the
// module's plugin loaded (nodesDir), adminAuth with editorUsers unless
// noAuth.
func startEditorAdmin(t *testing.T, c *cluster, r redRuntime, token string, noAuth bool) *nodeRed {
	t.Helper()
	pageSize := 50
	if noAuth {
		pageSize = 2 // pages: the sidebar must page on through the cursor
	}
	module := filepath.Join(repoRoot(), "node-red")
	n := launchRed(t, c.dir, "nodered-admin", redSettings{
		secret: c.secret, storage: module, nodesDir: module, users: editorUsers, noAuth: noAuth,
		optionsKey: "flowhist",
		options:    map[string]any{"url": c.fh.URL, "token": token, "namespace": c.ns, "role": "admin", "historyPageSize": pageSize},
	}, redLaunch{red: r, npmProject: true})
	n.role = "admin"
	return n
}

// postJSON POSTs body as JSON with token, answering the status and body
// (0 and the error when nothing came back).
func postJSON(u, token, body string) (int, string) {
	a := send(client, http.MethodPost, u, []byte(body), http.Header{
		"Content-Type": {"application/json"}, "Authorization": {"Bearer " + token}})
	if a.status == 0 && a.err != nil {
		return 0, a.err.Error()
	}
	return a.status, string(a.body)
}

// bigFlowSize is about the size of bigFlow's document.
var bigFlowSize = func() int { b, _ := json.Marshal(bigFlow(0)); return len(b) }()

// bigFlow is a flows document of about 1 MB: the version tab and 1000
// function nodes of about 1 KB of code each; variant changes the code of
// the first 20.
func bigFlow(variant int) []map[string]any {
	flows := versionFlow("v3")
	flows = append(flows, map[string]any{"id": "bigtab", "type": "tab", "label": "Big"})
	line := strings.Repeat("x", 60)
	for i := 0; i < 1000; i++ {
		var code strings.Builder
		for l := 0; l < 16; l++ {
			fmt.Fprintf(&code, "msg.f%d_%d = %q;\n", i, l, line)
		}
		v := 0
		if i < 20 {
			v = variant
		}
		fmt.Fprintf(&code, "msg.variant = %d;\nreturn msg;", v)
		flows = append(flows, map[string]any{"id": fmt.Sprintf("big%04d", i), "type": "function", "z": "bigtab", "name": fmt.Sprintf("f%d", i), "func": code.String(), "outputs": 1, "x": 100 + (i%20)*150, "y": 40 + (i/20)*40, "wires": [][]string{}})
	}
	return flows
}

// browser is one headless Chromium with its own profile, driven through
// the DevTools protocol.
type browser struct {
	name   string
	ctx    context.Context
	cancel func()
}

func newBrowser(t *testing.T, name string) *browser {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Fatalf("chromium not found at %s: run `make deps-e2e` (apt-get install -y chromium): %v", chromiumPath, err)
	}
	profile := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// The machine's network is closed: no background connections.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1400, 900),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{name: name, ctx: ctx, cancel: func() { cancel(); acancel() }}
	// Start the browser now, without a deadline (a deadline on the first
	// run would bound the browser's whole life).
	if err := chromedp.Do(ctx); err != nil {
		b.cancel()
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(b.cancel)
	return b
}

func (b *browser) close() { b.cancel() }

// fail saves a screenshot of the page into a temporary directory that
// outlives the test (t.TempDir's is removed), logs its path, and fails
// the test.
func (b *browser) fail(t *testing.T, format string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		if dir, err := os.MkdirTemp("", "flowhist-editor-failure-"); err == nil {
			p := filepath.Join(dir, fmt.Sprintf("%s-%s.png", b.name, strings.ReplaceAll(t.Name(), "/", "-")))
			if os.WriteFile(p, png, 0o644) == nil {
				t.Logf("screenshot of %s's page at the failure: %s", b.name, p)
			}
		}
	}
	t.Fatalf(format, args...)
}

// do runs actions with a deadline.
func (b *browser) do(t *testing.T, within time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, within)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(t, "%s's browser: %v", b.name, err)
	}
}

// waitJS waits until the expression is truthy in the page.
func (b *browser) waitJS(t *testing.T, within time.Duration, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, within)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(within), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		b.fail(t, "%s's browser: waiting for %s: %v", b.name, expr, err)
	}
}

func (b *browser) click(t *testing.T, sel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.fail(t, "%s's browser: clicking %s: %v", b.name, sel, err)
	}
}

func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).map(e => e.textContent).join("\n")`, sel)))
	if err != nil {
		b.fail(t, "%s's browser: text of %s: %v", b.name, sel, err)
	}
	return s
}

func (b *browser) count(t *testing.T, sel string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	if err != nil {
		b.fail(t, "%s's browser: counting %s: %v", b.name, sel, err)
	}
	return n
}

// login opens the editor and logs in through its login dialog.
func (b *browser) login(t *testing.T, editorURL, user string) {
	t.Helper()
	b.do(t, 60*time.Second,
		chromedp.Navigate(editorURL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#node-dialog-login-username`)),
		chromedp.SendKeys(chromedp.CSS(`#node-dialog-login-username`), user),
		chromedp.SendKeys(chromedp.CSS(`#node-dialog-login-password`), editorPassword),
		chromedp.Click(chromedp.CSS(`#node-dialog-login-submit`)),
	)
	// The editor has loaded its flows and the plugin has added its tab.
	b.waitJS(t, 60*time.Second, `typeof RED !== "undefined" && RED.nodes && RED.nodes.version() !== null && !!RED.actions.get("flowhist:show-history-tab")`)
}

// rightClickNode selects the node with a click and opens the workspace's
// context menu on it.
func (b *browser) rightClickNode(t *testing.T, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	rect, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](fmt.Sprintf(`(() => { RED.view.reveal(%q); const r = document.getElementById(%q).querySelector(".red-ui-flow-node").getBoundingClientRect(); return [r.x + r.width/2, r.y + r.height/2]; })()`, id, id)))
	if err != nil || len(rect) != 2 {
		b.fail(t, "%s's browser: finding node %s in the workspace: %v", b.name, id, err)
	}
	b.do(t, 10*time.Second,
		chromedp.MouseClickXY(rect[0], rect[1]),
		chromedp.MouseClickXY(rect[0], rect[1], chromedp.ButtonType(input.MouseButtonRight)),
	)
}

// trayOpen waits until the tray has slid in and the page has sel (what
// it shows when done).
func (b *browser) trayOpen(t *testing.T, within time.Duration, sel string) {
	t.Helper()
	b.waitJS(t, within, fmt.Sprintf(`(() => { const t = document.querySelectorAll(".red-ui-tray"); return t.length === 1 && getComputedStyle(t[0]).right === "0px" && !!t[0].querySelector(%q); })()`, sel))
}

// timeUntil measures, in the page, the time from the start of act until
// cond (a JavaScript expression) first holds, watching the DOM's changes.
// act starts when the page sees the first mouse press after the call, or
// when it runs startMark() itself: the protocol's round trips before
// either are not counted.
func (b *browser) timeUntil(t *testing.T, within time.Duration, cond string, act func()) time.Duration {
	t.Helper()
	// Start when the page is idle: not while the editor is still busy
	// starting up, which the figure is not about.
	b.do(t, 10*time.Second, chromedp.Evaluate[chromedp.Void](`window.__fhIdle = false; requestIdleCallback(() => { window.__fhIdle = true; }, { timeout: 5000 })`))
	b.waitJS(t, 10*time.Second, `window.__fhIdle === true`)
	b.do(t, 10*time.Second, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		window.__fhTook = undefined;
		window.__fhT0 = undefined;
		window.startMark = () => { if (window.__fhT0 === undefined) window.__fhT0 = performance.now(); };
		document.addEventListener("mousedown", window.startMark, { capture: true, once: true });
		const check = () => { if (window.__fhT0 !== undefined && window.__fhTook === undefined && (%s)) { window.__fhTook = performance.now() - window.__fhT0; obs.disconnect(); } };
		const obs = new MutationObserver(check);
		obs.observe(document.body, { childList: true, subtree: true, attributes: true });
	})()`, cond)))
	act()
	b.waitJS(t, within, `window.__fhTook !== undefined`)
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	ms, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`window.__fhTook`))
	if err != nil {
		b.fail(t, "%s's browser: reading the time measured: %v", b.name, err)
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// requestTime is how long the page's last request whose URL contains part
// took, from the browser's resource timing.
func (b *browser) requestTime(t *testing.T, part string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	ms, err := chromedp.Run(ctx, chromedp.Evaluate[float64](fmt.Sprintf(`(() => { const e = performance.getEntriesByType("resource").filter(e => e.name.includes(%q)); return e.length ? e[e.length-1].duration : -1; })()`, part)))
	if err != nil {
		b.fail(t, "%s's browser: resource timing of %s: %v", b.name, part, err)
	}
	return time.Duration(ms * float64(time.Millisecond)).Round(time.Millisecond)
}

// shiftClick clicks the middle of the element with Shift held.
func (b *browser) shiftClick(t *testing.T, sel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	at, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.scrollIntoView({block: "center"}); const r = e.getBoundingClientRect(); return [r.x + r.width/2, r.y + r.height/2]; })()`, sel)))
	if err != nil || len(at) != 2 {
		b.fail(t, "%s's browser: finding %s: %v", b.name, sel, err)
	}
	b.do(t, 10*time.Second, chromedp.MouseClickXY(at[0], at[1], chromedp.ButtonModifiers(chromedp.ModifierShift)))
}

func (b *browser) closeTray(t *testing.T) {
	t.Helper()
	b.click(t, `#red-ui-flowhist-tray-close`)
	b.waitJS(t, 10*time.Second, `!document.querySelector(".red-ui-tray")`)
}

// screenshot writes the element's picture: to node-red/docs/, which the
// README shows, when FLOWHIST_UPDATE_SCREENSHOTS=1 (so that a test run does
// not change the working tree), else to a folder under the system's
// temporary directory, whose path is logged.
func (b *browser) screenshot(t *testing.T, file, sel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel)))
	if err != nil {
		b.fail(t, "%s's browser: screenshot of %s: %v", b.name, sel, err)
	}
	p := filepath.Join(os.TempDir(), "flowhist-editor-screenshots", file)
	if os.Getenv("FLOWHIST_UPDATE_SCREENSHOTS") == "1" {
		p = filepath.Join(repoRoot(), "node-red", "docs", file)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("screenshot %s: got %d bytes that are not a PNG", file, len(png))
	}
	t.Logf("screenshot: %s", p)
}
