package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	fhclient "github.com/flowhist/flowhist/client"
)

// startProjectsAdmin starts the cluster's admin with Node-RED Projects on,
// git's identity and configuration kept in the test's directory.
func startProjectsAdmin(tb testing.TB, c *cluster) *nodeRed {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Fatalf("git not found in PATH: Node-RED Projects need it: run `bash .ci/install-deps.sh git` or `apt-get install git`")
	}
	home := filepath.Join(c.dir, "home")
	os.MkdirAll(home, 0o755)
	env := []string{"HOME=" + home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Alice", "GIT_AUTHOR_EMAIL=alice@example.com", "GIT_COMMITTER_NAME=Alice", "GIT_COMMITTER_EMAIL=alice@example.com"}
	gitCfg := exec.Command("git", "config", "--global", "user.name", "Alice")
	gitCfg.Env = append(os.Environ(), env...)
	if out, err := gitCfg.CombinedOutput(); err != nil {
		tb.Fatalf("git config: %v %s", err, out)
	}
	gitCfg = exec.Command("git", "config", "--global", "user.email", "alice@example.com")
	gitCfg.Env = append(os.Environ(), env...)
	gitCfg.Run()
	s := redSettings{secret: c.secret, storage: filepath.Join(repoRoot(), "node-red"), optionsKey: "flowhist", projects: true,
		options: map[string]any{"url": c.fh.URL, "token": c.tokens["deploy-admin"], "namespace": c.ns, "role": "admin"}}
	n := launchRed(tb, c.dir, "nodered-projects-admin", s, redLaunch{red: nodeRED4, env: env})
	n.role = "admin"
	return n
}

// adminAPI calls the admin's Admin API as the editor does and decodes the
// answer into out (unless nil); it fails unless the answer is 2xx.
func adminAPI(tb testing.TB, n *nodeRed, token, method, path string, body, out any) {
	tb.Helper()
	code, b := n.adminAPI(tb, token, method, path, body)
	if code/100 != 2 {
		tb.Fatalf("%s %s: got %d %s", method, path, code, b)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(b), out); err != nil {
			tb.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// TestProjects runs Node-RED Projects on a flowhist admin: projects are
// created, deployed, committed and switched through the Admin API the
// editor uses; workers run the active project's flows from flowhist; the
// history names each deploy's project; after a rollback, a restarted admin
// shows the rolled-back flows as an uncommitted change in the project.
func TestProjects(t *testing.T) {
	c := newCluster(t, 0, false)
	// The plain admin newCluster started is replaced by one with Projects.
	c.admin.stop(syscall.SIGTERM)
	admin := startProjectsAdmin(t, c)
	c.admin = admin
	c.workers = append(c.workers, c.startNode(t, "worker", "w1"))
	tok := admin.token(t)

	create := func(name string) {
		t.Helper()
		adminAPI(t, admin, tok, "POST", "/projects", map[string]any{
			"name": name, "summary": "project " + name, "credentialSecret": c.secret,
			"files": map[string]string{"flow": "flow.json", "credentials": "flow_cred.json"},
		}, nil)
	}
	var active struct {
		Active string `json:"active"`
	}
	create("A")
	adminAPI(t, admin, tok, "GET", "/projects", nil, &active)
	if active.Active != "A" {
		t.Fatalf("got active project %q, want A", active.Active)
	}
	admin.mustDeploy(t, tok, credentialFlow("pA"))
	c.waitServes(t, 5*time.Second, "pA")
	wantSecret(t, c.workers...)
	adminAPI(t, admin, tok, "POST", "/projects/A/stage", map[string]any{"files": []string{"flow.json", "flow_cred.json"}}, nil)
	adminAPI(t, admin, tok, "POST", "/projects/A/commit", map[string]any{"message": "pA"}, nil)

	create("B")
	admin.mustDeploy(t, tok, credentialFlow("pB"))
	c.waitServes(t, 5*time.Second, "pB")

	adminAPI(t, admin, tok, "PUT", "/projects/A", map[string]any{"active": true, "clearContext": false}, nil)
	took := c.waitServes(t, 10*time.Second, "pA")
	t.Logf("the worker served A's flows %s after the switch back", took)
	wantSecret(t, c.workers...)

	t.Run("HistoryNamesProjects", func(t *testing.T) {
		h := c.history(t, fhclient.HistoryQuery{Kind: "flows"})
		var got []string
		for i := len(h.Entries) - 1; i >= 0; i-- {
			got = append(got, h.Entries[i].Project)
		}
		// A's deploy; the switch to the new B (its empty flow file); B's
		// deploy; the switch back to A (A's files).
		if strings.Join(got, ",") != "A,B,B,A" {
			t.Fatalf("got flows events of projects %q, want A, B, B, A (A's deploy, the switch to B, B's deploy, the switch back)", got)
		}
		byA := c.history(t, fhclient.HistoryQuery{Kind: "flows", Project: "A"})
		if len(byA.Entries) != 2 {
			t.Fatalf("got %d flows events for project A, want 2", len(byA.Entries))
		}
		// The projects' credentialSecret stays in the admin's userDir.
		var settings map[string]any
		c.flowhistJSON(t, "/settings", &settings)
		if b, _ := json.Marshal(settings); strings.Contains(string(b), c.secret) || !strings.Contains(string(b), `"A"`) {
			t.Fatalf("got settings %.300s, want the projects section without their credentialSecret", b)
		}
		proj, err := c.api(t).Project(context.Background())
		if err != nil || proj.Name != "A" {
			t.Fatalf("got active project %q in flowhist (%v), want A", proj.Name, err)
		}
	})

	t.Run("RollbackShowsAsUncommittedChange", func(t *testing.T) {
		// Roll back to B's deploy (the newest of B's events): flowhist's
		// head is then not what A's committed files hold.
		h := c.history(t, fhclient.HistoryQuery{Kind: "flows", Project: "B"})
		if len(h.Entries) != 2 {
			t.Fatalf("got %d flows events of B, want 2", len(h.Entries))
		}
		code, out := runFlowhist(t, nil, "rollback", fmt.Sprint(h.Entries[0].Revision), "--reason", "back to pB",
			"--url", c.fh.URL, "--token", c.tokens["admin-cli"], "-n", c.ns)
		if code != 0 {
			t.Fatalf("rollback: got exit %d: %s", code, out)
		}
		c.waitServes(t, 5*time.Second, "pB")
		admin.stop(syscall.SIGTERM)
		admin.restart(t)
		tok := admin.token(t)
		adminAPI(t, admin, tok, "GET", "/projects", nil, &active)
		if active.Active != "A" {
			t.Fatalf("got active project %q after the restart, want A", active.Active)
		}
		// Node-RED answers HTTP before it has loaded the flows.
		waitFor(t, 30*time.Second, "the restarted admin runs the rolled-back pB", func() (bool, string) {
			flows, _ := admin.flows(t, tok)
			return strings.Contains(string(flows), `\"pB\"`), string(flows)
		})
		var status struct {
			Files map[string]struct {
				Status string `json:"status"`
			} `json:"files"`
		}
		adminAPI(t, admin, tok, "GET", "/projects/A/status", nil, &status)
		if st := status.Files["flow.json"].Status; !strings.Contains(st, "M") {
			t.Fatalf("got flow.json status %q in A, want modified (the rollback, uncommitted)", st)
		}
		b, _ := os.ReadFile(filepath.Join(admin.userDir, "projects", "A", "flow.json"))
		if !strings.Contains(string(b), `\"pB\"`) {
			t.Fatalf("A's flow.json holds %.200s, want the rolled-back pB", b)
		}
		c.waitServes(t, 5*time.Second, "pB")
	})

	t.Run("PushAndClone", func(t *testing.T) {
		// A's commits pushed to a repository that project C is then cloned
		// from: opening C deploys its flows, and the worker runs them.
		tok := admin.token(t)
		head, err := exec.Command("git", "-C", filepath.Join(admin.userDir, "projects", "A"), "rev-parse", "--abbrev-ref", "HEAD").Output()
		if err != nil {
			t.Fatalf("git rev-parse: %v", err)
		}
		branch := strings.TrimSpace(string(head))
		// The remote's HEAD names A's branch, so that a clone checks it out.
		bare := filepath.Join(c.dir, "remote.git")
		if out, err := exec.Command("git", "init", "--bare", "-q", "--initial-branch="+branch, bare).CombinedOutput(); err != nil {
			t.Fatalf("git init --bare: %v %s", err, out)
		}
		adminAPI(t, admin, tok, "POST", "/projects/A/remotes", map[string]any{"name": "origin", "url": bare}, nil)
		adminAPI(t, admin, tok, "POST", "/projects/A/push/origin/"+branch+"?u=true", nil, nil)
		adminAPI(t, admin, tok, "POST", "/projects", map[string]any{
			"name": "C", "credentialSecret": c.secret,
			"git": map[string]any{"remotes": map[string]any{"origin": map[string]any{"url": bare}}},
		}, nil)
		c.waitServes(t, 10*time.Second, "pA")
		wantSecret(t, c.workers...)
		h := c.history(t, fhclient.HistoryQuery{Kind: "flows", Project: "C"})
		if len(h.Entries) != 1 {
			t.Fatalf("got %d flows events for the cloned C, want 1 (opening it)", len(h.Entries))
		}
	})

	t.Run("PullDeploys", func(t *testing.T) {
		// A commit pushed to the remote by someone else, pulled into C in
		// the editor: the pulled flows are deployed and the worker runs them.
		tok := admin.token(t)
		bare := filepath.Join(c.dir, "remote.git")
		work := filepath.Join(c.dir, "elsewhere")
		git := func(args ...string) {
			t.Helper()
			cmd := exec.Command("git", args...)
			cmd.Env = append(os.Environ(), "HOME="+filepath.Join(c.dir, "home"), "GIT_CONFIG_NOSYSTEM=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("git %v: %v %s", args, err, out)
			}
		}
		git("clone", "-q", bare, work)
		b, _ := json.MarshalIndent(versionFlow("pC2"), "", "    ")
		if err := os.WriteFile(filepath.Join(work, "flow.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		git("-C", work, "commit", "-q", "-am", "pC2")
		git("-C", work, "push", "-q")
		adminAPI(t, admin, tok, "POST", "/projects/C/pull", nil, nil)
		c.waitServes(t, 10*time.Second, "pC2")
		h := c.history(t, fhclient.HistoryQuery{Kind: "flows", Project: "C"})
		if len(h.Entries) != 2 {
			t.Fatalf("got %d flows events for C, want 2 (opening it, the pull)", len(h.Entries))
		}
	})
}
