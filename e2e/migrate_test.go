package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams/valkeytest"
)

// oldModule returns the path of the old node-red-storage-valkey 4.0.0
// that .ci/install-deps.sh installs into e2e/oldmodule, or fails in one line
// naming the three ways to provide it (the script's install_oldmodule).
func oldModule(tb testing.TB) string {
	tb.Helper()
	p := filepath.Join(repoRoot(), "e2e", "oldmodule", "node_modules", "node-red-storage-valkey")
	b, err := os.ReadFile(filepath.Join(p, "package.json"))
	var pkg struct{ Version string }
	json.Unmarshal(b, &pkg)
	if err != nil || pkg.Version != "4.0.0" {
		tb.Fatalf("the old module node-red-storage-valkey 4.0.0 is not installed in e2e/oldmodule (got version %q): "+
			"provide it by FLOWHIST_OLD_MODULE_TGZ=<its tarball>, ../shared/fixtures/node-red-storage-valkey-4.0.0.tgz beside the repository, "+
			"or access to https://github.com/Siphion/node-red-storage-valkey (or FLOWHIST_OLD_MODULE_REPO=<a copy>), then run `bash .ci/install-deps.sh oldmodule`", pkg.Version)
	}
	return p
}

// oldConfig is one Node-RED on the old module.
type oldConfig struct {
	valkeyAddr, role, secret string
}

// startOldNodeRED starts a Node-RED 4.1 on node-red-storage-valkey 4.0.0,
// configured as its README says (role, host, port; compression on).
func startOldNodeRED(tb testing.TB, dir string, c oldConfig) *nodeRed {
	tb.Helper()
	host, vport, _ := strings.Cut(c.valkeyAddr, ":")
	port, err := strconv.Atoi(vport)
	if err != nil {
		tb.Fatalf("valkey address %q: %v", c.valkeyAddr, err)
	}
	s := redSettings{secret: c.secret, storage: oldModule(tb), optionsKey: "valkey", worker: c.role == "worker",
		options: map[string]any{"role": c.role, "host": host, "port": port, "enableCompression": true, "syncPackages": false}}
	// The old module finds Node-RED's own file storage through NODE_PATH.
	env := []string{"NODE_PATH=" + filepath.Join(repoRoot(), "e2e", "nodered", "node_modules")}
	n := launchRed(tb, dir, "old-"+c.role, s, redLaunch{red: nodeRED4, env: env})
	n.role = c.role
	return n
}

// runFlowhist runs the flowhist binary and returns its exit code and output.
func runFlowhist(tb testing.TB, env []string, args ...string) (int, string) {
	tb.Helper()
	cmd := exec.Command(flowhistBin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		tb.Fatalf("run flowhist %v: %v", args, err)
	}
	return code, string(out)
}

// versionOrder ranks the versions a test deploys, oldest first.
type versionOrder []string

func (o versionOrder) rank(v string) int {
	for i, x := range o {
		if x == v {
			return i
		}
	}
	return -1
}

// switchProber calls every worker in its set every interval, each call on its own
// (a slow answer holds back no other), and records every answer. A probe
// fails if it gets no answer, or anything but 200 with a known version; it
// is stale if it answers a version older than one the same worker answered
// before the probe was sent, or older than a version whose deploy returned
// more than lagLimit before it was sent.
//
// A failure is counted as "during a reload" when the probe was sent to a
// worker between the start of a deploy and 200 ms after that worker first
// answered the deployed version: Node-RED restarts the flows a deploy
// changes, and a request reaching them meanwhile is answered 404 (the
// route is gone) or not at all. Every other failure is the switch-over's.
type switchProber struct {
	order    versionOrder
	interval time.Duration
	lagLimit time.Duration

	mu       sync.Mutex
	workers  map[*nodeRed]bool
	newest   map[*nodeRed]int // the newest version rank each worker answered
	deploys  []deployTimes    // by rank
	answers  []probeAnswer
	stop     chan struct{}
	finished bool
	wg       sync.WaitGroup
	// inflight counts each worker's probes under way, so that remove can
	// wait for them (a load balancer drains a backend before it stops).
	inflight map[*nodeRed]*sync.WaitGroup
}

type deployTimes struct{ started, returned time.Time }

type probeAnswer struct {
	w      *nodeRed
	sent   time.Time
	rank   int // -1 if the probe failed
	stale  bool
	detail string
}

func newSwitchProber(order versionOrder, workers ...*nodeRed) *switchProber {
	p := &switchProber{order: order, interval: 50 * time.Millisecond, lagLimit: 5 * time.Second,
		workers: map[*nodeRed]bool{}, newest: map[*nodeRed]int{}, deploys: make([]deployTimes, len(order)), stop: make(chan struct{}),
		inflight: map[*nodeRed]*sync.WaitGroup{}}
	for _, w := range workers {
		p.workers[w] = true
		p.newest[w] = -1
	}
	return p
}

// add puts w in the set once it serves; remove takes it out (before it is
// stopped, as a load balancer would).
func (p *switchProber) add(w *nodeRed) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.workers[w] = true
	p.newest[w] = -1
}

func (p *switchProber) remove(w *nodeRed) {
	p.mu.Lock()
	delete(p.workers, w)
	in := p.inflight[w]
	p.mu.Unlock()
	if in != nil {
		in.Wait() // a probe sent before the removal ends before w stops
	}
}

// deploy runs fn, the deploy of version, recording when it started and
// returned.
func (p *switchProber) deploy(version string, fn func()) {
	r := p.order.rank(version)
	p.mu.Lock()
	p.deploys[r].started = time.Now()
	p.mu.Unlock()
	fn()
	p.mu.Lock()
	p.deploys[r].returned = time.Now()
	p.mu.Unlock()
}

func (p *switchProber) start() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(p.interval)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			p.mu.Lock()
			for w := range p.workers {
				floor := p.newest[w]
				for r := len(p.deploys) - 1; r > floor; r-- {
					if d := p.deploys[r].returned; !d.IsZero() && time.Since(d) > p.lagLimit {
						floor = r
						break
					}
				}
				in := p.inflight[w]
				if in == nil {
					in = &sync.WaitGroup{}
					p.inflight[w] = in
				}
				p.wg.Add(1)
				in.Add(1)
				go p.probe(w, floor, in)
			}
			p.mu.Unlock()
		}
	}()
}

func (p *switchProber) probe(w *nodeRed, floor int, in *sync.WaitGroup) {
	defer p.wg.Done()
	defer in.Done()
	a := probeAnswer{w: w, sent: time.Now(), rank: -1}
	resp, err := probe.Get(w.URL + "/version")
	if err != nil {
		a.detail = err.Error()
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if r := p.order.rank(string(b)); resp.StatusCode == 200 && r >= 0 {
			a.rank = r
		} else {
			a.detail = fmt.Sprintf("%d %.60q", resp.StatusCode, b)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.rank >= 0 && a.rank < floor {
		a.stale = true
		a.detail = fmt.Sprintf("%s after %s", p.order[a.rank], p.order[floor])
	}
	if a.rank > p.newest[w] {
		p.newest[w] = a.rank
	}
	p.answers = append(p.answers, a)
}

// probeCounts is what the probe saw.
type probeCounts struct {
	sent, failed, failedInReload, stale int
	faults                              []string // the first few failures outside reloads and stale answers
}

// finish stops probing, waits for the probes in flight and counts.
func (p *switchProber) finish() probeCounts {
	if !p.finished {
		p.finished = true
		close(p.stop)
	}
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	// When each worker first answered each version (or a newer one).
	first := map[*nodeRed][]time.Time{}
	for _, a := range p.answers {
		if first[a.w] == nil {
			first[a.w] = make([]time.Time, len(p.order))
		}
		for r := 0; r <= a.rank; r++ {
			if t := first[a.w][r]; t.IsZero() || a.sent.Before(t) {
				first[a.w][r] = a.sent
			}
		}
	}
	inReload := func(a probeAnswer) bool {
		for r, d := range p.deploys {
			if d.started.IsZero() || a.sent.Before(d.started) {
				continue
			}
			end := d.started.Add(p.lagLimit)
			if t := first[a.w]; t != nil && !t[r].IsZero() && t[r].After(d.started) {
				end = t[r].Add(200 * time.Millisecond)
			}
			if a.sent.Before(end) {
				return true
			}
		}
		return false
	}
	var c probeCounts
	for _, a := range p.answers {
		c.sent++
		switch {
		case a.stale:
			c.stale++
		case a.rank < 0:
			c.failed++
			if inReload(a) {
				c.failedInReload++
				continue
			}
		default:
			continue
		}
		if len(c.faults) < 10 {
			c.faults = append(c.faults, fmt.Sprintf("%s at %s: %s", a.w.name, a.sent.Format("15:04:05.000"), a.detail))
		}
	}
	return c
}

// TestMigrateOldModuleCluster moves a running cluster on the real old
// module over to flowhist as docs/migrating.md says, with a probe calling
// every worker every 50 ms throughout: an old admin and two old workers
// serve v1 with a credential; flowhist import --from-valkey (dry run
// first); compat on; the admin switched: v2 reaches both old workers; one
// worker switched (its replacement started first, the old one taken out
// and stopped): it serves v2, then v3 with the remaining old worker.
func TestMigrateOldModuleCluster(t *testing.T) {
	oldModule(t)
	dir := t.TempDir()
	vk := valkeytest.Start(t)
	secret := randomHex(16) // step 1 of the guide: the same credentialSecret everywhere
	ns := "migrate-" + randomHex(4)
	tokens := map[string]string{"deploy-admin": randomHex(24), "read-workers": randomHex(24), "admin-cli": randomHex(24)}

	oldAdmin := startOldNodeRED(t, dir, oldConfig{valkeyAddr: vk.Addr, role: "admin", secret: secret})
	oldW1 := startOldNodeRED(t, dir, oldConfig{valkeyAddr: vk.Addr, role: "worker", secret: secret})
	oldW2 := startOldNodeRED(t, dir, oldConfig{valkeyAddr: vk.Addr, role: "worker", secret: secret})
	tok := oldAdmin.token(t)
	oldAdmin.mustDeploy(t, tok, credentialFlow("v1"))
	c := &cluster{dir: dir, valkey: vk, ns: ns, tokens: tokens, secret: secret, workers: []*nodeRed{oldW1, oldW2}}
	c.waitServes(t, 10*time.Second, "v1")
	wantSecret(t, oldW1, oldW2)

	p := newSwitchProber(versionOrder{"v1", "v2", "v3"}, oldW1, oldW2)
	p.start()
	defer p.finish()

	// flowhist without compat, then the import.
	fh := startFlowhist(t, dir, fhConfig{valkeyAddr: vk.Addr, tokens: tokens})
	cli := []string{"--url", fh.URL, "--token", tokens["admin-cli"], "-n", ns}
	code, out := runFlowhist(t, nil, append([]string{"import", "--from-valkey", vk.Addr, "--dry-run"}, cli...)...)
	if code != 0 || !strings.Contains(out, "with credentials") || !strings.Contains(out, "nothing appended") {
		t.Fatalf("import --dry-run: got exit %d:\n%s\nwant the flows with credentials and nothing appended", code, out)
	}
	t.Logf("dry run:\n%s", out)
	code, out = runFlowhist(t, nil, append([]string{"import", "--from-valkey", vk.Addr}, cli...)...)
	if code != 0 || !strings.Contains(out, "imported") {
		t.Fatalf("import: got exit %d:\n%s", code, out)
	}
	code, out = runFlowhist(t, nil, "verify", "-n", ns, "--valkey-addr", vk.Addr)
	if code != 0 {
		t.Fatalf("verify after the import: got exit %d:\n%s", code, out)
	}

	// Compat on: flowhist restarted with the old module's keys for ns.
	fh.stop(syscall.SIGTERM)
	fh = startFlowhist(t, dir, fhConfig{valkeyAddr: vk.Addr, tokens: tokens, compat: []string{ns}})
	c.fh = fh

	// The admin switched: the old one stopped, flowhist's started.
	oldAdmin.stop(syscall.SIGTERM)
	admin := c.startNode(t, "admin", "")
	c.admin = admin
	tok = admin.token(t)
	if flows, _ := admin.flows(t, tok); !strings.Contains(string(flows), `\"v1\"`) {
		t.Fatalf("the new admin loaded %s, want the imported v1", flows)
	}
	p.deploy("v2", func() { admin.mustDeploy(t, tok, credentialFlow("v2")) })
	took := c.waitServes(t, 5*time.Second, "v2")
	t.Logf("both old workers served v2 %s after the deploy through flowhist", took)
	wantSecret(t, oldW1, oldW2)

	// One worker switched: its replacement on flowhist first, then the old
	// one out of the probe set (the load balancer) and stopped.
	w1 := c.startNode(t, "worker", "w1")
	c.waitServes(t, 10*time.Second, "v2", w1)
	wantSecret(t, w1)
	p.add(w1)
	p.remove(oldW1)
	oldW1.stop(syscall.SIGTERM)
	p.deploy("v3", func() { admin.mustDeploy(t, tok, credentialFlow("v3")) })
	took = c.waitServes(t, 5*time.Second, "v3", w1, oldW2)
	t.Logf("the flowhist worker and the old worker served v3 %s after the deploy", took)
	wantSecret(t, w1, oldW2)

	pc := p.finish()
	t.Logf("probes: %d sent, %d failed (%d of them while a deploy's reload restarted the flows), %d stale",
		pc.sent, pc.failed, pc.failedInReload, pc.stale)
	if pc.stale != 0 || pc.failed != pc.failedInReload {
		t.Errorf("got %d stale probes and %d failed outside a deploy's reload, of %d (first: %q), want none",
			pc.stale, pc.failed-pc.failedInReload, pc.sent, pc.faults)
	}
	// Four reloads (both old workers v2; the flowhist worker and the old
	// one v3): a restart of the flows takes a few ms, so a 50 ms probe
	// meets each at most once or twice.
	if pc.failedInReload > 8 {
		t.Errorf("got %d probes failed during reloads, want at most 8 (2 per reload): reloads got slow", pc.failedInReload)
	}
	if pc.sent < 40 {
		t.Errorf("got %d probes, want at least 40 across the switch-over", pc.sent)
	}
}

// wantSecret checks that each node serves the credential the admin
// entered, decrypted.
func wantSecret(tb testing.TB, nodes ...*nodeRed) {
	tb.Helper()
	for _, n := range nodes {
		code, body := get(n.URL+"/secret", nil)
		// Basic base64("svc:s3cret-from-admin")
		if code != 200 || body != "Basic c3ZjOnMzY3JldC1mcm9tLWFkbWlu" {
			tb.Fatalf("%s /secret: got %d %q, want the credential the admin entered", n.name, code, body)
		}
	}
}
