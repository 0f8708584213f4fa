package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	fhclient "github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// TestEditorIdentity: on a real Node-RED admin with adminAuth, whose
// flowhist token (admin-node-red) has assert_users, an editor user's
// deploy and her editor preference save are recorded as her via the
// admin's token; the History sidebar in a real Chromium shows "alice via
// admin-node-red", names the new tab by its label, and folds the settings
// saves into a quiet line that expands; a token without assert_users
// (deploy-ci) that names a user is refused and changes nothing. On
// Node-RED 4.1 and 5 (whose editor saves a preference when the History
// tab opens).
func TestEditorIdentity(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is not installed: run `make deps-e2e` (or `apt-get install -y chromium`): %v", err)
	}
	for _, red := range []redRuntime{nodeRED4, nodeRED5} {
		t.Run("NodeRED"+red.name, func(t *testing.T) { editorIdentity(t, red) })
	}
}

func editorIdentity(t *testing.T, red redRuntime) {
	c := newEditorCluster(t, red, false)
	alice := c.admin.login(t, "alice", "")

	// alice deploys a tab labelled Acceptance.
	flows := versionFlow("acceptance")
	flows[0]["label"] = "Acceptance"
	c.admin.mustDeploy(t, alice, flows)
	deployed := newest(t, c, "flows")
	if deployed.Actor.User != "alice" || deployed.Token != "admin-node-red" {
		t.Fatalf("deploy: got actor %+v token %q, want alice via admin-node-red", deployed.Actor, deployed.Token)
	}
	if !hasRef(deployed.Summary, domain.NodeRef{ID: "tab1", Type: "tab", Name: "Acceptance"}) {
		t.Fatalf("deploy: got summary %+v, want the tab named by its label Acceptance", deployed.Summary)
	}

	// alice changes an editor preference: Node-RED saves all its settings
	// and tells the storage module no user; the module finds her in the
	// users section.
	h := http.Header{"Authorization": {"Bearer " + alice}, "Content-Type": {"application/json"}}
	if a := send(client, http.MethodPost, c.admin.URL+"/settings/user", []byte(`{"editor":{"view":{"view-grid-size":30}}}`), h); a.status/100 != 2 {
		t.Fatalf("POST /settings/user as alice: %d %s %v", a.status, a.body, a.err)
	}
	pref := newest(t, c, "settings")
	if pref.Actor.User != "alice" || pref.Token != "admin-node-red" {
		t.Fatalf("preference save: got actor %+v token %q, want alice via admin-node-red", pref.Actor, pref.Token)
	}

	t.Run("ErrForbiddenTokenWithoutAssertUsers", func(t *testing.T) {
		head := c.history(t, fhclient.HistoryQuery{Page: fhclient.Page{Limit: 1}}).Entries[0].Revision
		base := c.fh.URL + "/v1/namespaces/" + c.ns
		for _, r := range []struct {
			method, path, body string
			hdr                http.Header
		}{
			{"PUT", "/settings", `{"users":{"alice":{"x":1}}}`, http.Header{"Flowhist-User": {"alice"}}},
			{"POST", "/deploy", `{"flows":[],"user":"alice"}`, nil},
		} {
			hdr := http.Header{"Authorization": {"Bearer " + c.tokens["deploy-ci"]}, "Content-Type": {"application/json"}}
			for k, v := range r.hdr {
				hdr[k] = v
			}
			a := send(client, r.method, base+r.path, []byte(r.body), hdr)
			var e httpapi.Error
			if json.Unmarshal(a.body, &e); a.status != http.StatusForbidden || e.Code != domain.EFORBIDDEN || !strings.Contains(e.Message, "assert_users") {
				t.Fatalf("%s %s naming alice with deploy-ci: got %d %s, want 403 forbidden naming assert_users", r.method, r.path, a.status, a.body)
			}
		}
		if got := c.history(t, fhclient.HistoryQuery{Page: fhclient.Page{Limit: 1}}).Entries[0].Revision; got != head {
			t.Fatalf("got head %d, want %d: nothing appended", got, head)
		}
	})

	t.Run("SidebarShowsUserViaTokenAndTabLabel", func(t *testing.T) {
		b := newBrowser(t, "alice")
		defer b.close()
		b.login(t, c.admin.URL, "alice")
		b.do(t, 20*time.Second, chromedp.Evaluate[chromedp.Void](`RED.actions.invoke("flowhist:show-history-tab")`))
		entry := fmt.Sprintf(`.red-ui-flowhist-list li[data-revision="%d"]`, deployed.Revision)
		b.waitJS(t, 20*time.Second, fmt.Sprintf(`!!document.querySelector(%q)`, entry))
		if got := b.text(t, entry+" .red-ui-flowhist-user"); got != "alice" {
			t.Errorf("deploy's user: got %q, want alice", got)
		}
		if got := b.text(t, entry+" .red-ui-flowhist-token"); got != " via admin-node-red" {
			t.Errorf("deploy's token: got %q, want \" via admin-node-red\"", got)
		}
		if got := b.text(t, entry+" .red-ui-flowhist-summary"); !strings.Contains(got, "tab Acceptance") || strings.Contains(got, "tab1") {
			t.Errorf("deploy's summary: got %q, want the tab by its label (tab Acceptance), not its id", got)
		}
		// The preference save is in a quiet line, hidden until it is
		// opened; the deploy is not.
		saved := fmt.Sprintf(`.red-ui-flowhist-quiet li[data-revision="%d"]`, pref.Revision)
		if n := b.count(t, saved); n != 1 {
			t.Fatalf("got %d preference saves in a quiet line, want 1", n)
		}
		if n := b.count(t, `.red-ui-flowhist-quiet `+entry); n != 0 {
			t.Fatalf("the deploy is folded into a quiet line, want it to stand out")
		}
		b.waitJS(t, 5*time.Second, fmt.Sprintf(`document.querySelector(%q).offsetParent === null`, saved))
		b.do(t, 10*time.Second, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).closest(".red-ui-flowhist-quiet").querySelector("button").click()`, saved)))
		b.waitJS(t, 5*time.Second, fmt.Sprintf(`document.querySelector(%q).offsetParent !== null`, saved))
		if got := b.text(t, saved+" .red-ui-flowhist-user"); got != "alice" {
			t.Errorf("preference save's user: got %q, want alice", got)
		}
	})
}

// newest is the newest event of kind in the cluster's namespace.
func newest(t *testing.T, c *cluster, kind string) httpapi.HistoryEntry {
	t.Helper()
	h := c.history(t, fhclient.HistoryQuery{Page: fhclient.Page{Limit: 1}, Kind: kind})
	if len(h.Entries) == 0 {
		t.Fatalf("no %s event in the history", kind)
	}
	return h.Entries[0]
}

func hasRef(s *domain.Summary, want domain.NodeRef) bool {
	if s == nil {
		return false
	}
	for _, refs := range [][]domain.NodeRef{s.Added, s.Changed} {
		for _, r := range refs {
			if r == want {
				return true
			}
		}
	}
	return false
}
