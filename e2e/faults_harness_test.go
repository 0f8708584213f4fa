package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams/valkeytest"
)

// The fault suite's shared parts: one Valkey and one flowhist per test, a
// client that never waits long, the table of every route, and a worker that
// follows the feed as the Node-RED module does.

// outageBound is how long any answer may take while Valkey is down or
// loading (issue 8: "every endpoint answers within 2 s").
const outageBound = 2 * time.Second

// faultClient gives up after 10 s: a request that hangs for the whole outage
// fails the test instead of blocking it.
var faultClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 0, IdleConnTimeout: 30 * time.Second},
}

// durableValkey is Valkey as the fault tests run it: every write fsynced to
// the AOF before it is answered, so a kill -9 loses nothing acknowledged.
var durableValkey = []string{"--appendonly", "yes", "--appendfsync", "always"}

// outageClient waits a little longer than outageBound: an answer later
// than that fails anyway, and a route that hangs for the whole outage must
// not hold the suite for minutes.
var outageClient = &http.Client{Timeout: outageBound + time.Second}

// faultEnv is one Valkey and one flowhist with an admin token.
type faultEnv struct {
	vk     *valkeytest.Server
	fh     *flowhist
	dir    string
	token  string
	client *http.Client // faultClient unless a test sets another
	// valkeyAddr is where `flowhist verify` reads: vk.Addr unless a test
	// puts something between flowhist and Valkey.
	valkeyAddr string
}

// newFaultEnv starts Valkey with valkeyArgs and flowhist on it, with extra
// YAML appended to flowhist's config.
func newFaultEnv(tb testing.TB, extra string, valkeyArgs ...string) *faultEnv {
	tb.Helper()
	vk := valkeytest.Start(tb, valkeyArgs...)
	return newFaultEnvAt(tb, vk, vk.Addr, extra)
}

// newFaultEnvAt starts flowhist on the Valkey at addr (vk's, or a proxy in
// front of it).
func newFaultEnvAt(tb testing.TB, vk *valkeytest.Server, addr, extra string) *faultEnv {
	tb.Helper()
	e := &faultEnv{vk: vk, dir: tb.TempDir(), token: randomHex(24), client: faultClient, valkeyAddr: vk.Addr}
	e.fh = startFlowhist(tb, e.dir, fhConfig{valkeyAddr: addr, tokens: map[string]string{"admin-fault": e.token}, extra: extra})
	return e
}

// unavailable checks a is what issue 8 wants while Valkey is down or
// loading: 503 {"code":"unavailable","message":…} with a Retry-After,
// within outageBound. It returns "" or what is wrong.
func (a answer) unavailable() string { return a.unavailableWithin(outageBound) }

// unavailableWithin is unavailable with another bound.
func (a answer) unavailableWithin(bound time.Duration) string {
	e, ok := a.jsonError()
	switch {
	case a.err != nil:
		return "got " + a.String() + ", want 503 unavailable within " + bound.String()
	case a.status != http.StatusServiceUnavailable || !ok || e.Code != "unavailable":
		return "got " + a.String() + `, want 503 application/json {"code":"unavailable","message":…}`
	case a.header.Get("Retry-After") == "":
		return "got " + a.String() + " with no Retry-After header, want one"
	case !validRetryAfter(a.header.Get("Retry-After")):
		return fmt.Sprintf("got Retry-After %q, want seconds (a whole number from 1) or an HTTP date", a.header.Get("Retry-After"))
	case a.took > bound:
		return fmt.Sprintf("got the 503 after %s, want it within %s", a.took.Round(time.Millisecond), bound)
	}
	return ""
}

// validRetryAfter reports whether v is what RFC 9110 allows: delay-seconds
// (here at least 1: 0 invites a tight loop) or an HTTP date.
func validRetryAfter(v string) bool {
	if n, err := strconv.Atoi(v); err == nil {
		return n >= 1
	}
	_, err := http.ParseTime(v)
	return err == nil
}

// call sends one request with the admin token (and hdr) to flowhist; path
// is absolute ("/readyz") or relative to the namespace ns ("/flows").
func (e *faultEnv) call(method, ns, path string, body []byte, hdr http.Header) answer {
	return e.callWith(e.client, method, ns, path, body, hdr)
}

// callWith is call with client: for goroutines that run while a test
// changes e.client.
func (e *faultEnv) callWith(client *http.Client, method, ns, path string, body []byte, hdr http.Header) answer {
	return callFlowhist(client, e.fh.URL, e.token, method, ns, path, body, hdr)
}

// mustCall is call that fails the test unless the status is want.
func (e *faultEnv) mustCall(tb testing.TB, want int, method, ns, path string, body []byte, hdr http.Header) answer {
	tb.Helper()
	a := e.call(method, ns, path, body, hdr)
	if a.err != nil || a.status != want {
		tb.Fatalf("%s %s: got %s, want %d", method, path, a, want)
	}
	return a
}

// revision is the namespace's revision, from GET flows' Flowhist-Revision.
func (e *faultEnv) revision(tb testing.TB, ns string) uint64 {
	tb.Helper()
	a := e.mustCall(tb, 200, "GET", ns, "/flows", nil, nil)
	rev, err := strconv.ParseUint(a.header.Get("Flowhist-Revision"), 10, 64)
	if err != nil {
		tb.Fatalf("GET flows: Flowhist-Revision %q: %v", a.header.Get("Flowhist-Revision"), err)
	}
	return rev
}

// historyRevisions returns every revision GET history lists, newest first,
// following its cursors.
func (e *faultEnv) historyRevisions(tb testing.TB, ns string) []uint64 {
	tb.Helper()
	var revs []uint64
	path := "/history?limit=500"
	for {
		a := e.mustCall(tb, 200, "GET", ns, path, nil, nil)
		var page struct {
			Entries []struct {
				Revision uint64 `json:"revision"`
			} `json:"entries"`
			NextCursor string `json:"nextCursor"`
		}
		if err := json.Unmarshal(a.body, &page); err != nil {
			tb.Fatalf("GET history: %v in %s", err, a)
		}
		for _, en := range page.Entries {
			revs = append(revs, en.Revision)
		}
		if page.NextCursor == "" {
			return revs
		}
		path = "/history?limit=500&cursor=" + page.NextCursor
	}
}

// checkGapless fails unless history lists exactly revisions 1..want.
func (e *faultEnv) checkGapless(tb testing.TB, ns string, want uint64) {
	tb.Helper()
	revs := e.historyRevisions(tb, ns)
	if uint64(len(revs)) != want {
		tb.Fatalf("history lists %d revisions, want %d (1..%d)", len(revs), want, want)
	}
	for i, r := range revs {
		if r != want-uint64(i) {
			tb.Fatalf("history entry %d is revision %d, want %d: revisions are not 1..%d without gaps", i, r, want-uint64(i), want)
		}
	}
}

// verify runs `flowhist verify` on ns against the env's Valkey.
func (e *faultEnv) verify(tb testing.TB, ns string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, flowhistBin, "verify", "-n", ns, "--valkey-addr", e.valkeyAddr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("flowhist verify -n %s: %v, want exit 0:\n%s", ns, err, out)
	}
}

// logSince returns flowhist's log from byte offset on.
func (e *faultEnv) logSince(tb testing.TB, offset int64) string {
	tb.Helper()
	b, err := os.ReadFile(e.fh.log)
	if err != nil {
		tb.Fatalf("reading flowhist's log: %v", err)
	}
	if offset > int64(len(b)) {
		offset = int64(len(b))
	}
	return string(b[offset:])
}

func (e *faultEnv) logSize() int64 { return fileSize(e.fh.log) }

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func compactJSON(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		tb.Fatalf("compacting %q: %v", b, err)
	}
	return out.Bytes()
}

// seedNamespace gives ns two flows revisions (node n1 changes between
// them), a feed group for worker, and returns the namespace revision.
func (e *faultEnv) seedNamespace(tb testing.TB, ns, worker string) uint64 {
	tb.Helper()
	for _, label := range []string{"one", "two"} {
		body := fmt.Sprintf(`[{"id":"t1","type":"tab","label":"seed"},{"id":"n1","type":"inject","z":"t1","name":%q,"wires":[]}]`, label)
		e.mustCall(tb, 200, "PUT", ns, "/flows", []byte(body), nil)
	}
	// Creates the worker's group, so that acks and GET workers have one.
	if a := e.call("GET", ns, "/feed?worker="+worker+"&wait=10ms", nil, nil); a.status != 200 && a.status != 204 {
		tb.Fatalf("GET feed: got %s, want 200 or 204", a)
	}
	return e.revision(tb, ns)
}

// routeCall is one request of the route table.
type routeCall struct {
	name         string
	method, path string // path below /v1/namespaces/{ns}
	body         string
	healthy      []int // statuses it answers on a seeded namespace with Valkey up
	// racing are statuses it may also answer while other routes write at
	// the same time: a rollback rolls back from the flows it read, and a
	// deploy landing in between is a conflict.
	racing []int
}

// everyRoute is one valid request on every namespace route of
// httpapi/server.go's routes(), for a namespace seeded by seedNamespace
// with worker: the outage and loading tests walk it.
func everyRoute(worker string) []routeCall {
	flows := `[{"id":"t1","type":"tab","label":"route table"},{"id":"n1","type":"inject","z":"t1","name":"three","wires":[]}]`
	ok := []int{200}
	return []routeCall{
		{"GET flows", "GET", "/flows", "", ok, nil},
		{"PUT flows", "PUT", "/flows", flows, ok, nil},
		{"POST deploy", "POST", "/deploy", `{"flows":` + flows + `,"credentials":{"$":"0a1b2c3d"},"user":"fault-suite"}`, ok, nil},
		{"GET credentials", "GET", "/credentials", "", ok, nil},
		{"PUT credentials", "PUT", "/credentials", `{"$":"4e5f6a7b"}`, ok, nil},
		{"GET settings", "GET", "/settings", "", ok, nil},
		{"PUT settings", "PUT", "/settings", `{"editorTheme":{"header":{"title":"faults"}}}`, ok, nil},
		{"GET sessions", "GET", "/sessions", "", ok, nil},
		{"PUT sessions", "PUT", "/sessions", `{"sessions":[]}`, ok, nil},
		{"GET library", "GET", "/library/flows?path=", "", ok, nil},
		{"PUT library", "PUT", "/library/flows?path=faults/one", `{"meta":{},"body":"[]"}`, ok, nil},
		{"GET feed", "GET", "/feed?worker=" + worker + "&wait=100ms", "", []int{200, 204}, nil},
		{"POST feed/ack", "POST", "/feed/ack", `{"worker":"` + worker + `","revision":1}`, ok, nil},
		{"GET workers", "GET", "/workers", "", ok, nil},
		{"GET history", "GET", "/history", "", ok, nil},
		{"GET revisions/1", "GET", "/revisions/1", "", ok, nil},
		{"GET revisions/1/flows", "GET", "/revisions/1/flows", "", ok, nil},
		{"GET diff", "GET", "/diff?from=1&to=2", "", ok, nil},
		{"GET nodes/n1/history", "GET", "/nodes/n1/history", "", ok, nil},
		{"POST rollback", "POST", "/rollback", `{"to":1,"reason":"fault suite"}`, ok, []int{409}},
	}
}

func (r routeCall) do(e *faultEnv, ns string) answer {
	var body []byte
	if r.body != "" {
		body = []byte(r.body)
	}
	return e.call(r.method, ns, r.path, body, nil)
}

func (r routeCall) isHealthy(a answer) bool {
	return a.err == nil && slices.Contains(r.healthy, a.status)
}

// isHealthyRacing is isHealthy while other routes write concurrently.
func (r routeCall) isHealthyRacing(a answer) bool {
	return r.isHealthy(a) || a.err == nil && slices.Contains(r.racing, a.status)
}

// follow starts worker id following ns's feed as the Node-RED module does
// (feedWorker), each request waiting 5 s: an outage fails it soon.
func (e *faultEnv) follow(tb testing.TB, ns, id string) *feedWorker {
	tb.Helper()
	return startFeedWorker(tb, id, ns, e.token, 0, 5*time.Second, e.fh.URL)
}

// rawRequest sends req as written (headers Go's client refuses to send, such
// as control characters) and reads the answer.
func rawRequest(addr, req string) answer {
	start := time.Now()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return answer{err: err}
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		return answer{err: err, took: time.Since(start)}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return answer{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b, took: time.Since(start)}
}

// cli runs the flowhist binary against the env with its admin token and
// namespace ns, and returns its exit code, stdout, stderr and duration.
func (e *faultEnv) cli(tb testing.TB, ns string, args ...string) (int, string, string, time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, flowhistBin, args...)
	cmd.Env = append(cmd.Environ(), "FLOWHIST_URL="+e.fh.URL, "FLOWHIST_TOKEN="+e.token, "FLOWHIST_NAMESPACE="+ns, "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		tb.Fatalf("flowhist %v: %v", args, err)
	}
	return code, out.String(), errb.String(), took
}
