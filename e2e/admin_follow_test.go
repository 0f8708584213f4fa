package e2e_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAdminFollows is the admin following the log as workers do: a
// rollback from the CLI, or another admin's deploy, reaches the admin's
// runtime and its editor API, and the editor's next deploy, based on what
// it now shows, succeeds. Run on Node-RED 4.1 (Node 20) and 5 (Node 22).
func TestAdminFollows(t *testing.T) {
	for _, red := range []redRuntime{nodeRED4, nodeRED5} {
		t.Run("NodeRED"+red.name, func(t *testing.T) {
			c := newClusterWith(t, 1, false, clusterOpts{red: red})
			admin2 := c.startNode(t, "admin", "")
			tok2 := admin2.token(t)

			t.Run("RollbackFromCLIReachesAdminAndEditor", func(t *testing.T) {
				revs := map[string]string{}
				for _, v := range []string{"v1", "v2"} {
					c.admin.mustDeploy(t, c.editorTok, versionFlow(v))
					revs[v] = c.namespaceRevision(t)
				}
				c.waitServes(t, 5*time.Second, "v2", c.admin, c.workers[0])
				_, editorRev := c.admin.flows(t, c.editorTok)
				out, errOut, code := c.cli(t, "rollback", revs["v1"], "--reason", "v2 is bad")
				if code != 0 {
					t.Fatalf("flowhist rollback: exit %d, stdout %q, stderr %q", code, out, errOut)
				}
				rolledBack := c.namespaceRevision(t)
				took := c.waitServes(t, 2*time.Second, "v1", c.admin)
				t.Logf("Node-RED %s: the admin served the rolled-back v1 %s after the rollback command returned", red.name, took)
				// Applying it wrote nothing back: Node-RED's save of the
				// applied flows is dropped.
				c.waitAcked(t, 2*time.Second, c.admin, rolledBack)
				if now := c.namespaceRevision(t); now != rolledBack {
					t.Fatalf("got namespace revision %s after the admin applied the rollback %s, want no new revision", now, rolledBack)
				}
				flows, rev := c.admin.flows(t, c.editorTok)
				if rev == editorRev || !strings.Contains(string(flows), `\"v1\"`) {
					t.Fatalf("the editor API shows rev %s (was %s) and flows %s; want a new rev and the rolled-back v1", rev, editorRev, flows)
				}
				// The editor, having reviewed the change, deploys on top of it.
				if code, body := c.admin.deploy(c.editorTok, versionFlow("v3"), rev); code != 200 {
					t.Fatalf("deploy based on the rolled-back flows: got %d %s, want 200", code, body)
				}
				c.waitServes(t, 2*time.Second, "v3", c.workers[0], admin2)
			})

			t.Run("SecondAdminSeesFirstAdminsDeploy", func(t *testing.T) {
				c.admin.mustDeploy(t, c.editorTok, versionFlow("from-admin-1"))
				took := c.waitServes(t, 2*time.Second, "from-admin-1", admin2)
				t.Logf("Node-RED %s: the second admin served the first one's deploy %s after it returned", red.name, took)
				_, rev := admin2.flows(t, tok2)
				if code, body := admin2.deploy(tok2, versionFlow("from-admin-2"), rev); code != 200 {
					t.Fatalf("second admin deploying from the new base: got %d %s, want 200", code, body)
				}
				c.waitServes(t, 2*time.Second, "from-admin-2", c.admin, c.workers[0])
			})

			t.Run("OwnDeployNotAppliedTwice", func(t *testing.T) {
				before := strings.Count(logText(t, c.admin), "written elsewhere")
				c.admin.mustDeploy(t, c.editorTok, versionFlow("own"))
				rev := c.namespaceRevision(t)
				c.waitAcked(t, 2*time.Second, c.admin, rev)
				if after := strings.Count(logText(t, c.admin), "written elsewhere"); after != before {
					t.Fatalf("got %d applies logged by the admin after its own deploy, want %d", after, before)
				}
			})
		})
	}
}

// logText is n's log so far.
func logText(tb testing.TB, n *nodeRed) string {
	tb.Helper()
	b, err := os.ReadFile(n.log)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// waitAcked waits until the feed consumer of n (a worker, or an admin:
// admin-<host>-<port>) has acknowledged rev.
func (c *cluster) waitAcked(tb testing.TB, within time.Duration, n *nodeRed, rev string) {
	tb.Helper()
	suffix := n.URL[strings.LastIndex(n.URL, ":"):]
	suffix = "-" + suffix[1:]
	want, err := strconv.ParseUint(rev, 10, 64)
	if err != nil {
		tb.Fatalf("revision %q: %v", rev, err)
	}
	waitFor(tb, within, n.name+" acknowledged "+rev, func() (bool, string) {
		res := c.workersInfo(tb)
		for _, w := range res.Workers {
			mine := w.Worker == n.workerID || (n.workerID == "" && strings.HasPrefix(w.Worker, "admin-") && strings.HasSuffix(w.Worker, suffix))
			if mine && uint64(w.Acknowledged) >= want {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", res.Workers)
	})
}
