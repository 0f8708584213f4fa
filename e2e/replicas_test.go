package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	fhclient "github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/redis/rueidis"
)

// Several `flowhist serve` processes on one Valkey are interchangeable: a
// deploy through any of them reaches workers following any other, the
// projector's work is shared without doing anything twice, the reaper of
// one does not strand a worker waiting on another, and when one is killed
// its workers follow another. Workers here are feed clients in this test
// process that do what the Node-RED module does (stream=1, ack after each
// line, the next URL when one fails); TestClusterReplicas runs the real
// module in Node-RED.

// replicaSet is one Valkey and n flowhist processes on it.
type replicaSet struct {
	valkey *valkeytest.Server
	fhs    []*flowhist
	ns     string
	token  string // deploy scope: deploys, and reads the feed and workers

	mu   sync.Mutex
	head uint64 // the newest revision deployed
}

func startReplicas(tb testing.TB, n int, compat bool, extra ...string) *replicaSet {
	tb.Helper()
	dir := tb.TempDir()
	rs := &replicaSet{valkey: valkeytest.Start(tb), ns: "e2e-" + randomHex(4), token: randomHex(24)}
	fc := fhConfig{valkeyAddr: rs.valkey.Addr, tokens: map[string]string{"deploy-test": rs.token}}
	if compat {
		fc.compat = []string{rs.ns}
	}
	for i := 0; i < n; i++ {
		c := fc
		if i < len(extra) {
			c.extra = extra[i]
		}
		rs.fhs = append(rs.fhs, startFlowhist(tb, dir, c))
	}
	return rs
}

// deploy PUTs flows labelled tag through fh and returns the revision and
// when the request was sent.
func (rs *replicaSet) deploy(tb testing.TB, fh *flowhist, tag string) (uint64, time.Time) {
	tb.Helper()
	c := rs.api(tb, fh)
	sent := time.Now()
	saved, err := c.PutFlows(context.Background(), fmt.Appendf(nil, `[{"id":"t1","type":"tab","label":%q}]`, tag), fhclient.Write{})
	if err != nil || saved.Revision == 0 {
		// Errorf and Goexit, not Fatalf: deploy runs in goroutines too.
		tb.Errorf("deploy %s through %s: got revision %d (%v), want one", tag, fh.name, saved.Revision, err)
		runtime.Goexit()
	}
	rev := uint64(saved.Revision)
	rs.mu.Lock()
	rs.head = max(rs.head, rev)
	rs.mu.Unlock()
	return rev, sent
}

// api is flowhist's client for the set's namespace through fh.
func (rs *replicaSet) api(tb testing.TB, fh *flowhist) *fhclient.Client {
	tb.Helper()
	return api(tb, fh.URL, rs.token, rs.ns)
}

// flows is the namespace's flows as fh reads them.
func (rs *replicaSet) flows(tb testing.TB, fh *flowhist) []map[string]any {
	tb.Helper()
	d, err := rs.api(tb, fh).Flows(context.Background())
	var flows []map[string]any
	if err == nil {
		err = json.Unmarshal(d.Body, &flows)
	}
	if err != nil {
		tb.Fatalf("GET flows through %s: %v", fh.name, err)
	}
	return flows
}

// workersAcked reports whether GET /workers through fh shows every id
// acknowledged at rev.
func (rs *replicaSet) workersAcked(tb testing.TB, fh *flowhist, rev uint64, ids ...string) (bool, string) {
	ws, err := rs.api(tb, fh).Workers(context.Background())
	if err != nil {
		tb.Fatalf("GET workers through %s: %v", fh.name, err)
	}
	acked := map[string]bool{}
	for _, w := range ws.Workers {
		acked[w.Worker] = uint64(w.Acknowledged) == rev && w.Lag == 0 && w.Pending == 0
	}
	if uint64(ws.Revision) != rev {
		return false, fmt.Sprintf("head at %d, want %d", ws.Revision, rev)
	}
	for _, id := range ids {
		if !acked[id] {
			b, _ := json.Marshal(ws)
			return false, fmt.Sprintf("worker %s not acknowledged at %d: %s", id, rev, b)
		}
	}
	return true, ""
}

// waitFeedWaiters waits until n feed requests wait on fh.
func waitFeedWaiters(tb testing.TB, fh *flowhist, n int) {
	tb.Helper()
	waitFor(tb, 10*time.Second, fmt.Sprintf("%d feed requests waiting on %s", n, fh.name), func() (bool, string) {
		v := feedWaiters(fh)
		return v == strconv.Itoa(n), "flowhist_feed_waiters " + v
	})
}

// feedWaiters is fh's flowhist_feed_waiters.
func feedWaiters(fh *flowhist) string {
	_, body := get(fh.URL+"/metrics", nil)
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, "flowhist_feed_waiters "); ok {
			return v
		}
	}
	return "none"
}

// compatCounter counts, in order, the old module's flows-updated messages
// and the SETs of its flows key (keyspace notifications) between two
// markers this test publishes on the same connection's channel.
type compatCounter struct {
	mu        sync.Mutex
	publishes int
	sets      int
	markers   []string
	changed   chan struct{}
	rc        rueidis.Client
}

const (
	compatUpdate   = "nodered:flows:updated"
	compatFlowsKey = "nodered:flows"
)

func countCompat(tb testing.TB, addr string) *compatCounter {
	tb.Helper()
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := rc.Do(ctx, rc.B().ConfigSet().ParameterValue().ParameterValue("notify-keyspace-events", "K$").Build()).Error(); err != nil {
		tb.Fatal(err)
	}
	c := &compatCounter{rc: rc, changed: make(chan struct{})}
	keyspace := "__keyspace@0__:" + compatFlowsKey
	done := make(chan struct{})
	go func() {
		defer close(done)
		rc.Receive(ctx, rc.B().Subscribe().Channel(compatUpdate, keyspace).Build(), func(m rueidis.PubSubMessage) {
			c.mu.Lock()
			switch {
			case m.Channel == keyspace && m.Message == "set":
				c.sets++
			case m.Channel == compatUpdate && strings.HasPrefix(m.Message, "marker-"):
				c.markers = append(c.markers, m.Message)
			case m.Channel == compatUpdate:
				c.publishes++
			}
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		})
	}()
	tb.Cleanup(func() { cancel(); <-done; rc.Close() })
	waitFor(tb, 10*time.Second, "subscribed", func() (bool, string) {
		n, _ := rc.Do(ctx, rc.B().PubsubNumsub().Channel(compatUpdate).Build()).AsIntMap()
		return n[compatUpdate] == 1, "no subscriber yet"
	})
	return c
}

// mark publishes a marker and waits until it is back: every message sent
// before it has been counted. It returns the counts then.
func (c *compatCounter) mark(tb testing.TB, name string) (publishes, sets int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.rc.Do(ctx, c.rc.B().Publish().Channel(compatUpdate).Message("marker-"+name).Build()).Error(); err != nil {
		tb.Fatal(err)
	}
	for {
		c.mu.Lock()
		ch := c.changed
		if slices.Contains(c.markers, "marker-"+name) {
			p, s := c.publishes, c.sets
			c.mu.Unlock()
			return p, s
		}
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			tb.Fatalf("marker %s did not come back", name)
		}
	}
}

// percentiles returns the p50 and the max of ds.
func percentiles(ds []time.Duration) (p50, top time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2], s[len(s)-1]
}

// notifyBound is how soon a deploy must reach a worker on any replica: the
// bound TestCluster holds one flowhist to.
const notifyBound = 2 * time.Second

func TestReplicasInterchangeable(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%dReplicas", n), func(t *testing.T) {
			rs := startReplicas(t, n, true)
			counter := countCompat(t, rs.valkey.Addr)
			rev, _ := rs.deploy(t, rs.fhs[0], "start")
			// Two workers on each replica, each knowing only its own.
			var ws []*feedWorker
			on := map[*feedWorker]int{}
			for i, fh := range rs.fhs {
				for k := 0; k < 2; k++ {
					w := startFeedWorker(t, fmt.Sprintf("w%d-%d", i, k), rs.ns, rs.token, rev, 0, fh.URL)
					ws = append(ws, w)
					on[w] = i
				}
			}
			for _, fh := range rs.fhs {
				waitFeedWaiters(t, fh, 2)
			}
			// Every replica loads the namespace's state once, at its first
			// read. That load repairs the old module's keys when the state
			// is ahead of them (a projector died between the two writes),
			// so a first load that falls between another replica's state
			// write and its compat write publishes that revision twice: at
			// most once per replica and namespace, by design (README,
			// "Several replicas"). Once each has loaded, every revision's
			// compat write must happen exactly once.
			for _, fh := range rs.fhs {
				rs.flows(t, fh)
			}
			p0, s0 := counter.mark(t, "start")

			t.Run("DeployThroughEachReachesAll", func(t *testing.T) {
				var same, other []time.Duration
				for k := 0; k < 4*n; k++ {
					via := k % n
					rev, at := rs.deploy(t, rs.fhs[via], fmt.Sprintf("seq-%d", k))
					for _, w := range ws {
						d := w.heardWithin(t, rev, at, notifyBound)
						if on[w] == via {
							same = append(same, d)
						} else {
							other = append(other, d)
						}
					}
				}
				sp, sm := percentiles(same)
				op, om := percentiles(other)
				t.Logf("deploy sent → worker heard it: workers on the deploying replica p50 %s max %s (%d); on another replica p50 %s max %s (%d)", sp, sm, len(same), op, om, len(other))
			})

			t.Run("ConcurrentDeploysThroughAllProjectedOnce", func(t *testing.T) {
				revs := make([]uint64, n)
				for round := 0; round < 5; round++ {
					var wg sync.WaitGroup
					for i, fh := range rs.fhs {
						wg.Add(1)
						go func() {
							defer wg.Done()
							revs[i], _ = rs.deploy(t, fh, fmt.Sprintf("burst-%d-%d", round, i))
						}()
					}
					wg.Wait()
				}
				head := slices.Max(revs)
				for _, w := range ws {
					w.heardWithin(t, head, time.Now(), notifyBound)
				}
				// Every replica reads the last deploy, whoever made it.
				var last string
				for _, fh := range rs.fhs {
					flows := rs.flows(t, fh)
					label, _ := flows[0]["label"].(string)
					if last != "" && label != last {
						t.Fatalf("%s reads %q, another replica %q: want the same head", fh.name, label, last)
					}
					last = label
				}
			})

			t.Run("CompatWrittenOncePerRevision", func(t *testing.T) {
				deploys := int(rs.head - rev) // every revision since "start" is a flows deploy
				// Every replica has projected the head by now (reads catch up).
				for _, fh := range rs.fhs {
					rs.flows(t, fh)
				}
				p1, s1 := counter.mark(t, "end")
				if got := p1 - p0; got != deploys {
					t.Errorf("%s published %d times for %d flows revisions, want once each", compatUpdate, got, deploys)
				}
				if got := s1 - s0; got != deploys {
					t.Errorf("%s was SET %d times for %d flows revisions, want once each", compatFlowsKey, got, deploys)
				}
			})

			t.Run("VerifyPasses", func(t *testing.T) {
				// The state the replicas projected together equals the fold
				// of the log.
				cmd := exec.Command(flowhistBin, "verify", "--namespace", rs.ns)
				cmd.Env = append(os.Environ(), "FLOWHIST_VALKEY_ADDR="+rs.valkey.Addr, "FLOWHIST_LOG_FORMAT=json")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("flowhist verify: got %v, want success:\n%s", err, out)
				}
			})

			t.Run("EveryWorkerAcknowledged", func(t *testing.T) {
				var ids []string
				for _, w := range ws {
					ids = append(ids, w.id)
				}
				for _, fh := range rs.fhs {
					waitFor(t, 5*time.Second, "every worker acknowledged through "+fh.name, func() (bool, string) {
						return rs.workersAcked(t, fh, rs.head, ids...)
					})
				}
			})
		})
	}
}

// TestReplicaKilled kills one of two replicas with workers on each: its
// workers follow the other within 5 s and miss nothing.
func TestReplicaKilled(t *testing.T) {
	rs := startReplicas(t, 2, false)
	a, b := rs.fhs[0], rs.fhs[1]
	rev, _ := rs.deploy(t, a, "start")
	var onA, onB []*feedWorker
	for k := 0; k < 3; k++ {
		onA = append(onA, startFeedWorker(t, fmt.Sprintf("a%d", k), rs.ns, rs.token, rev, 0, a.URL, b.URL))
		onB = append(onB, startFeedWorker(t, fmt.Sprintf("b%d", k), rs.ns, rs.token, rev, 0, b.URL, a.URL))
	}
	all := append(slices.Clone(onA), onB...)
	for _, fh := range rs.fhs {
		waitFeedWaiters(t, fh, 3)
	}
	for _, fh := range rs.fhs {
		rev, at := rs.deploy(t, fh, "before-"+fh.name)
		for _, w := range all {
			w.heardWithin(t, rev, at, notifyBound)
		}
	}

	killed := time.Now()
	b.stop(syscall.SIGKILL)
	var moves []time.Duration
	for _, w := range onB {
		waitFor(t, 5*time.Second, "worker "+w.id+" following "+a.name, func() (bool, string) {
			_, ok := w.connectedTo(a.URL, killed)
			return ok, w.String()
		})
		at, _ := w.connectedTo(a.URL, killed)
		moves = append(moves, at.Sub(killed))
	}
	p50, top := percentiles(moves)
	t.Logf("after kill -9 of %s its %d workers followed %s: p50 %s, max %s", b.name, len(onB), a.name, p50, top)

	last, at := rs.deploy(t, a, "after-kill")
	for _, w := range all {
		w.heardWithin(t, last, at, notifyBound)
	}
	var ids []string
	for _, w := range all {
		ids = append(ids, w.id)
	}
	waitFor(t, 5*time.Second, "every worker acknowledged", func() (bool, string) { return rs.workersAcked(t, a, last, ids...) })
}

// TestReplicasReaper: one replica reaps a worker's group (idle_ttl 1s)
// while the worker waits on another; the next deploy still reaches it, and
// each replica's metrics count only its own waiters.
func TestReplicasReaper(t *testing.T) {
	rs := startReplicas(t, 2, false, "workers:\n  idle_ttl: 1s\n  reap_interval: 100ms\n")
	a, b := rs.fhs[0], rs.fhs[1]
	rev, _ := rs.deploy(t, a, "start")
	w := startFeedWorker(t, "w1", rs.ns, rs.token, rev, 0, b.URL)
	waitFeedWaiters(t, b, 1)
	waitFor(t, 10*time.Second, a.name+" reaped the waiting worker's group", func() (bool, string) {
		b, _ := os.ReadFile(a.log)
		log := string(b)
		return strings.Contains(log, `"msg":"destroyed idle worker group"`) && strings.Contains(log, `"worker":"w1"`), "not reaped yet"
	})
	if v := feedWaiters(a); v != "0" {
		t.Fatalf("%s flowhist_feed_waiters: got %s, want 0 (the waiter is on %s)", a.name, v, b.name)
	}
	if v := feedWaiters(b); v != "1" {
		t.Fatalf("%s flowhist_feed_waiters: got %s, want 1", b.name, v)
	}
	last, at := rs.deploy(t, a, "after-reap")
	took := w.heardWithin(t, last, at, notifyBound)
	t.Logf("a deploy through %s reached the worker on %s %s after its group was reaped", a.name, b.name, took)
	waitFor(t, 5*time.Second, "worker w1 acknowledged", func() (bool, string) { return w.ackedAt(last), w.String() })
}

// TestClusterReplicas is the cluster scenario on two flowhist replicas with
// real Node-RED: the admin and every worker know both URLs (the admin and
// w1 start on the first, w2 on the second). TestCluster's scenario (a
// deploy reaches both workers, a stopped worker catches up, credentials,
// two admins racing, here each on its own replica), then kill -9 of each
// replica in turn: its Node-RED instances follow the other within 5 s, and
// the next deploys reach everyone, the first of them made while they move.
func TestClusterReplicas(t *testing.T) {
	c := newClusterWith(t, 2, false, clusterOpts{replicas: 2})
	a, b := c.replicas[0], c.replicas[1]
	version := 0
	deploy := func(t *testing.T) string {
		t.Helper()
		version++
		v := fmt.Sprintf("v%d", version)
		c.admin.mustDeploy(t, c.editorTok, versionFlow(v))
		return v
	}
	// workers reads GET /workers through fh: consumer → its info.
	workers := func(t *testing.T, fh *flowhist) (httpapi.Workers, map[string]httpapi.WorkerInfo) {
		t.Helper()
		ws, err := api(t, fh.URL, c.tokens["admin-cli"], c.ns).Workers(context.Background())
		if err != nil {
			t.Fatalf("GET workers through %s: %v", fh.name, err)
		}
		m := map[string]httpapi.WorkerInfo{}
		for _, w := range ws.Workers {
			m[w.Worker] = w
		}
		return ws, m
	}
	// allAcknowledged: every running consumer (the admin, w1, w2; not the
	// second admin, stopped) acknowledged the head through fh.
	allAcknowledged := func(t *testing.T, fh *flowhist) {
		t.Helper()
		waitFor(t, 5*time.Second, "every consumer acknowledged the head", func() (bool, string) {
			ws, m := workers(t, fh)
			delete(m, "admin-2")
			b, _ := json.Marshal(ws)
			if len(m) != 3 {
				return false, string(b)
			}
			for _, w := range m {
				if w.Acknowledged != ws.Revision || w.Pending != 0 {
					return false, string(b)
				}
			}
			return true, ""
		})
	}
	var moves []time.Duration
	// kill kill -9s fh and waits until its movers Node-RED instances wait
	// on to's feed: the times since the kill at which to's
	// flowhist_feed_waiters rose by one, then two, … are their moves.
	kill := func(t *testing.T, fh, to *flowhist, movers int) {
		t.Helper()
		// First the cluster at rest: the movers on fh, the others (of the
		// admin, w1, w2) on to. A feed just left (the second admin's, stopped
		// by the test before) leaves its replica's count a moment later; a
		// base counted before that would never be reached again.
		others := strconv.Itoa(3 - movers)
		settled := waitFor(t, 5*time.Second, "the Node-RED instances wait on the feeds before the kill", func() (bool, string) {
			onFh, onTo := feedWaiters(fh), feedWaiters(to)
			return onFh == strconv.Itoa(movers) && onTo == others,
				fmt.Sprintf("feed waiters on %s/%s: %s/%s, want %d/%s", fh.name, to.name, onFh, onTo, movers, others)
		})
		if settled > 200*time.Millisecond {
			t.Logf("the feeds settled %s after the previous step", settled.Round(time.Millisecond))
		}
		base := 3 - movers
		killed := time.Now()
		fh.stop(syscall.SIGKILL)
		var moved []time.Duration
		for len(moved) < movers {
			n, _ := strconv.Atoi(feedWaiters(to))
			for len(moved) < min(n-base, movers) {
				moved = append(moved, time.Since(killed))
			}
			if time.Since(killed) > 5*time.Second {
				t.Fatalf("after kill -9 of %s: %d of %d Node-RED instances wait on %s's feed after 5 s, want all", fh.name, len(moved), movers, to.name)
			}
			time.Sleep(5 * time.Millisecond) // polling a metric: nothing to wait on
		}
		moves = append(moves, moved...)
		t.Logf("after kill -9 of %s, %d Node-RED instances followed %s after %v", fh.name, movers, to.name, moved)
	}

	t.Run("DeployReachesWorkersOnBoth", func(t *testing.T) {
		// The admin deploys through a; w1 follows a, w2 follows b. Each
		// round times one of them (probed first, so the other's probes do
		// not delay it), alternately.
		var onA, onB []time.Duration
		for k := 0; k < 6; k++ {
			v := deploy(t)
			start := time.Now()
			w := c.workers[k%2]
			d := firstServedAt(t, w, "/version", v, start, 2*time.Second)
			if k%2 == 0 {
				onA = append(onA, d)
			} else {
				onB = append(onB, d)
			}
			c.waitServes(t, 2*time.Second, v)
		}
		ap, am := percentiles(onA)
		bp, bm := percentiles(onB)
		t.Logf("Node-RED deploy returned (through %s) → worker serves it: w1 on %s p50 %s max %s; w2 on %s p50 %s max %s", a.name, a.name, ap, am, b.name, bp, bm)
		if got := feedWaiters(a) + "/" + feedWaiters(b); got != "2/1" {
			t.Fatalf("feed waiters on %s/%s: got %s, want 2/1 (the admin and w1, w2)", a.name, b.name, got)
		}
		allAcknowledged(t, b)
	})

	// TestCluster's scenario, on replicas.
	t.Run("StoppedWorkerCatchesUp", func(t *testing.T) {
		w := c.workers[1] // on b
		w.stop(syscall.SIGTERM)
		var v string
		for i := 0; i < 3; i++ {
			v = deploy(t)
		}
		c.waitServes(t, 2*time.Second, v, c.workers[0])
		w.restart(t)
		c.waitServes(t, 10*time.Second, v, w)
		allAcknowledged(t, b)
	})

	t.Run("CredentialsReachWorkers", func(t *testing.T) {
		version++
		v := fmt.Sprintf("v%d", version)
		c.admin.mustDeploy(t, c.editorTok, credentialFlow(v))
		c.waitServes(t, 2*time.Second, v)
		for _, w := range c.workers {
			code, body := get(w.URL+"/secret", nil)
			if code != 200 || body != "Basic c3ZjOnMzY3JldC1mcm9tLWFkbWlu" {
				t.Fatalf("%s /secret: got %d %q, want the credential the admin entered", w.name, code, body)
			}
		}
	})

	t.Run("TwoAdminsOnTwoReplicasConflict", func(t *testing.T) {
		// A second admin that starts on b: its base revision and conflict
		// check are in Valkey, whichever replica answers.
		admin2 := startNodeRED(t, c.dir, nrConfig{flowhistURLs: []string{b.URL, a.URL}, token: c.tokens["deploy-admin"], namespace: c.ns, role: "admin", workerID: "admin-2", credentialSecret: c.secret})
		tok2 := admin2.token(t)
		_, rev1 := c.admin.flows(t, c.editorTok)
		_, rev2 := admin2.flows(t, tok2)
		if rev1 != rev2 {
			t.Fatalf("the admins start from different revs %s and %s", rev1, rev2)
		}
		version++
		v := fmt.Sprintf("v%d", version)
		if code, body := c.admin.deploy(c.editorTok, versionFlow(v), rev1); code != 200 {
			t.Fatalf("first admin: got %d %s, want 200", code, body)
		}
		code, body := admin2.deploy(tok2, versionFlow(v+"-other"), rev2)
		// As in TestCluster: flowhist's conflict, or Node-RED's own 409
		// once the second admin has applied the winner from the log.
		if code == 200 || !strings.Contains(strings.ToLower(body), "conflict") && !strings.Contains(body, "changed") && !(code == 409 && strings.Contains(body, "version_mismatch")) {
			t.Fatalf("second admin from the same base through the other replica: got %d %s, want a failed deploy saying there is a conflict", code, body)
		}
		c.waitServes(t, 2*time.Second, v)
		admin2.stop(syscall.SIGTERM)
	})

	t.Run("KillFirstMovesAdminAndW1", func(t *testing.T) {
		kill(t, a, b, 2) // the admin and w1
		v := deploy(t)
		took := c.waitServes(t, 2*time.Second, v)
		t.Logf("after the move both workers served %s %s after the deploy returned", v, took)
		allAcknowledged(t, b)
	})

	t.Run("KillSecondDeployWhileMoving", func(t *testing.T) {
		a.restart(t)
		killed := time.Now()
		b.stop(syscall.SIGKILL)
		// The admin's deploy meets the dead replica first and moves on
		// itself; the workers move meanwhile.
		v := deploy(t)
		took := c.waitServes(t, 5*time.Second, v)
		t.Logf("a deploy made right after kill -9 of %s reached both workers %s after it returned (%s after the kill)", b.name, took, time.Since(killed).Round(time.Millisecond))
		allAcknowledged(t, a)
		if got := feedWaiters(a); got != "3" {
			t.Fatalf("feed waiters on %s: got %s, want 3 (everyone)", a.name, got)
		}
	})

	t.Run("KillAgainMovesEveryone", func(t *testing.T) {
		b.restart(t)
		kill(t, a, b, 3)
		v := deploy(t)
		c.waitServes(t, 2*time.Second, v)
		allAcknowledged(t, b)
		p50, top := percentiles(moves)
		t.Logf("Node-RED instances following the other replica after kill -9: p50 %s, max %s (%d moves)", p50.Round(time.Millisecond), top.Round(time.Millisecond), len(moves))
	})
}
