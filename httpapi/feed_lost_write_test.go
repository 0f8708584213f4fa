package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/redis/rueidis"
)

// Lost writes: Valkey acknowledged a deploy, the feed told the workers, and
// then Valkey lost it (a failover to a lagging replica, a restart from an
// AOF that missed its last second). The next deploy gets the same revision
// number. Workers that ran the lost one must be told to reload the head, and
// never be shown as up to date meanwhile.

// TestFeedAckOfAnotherEvent: an acknowledgement that names a revision the
// log holds with another event is refused with conflict, changes nothing,
// and the worker's next feed answer is a reset; acknowledging the head by
// its id ends it.
func TestFeedAckOfAnotherEvent(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
	var first httpapi.FeedNews
	ts.ok(t, "GET", feedURL(ns, "w1", 0, "0s"), nil, nil, &first)
	ts.ok(t, "POST", path(ns, "/feed/ack"), fmt.Appendf(nil, `{"worker":"w1","revision":1,"id":%q}`, first.ID), nil, nil)
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("two"), nil, nil)
	other := "01900000-0000-7000-8000-000000000000"
	r := ts.do(t, "POST", path(ns, "/feed/ack"), fmt.Appendf(nil, `{"worker":"w1","revision":2,"id":%q}`, other), nil)
	wantError(t, r, http.StatusConflict, domain.ECONFLICT)
	if got := acknowledged(t, ts, ns, "w1"); got != 1 {
		t.Fatalf("got acknowledged %d, want 1: a refused acknowledgement changes nothing", got)
	}
	ws := workersByID(t, ts, ns)
	if w := ws["w1"]; !w.Diverged || w.DivergedAt != 2 || w.Lag == 0 {
		t.Fatalf("got %+v, want w1 diverged at 2, not at lag 0", w)
	}
	var reset httpapi.FeedNews
	ts.ok(t, "GET", path(ns, "/feed?worker=w1&after=2&afterId="+other+"&wait=0s"), nil, nil, &reset)
	if want := ts.withID(t, ns, feedNews{Revision: 2, Flows: true, Packages: true, Reset: true}); reset != want {
		t.Fatalf("got %+v, want the reset %+v", reset, want)
	}
	// Reloaded: acknowledged by its id, the head ends the divergence.
	ts.ok(t, "POST", path(ns, "/feed/ack"), fmt.Appendf(nil, `{"worker":"w1","revision":2,"id":%q}`, reset.ID), nil, nil)
	if w := workersByID(t, ts, ns)["w1"]; w.Diverged || w.Lag != 0 || w.Acknowledged != 2 {
		t.Fatalf("got %+v, want w1 up to date at 2", w)
	}
	wantNoContent(t, ts.do(t, "GET", path(ns, "/feed?worker=w1&after=2&afterId="+reset.ID+"&wait=0s"), nil, nil))
}

// TestFeedLostWriteAOF: a single Valkey with appendfsync everysec is
// killed (-9) right after a deploy reached the workers, and restarts from
// an AOF without that write. Its files are copied once the revision before
// was fsynced (WAITAOF) and put back after the kill, so the write is lost
// every time, as the last second of an everysec AOF is when the kill comes
// within it.
func TestFeedLostWriteAOF(t *testing.T) {
	t.Parallel()
	v := valkeytest.Start(t, "--appendonly", "yes", "--appendfsync", "everysec")
	ts := mustServerAt(t, v.Addr, httpapi.Config{})
	aof := filepath.Join(v.Dir, "appendonlydir")
	saved := filepath.Join(t.TempDir(), "appendonlydir")
	lostWrite(t, ts, func(string) {
		// Fsynced up to here (the revision before the lost one).
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{v.Addr}, DisableCache: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Do(testCtx(t), c.B().Waitaof().Numlocal(1).Numreplicas(0).Timeout(5000).Build()).Error(); err != nil {
			t.Fatalf("WAITAOF: %v", err)
		}
		if err := os.CopyFS(saved, os.DirFS(aof)); err != nil {
			t.Fatal(err)
		}
	}, func(string) {
		v.Kill()
		if err := os.RemoveAll(aof); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(aof, os.DirFS(saved)); err != nil {
			t.Fatal(err)
		}
		v.Restart(t)
	})
}

// lostWrite plays the scenario on ts: a namespace at revision 1 followed by
// a long-polling worker and a streaming one; before() runs, a deploy at
// revision 2 reaches both (they acknowledge it by its id), lose() makes
// Valkey lose it. Then each worker is told to reload the head (revision 1)
// within a few seconds, GET workers never shows either at lag 0 until it
// acknowledged the head, and the next deploy (revision 2 again, another
// event) reaches both within a second.
func lostWrite(t *testing.T, ts *testServer, before, lose func(ns string)) {
	ns := randomNS(t)
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
	head := ts.withID(t, ns, feedNews{Revision: 1})
	// "poll" long-polls; "stream" follows one streamed answer throughout.
	ts.do(t, "GET", path(ns, "/feed?worker=poll&after=1&afterId="+head.ID+"&wait=0s"), nil, nil)
	lines, end := ts.openStream(t, path(ns, "/feed?worker=stream&after=1&afterId="+head.ID+"&wait=60s&stream=1"))
	ts.waitForWaiters(t, 1)
	before(ns)

	ts.do(t, "PUT", path(ns, "/flows"), flowsDoc("lost"), nil) // 200, or 503 where durability fell short
	lost := nextLine(t, lines, end)
	if lost.Revision != 2 || lost.Reset {
		t.Fatalf("stream: got %+v, want the news of revision 2", lost)
	}
	ack := func(worker string, n httpapi.FeedNews) {
		t.Helper()
		ts.ok(t, "POST", path(ns, "/feed/ack"), fmt.Appendf(nil, `{"worker":%q,"revision":%d,"id":%q}`, worker, n.Revision, n.ID), nil, nil)
	}
	ack("stream", lost)
	var polled httpapi.FeedNews
	ts.ok(t, "GET", path(ns, "/feed?worker=poll&after=1&afterId="+head.ID+"&wait=5s"), nil, nil, &polled)
	if polled != lost {
		t.Fatalf("poll: got %+v, want %+v", polled, lost)
	}
	ack("poll", polled)

	// From the loss until each acknowledges the head, GET workers must not
	// show it up to date: it runs a revision the log does not hold.
	watch := watchWorkers(t, ts, ns)
	watch.from = time.Now()
	lose(ns)
	var resetStream, resetPoll time.Time
	n := nextLineWithin(t, lines, end, 15*time.Second)
	if !n.Reset || n.Revision != 1 || n.ID != head.ID {
		t.Fatalf("stream: got %+v, want a reset to revision 1 (%s)", n, head.ID)
	}
	resetStream = time.Now()
	ack("stream", n)
	var p httpapi.FeedNews
	waitFor(t, "the long-polling worker told to reset", func() bool {
		r := ts.do(t, "GET", path(ns, "/feed?worker=poll&after=2&afterId="+lost.ID+"&wait=1s"), nil, nil)
		if r.status != http.StatusOK {
			return false
		}
		r.decode(t, &p)
		return true
	})
	if !p.Reset || p.Revision != 1 || p.ID != head.ID {
		t.Fatalf("poll: got %+v, want a reset to revision 1 (%s)", p, head.ID)
	}
	resetPoll = time.Now()
	ack("poll", p)
	watch.stop(t, map[string]time.Time{"stream": resetStream, "poll": resetPoll})

	// The next deploy takes revision 2 again, with another event: both
	// hear of it within a second.
	deployed := time.Now()
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("next"), nil, nil)
	next := ts.withID(t, ns, feedNews{Revision: 2, Flows: true, Events: 1})
	if next.ID == lost.ID {
		t.Fatalf("revision 2 is still the lost event %s", lost.ID)
	}
	if got := nextLineWithin(t, lines, end, time.Second); got != next {
		t.Fatalf("stream: got %+v, want %+v", got, next)
	}
	var got httpapi.FeedNews
	ts.ok(t, "GET", path(ns, "/feed?worker=poll&after=1&afterId="+head.ID+"&wait=1s"), nil, nil, &got)
	if got != next {
		t.Fatalf("poll: got %+v, want %+v", got, next)
	}
	if d := time.Since(deployed); d > time.Second {
		t.Fatalf("the workers heard of the next deploy %s after it, want within a second", d)
	}
	ack("stream", next)
	ack("poll", got)
	for _, w := range []string{"stream", "poll"} {
		if info := workersByID(t, ts, ns)[w]; info.Diverged || info.Lag != 0 || info.Acknowledged != 2 {
			t.Fatalf("%s: got %+v, want up to date at 2", w, info)
		}
	}
}

// nextLineWithin is nextLine with a deadline of its own.
func nextLineWithin(tb testing.TB, lines <-chan feedNews, end <-chan error, within time.Duration) feedNews {
	tb.Helper()
	select {
	case n := <-lines:
		return n
	case err := <-end:
		tb.Fatalf("the stream ended (%v), want a news line", err)
	case <-time.After(within):
		tb.Fatalf("got no news line within %s", within)
	}
	return feedNews{}
}

// workersByID is GET workers by worker id.
func workersByID(tb testing.TB, ts *testServer, ns string) map[string]httpapi.WorkerInfo {
	tb.Helper()
	var ws httpapi.Workers
	ts.ok(tb, "GET", path(ns, "/workers"), nil, nil, &ws)
	out := map[string]httpapi.WorkerInfo{}
	for _, w := range ws.Workers {
		out[w.Worker] = w
	}
	return out
}

// workerWatch samples GET workers until stopped.
type workerWatch struct {
	from    time.Time // samples asked for before it are not checked
	done    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	samples []workerSample
}

type workerSample struct {
	asked   time.Time
	at      time.Time
	workers map[string]httpapi.WorkerInfo
}

// watchWorkers samples ns's workers every 20 ms (answers other than 200,
// Valkey being down, are skipped).
func watchWorkers(t *testing.T, ts *testServer, ns string) *workerWatch {
	w := &workerWatch{done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case <-w.done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			asked := time.Now()
			r := ts.do(t, "GET", path(ns, "/workers"), nil, nil)
			// Answered before at: what it shows was so before at.
			at := time.Now()
			if r.status != http.StatusOK {
				continue
			}
			var ws httpapi.Workers
			r.decode(t, &ws)
			s := workerSample{asked: asked, at: at, workers: map[string]httpapi.WorkerInfo{}}
			for _, x := range ws.Workers {
				s.workers[x.Worker] = x
			}
			w.mu.Lock()
			w.samples = append(w.samples, s)
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		select {
		case <-w.done:
		default:
			close(w.done)
		}
		w.wg.Wait()
	})
	return w
}

// stop ends the sampling and checks that no sample answered before a
// worker's acknowledgement of the head was sent (until) showed it at lag 0
// or not diverged; at least one sample must have been taken.
func (w *workerWatch) stop(t *testing.T, until map[string]time.Time) {
	t.Helper()
	close(w.done)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	checked := 0
	for _, s := range w.samples {
		if s.asked.Before(w.from) {
			continue
		}
		checked++
		for name, end := range until {
			info, ok := s.workers[name]
			if !s.at.Before(end) {
				continue
			}
			if !ok || info.Lag == 0 || !info.Diverged {
				t.Fatalf("GET workers at %s (before %s acknowledged the head at %s) showed %+v: want it diverged, never at lag 0",
					s.at.Format("15:04:05.000"), name, end.Format("15:04:05.000"), info)
			}
		}
	}
	if checked == 0 {
		t.Fatalf("GET workers never answered while the workers ran the lost revision")
	}
	t.Logf("%d samples of GET workers while the workers ran the lost revision", checked)
}

// TestFeedLostWriteCluster: a Valkey Cluster (three primaries, one replica
// each) with durability replicas: 1, required. The namespace's replica
// lags (stopped, its link cut), a deploy lands on the primary alone
// (answered 503: unconfirmed) and reaches the workers at once; then the
// primary is killed (-9) and the replica, resumed, is promoted without it.
func TestFeedLostWriteCluster(t *testing.T) {
	t.Parallel()
	cl := valkeytest.StartCluster(t, 3, 1)
	scfg := streams.Config{Durability: streams.Durability{Replicas: 1, Timeout: time.Second, Required: true}}
	ts := mustServerOpt(t, rueidis.ClientOption{InitAddress: cl.Addrs()}, scfg, httpapi.Config{})
	var primary, replica *valkeytest.Server
	lostWrite(t, ts, func(ns string) {
		for _, p := range cl.Primaries {
			if rawCommand(t, p.Addr, "EXISTS", "fh:{"+ns+"}:log") == "1" {
				primary = p
			}
		}
		if primary == nil {
			t.Fatalf("no primary holds namespace %s", ns)
		}
		_, port, _ := strings.Cut(primary.Addr, ":")
		for _, r := range cl.Replicas {
			if strings.Contains(rawCommand(t, r.Addr, "INFO", "replication"), "master_port:"+port+"\r\n") {
				replica = r
			}
		}
		if replica == nil {
			t.Fatalf("no replica of %s", primary.Addr)
		}
		lag(t, primary, replica)
	}, func(string) {
		primary.Kill()
		replica.Resume()
		waitRole(t, replica, "role:master")
		// Back as the new primary's replica: deploys are confirmed again.
		primary.Restart(t)
		waitRole(t, primary, "master_link_status:up")
	})
}

// lag makes replica lag behind primary: stopped (SIGSTOP), its link
// closed by the primary, so that the next writes reach the primary alone.
// (Stopped alone, it would read them from its socket once resumed.)
func lag(t *testing.T, primary, replica *valkeytest.Server) {
	t.Helper()
	replica.Pause()
	t.Cleanup(replica.Resume)
	if got := rawCommand(t, primary.Addr, "CLIENT", "KILL", "TYPE", "replica"); got != "1" {
		t.Fatalf("CLIENT KILL TYPE replica on %s: got %q, want 1 killed", primary.Addr, got)
	}
}

// waitRole waits until INFO replication on s says want ("role:master",
// "master_link_status:up").
//
// Its bound is Sentinel's, not flowhist's: a Sentinel makes a restarted
// old primary a replica only once it has reported itself a primary and
// been up for 8 s (four publish periods), and a Sentinel whose timer is
// late by 2 s on a loaded machine enters TILT mode and acts on nothing
// for 30 s. 30 s was met once in six full runs.
func waitRole(t *testing.T, s *valkeytest.Server, want string) {
	t.Helper()
	const bound = 90 * time.Second
	deadline := time.Now().Add(bound)
	for !strings.Contains(rawCommand(t, s.Addr, "INFO", "replication"), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %s within %s", s.Addr, want, bound)
		}
		time.Sleep(50 * time.Millisecond) // a failover or resync takes its own time: nothing to wait on
	}
}

// rawCommand sends one command to the server at addr alone and returns its
// reply as text ("" when it fails).
func rawCommand(t *testing.T, addr string, cmd ...string) string {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true, ForceSingleClient: true, DisableRetry: true})
	if err != nil {
		return ""
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	res := c.Do(ctx, c.B().Arbitrary(cmd...).Build())
	if s, err := res.ToString(); err == nil {
		return s
	}
	if n, err := res.AsInt64(); err == nil {
		return strconv.FormatInt(n, 10)
	}
	return ""
}

// TestFeedLostWriteSentinel: three real Sentinels, a primary and its
// replica, durability replicas: 1, required. As with a cluster: the
// replica lags, a deploy lands on the primary alone and reaches the
// workers, the primary is killed (-9) and the Sentinels promote the
// replica without it.
func TestFeedLostWriteSentinel(t *testing.T) {
	t.Parallel()
	const master = "fh-lost"
	primary := valkeytest.Start(t)
	replica := valkeytest.Start(t, "--replicaof", strings.Replace(primary.Addr, ":", " ", 1))
	var addrs []string
	var sentinels []*valkeytest.Server
	for range 3 {
		s := valkeytest.StartSentinel(t, master, primary, 2)
		sentinels = append(sentinels, s)
		addrs = append(addrs, s.Addr)
	}
	waitRole(t, replica, "master_link_status:up")
	for _, s := range sentinels {
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(rawCommand(t, s.Addr, "INFO", "sentinel"), "slaves=1,sentinels=3") {
			if time.Now().After(deadline) {
				t.Fatalf("Sentinel %s does not know the replica and the other Sentinels within 30s", s.Addr)
			}
			time.Sleep(50 * time.Millisecond) // Sentinels discover each other in their own time
		}
	}
	scfg := streams.Config{Durability: streams.Durability{Replicas: 1, Timeout: time.Second, Required: true}}
	opt := rueidis.ClientOption{InitAddress: addrs, Sentinel: rueidis.SentinelOption{MasterSet: master}}
	ts := mustServerOpt(t, opt, scfg, httpapi.Config{})
	lostWrite(t, ts, func(string) { lag(t, primary, replica) }, func(ns string) {
		primary.Kill()
		replica.Resume()
		waitRole(t, replica, "role:master")
		// Only once flowhist follows the new primary does the old one come
		// back (empty, a primary until the Sentinels make it the new one's
		// replica): a client still dialing its address would write there.
		waitFor(t, "flowhist reading the new primary", func() bool {
			return ts.do(t, "GET", path(ns, "/flows"), nil, nil).status == http.StatusOK
		})
		primary.Restart(t)
		waitRole(t, primary, "master_link_status:up")
	})
}
