package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fhclient "github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/httpapi"
)

// The palette module the test installs: small, no dependencies, two
// versions (npm view node-red-node-random versions).
const (
	randomModule = "node-red-node-random"
	randomOld    = "0.4.0"
	randomNew    = "0.4.1"
	// installWithin bounds an npm install from the public registry.
	installWithin = 90 * time.Second
)

// randomFlows is versionFlow(version) plus GET /rand answering 7 through
// the module's "random" node (from 7 to 7).
func randomFlows(version string) []map[string]any {
	return append(versionFlow(version),
		map[string]any{"id": "tabR", "type": "tab", "label": "Random"},
		map[string]any{"id": "inR", "type": "http in", "z": "tabR", "url": "/rand", "method": "get", "x": 100, "y": 80, "wires": [][]string{{"rnd"}}},
		map[string]any{"id": "rnd", "type": "random", "z": "tabR", "name": "", "low": "7", "high": "7", "inte": "true", "property": "payload", "x": 300, "y": 80, "wires": [][]string{{"outR"}}},
		map[string]any{"id": "outR", "type": "http response", "z": "tabR", "x": 500, "y": 80, "wires": [][]string{}},
	)
}

// adminAPI calls the admin's Node-RED Admin API as the editor does (API
// version v2), within installWithin.
func (n *nodeRed) adminAPI(tb testing.TB, token, method, path string, body any) (int, string) {
	tb.Helper()
	var b []byte
	h := http.Header{"Authorization": {"Bearer " + token}, "Node-Red-Api-Version": {"v2"}}
	if body != nil {
		b, _ = json.Marshal(body)
		h.Set("Content-Type", "application/json")
	}
	a := send(&http.Client{Timeout: installWithin}, method, n.URL+path, b, h)
	if a.err != nil {
		tb.Fatalf("%s %s on %s: %v", method, path, n.name, a.err)
	}
	return a.status, string(a.body)
}

// installedVersion is the version of module in n's userDir, "" if absent.
func (n *nodeRed) installedVersion(module string) string {
	b, err := os.ReadFile(filepath.Join(n.userDir, "node_modules", module, "package.json"))
	if err != nil {
		return ""
	}
	var p struct {
		Version string `json:"version"`
	}
	json.Unmarshal(b, &p)
	return p.Version
}

// packageStates is GET workers' package report of each worker.
func (c *cluster) packageStates(tb testing.TB) map[string]*httpapi.WorkerPackages {
	tb.Helper()
	out := map[string]*httpapi.WorkerPackages{}
	for _, w := range c.workersInfo(tb).Workers {
		out[w.Worker] = w.Packages
	}
	return out
}

// waitPackages waits until every worker reports ok with exactly want
// (module → version) installed, and on its disk.
func (c *cluster) waitPackages(tb testing.TB, within time.Duration, want map[string]string, workers ...*nodeRed) {
	tb.Helper()
	waitFor(tb, within, "workers in step with the admin's packages", func() (bool, string) {
		states := c.packageStates(tb)
		for _, w := range workers {
			st := states[w.workerID]
			if st == nil || !st.OK {
				b, _ := json.Marshal(st)
				return false, w.workerID + ": " + string(b)
			}
			got := map[string]string{}
			for _, p := range st.Packages {
				got[p.Name] = p.Version
			}
			for m, v := range want {
				if got[m] != v || w.installedVersion(m) != v {
					return false, w.workerID + ": reported " + got[m] + ", on disk " + w.installedVersion(m) + ", want " + v
				}
			}
			if len(got) != len(want) {
				b, _ := json.Marshal(got)
				return false, w.workerID + ": reported " + string(b)
			}
		}
		return true, ""
	})
}

// TestPackagesFollowAdmin installs a real palette module on the admin at a
// pinned older version, uses it, upgrades it, removes it, and makes an
// install fail, checking each time what the workers have (npm reaches the
// public registry).
func TestPackagesFollowAdmin(t *testing.T) {
	for _, red := range []redRuntime{nodeRED4, nodeRED5} {
		t.Run("NodeRED"+red.name, func(t *testing.T) {
			testPackages(t, red)
		})
	}
}

func testPackages(t *testing.T, red redRuntime) {
	parent := t
	c := newClusterWith(t, 2, false, clusterOpts{red: red})

	t.Run("InstallPinnedThenUse", func(t *testing.T) {
		code, body := c.admin.adminAPI(t, c.editorTok, "POST", "/nodes", map[string]string{"module": randomModule, "version": randomOld})
		if code != 200 {
			t.Fatalf("POST /nodes %s@%s on the admin: got %d %s, want 200", randomModule, randomOld, code, body)
		}
		installed := time.Now()
		c.admin.mustDeploy(t, c.editorTok, randomFlows("p1"))
		for _, w := range c.workers {
			took := firstServedAt(t, w, "/rand", "7", installed, installWithin)
			t.Logf("Node-RED %s: %s served the flow using %s@%s %s after the admin's install answered", red.name, w.name, randomModule, randomOld, took.Round(time.Millisecond))
		}
		c.waitPackages(t, installWithin, map[string]string{randomModule: randomOld}, c.workers...)
	})

	t.Run("LaterWorkerInstallsBeforeFlowsStart", func(t *testing.T) {
		w3 := c.startNode(parent, "worker", "w3") // it lives on for the next steps
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("--- %s log ---\n%s", w3.name, lastLines(logText(t, w3), 40))
			}
		})
		c.workers = append(c.workers, w3)
		firstServedAt(t, w3, "/rand", "7", time.Now(), installWithin)
		if log := logText(t, w3); strings.Contains(log, "Waiting for missing types") {
			t.Fatalf("the later worker's flows waited for a missing type; log:\n%s", log)
		}
		c.waitPackages(t, installWithin, map[string]string{randomModule: randomOld}, w3)
	})

	t.Run("UpgradeFollowedToExactVersion", func(t *testing.T) {
		code, body := c.admin.adminAPI(t, c.editorTok, "POST", "/nodes", map[string]string{"module": randomModule, "version": randomNew})
		if code != 200 {
			t.Fatalf("upgrade on the admin: got %d %s, want 200", code, body)
		}
		c.waitPackages(t, installWithin, map[string]string{randomModule: randomNew}, c.workers...)
		c.waitServes(t, 5*time.Second, "p1")
	})

	t.Run("RemovalFollowed", func(t *testing.T) {
		c.admin.mustDeploy(t, c.editorTok, versionFlow("p2"))
		c.waitServes(t, 5*time.Second, "p2")
		code, body := c.admin.adminAPI(t, c.editorTok, "DELETE", "/nodes/"+randomModule, nil)
		if code != 204 && code != 200 {
			t.Fatalf("DELETE /nodes/%s on the admin: got %d %s, want 204", randomModule, code, body)
		}
		c.waitPackages(t, installWithin, map[string]string{}, c.workers...)
	})

	t.Run("FailedInstallKeepsWorkersRunningAndIsReported", func(t *testing.T) {
		// A version npm cannot install, recorded as the admin's registry
		// (through flowhist's API: the admin's palette refuses it).
		settings := `{"nodes":{"` + randomModule + `":{"name":"` + randomModule + `","version":"99.0.0","local":false,"user":true,"nodes":{}}}}`
		if _, err := c.api(t).PutSettings(context.Background(), []byte(settings), fhclient.Write{}); err != nil {
			t.Fatalf("PUT settings: %v", err)
		}
		waitFor(t, installWithin, "every worker reports the failed install", func() (bool, string) {
			states := c.packageStates(t)
			for _, w := range c.workers {
				st := states[w.workerID]
				if st == nil || st.OK || st.Module != randomModule || st.Version != "99.0.0" || st.Error == "" {
					b, _ := json.Marshal(st)
					return false, w.workerID + ": " + string(b)
				}
			}
			return true, ""
		})
		c.waitServes(t, 5*time.Second, "p2")
		for _, w := range c.workers {
			if log := logText(t, w); !strings.Contains(log, "install "+randomModule+"@99.0.0 failed") {
				t.Errorf("%s's log has no line naming the failed install of %s@99.0.0", w.name, randomModule)
			}
		}
		out, errOut, code := c.cli(t, "workers")
		if code != 0 || !strings.Contains(out, "FAILED "+randomModule+"@99.0.0") {
			t.Fatalf("flowhist workers: exit %d, stdout %q, stderr %q; want the failed module per worker", code, out, errOut)
		}
		t.Logf("flowhist workers:\n%s", out)
	})
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
