package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	fhclient "github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/domain"
)

// xssMark is what every hostile string runs if it ever becomes markup.
const xssMark = `window.__fhXSS=(window.__fhXSS||0)+1`

// Hostile strings, as anyone who can deploy (an editor user, a deploy
// token, an import) can plant them in ids, names, labels, actors and
// reasons.
var (
	hostileImg    = `<img src=x onerror="` + xssMark + `">`
	hostileScript = `"><script>` + xssMark + `</script>`
	hostileJSURL  = `javascript:` + xssMark
	hostileRLO    = "\u202Egnp.exe\u202C <b>bold</b>"
	hostileLong   = strings.Repeat("L", 10000) + hostileImg
	hostileID     = `n1` + hostileImg
	hostileActor  = `<img src=x onerror="` + xssMark + `">mallory`
	hostileReason = hostileScript + " " + hostileJSURL
)

// hostileFlows is a flows document whose tab label, node names and one
// node id are hostile; variant 2 changes the function's code and names.
func hostileFlows(variant int) []map[string]any {
	label, fn := hostileScript, hostileImg
	code := "return msg;"
	if variant == 2 {
		label, fn = hostileImg, hostileRLO
		code = "// " + hostileImg + "\n// " + hostileScript + "\nreturn msg;"
	}
	return []map[string]any{
		{"id": "ht1", "type": "tab", "label": label},
		{"id": "hfn", "type": "function", "z": "ht1", "name": fn, "func": code, "outputs": 1, "x": 200, "y": 100, "wires": [][]string{}},
		{"id": hostileID, "type": "inject", "z": "ht1", "name": hostileJSURL, "x": 200, "y": 200, "wires": [][]string{}},
		{"id": "hlong", "type": "comment", "z": "ht1", "name": hostileLong, "x": 200, "y": 300, "wires": [][]string{}},
		{"id": "hrlo", "type": "comment", "z": "ht1", "name": hostileRLO + fmt.Sprint(variant), "x": 200, "y": 400, "wires": [][]string{}},
	}
}

// TestEditorHostileStrings is issue 19's finding 4: what anyone deploys
// reaches other users' editors. Hostile ids, names, tab labels, actors and
// reasons (markup, a javascript: URL, right-to-left overrides, a 10 000-
// character name) are deployed and rolled back through flowhist; in a real
// Chromium on Node-RED 4.1 and 5, the History sidebar's list, the diff,
// the node history's tray title and RED.notify's error show each of them
// literally, as text: no script runs and none of them becomes an element.
func TestEditorHostileStrings(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is not installed: run `make deps-e2e` (or `apt-get install -y chromium`): %v", err)
	}
	for _, red := range []redRuntime{nodeRED4, nodeRED5} {
		t.Run("NodeRED"+red.name, func(t *testing.T) { editorHostile(t, red) })
	}
}

// noMarkup is a JavaScript expression: true when none of the plugin's
// places holds an element made of a hostile string, and no script ran.
const noMarkup = `(() => {
	if (window.__fhXSS !== undefined) return false;
	const places = ".red-ui-flowhist-list, .red-ui-flowhist-view, .red-ui-tray-titlebar, .red-ui-notification";
	for (const p of document.querySelectorAll(places)) {
		if (p.querySelector("img, script, b, iframe, [onerror], a[href^='javascript'], a[href^=' javascript']")) return false;
	}
	return true;
})()`

func editorHostile(t *testing.T, red redRuntime) {
	c := newEditorCluster(t, red, false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fh := c.api(t)
	put := func(variant int) domain.Revision {
		body, _ := json.Marshal(hostileFlows(variant))
		saved, err := fh.PutFlows(ctx, body, fhclient.Write{User: hostileActor})
		if err != nil {
			t.Fatalf("deploying hostile flows %d: %v", variant, err)
		}
		return saved.Revision
	}
	v1 := put(1)
	v2 := put(2)
	rolled, err := fh.Rollback(ctx, v1, hostileReason, fhclient.Write{User: hostileActor})
	if err != nil || rolled.Saved == nil {
		t.Fatalf("rolling back with a hostile reason: %+v %v", rolled, err)
	}
	rb := rolled.Saved

	b := newBrowser(t, "victim")
	defer b.close()
	b.login(t, c.admin.URL, "alice")
	b.do(t, 20*time.Second, chromedp.Evaluate[chromedp.Void](`RED.actions.invoke("flowhist:show-history-tab")`))
	entry := func(rev domain.Revision) string {
		return fmt.Sprintf(`.red-ui-flowhist-list li[data-revision="%d"]`, rev)
	}
	b.waitJS(t, 30*time.Second, fmt.Sprintf(`!!document.querySelector(%q) && !!document.querySelector(%q)`, entry(v1), entry(rb.Revision)))
	// literal checks that the text of sel holds each of want as it is.
	literal := func(t *testing.T, where, sel string, want ...string) {
		t.Helper()
		got := b.text(t, sel)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q is not shown as text (got %d characters: %.200q…)", where, w[:min(len(w), 60)], len(got), got)
			}
		}
	}
	checkClean := func(t *testing.T, where string) {
		t.Helper()
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](noMarkup))
		if err != nil || !ok {
			b.fail(t, "%s: a hostile string became markup or ran (err %v)", where, err)
		}
	}

	t.Run("SidebarList", func(t *testing.T) {
		literal(t, "the list's actors", entry(v2)+" .red-ui-flowhist-user", hostileActor)
		literal(t, "the rollback's reason", entry(rb.Revision)+" .red-ui-flowhist-reason", hostileReason)
		literal(t, "the first deploy's summary", entry(v1)+" .red-ui-flowhist-summary", hostileImg, hostileJSURL)
		checkClean(t, "the History list")
	})

	t.Run("Diff", func(t *testing.T) {
		b.click(t, entry(v2))
		b.trayOpen(t, 20*time.Second, `.red-ui-flowhist-view[data-done="true"] .red-ui-flowhist-diff[data-ready="true"]`)
		literal(t, "the diff's header", `.red-ui-flowhist-view .red-ui-flowhist-about`, hostileActor)
		literal(t, "the diff's nodes", `.red-ui-flowhist-view .red-ui-flowhist-diff`, hostileRLO, hostileImg)
		literal(t, "the diff's code", `.red-ui-flowhist-view [data-property="func"]`, hostileImg, hostileScript)
		// A property's value is shown as JSON, as text.
		literal(t, "the tab label's change", `.red-ui-flowhist-view [data-node="ht1"]`, jsonText(hostileScript), jsonText(hostileImg))
		checkClean(t, "the diff")
		b.closeTray(t)
		// The first deploy's diff: every node added, the long name and the
		// hostile id among them.
		b.click(t, entry(v1))
		b.trayOpen(t, 20*time.Second, fmt.Sprintf(`.red-ui-flowhist-view[data-revision="%d"][data-done="true"] .red-ui-flowhist-diff[data-ready="true"]`, v1))
		literal(t, "the added nodes", `.red-ui-flowhist-view .red-ui-flowhist-diff`, hostileLong, hostileID, hostileJSURL)
		checkClean(t, "the first deploy's diff")
		b.closeTray(t)
	})

	t.Run("NodeHistoryTrayTitle", func(t *testing.T) {
		b.do(t, 10*time.Second, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`RED.view.select(%q); RED.actions.invoke("flowhist:show-node-history")`, hostileID)))
		b.trayOpen(t, 20*time.Second, `.red-ui-flowhist-view.red-ui-flowhist-node-history[data-done="true"]`)
		literal(t, "the node history's title", `.red-ui-tray-titlebar`, hostileID)
		literal(t, "the node history's entries", `.red-ui-flowhist-node-history .red-ui-flowhist-actor`, hostileActor)
		checkClean(t, "the node history")
		b.closeTray(t)
	})

	t.Run("NotifyError", func(t *testing.T) {
		// A flowhist (or a proxy before it) whose error message carries
		// markup: the restore's answer, as the page receives it.
		msg := hostileImg + hostileScript
		answer, _ := json.Marshal(map[string]string{"code": "conflict", "message": msg})
		stop := interceptOnce(t, b, "*/flowhist/restore", 409, answer)
		defer stop()
		b.click(t, entry(v2))
		b.trayOpen(t, 20*time.Second, `.red-ui-flowhist-view[data-done="true"]`)
		b.click(t, `.red-ui-flowhist-restore-open`)
		b.do(t, 10*time.Second, chromedp.SendKeys(chromedp.CSS(`.red-ui-flowhist-reason-input`), "hostile check"))
		b.click(t, `.red-ui-flowhist-restore-confirm`)
		b.waitJS(t, 20*time.Second, `Array.from(document.querySelectorAll(".red-ui-notification")).some(n => n.textContent.includes("onerror"))`)
		literal(t, "RED.notify's error", `.red-ui-notification`, msg)
		checkClean(t, "RED.notify")
	})
}

// jsonText is s as JSON.stringify writes it (no HTML escapes).
func jsonText(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// interceptOnce answers the page's next request matching pattern with
// status and body (JSON), through the DevTools protocol's Fetch domain;
// stop turns the interception off.
func interceptOnce(t *testing.T, b *browser, pattern string, status int64, body []byte) (stop func()) {
	t.Helper()
	paused := make(chan fetch.RequestID, 1)
	lctx, lcancel := context.WithCancel(b.ctx)
	if err := chromedp.Listen(lctx, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			select {
			case paused <- e.RequestID:
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	b.do(t, 10*time.Second, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: pattern}}})
		return err
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case id := <-paused:
			ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
			defer cancel()
			chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: id, ResponseCode: status,
					ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}}, Body: body})
				return err
			}))
		case <-lctx.Done():
		}
	}()
	return func() {
		lcancel()
		<-done
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		defer cancel()
		chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, fetch.Disable, cdp.Empty{})
			return err
		}))
	}
}
