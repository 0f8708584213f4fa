package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/redis/rueidis"
)

// The fault suite of issue 8: flowhist against a Valkey that is killed,
// stopped, frozen, demoted, loading its data, short of the durability asked
// for, and under contention, and against hostile requests
// (faults_hostile_test.go). Each test has its own Valkey and flowhist and
// bounds its own time. Which test covers which defect of the issue:
//
//	1 reads hang for the outage    TestOutageEveryRouteAnswers503Fast, TestOutagePausedValkeyAnswers503
//	2 500 while Valkey loads       TestLoadingAnswers503Never500
//	  a client gone logged as 500  TestOutageEveryRouteAnswers503Fast (no "internal error" in the log)
//	3 409 without If-Match         TestUnconditionalWriters80AllLand
//	4 settings with whitespace     TestHostileBodiesReadBack
//	5 null, invalid UTF-8          TestHostileRequestsAreRefused
//	6 library names                TestHostileRequestsAreRefused (PUT library …)
//	7 durability silent            TestDurabilityShortfallIsReportedOrRefused
//	  lost in a failover           TestDurabilityFailoverLosesNoAcknowledgedWrite, TestDurabilityFailoverForgetsUnconfirmedDeploys
//	  READONLY answers 500         TestFaultReadOnlyValkeyAnswers503
//	8 inline node credentials      TestHostileRequestsAreRefused (… inline credentials; no secret in the log)
//	9 settings beyond float64      TestHostileBodiesReadBack
//
// Beyond the list: TestFaultValkeyKill9LosesNoAcknowledgedWrite and
// TestFaultFlowhistKill9LosesNoAcknowledgedWrite (every kind of write),
// TestFaultCompatKeysFollowAfterValkeyKill9 (the old module's keys),
// TestFaultFeedFollowerGetsNextDeployAfter{Valkey,Flowhist}Restart,
// TestFaultNodeREDWorkerServesNextDeployAfterValkeyRestart (a real Node-RED
// worker), and in faults_valkey_test.go: a Valkey refusing writes (OOM,
// NOREPLICAS, BUSY, MISCONF), forgetting its scripts and connections,
// answering MASTERDOWN, refusing flowhist's credentials, losing its data,
// holding data edited behind flowhist's back; TestHostileSlowClientsAreCutOff.
//
// Figures go to t.Log:
//
//	go test -race -count=1 -v ./e2e/ -run 'Fault|Outage|Loading|Hostile|Unconditional|Durab' | grep -E 'slowest|writes/s|loading lasted|told of'

// TestFaultValkeyKill9LosesNoAcknowledgedWrite kills Valkey (AOF always) with -9 while
// 8 clients write (flows, compact and pretty-printed; deploys with
// credentials; settings; library entries), each retrying a failed write
// with its Idempotency-Key, and restarts it: while it is down every write
// answers 503 unavailable fast; afterwards every acknowledged write reads
// back at its revision (flows byte-exact), the revisions are 1..N without
// gaps with exactly one per write, and `flowhist verify` passes.
func TestFaultValkeyKill9LosesNoAcknowledgedWrite(t *testing.T) {
	e := newFaultEnv(t, "", durableValkey...)
	writesUnderFault(t, e, "Valkey killed", 3, func(a answer) string { return a.unavailable() }, e.vk.Kill, func() { e.vk.Restart(t) })
}

// TestFaultFlowhistKill9LosesNoAcknowledgedWrite is the same with flowhist killed with
// -9 and started again: what it acknowledged before it died is all there,
// once each.
func TestFaultFlowhistKill9LosesNoAcknowledgedWrite(t *testing.T) {
	e := newFaultEnv(t, "", durableValkey...)
	refusal := func(a answer) string {
		if a.err != nil { // flowhist is not there: connection refused or reset
			return ""
		}
		return a.unavailable()
	}
	writesUnderFault(t, e, "flowhist killed", 3, refusal, func() { e.fh.stop(syscall.SIGKILL) }, func() { e.fh.restart(t) })
}

// writesUnderFault runs 8 writers of 19 writes each on a new namespace,
// each retrying a refused write with its Idempotency-Key until it is
// acknowledged. Once 40 are acknowledged it calls down, waits until every
// writer still writing has been refused minRefused times (each refusal
// checked by refusal: "" or what is wrong with it), calls up, and then
// checks every acknowledged write at its revision, the revisions 1..N
// without gaps, one per write, GET flows answering the newest flows, and
// `flowhist verify`. It returns the newest flows acknowledged.
func writesUnderFault(t *testing.T, e *faultEnv, what string, minRefused int64, refusal func(answer) string, down, up func()) []byte {
	t.Helper()
	ns := "fault-" + randomHex(4)
	const writers, perWriter, downAfter = 8, 19, 40

	type acked struct {
		rev uint64
		w   faultWrite
		key string
	}
	var (
		mu        sync.Mutex
		acks      []acked
		problems  []string
		half      = make(chan struct{})
		failed    atomic.Int64 // refusals as wanted
		refused   [writers]atomic.Int64
		finished  [writers]atomic.Bool
		slowest   atomic.Int64 // slowest refusal, ns
		deadline  = time.Now().Add(90 * time.Second)
		wg        sync.WaitGroup
		closeOnce sync.Once
	)
	problem := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer finished[w].Store(true)
			for i := range perWriter {
				wr := newFaultWrite(w, i)
				key := fmt.Sprintf("write-%d-%d-%s", w, i, randomHex(4))
				for {
					a := e.call(wr.method, ns, wr.path, wr.body, http.Header{"Idempotency-Key": {key}})
					if a.status == 200 {
						var res struct {
							Revision uint64 `json:"revision"`
						}
						if err := json.Unmarshal(a.body, &res); err != nil || res.Revision == 0 {
							problem("%s %s (key %s): 200 without a revision: %s", wr.method, wr.path, key, a)
							return
						}
						mu.Lock()
						acks = append(acks, acked{res.Revision, wr, key})
						if len(acks) == downAfter {
							closeOnce.Do(func() { close(half) })
						}
						mu.Unlock()
						break
					}
					refused[w].Add(1)
					if msg := refusal(a); msg != "" {
						problem("%s %s (key %s) with %s: %s", wr.method, wr.path, key, what, msg)
					} else {
						failed.Add(1)
						for old := slowest.Load(); int64(a.took) > old && !slowest.CompareAndSwap(old, int64(a.took)); old = slowest.Load() {
						}
					}
					if time.Now().After(deadline) {
						problem("writer %d: write %d not acknowledged within 90 s", w, i)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
				time.Sleep(10 * time.Millisecond) // spread the writes over the fault
			}
		}()
	}

	select {
	case <-half:
	case <-time.After(60 * time.Second):
		t.Fatalf("fewer than %d writes acknowledged within 60 s before any fault", downAfter)
	}
	down()
	downAt := time.Now()
	waitFor(t, 30*time.Second, "every writer's writes refused with "+what, func() (bool, string) {
		for w := range refused {
			if n := refused[w].Load(); n < minRefused && !finished[w].Load() {
				return false, fmt.Sprintf("writer %d had %d writes refused", w, n)
			}
		}
		return true, ""
	})
	up()
	t.Logf("%s for %s; %d writes refused meanwhile, the slowest refusal after %s",
		what, time.Since(downAt).Round(time.Millisecond), failed.Load(), time.Duration(slowest.Load()).Round(time.Millisecond))
	wg.Wait()

	for i, p := range problems {
		if i == 10 {
			t.Errorf("… and %d more", len(problems)-10)
			break
		}
		t.Error(p)
	}
	if len(acks) != writers*perWriter {
		t.Fatalf("%d writes acknowledged, want all %d (each retried with its Idempotency-Key)", len(acks), writers*perWriter)
	}

	byRev := map[uint64]acked{}
	for _, a := range acks {
		if other, dup := byRev[a.rev]; dup {
			t.Fatalf("writes %s and %s were both acknowledged as revision %d", other.key, a.key, a.rev)
		}
		byRev[a.rev] = a
	}
	head := e.revision(t, ns)
	// One revision per write: a write that landed before the fault but was
	// not answered lands once, its retry answering the same revision.
	if head != uint64(len(acks)) {
		t.Errorf("the namespace is at revision %d after %d writes, want %d: a retried write landed twice or one was lost", head, len(acks), len(acks))
	}
	e.checkGapless(t, ns, head)
	var newestFlows []byte
	for rev := uint64(1); rev <= head; rev++ {
		a, ok := byRev[rev]
		if !ok {
			t.Errorf("revision %d was appended but no write was acknowledged with it", rev)
			continue
		}
		if a.w.flows != nil {
			newestFlows = a.w.flows
		}
		if msg := a.w.check(t, e, ns, rev); msg != "" {
			t.Errorf("%s %s (key %s) acknowledged as revision %d: %s", a.w.method, a.w.path, a.key, rev, msg)
		}
	}
	if got := e.mustCall(t, 200, "GET", ns, "/flows", nil, nil); string(got.body) != string(compactJSON(t, newestFlows)) {
		t.Errorf("GET flows: got %.200s, want the newest flows acknowledged, %.200s", got.body, newestFlows)
	}
	e.verify(t, ns)
	return newestFlows
}

// TestFaultCompatKeysFollowAfterValkeyKill9: with the old module's keys
// kept up to date (compat "*"), Valkey is killed with -9 during writes.
// Once it is back, nodered:flows (what node-red-storage-valkey workers
// read) holds the newest flows acknowledged: whatever the crash left
// behind is repaired.
func TestFaultCompatKeysFollowAfterValkeyKill9(t *testing.T) {
	e := newFaultEnv(t, "compat:\n  - namespace: \"*\"\n    prefix: \"nodered:\"\n", durableValkey...)
	newest := writesUnderFault(t, e, "Valkey killed", 3, func(a answer) string { return a.unavailable() }, e.vk.Kill, func() { e.vk.Restart(t) })
	c := streamstest.Client(t, e.vk.Addr)
	waitFor(t, 10*time.Second, "nodered:flows holding the newest flows acknowledged", func() (bool, string) {
		v, err := c.Do(context.Background(), c.B().Get().Key("nodered:flows").Build()).AsBytes()
		if err != nil {
			return false, err.Error()
		}
		doc, err := projector.DecodeCompat(v)
		if err != nil {
			return false, err.Error()
		}
		var stored struct {
			Flows json.RawMessage `json:"flows"`
		}
		json.Unmarshal(doc, &stored)
		return jsonEqual(stored.Flows, newest), fmt.Sprintf("%.300s", doc)
	})
}

// faultWrite is one write of writesUnderFault: writer w writes one kind
// throughout.
type faultWrite struct {
	method, path string
	body         []byte
	flows        []byte // the flows it sets, compacted (flows, deploy)
	settings     []byte // (settings)
	libraryBody  string // (library)
}

func newFaultWrite(w, i int) faultWrite {
	flows := []byte(fmt.Sprintf(`[{"id":"t1","type":"tab","label":"writer %d"},{"id":"n%d","type":"inject","z":"t1","name":"write %d of writer %d","props":[{"p":"payload","v":%q}],"wires":[]}]`, w, i, i, w, randomHex(8)))
	switch w % 5 {
	case 0:
		return faultWrite{method: "PUT", path: "/flows", body: flows, flows: flows}
	case 1: // pretty-printed, as a flows.json file is
		return faultWrite{method: "PUT", path: "/flows", body: indentJSON(flows), flows: flows}
	case 2:
		body := fmt.Sprintf(`{"flows":%s,"credentials":{"$":%q},"user":"writer %d"}`, flows, randomHex(16), w)
		return faultWrite{method: "POST", path: "/deploy", body: []byte(body), flows: flows}
	case 3:
		settings := []byte(fmt.Sprintf(`{"writer":%d,"write":%d,"pad":%q}`, w, i, randomHex(8)))
		return faultWrite{method: "PUT", path: "/settings", body: settings, settings: settings}
	default:
		lib := randomHex(12)
		return faultWrite{method: "PUT", path: fmt.Sprintf("/library/functions?path=w%d/f%d", w, i),
			body: []byte(fmt.Sprintf(`{"meta":{"outputs":1},"body":%q}`, lib)), libraryBody: lib}
	}
}

// check reads what the write set at rev back and returns what differs.
func (wr faultWrite) check(t *testing.T, e *faultEnv, ns string, rev uint64) string {
	t.Helper()
	if wr.flows != nil {
		got := e.mustCall(t, 200, "GET", ns, fmt.Sprintf("/revisions/%d/flows", rev), nil, nil)
		if want := compactJSON(t, wr.flows); string(got.body) != string(want) {
			return fmt.Sprintf("GET revisions/%d/flows: got %d bytes sha256 %s, want the %d bytes sent (compacted) sha256 %s",
				rev, len(got.body), sha256Hex(got.body), len(want), sha256Hex(want))
		}
		return ""
	}
	got := e.mustCall(t, 200, "GET", ns, fmt.Sprintf("/revisions/%d", rev), nil, nil)
	var ev struct {
		Payload struct {
			Settings json.RawMessage `json:"settings"`
			Entry    struct {
				Body string `json:"body"`
			} `json:"entry"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(got.body, &ev); err != nil {
		return fmt.Sprintf("GET revisions/%d: %v in %s", rev, err, got)
	}
	switch {
	case wr.settings != nil && !jsonEqual(ev.Payload.Settings, wr.settings):
		return fmt.Sprintf("GET revisions/%d: settings %s, want %s", rev, ev.Payload.Settings, wr.settings)
	case wr.libraryBody != "" && ev.Payload.Entry.Body != wr.libraryBody:
		return fmt.Sprintf("GET revisions/%d: library body %q, want %q", rev, ev.Payload.Entry.Body, wr.libraryBody)
	}
	return ""
}

// indentJSON pretty-prints b as an editor's flows.json file is.
func indentJSON(b []byte) []byte {
	var out bytes.Buffer
	json.Indent(&out, b, "", "    ")
	out.WriteByte('\n')
	return out.Bytes()
}

// TestOutageEveryRouteAnswers503Fast stops Valkey and calls every route, on
// a namespace flowhist has cached and on one it has never seen: each
// answers 503 unavailable with Retry-After within 2 s, /readyz 503 saying
// why, /healthz 200. Once Valkey is back every route answers as before by
// itself, a deploy is readable, and the log says once that Valkey is back.
func TestOutageEveryRouteAnswers503Fast(t *testing.T) {
	e := newFaultEnv(t, "", durableValkey...)
	cached, worker := "outage-"+randomHex(4), "w-outage"
	e.seedNamespace(t, cached, worker)
	for _, r := range everyRoute(worker) {
		if a := r.do(e, cached); !r.isHealthy(a) {
			t.Fatalf("%s with Valkey up: got %s, want %v", r.name, a, r.healthy)
		}
	}
	e.mustCall(t, 200, "GET", "", "/readyz", nil, nil)

	logFrom := e.logSize()
	e.vk.Stop()
	e.client = outageClient
	var slowest time.Duration
	slowestName := ""
	requests := 0
	note := func(name string, a answer) {
		requests++
		if a.took > slowest {
			slowest, slowestName = a.took, name
		}
	}
	for _, ns := range []struct{ kind, name string }{{"cached namespace", cached}, {"unseen namespace", "never-" + randomHex(4)}} {
		for _, r := range everyRoute(worker) {
			t.Run(ns.kind+"/"+r.name+" answers 503 unavailable within 2s", func(t *testing.T) {
				a := r.do(e, ns.name)
				note(ns.kind+" "+r.name, a)
				if msg := a.unavailable(); msg != "" {
					t.Errorf("%s on the %s with Valkey stopped: %s", r.name, ns.kind, msg)
				}
			})
		}
	}
	t.Run("readyz answers 503 saying why", func(t *testing.T) {
		a := e.call("GET", "", "/readyz", nil, nil)
		note("readyz", a)
		var body struct {
			Message string `json:"message"`
		}
		if a.err != nil || a.status != 503 || json.Unmarshal(a.body, &body) != nil || body.Message == "" || a.took > outageBound {
			t.Errorf("GET /readyz with Valkey stopped: got %s, want 503 with a JSON message within %s", a, outageBound)
		}
	})
	t.Run("healthz and metrics answer 200", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/metrics"} {
			if a := e.call("GET", "", p, nil, nil); a.status != 200 || a.took > outageBound {
				t.Errorf("GET %s with Valkey stopped: got %s, want 200 within %s", p, a, outageBound)
			}
		}
	})
	// The CLI's exit code says "unavailable" (6, README), whether it goes
	// through flowhist or to Valkey directly.
	for _, args := range [][]string{
		{"history"}, {"show", "1"}, {"diff", "1", "2"}, {"workers"},
		{"verify", "-n", cached, "--valkey-addr", e.vk.Addr},
	} {
		t.Run("flowhist "+strings.Join(args[:1], " ")+" exits 6 (unavailable)", func(t *testing.T) {
			code, out, errOut, took := e.cli(t, cached, args...)
			if code != 6 || took > 10*time.Second {
				t.Errorf("flowhist %s with Valkey stopped: exit %d after %s (stdout %q, stderr %q), want 6 within 10s",
					strings.Join(args, " "), code, took.Round(time.Millisecond), tail(out, 300), tail(errOut, 300))
			}
		})
	}
	// flowhist notices the outage on a timer: wait until it has (its
	// gauge says so), then call every route again (the answers must not
	// change once it knows); neither the outage nor the requests may fill
	// the log.
	waitFor(t, 10*time.Second, "flowhist noticing the outage (flowhist_valkey_up 0)", func() (bool, string) {
		a := e.call("GET", "", "/metrics", nil, nil)
		return strings.Contains(string(a.body), "\nflowhist_valkey_up 0\n"), "not yet"
	})
	for _, r := range everyRoute(worker) {
		t.Run("known outage/"+r.name+" answers 503 unavailable within 2s", func(t *testing.T) {
			a := r.do(e, cached)
			note("known outage "+r.name, a)
			if msg := a.unavailable(); msg != "" {
				t.Errorf("%s once flowhist knows Valkey is down: %s", r.name, msg)
			}
		})
	}
	t.Logf("slowest route during outage: %d ms (%s; %d requests)", slowest.Milliseconds(), slowestName, requests)
	e.client = faultClient
	e.vk.Restart(t)
	back := time.Now()
	took := waitFor(t, 30*time.Second, "every route answering again after the outage", func() (bool, string) {
		if a := e.call("GET", "", "/readyz", nil, nil); a.status != 200 {
			return false, "readyz: " + a.String()
		}
		for _, r := range everyRoute(worker) {
			if a := r.do(e, cached); !r.isHealthy(a) {
				return false, r.name + ": " + a.String()
			}
		}
		return true, ""
	})
	t.Logf("every route answered again %s after Valkey was back", took.Round(time.Millisecond))

	t.Run("a deploy after the outage reads back", func(t *testing.T) {
		body := []byte(`[{"id":"t1","type":"tab","label":"after the outage ` + randomHex(4) + `"}]`)
		e.mustCall(t, 200, "PUT", cached, "/flows", body, nil)
		waitFor(t, 10*time.Second, "GET flows answering the deploy made after the outage", func() (bool, string) {
			a := e.call("GET", cached, "/flows", nil, nil)
			return a.status == 200 && string(a.body) == string(body), a.String()
		})
		e.verify(t, cached)
	})
	t.Run("the log says once that Valkey is back, not once per request", func(t *testing.T) {
		var log string
		waitFor(t, 10*time.Second, "flowhist's log saying Valkey is back", func() (bool, string) {
			log = e.logSince(t, logFrom)
			for _, l := range backLines(log) {
				if strings.Contains(strings.ToLower(l), "valkey") {
					return true, ""
				}
			}
			return false, tail(log, 2000)
		})
		up := backLines(log)
		// The Valkey monitor, the projector and each namespace's feed tail
		// may say so; per request would be dozens.
		if len(up) > 5 {
			t.Errorf("for %d requests during the outage flowhist's log says %d times that something is back, want once per component:\n%s",
				requests, len(up), strings.Join(up, "\n"))
		}
		var warnings []string
		for line := range strings.Lines(log) {
			if strings.Contains(line, `"level":"warn"`) || strings.Contains(line, `"level":"error"`) {
				warnings = append(warnings, strings.TrimSpace(line))
			}
		}
		if len(warnings) > requests/4 {
			t.Errorf("flowhist logged %d warnings and errors for %d requests during the outage, want a few, not one per request:\n%s",
				len(warnings), requests, tail(strings.Join(warnings, "\n"), 3000))
		}
		if n := strings.Count(log, `"internal error"`); n > 0 {
			t.Errorf("flowhist logged %d internal errors during the outage, want none: an unreachable Valkey is unavailable, not a bug", n)
		}
		t.Logf("%d warnings and errors logged for %d requests; %s after Valkey was back the log said:\n%s",
			len(warnings), requests, time.Since(back).Round(time.Millisecond), strings.Join(up, "\n"))
	})
}

// backLines returns the log lines that say something works again.
func backLines(log string) []string {
	var out []string
	for line := range strings.Lines(log) {
		l := strings.ToLower(line)
		if containsAny(l, "resumed", "again", " back", "recovered", "reconnected", "restored") &&
			!containsAny(l, "unavailable", "unreachable", "lost", "retrying", "fail", "cannot") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// TestLoadingAnswers503Never500 restarts Valkey on a dataset it takes
// seconds to load (key-load-delay slows loading of a small one) and calls
// every route while it loads: no answer is a 500; each is 503 unavailable
// or, once loaded, what it answers normally. A worker that followed the
// feed before the restart is told of the first deploy after it.
func TestLoadingAnswers503Never500(t *testing.T) {
	const fillerKeys = 15000 // × ~100 µs of key-load-delay: about 2 s of loading
	e := newFaultEnv(t, "", append(durableValkey, "--key-load-delay", "100", "--loading-process-events-interval-bytes", "1024")...)
	ns, worker := "loading-"+randomHex(4), "w-loading"
	head := e.seedNamespace(t, ns, worker)
	f := e.follow(t, ns, "w-follower")
	f.heardWithin(t, head, time.Now(), 10*time.Second)

	c := streamstest.Client(t, e.vk.Addr)
	ctx := context.Background()
	value := strings.Repeat("x", 100)
	for i := 0; i < fillerKeys; i += 1000 {
		cmds := make(rueidis.Commands, 0, 1000)
		for j := i; j < min(i+1000, fillerKeys); j++ {
			cmds = append(cmds, c.B().Set().Key(fmt.Sprintf("filler:%d", j)).Value(value).Build())
		}
		for _, r := range c.DoMulti(ctx, cmds...) {
			if err := r.Error(); err != nil {
				t.Fatalf("writing the filler keys: %v", err)
			}
		}
	}
	// Everything into the AOF's RDB base, which key-load-delay slows.
	if err := c.Do(ctx, c.B().Bgrewriteaof().Build()).Error(); err != nil {
		t.Fatalf("BGREWRITEAOF: %v", err)
	}
	waitFor(t, 30*time.Second, "the AOF rewrite", func() (bool, string) {
		info, err := c.Do(ctx, c.B().Info().Section("persistence").Build()).ToString()
		return err == nil && strings.Contains(info, "aof_rewrite_in_progress:0") && strings.Contains(info, "aof_rewrite_scheduled:0"), info
	})

	// A prober sees when Valkey answers LOADING; the hammer calls every
	// route until the restart returns (Valkey answers PING).
	var (
		mu             sync.Mutex
		loadingFrom    time.Time
		loadingTo      time.Time
		answers        []timedAnswer
		stopProbe      = make(chan struct{})
		probeDone      = make(chan struct{})
		hammerDone     = make(chan struct{})
		hammerStop     atomic.Bool
		inLoadingCount int
	)
	go func() {
		defer close(probeDone)
		for {
			select {
			case <-stopProbe:
				return
			default:
			}
			if loadingReply(e.vk.Addr) {
				mu.Lock()
				if loadingFrom.IsZero() {
					loadingFrom = time.Now()
				}
				loadingTo = time.Now()
				mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	e.vk.Kill()
	e.client = outageClient
	// One caller per route, each calling its route again 50 ms after the
	// last answer, so that a route that hangs holds up only itself.
	var hammers sync.WaitGroup
	for _, r := range everyRoute(worker) {
		hammers.Add(1)
		go func() {
			defer hammers.Done()
			for !hammerStop.Load() {
				sent := time.Now()
				a := r.do(e, ns)
				mu.Lock()
				answers = append(answers, timedAnswer{r, a, sent})
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	// And /readyz, which must say why it is not ready.
	var readyzWrong []string
	hammers.Add(1)
	go func() {
		defer hammers.Done()
		for !hammerStop.Load() {
			a := e.call("GET", "", "/readyz", nil, nil)
			var body struct {
				Message string `json:"message"`
			}
			json.Unmarshal(a.body, &body)
			if !(a.status == 200 || a.status == 503 && body.Message != "") || a.took > outageBound {
				mu.Lock()
				readyzWrong = append(readyzWrong, a.String())
				mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	go func() { hammers.Wait(); close(hammerDone) }()
	restart := time.Now()
	e.vk.Restart(t)
	up := time.Now()
	hammerStop.Store(true)
	<-hammerDone
	close(stopProbe)
	<-probeDone
	e.client = faultClient
	if loadingFrom.IsZero() {
		t.Fatalf("Valkey never answered LOADING during its %s restart: the dataset loads too fast to test", up.Sub(restart).Round(time.Millisecond))
	}
	counts := map[int]int{}
	type wrong struct {
		n     int
		first string
	}
	wrongs := map[string]*wrong{} // by route
	var order []string
	for _, ta := range answers {
		during := !ta.sent.Before(loadingFrom) && !ta.sent.After(loadingTo)
		if during {
			inLoadingCount++
		}
		counts[ta.a.status]++
		msg := ""
		switch {
		case ta.a.status == 503:
			msg = ta.a.unavailable()
		case !ta.r.isHealthyRacing(ta.a):
			msg = fmt.Sprintf("got %s, want 503 unavailable or %v", ta.a, append(ta.r.healthy, ta.r.racing...))
		}
		if msg == "" {
			continue
		}
		w := wrongs[ta.r.name]
		if w == nil {
			w = &wrong{first: fmt.Sprintf("(sent while Valkey answered LOADING: %v) %s", during, msg)}
			wrongs[ta.r.name] = w
			order = append(order, ta.r.name)
		}
		w.n++
	}
	for _, name := range order {
		t.Errorf("%s while Valkey restarted: %d wrong answers, the first %s", name, wrongs[name].n, wrongs[name].first)
	}
	if len(readyzWrong) > 0 {
		t.Errorf("GET /readyz while Valkey restarted: %d wrong answers, the first %s; want 503 with a JSON message, or 200, within %s", len(readyzWrong), readyzWrong[0], outageBound)
	}
	t.Logf("loading lasted %s (restart to PONG %s); %d answers while Valkey restarted, %d of them sent while it answered LOADING; statuses %v",
		loadingTo.Sub(loadingFrom).Round(time.Millisecond), up.Sub(restart).Round(time.Millisecond), len(answers), inLoadingCount, counts)
	if inLoadingCount < len(everyRoute(worker)) {
		t.Errorf("only %d requests were sent while Valkey loaded, want at least one per route (%d)", inLoadingCount, len(everyRoute(worker)))
	}

	rev := deployUntilAccepted(t, e, ns, 10*time.Second, nil)
	took := f.heardWithin(t, rev, time.Now(), 10*time.Second)
	t.Logf("the follower was told of revision %d %s after the deploy that followed loading", rev, took.Round(time.Millisecond))
	e.verify(t, ns)
}

type timedAnswer struct {
	r    routeCall
	a    answer
	sent time.Time
}

// loadingReply reports whether the Valkey at addr answers PING with
// -LOADING.
func loadingReply(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 64)
	n, _ := conn.Read(buf)
	return strings.HasPrefix(string(buf[:n]), "-LOADING")
}

// deployUntilAccepted deploys body (nil: new flows) with one
// Idempotency-Key until flowhist answers 200 (503 meanwhile: Valkey is
// coming back) and returns the revision.
func deployUntilAccepted(t *testing.T, e *faultEnv, ns string, within time.Duration, body []byte) uint64 {
	t.Helper()
	if body == nil {
		body = []byte(`[{"id":"t1","type":"tab","label":"deploy ` + randomHex(4) + `"}]`)
	}
	key := "after-restart-" + randomHex(6)
	var rev uint64
	waitFor(t, within, "a deploy accepted", func() (bool, string) {
		a := e.call("PUT", ns, "/flows", body, http.Header{"Idempotency-Key": {key}})
		if a.status != 200 {
			return false, a.String()
		}
		var res struct {
			Revision uint64 `json:"revision"`
		}
		json.Unmarshal(a.body, &res)
		rev = res.Revision
		return rev > 0, a.String()
	})
	return rev
}

// TestFaultFeedFollowerGetsNextDeployAfterValkeyRestart: a worker follows the feed (streamed,
// acknowledging as the Node-RED module does); Valkey is killed and
// restarted; the worker is told of the next deploy within 10 s of Valkey
// being back.
func TestFaultFeedFollowerGetsNextDeployAfterValkeyRestart(t *testing.T) {
	followerGetsNextDeployAfter(t, "follow-", "Valkey",
		func(e *faultEnv) { e.vk.Kill() }, func(e *faultEnv) { e.vk.Restart(t) })
}

// TestFaultFeedFollowerGetsNextDeployAfterFlowhistRestart: the same with flowhist killed
// with -9 and started again while a worker follows: the worker's group
// survives in Valkey, and the worker is told of the next deploy.
func TestFaultFeedFollowerGetsNextDeployAfterFlowhistRestart(t *testing.T) {
	followerGetsNextDeployAfter(t, "follow-fh-", "flowhist",
		func(e *faultEnv) { e.fh.stop(syscall.SIGKILL) }, func(e *faultEnv) { e.fh.restart(t) })
}

// followerGetsNextDeployAfter has a worker follow a namespace while what
// goes down and comes back up; the worker must then hear of the next
// deploy.
func followerGetsNextDeployAfter(t *testing.T, prefix, what string, down, up func(*faultEnv)) {
	t.Helper()
	e := newFaultEnv(t, "", durableValkey...)
	ns := prefix + randomHex(4)
	head := e.seedNamespace(t, ns, "w-seed")
	f := e.follow(t, ns, "w-follower")
	f.heardWithin(t, head, time.Now(), 10*time.Second)

	down(e)
	waitFor(t, 30*time.Second, "the follower's feed requests failing while "+what+" is down", func() (bool, string) {
		return f.failed() > 0, "no failed feed request yet"
	})
	up(e)
	back := time.Now()
	rev := deployUntilAccepted(t, e, ns, 10*time.Second, nil)
	f.heardWithin(t, rev, time.Now(), 10*time.Second)
	t.Logf("the follower was told of revision %d %s after %s was back", rev, time.Since(back).Round(time.Millisecond), what)
}

// TestUnconditionalWriters80AllLand: 80 clients PUT flows at the same moment on one
// namespace without If-Match: each asked for no expectation, so none may be
// told it conflicted; all 80 land as revisions 1..80. The same for 80 ×
// PUT credentials.
func TestUnconditionalWriters80AllLand(t *testing.T) {
	e := newFaultEnv(t, "")
	ns := "writers-" + randomHex(4)
	const n = 80
	run := func(t *testing.T, what, path string, body func(i int) string, from uint64) {
		start := make(chan struct{})
		answers := make([]answer, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := []byte(body(i))
				<-start
				answers[i] = e.call("PUT", ns, path, b, nil)
			}()
		}
		t0 := time.Now()
		close(start)
		wg.Wait()
		elapsed := time.Since(t0)
		statuses := map[int]int{}
		seen := map[uint64]int{}
		for i, a := range answers {
			statuses[a.status]++
			if a.status != 200 {
				if statuses[a.status] <= 3 {
					t.Errorf("unconditional %s %d: got %s, want 200", what, i, a)
				}
				continue
			}
			var res struct {
				Revision uint64 `json:"revision"`
			}
			json.Unmarshal(a.body, &res)
			if res.Revision <= from || res.Revision > from+n {
				t.Errorf("unconditional %s %d: revision %d, want one of %d..%d", what, i, res.Revision, from+1, from+n)
			}
			if j, dup := seen[res.Revision]; dup {
				t.Errorf("unconditional %s %d and %d both answered revision %d", what, j, i, res.Revision)
			}
			seen[res.Revision] = i
		}
		t.Logf("%d concurrent unconditional %s on one namespace: statuses %v in %s: %.0f writes/s", n, what, statuses, elapsed.Round(time.Millisecond), float64(statuses[200])/elapsed.Seconds())
		if statuses[200] != n {
			t.Fatalf("%d of %d unconditional %s answered 200 (statuses %v), want all", statuses[200], n, what, statuses)
		}
		e.checkGapless(t, ns, from+n)
	}
	t.Run("80 PUT flows all land gapless", func(t *testing.T) {
		run(t, "PUT flows", "/flows", func(i int) string {
			return fmt.Sprintf(`[{"id":"t1","type":"tab","label":"writer %d"}]`, i)
		}, 0)
	})
	t.Run("80 PUT credentials all land gapless", func(t *testing.T) {
		run(t, "PUT credentials", "/credentials", func(i int) string {
			return fmt.Sprintf(`{"$":"%x"}`, i+1000)
		}, e.revision(t, ns))
	})
	t.Run("80 PUT flows with the same If-Match: exactly one lands, 79 conflict", func(t *testing.T) {
		flowsRev := e.mustCall(t, 200, "GET", ns, "/flows", nil, nil).header.Get("ETag")
		rev := e.revision(t, ns)
		start := make(chan struct{})
		answers := make([]answer, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := []byte(fmt.Sprintf(`[{"id":"t1","type":"tab","label":"conditional %d"}]`, i))
				<-start
				answers[i] = e.call("PUT", ns, "/flows", b, http.Header{"If-Match": {flowsRev}})
			}()
		}
		close(start)
		wg.Wait()
		statuses := map[int]int{}
		for i, a := range answers {
			statuses[a.status]++
			if a.status == 409 {
				if ae, ok := a.jsonError(); !ok || ae.Code != "conflict" {
					t.Errorf("conditional PUT flows %d: got %s, want 409 {\"code\":\"conflict\"}", i, a)
				}
			}
		}
		if statuses[200] != 1 || statuses[409] != n-1 {
			t.Errorf("80 PUT flows with If-Match %s: statuses %v, want one 200 and 79 × 409", flowsRev, statuses)
		}
		if got := e.revision(t, ns); got != rev+1 {
			t.Errorf("after the conditional writers the namespace is at revision %d, want %d", got, rev+1)
		}
	})
}

// TestDurabilityShortfallIsReportedOrRefused asks for durability Valkey cannot give (a replica
// that does not exist, an AOF that is off): with required: true the append
// answers 503 unavailable saying a retry with the same Idempotency-Key is
// safe; with required: false it answers 200 saying what was achieved.
func TestDurabilityShortfallIsReportedOrRefused(t *testing.T) {
	flows := []byte(`[{"id":"t1","type":"tab","label":"durability"}]`)
	for _, c := range []struct {
		name       string
		durability string
		valkeyArgs []string
		want       int
		replicas   int
		aof        bool
		shortfall  bool
	}{
		{"replicas 1 without a replica, required: 503", "replicas: 1\n    required: true", nil, 503, 0, false, true},
		{"replicas 1 without a replica, not required: 200 with replicas 0", "replicas: 1\n    required: false", nil, 200, 0, false, true},
		{"aof against appendonly no, required: 503", "aof: true\n    required: true", []string{"--appendonly", "no"}, 503, 0, false, true},
		{"aof against appendonly no, not required: 200 with aof false", "aof: true\n    required: false", []string{"--appendonly", "no"}, 200, 0, false, true},
		{"aof against appendonly yes, required: 200 with aof true", "aof: true\n    required: true", durableValkey, 200, 0, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newFaultEnv(t, "streams:\n  durability:\n    timeout: 300ms\n    "+c.durability+"\n", c.valkeyArgs...)
			ns := "durability-" + randomHex(4)
			key := "durable-" + randomHex(6)
			a := e.call("PUT", ns, "/flows", flows, http.Header{"Idempotency-Key": {key}})
			e.checkShortfallReported(t, ns, c.shortfall)
			if c.want == 503 {
				msg := a.unavailable()
				if msg != "" {
					t.Fatalf("a deploy short of the durability required: %s", msg)
				}
				if ae, _ := a.jsonError(); !strings.Contains(strings.ToLower(ae.Message), "idempotency") {
					t.Errorf("the 503's message is %q, want it to say a retry with the same Idempotency-Key is safe", ae.Message)
				}
				// The retry the message invites lands nothing twice.
				r := e.call("PUT", ns, "/flows", flows, http.Header{"Idempotency-Key": {key}})
				if r.status != 200 && r.status != 503 {
					t.Errorf("retrying with the same Idempotency-Key: got %s, want 200 or 503", r)
				}
				if rev := e.revision(t, ns); rev > 1 {
					t.Errorf("after a 503 and its retry with the same Idempotency-Key the namespace is at revision %d, want at most 1", rev)
				}
				return
			}
			if a.status != 200 {
				t.Fatalf("a deploy with durability not required: got %s, want 200", a)
			}
			var res struct {
				Durability *struct {
					Replicas *int  `json:"replicas"`
					AOF      *bool `json:"aof"`
				} `json:"durability"`
			}
			if err := json.Unmarshal(a.body, &res); err != nil || res.Durability == nil || res.Durability.Replicas == nil || res.Durability.AOF == nil {
				t.Fatalf(`a deploy with durability configured: got %s, want "durability": {"replicas": n, "aof": bool} in the answer`, a)
			}
			if *res.Durability.Replicas != c.replicas || *res.Durability.AOF != c.aof {
				t.Errorf(`"durability" is {"replicas": %d, "aof": %v}, want {"replicas": %d, "aof": %v}`, *res.Durability.Replicas, *res.Durability.AOF, c.replicas, c.aof)
			}
		})
	}
}

// checkShortfallReported checks that a durability shortfall on ns is
// counted in /metrics and logged with the namespace, or that none is.
func (e *faultEnv) checkShortfallReported(t *testing.T, ns string, shortfall bool) {
	t.Helper()
	metrics := string(e.mustCall(t, 200, "GET", "", "/metrics", nil, nil).body)
	counted := strings.Contains(metrics, "\nflowhist_durability_shortfalls_total 1\n")
	logged := false
	for line := range strings.Lines(e.logSince(t, 0)) {
		if strings.Contains(line, `"`+ns+`"`) && strings.Contains(strings.ToLower(line), "durab") {
			logged = true
		}
	}
	switch {
	case shortfall && (!counted || !logged):
		t.Errorf("a durability shortfall: counted in /metrics (flowhist_durability_shortfalls_total 1): %v, logged with the namespace: %v; want both", counted, logged)
	case !shortfall && (counted || logged):
		t.Errorf("no durability shortfall, but counted in /metrics: %v, logged: %v; want neither", counted, logged)
	}
}

// TestOutagePausedValkeyAnswers503 freezes Valkey (SIGSTOP: its port and
// connections stay open, nothing answers, as a hung or swapping server):
// with http.request_timeout 1s every route answers 503 unavailable within
// 2 s instead of waiting for Valkey, clients that give up sooner are not
// logged as internal errors, and all answer again once it runs.
func TestOutagePausedValkeyAnswers503(t *testing.T) {
	e := newFaultEnv(t, "http:\n  request_timeout: 1s\n", durableValkey...)
	ns, worker := "paused-"+randomHex(4), "w-paused"
	e.seedNamespace(t, ns, worker)
	logFrom := e.logSize()
	e.vk.Pause()
	paused := true
	t.Cleanup(func() {
		if paused {
			e.vk.Resume()
		}
	})
	e.client = outageClient
	// All at once: each waits out the request timeout, which concurrency
	// does not change.
	routes := everyRoute(worker)
	answers := make([]answer, len(routes))
	var wg sync.WaitGroup
	for i, r := range routes {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i] = r.do(e, ns) }()
	}
	// And clients that give up before flowhist answers: their requests
	// end with nobody to answer, which is no server failure.
	impatient := &http.Client{Timeout: 200 * time.Millisecond}
	for _, r := range routes {
		wg.Add(1)
		go func() { defer wg.Done(); e.callWith(impatient, r.method, ns, r.path, []byte(r.body), nil) }()
	}
	wg.Wait()
	var slowest time.Duration
	for i, r := range routes {
		t.Run(r.name+" answers 503 unavailable within 2s", func(t *testing.T) {
			a := answers[i]
			slowest = max(slowest, a.took)
			if msg := a.unavailable(); msg != "" {
				t.Errorf("%s with Valkey paused: %s", r.name, msg)
			}
		})
	}
	t.Logf("slowest route with Valkey paused (request_timeout 1s): %d ms", slowest.Milliseconds())
	e.vk.Resume()
	paused = false
	e.client = faultClient
	e.waitEveryRouteHealthy(t, ns, worker, "after Valkey runs again")
	e.verify(t, ns)
	if log := e.logSince(t, logFrom); strings.Contains(log, `"internal error"`) {
		t.Errorf("flowhist logged internal errors while Valkey was paused (timeouts and clients that gave up are not bugs):\n%s", tail(log, 3000))
	}
}

// TestFaultReadOnlyValkeyAnswers503 demotes Valkey to a replica (of a
// primary that does not answer), as a failover does to the old primary:
// every write answers READONLY. Each route answers within 2 s, writes 503
// unavailable, reads 200 or 503, never 500; once Valkey is a primary again
// every route answers as before.
func TestFaultReadOnlyValkeyAnswers503(t *testing.T) {
	e := newFaultEnv(t, "", durableValkey...)
	ns, worker := "readonly-"+randomHex(4), "w-readonly"
	e.seedNamespace(t, ns, worker)
	c := streamstest.Client(t, e.vk.Addr)
	ctx := context.Background()
	if err := c.Do(ctx, c.B().Replicaof().Host("127.0.0.1").Port(int64(freePort(t))).Build()).Error(); err != nil {
		t.Fatalf("REPLICAOF: %v", err)
	}
	promoted := false
	promote := func() {
		if !promoted {
			promoted = true
			c.Do(ctx, c.B().Replicaof().No().One().Build())
		}
	}
	t.Cleanup(promote)
	e.client = outageClient
	for _, r := range everyRoute(worker) {
		write := r.method != "GET" || strings.HasPrefix(r.path, "/feed")
		want := "503 unavailable or 200"
		if write {
			want = "503 unavailable"
		}
		t.Run(r.name+" answers "+want+" within 2s", func(t *testing.T) {
			a := r.do(e, ns)
			if a.status == 503 || write {
				if msg := a.unavailable(); msg != "" {
					t.Errorf("%s with Valkey read-only: %s", r.name, msg)
				}
				return
			}
			if !r.isHealthy(a) || a.took > outageBound {
				t.Errorf("%s with Valkey read-only: got %s, want %s within %s", r.name, a, want, outageBound)
			}
		})
	}
	e.client = faultClient
	promote()
	e.waitEveryRouteHealthy(t, ns, worker, "once Valkey is a primary")
	e.verify(t, ns)
}
