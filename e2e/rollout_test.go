package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	fhclient "github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// TestRollout is a staged rollout on real Node-RED workers (docs/rollout.md,
// README "Staged rollout"): one canary and three default workers, a policy
// whose canary ring bakes while probing /health and allowing no runtime
// error. One cluster, its steps in order:
//   - a good deploy reaches the canary first and the default ring only
//     after the bake (their probes answer the old flows until then);
//   - a bad deploy (a function throwing on an inject every 200 ms; an
//     endpoint answering 500) stops at the canary and is rolled back by
//     `rollout` with the reason; the default workers, probed every 50 ms
//     throughout, never serve it;
//   - the canary killed (kill -9) mid-bake and restarted comes back on the
//     canary target, and the gate counts the restart;
//   - flowhist killed mid-rollout and restarted: the rollout resumes and
//     completes;
//   - a window a few seconds ahead: the deploy stops after the canary ring
//     and moves on when the window opens;
//   - the History sidebar shows the rollout (a screenshot for the README).
func TestRollout(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is not installed: run `make deps-e2e` (or `apt-get install -y chromium`): %v", err)
	}
	r := newRolloutCluster(t)
	c := r.c

	// No policy yet: every worker gets v1 at once, as today.
	c.admin.mustDeploy(t, c.editorTok, healthyFlow("v1"))
	c.waitServes(t, 60*time.Second, "v1", r.all()...)
	r.setPolicy(t, rolloutPolicy("3s", "", 0))

	t.Run("GoodDeployReachesCanaryFirstDefaultAfterBake", func(t *testing.T) {
		w := r.watch(t)
		c.admin.mustDeploy(t, c.editorTok, healthyFlow("v2"))
		start := time.Now()
		canaryAt := firstServedAt(t, r.canary, "/version", "v2", start, 30*time.Second)
		// While the canary bakes the rollout says so.
		r.waitState(t, 10*time.Second, "baking", 0)
		defaultAt := waitServesAt(t, 60*time.Second, "/version", "v2", r.defaults...)
		w.waitSaw(t, "v2", r.defaults...)
		w.stop()
		bake := 3 * time.Second
		if defaultAt-canaryAt < bake {
			t.Errorf("the default ring served v2 %s after the canary did, want at least the bake (%s)", (defaultAt - canaryAt).Round(time.Millisecond), bake)
		}
		for _, n := range r.defaults {
			if first, ok := w.first(n, "v2"); !ok || first.Sub(start) < canaryAt+bake {
				t.Errorf("%s first answered v2 at %s, want after the canary's %s plus the bake", n.name, first.Sub(start).Round(time.Millisecond), canaryAt.Round(time.Millisecond))
			}
			if !w.saw(n, "v1") {
				t.Errorf("%s never answered v1 while the canary baked", n.name)
			}
		}
		r.waitState(t, 20*time.Second, "completed", -1)
		// GET workers shows each one's ring (w1 names none: default) and
		// its health on v2.
		for id, ring := range map[string]string{"c1": "canary", "w1": "default", "d3": "default"} {
			w := r.worker(t, id)
			if w.Ring != ring || w.Health == nil || !w.Health.Healthy || !w.Health.Started {
				t.Errorf("worker %s: got ring %q health %+v, want ring %s, healthy", id, w.Ring, w.Health, ring)
			}
		}
		t.Logf("canary served v2 after %s, the default ring after %s (bake %s)", canaryAt.Round(time.Millisecond), defaultAt.Round(time.Millisecond), bake)
	})

	for _, bad := range []struct {
		name, version, problem string
		flow                   []map[string]any
	}{
		{"ThrowingFunction", "bad-throw", "runtime errors", throwingFlow("bad-throw")},
		{"HealthAnswers500", "bad-500", "probe /health answered 500", failingHealthFlow("bad-500")},
	} {
		t.Run("BadDeployStoppedAtCanaryAndRolledBack/"+bad.name, func(t *testing.T) {
			w := r.watch(t)
			before := r.newest(t)
			c.admin.mustDeploy(t, c.editorTok, bad.flow)
			start := time.Now()
			firstServedAt(t, r.canary, "/version", bad.version, start, 30*time.Second)
			e := r.waitRollback(t, 30*time.Second, before)
			if !strings.Contains(e.Reason, "rollout: worker c1") || !strings.Contains(e.Reason, bad.problem) {
				t.Errorf("the rollback's reason: got %q, want it to name worker c1 and %q", e.Reason, bad.problem)
			}
			st := r.status(t)
			if st.State != "rolledback" || !strings.Contains(st.Reason, bad.problem) {
				t.Errorf("rollout state: got %s %q, want rolledback naming %q", st.State, st.Reason, bad.problem)
			}
			// The canary and the admin follow the rollback to the last good
			// flows (the admin before the next deploy is based on its flows).
			waitServesAt(t, 30*time.Second, "/version", "v2", r.canary, c.admin)
			w.stop()
			for _, n := range r.defaults {
				if w.saw(n, bad.version) {
					t.Errorf("%s served the bad revision %s", n.name, bad.version)
				}
				// Every 50 ms, allowing for a loaded machine: at least one
				// answer per 200 ms watched.
				if got, want := w.probes(n), int(w.watched()/(200*time.Millisecond)); got < want || got == 0 {
					t.Errorf("%s: %d answers in %s of watching, want at least %d", n.name, got, w.watched().Round(time.Millisecond), want)
				}
			}
		})
	}

	t.Run("CanaryKilledMidBakeComesBackOnTargetAndRestartCounts", func(t *testing.T) {
		r.setPolicy(t, rolloutPolicy("30s", "", 0))
		w := r.watch(t)
		before := r.newest(t)
		c.admin.mustDeploy(t, c.editorTok, healthyFlow("v3"))
		firstServedAt(t, r.canary, "/version", "v3", time.Now(), 30*time.Second)
		r.waitState(t, 10*time.Second, "baking", 0)
		r.canary.stop(syscall.SIGKILL)
		r.canary.restart(t)
		// Back on the canary target (v3, not the default ring's v2)...
		firstServedAt(t, r.canary, "/version", "v3", time.Now(), 30*time.Second)
		// ...with the restart counted: the gate allows none.
		e := r.waitRollback(t, 30*time.Second, before)
		if !strings.Contains(e.Reason, "worker c1: 1 restarts") {
			t.Errorf("the rollback's reason: got %q, want the restart", e.Reason)
		}
		waitServesAt(t, 30*time.Second, "/version", "v2", r.canary, c.admin)
		w.stop()
		for _, n := range r.defaults {
			if w.saw(n, "v3") {
				t.Errorf("%s served v3, whose canary restarted", n.name)
			}
		}
	})

	t.Run("FlowhistKilledMidRolloutResumesAndCompletes", func(t *testing.T) {
		r.setPolicy(t, rolloutPolicy("2s", "", 0))
		c.admin.mustDeploy(t, c.editorTok, healthyFlow("v4"))
		firstServedAt(t, r.canary, "/version", "v4", time.Now(), 30*time.Second)
		c.fh.stop(syscall.SIGKILL)
		for _, n := range r.defaults {
			if ok, s := n.serves("v2"); !ok {
				t.Errorf("the default ring left v2 before the bake: %s", s)
			}
		}
		c.fh.restart(t)
		waitServesAt(t, 60*time.Second, "/version", "v4", r.defaults...)
		r.waitState(t, 20*time.Second, "completed", -1)
	})

	t.Run("WindowHoldsTheDefaultRingUntilItOpens", func(t *testing.T) {
		opens := time.Now().UTC().Add(8 * time.Second).Truncate(time.Second)
		window := fmt.Sprintf("* %s-%s UTC", opens.Format("15:04:05"), opens.Add(time.Hour).Format("15:04:05"))
		r.setPolicy(t, rolloutPolicy("1s", window, 0))
		c.admin.mustDeploy(t, c.editorTok, healthyFlow("v5"))
		firstServedAt(t, r.canary, "/version", "v5", time.Now(), 30*time.Second)
		r.waitState(t, 10*time.Second, "waiting", -1)
		if time.Now().After(opens) {
			t.Fatalf("the canary passed only after the window opened (%s): the machine is too slow for this window", opens.Format(time.TimeOnly))
		}
		for _, n := range r.defaults {
			if ok, s := n.serves("v4"); !ok {
				t.Errorf("before the window: %s", s)
			}
		}
		waitServesAt(t, 60*time.Second, "/version", "v5", r.defaults...)
		if now := time.Now(); now.Before(opens) {
			t.Errorf("the default ring served v5 at %s, before the window opened at %s", now.Format(time.TimeOnly), opens.Format(time.TimeOnly))
		}
	})

	t.Run("SidebarShowsTheRollout", func(t *testing.T) {
		r.setPolicy(t, rolloutPolicy("20s", "", 0))
		b := newBrowser(t, "alice")
		defer b.close()
		b.login(t, c.admin.URL, "alice")
		b.do(t, 20*time.Second, chromedp.Evaluate[chromedp.Void](`RED.actions.invoke("flowhist:show-history-tab")`))
		c.admin.mustDeploy(t, c.editorTok, healthyFlow(`v6 <b>bold</b>`))
		firstServedAt(t, r.canary, "/version", `v6 <b>bold</b>`, time.Now(), 30*time.Second)
		b.waitJS(t, 20*time.Second, `(function () {
			var s = document.querySelector(".red-ui-flowhist-rollout-state");
			var w = document.querySelector('.red-ui-flowhist-rollout-ring[data-ring="canary"] .red-ui-flowhist-rollout-worker.ok');
			var line = document.querySelector('.red-ui-flowhist-rollout-ring[data-ring="canary"] .red-ui-flowhist-rollout-ring-line');
			return !!s && s.textContent === "baking" && !!w && !!line && / left$/.test(line.textContent) && !!document.querySelector(".red-ui-flowhist-rollout-abort");
		})()`)
		if n := b.count(t, `.red-ui-flowhist-rollout-ring[data-ring="default"] .red-ui-flowhist-rollout-worker`); n != 3 {
			t.Errorf("the default ring lists %d workers, want 3", n)
		}
		b.screenshot(t, "rollout-sidebar.png", `#red-ui-sidebar`)
		// Abort from the sidebar: a reason, then the button.
		b.do(t, 10*time.Second,
			chromedp.SendKeys(chromedp.CSS(`.red-ui-flowhist-rollout-why`), "not <b>today</b>"),
			chromedp.Click(chromedp.CSS(`.red-ui-flowhist-rollout-abort`)),
		)
		r.waitState(t, 20*time.Second, "aborted", -1)
		if st := r.status(t); !strings.Contains(st.Reason, "not <b>today</b>") {
			t.Errorf("aborted: got reason %q, want the sidebar's", st.Reason)
		}
		// The reason, markup and all, as text.
		b.waitJS(t, 20*time.Second, `(function () {
			var s = document.querySelector(".red-ui-flowhist-rollout-state");
			var why = document.querySelector(".red-ui-flowhist-rollout-reason");
			return !!s && s.textContent === "aborted" && !!why && why.textContent.indexOf("not <b>today</b>") >= 0 && !why.querySelector("b");
		})()`)
		waitServesAt(t, 30*time.Second, "/version", "v5", r.canary, c.admin)
	})
}

// rolloutCluster is the cluster of TestRollout: an admin with the History
// plugin and an admin-scoped token, worker c1 in ring canary, w1 naming no
// ring (so in default), d2 and d3 in ring default.
type rolloutCluster struct {
	c        *cluster
	canary   *nodeRed
	defaults []*nodeRed
}

func newRolloutCluster(t *testing.T) *rolloutCluster {
	t.Helper()
	// The editor tests' cluster: the admin with the plugin, and worker w1,
	// whose settings name no ring (so it is in default).
	c := newEditorCluster(t, nodeRED4, false)
	c.editorTok = c.admin.login(t, editorUser, "")
	worker := func(id, ring string) *nodeRed {
		n := startNodeRED(t, c.dir, nrConfig{flowhistURL: c.fh.URL, token: c.tokens["read-workers"], namespace: c.ns, role: "worker", workerID: id, ring: ring, credentialSecret: c.secret, red: nodeRED4})
		c.workers = append(c.workers, n)
		return n
	}
	return &rolloutCluster{c: c, canary: worker("c1", "canary"), defaults: []*nodeRed{c.workers[0], worker("d2", "default"), worker("d3", "default")}}
}

func (r *rolloutCluster) all() []*nodeRed { return append([]*nodeRed{r.canary}, r.defaults...) }

// rolloutPolicy is the canary ring baking bake, probing /health every
// 100 ms for 200 and allowing maxErrors runtime errors and no restart,
// then the default ring; with window, the one window.
func rolloutPolicy(bake, window string, maxErrors int) string {
	windows := "[]"
	if window != "" {
		windows = strconv.Quote(window)
		windows = "[" + windows + "]"
	}
	return fmt.Sprintf(`{"rings": [
		{"name": "canary", "bake": %q, "gate": {"maxErrors": %d, "maxRestarts": 0, "deadline": "30s", "report": "1s",
			"probes": [{"path": "/health", "status": 200, "every": "100ms"}]}},
		{"name": "default", "bake": "0s"}
	], "windows": %s}`, bake, maxErrors, windows)
}

// rolloutCall sends method path (under the namespace) with the CLI's admin
// token and decodes a 200 answer into out.
func (r *rolloutCluster) rolloutCall(t *testing.T, method, path, body string, out any) {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	a := send(client, method, fmt.Sprintf("%s/v1/namespaces/%s/%s", r.c.fh.URL, r.c.ns, path), b, http.Header{
		"Authorization": {"Bearer " + r.c.tokens["admin-cli"]}, "Content-Type": {"application/json"},
	})
	if a.err != nil || a.status != 200 {
		t.Fatalf("%s %s: got %d %s (%v), want 200", method, path, a.status, a.body, a.err)
	}
	if out != nil {
		if err := json.Unmarshal(a.body, out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

func (r *rolloutCluster) setPolicy(t *testing.T, policy string) {
	t.Helper()
	r.rolloutCall(t, http.MethodPut, "rollout/policy", policy, nil)
}

func (r *rolloutCluster) status(t *testing.T) httpapi.RolloutStatus {
	t.Helper()
	var st httpapi.RolloutStatus
	r.rolloutCall(t, http.MethodGet, "rollout", "", &st)
	return st
}

// waitState waits until the rollout is in state (at ring, unless ring < 0).
func (r *rolloutCluster) waitState(t *testing.T, within time.Duration, state string, ring int) {
	t.Helper()
	waitFor(t, within, "rollout "+state, func() (bool, string) {
		st := r.status(t)
		return st.State == state && (ring < 0 || st.Ring == ring), fmt.Sprintf("%s ring %d %q", st.State, st.Ring, st.Reason)
	})
}

// newest is the namespace's newest revision.
func (r *rolloutCluster) newest(t *testing.T) domain.Revision {
	t.Helper()
	h := r.c.history(t, fhclient.HistoryQuery{Page: fhclient.Page{Limit: 1}})
	if len(h.Entries) == 0 {
		return 0
	}
	return h.Entries[0].Revision
}

// waitRollback waits for a rollback by the user `rollout` after revision
// after, and returns it.
func (r *rolloutCluster) waitRollback(t *testing.T, within time.Duration, after domain.Revision) httpapi.HistoryEntry {
	t.Helper()
	var got httpapi.HistoryEntry
	waitFor(t, within, "a rollback by rollout", func() (bool, string) {
		h := r.c.history(t, fhclient.HistoryQuery{Kind: "rollback", Page: fhclient.Page{Limit: 5}})
		for _, e := range h.Entries {
			if e.Revision > after && e.Actor.User == "rollout" {
				got = e
				return true, ""
			}
		}
		st := r.status(t)
		return false, fmt.Sprintf("rollout %s %q", st.State, st.Reason)
	})
	return got
}

// workerView is a worker as GET workers shows it: its ring and last
// health report.
type workerView struct {
	Worker string `json:"worker"`
	Ring   string `json:"ring"`
	Health *struct {
		Revision domain.Revision `json:"revision"`
		Started  bool            `json:"started"`
		Restarts int             `json:"restarts"`
		Errors   int             `json:"errors"`
		Healthy  bool            `json:"healthy"`
	} `json:"health"`
}

// worker is worker id as GET workers shows it (zero when not listed).
func (r *rolloutCluster) worker(t *testing.T, id string) workerView {
	t.Helper()
	var ws struct {
		Workers []workerView `json:"workers"`
	}
	r.rolloutCall(t, http.MethodGet, "workers", "", &ws)
	for _, w := range ws.Workers {
		if w.Worker == id {
			return w
		}
	}
	return workerView{}
}

// watcher probes GET /version on the default workers every 50 ms and
// records when each first answered each version.
type watcher struct {
	mu     sync.Mutex
	seen   map[string]map[string]time.Time // worker → version → first answer
	count  map[string]int
	from   time.Time
	to     time.Time
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func (r *rolloutCluster) watch(t *testing.T) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{seen: map[string]map[string]time.Time{}, count: map[string]int{}, cancel: cancel, from: time.Now()}
	for _, n := range r.defaults {
		w.seen[n.name] = map[string]time.Time{}
		w.done.Add(1)
		go func() {
			defer w.done.Done()
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				a := send(probe, http.MethodGet, n.URL+"/version", nil, nil)
				if a.err == nil && a.status == 200 {
					w.mu.Lock()
					if _, ok := w.seen[n.name][string(a.body)]; !ok {
						w.seen[n.name][string(a.body)] = time.Now()
					}
					w.count[n.name]++
					w.mu.Unlock()
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	}
	t.Cleanup(w.stop)
	return w
}

func (w *watcher) stop() {
	w.cancel()
	w.done.Wait()
	w.mu.Lock()
	if w.to.IsZero() {
		w.to = time.Now()
	}
	w.mu.Unlock()
}

// watched is how long the watcher probed.
func (w *watcher) watched() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.to.Sub(w.from)
}

func (w *watcher) first(n *nodeRed, version string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at, ok := w.seen[n.name][version]
	return at, ok
}

// waitSaw waits until the watcher's own probes saw each node answer
// version.
func (w *watcher) waitSaw(t *testing.T, version string, nodes ...*nodeRed) {
	t.Helper()
	waitFor(t, 5*time.Second, "the watcher to see "+version, func() (bool, string) {
		for _, n := range nodes {
			if !w.saw(n, version) {
				return false, n.name
			}
		}
		return true, ""
	})
}

func (w *watcher) saw(n *nodeRed, version string) bool {
	_, ok := w.first(n, version)
	return ok
}

func (w *watcher) probes(n *nodeRed) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.count[n.name]
}

// healthyFlow is versionFlow(version) with GET /health answering 200.
func healthyFlow(version string) []map[string]any {
	return append(versionFlow(version), healthNodes("200")...)
}

// failingHealthFlow is versionFlow(version) with GET /health answering 500.
func failingHealthFlow(version string) []map[string]any {
	return append(versionFlow(version), healthNodes("500")...)
}

// throwingFlow is healthyFlow(version) with a function that throws on each
// message of an inject every 200 ms.
func throwingFlow(version string) []map[string]any {
	return append(healthyFlow(version),
		map[string]any{"id": "inj1", "type": "inject", "z": "tab1", "name": "tick", "props": []map[string]any{{"p": "payload"}}, "repeat": "0.2", "crontab": "", "once": true, "onceDelay": 0.1, "topic": "", "payload": "", "payloadType": "date", "x": 100, "y": 240, "wires": [][]string{{"throw1"}}},
		map[string]any{"id": "throw1", "type": "function", "z": "tab1", "name": "throws", "func": "throw new Error('bad revision');", "outputs": 1, "x": 300, "y": 240, "wires": [][]string{{}}},
	)
}

func healthNodes(status string) []map[string]any {
	return []map[string]any{
		{"id": "hin1", "type": "http in", "z": "tab1", "name": "", "url": "/health", "method": "get", "upload": false, "swaggerDoc": "", "x": 100, "y": 160, "wires": [][]string{{"hout1"}}},
		{"id": "hout1", "type": "http response", "z": "tab1", "name": "", "statusCode": status, "headers": map[string]any{}, "x": 300, "y": 160, "wires": [][]string{}},
	}
}
