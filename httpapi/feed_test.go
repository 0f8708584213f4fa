package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

// feedNews is a feed answer with news.
type feedNews = httpapi.FeedNews

// feedURL is a worker's feed request.
func feedURL(ns, worker string, after domain.Revision, wait string) string {
	return path(ns, fmt.Sprintf("/feed?worker=%s&after=%d&wait=%s", worker, after, wait))
}

// wantNews checks that r is news up to rev of n events.
func wantNews(tb testing.TB, r response, rev domain.Revision, n int, flows bool) {
	tb.Helper()
	if r.status != http.StatusOK {
		tb.Fatalf("got status %d (%s), want 200 with news", r.status, r.body)
	}
	var got feedNews
	r.decode(tb, &got)
	// The id names the event (TestFeedNewsNamesTheEvent checks which).
	if len(got.ID) != 36 {
		tb.Fatalf("got id %q, want the event's UUID", got.ID)
	}
	got.ID = ""
	if want := (feedNews{Revision: rev, Flows: flows, Events: n}); got != want {
		tb.Fatalf("got %+v, want %+v", got, want)
	}
}

// withID is n with the id of ns's event at n.Revision.
func (ts *testServer) withID(tb testing.TB, ns string, n feedNews) feedNews {
	tb.Helper()
	p, ok, err := ts.store.EventAt(testCtx(tb), ns, n.Revision)
	if err != nil || !ok {
		tb.Fatalf("event at %d: %v (found %v)", n.Revision, err, ok)
	}
	n.ID = p.ID
	return n
}

func wantNoContent(tb testing.TB, r response) {
	tb.Helper()
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		tb.Fatalf("got status %d (%s), want 204 with no body", r.status, r.body)
	}
}

// startFeed starts a feed request in a goroutine; its answer arrives on the
// channel.
func (ts *testServer) startFeed(tb testing.TB, url string) <-chan response {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	out := make(chan response, 1)
	done := make(chan struct{})
	tb.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		res, err := ts.send(ctx, "GET", url, nil, hdr{"Authorization": "Bearer " + readSecret})
		if err != nil {
			res = response{status: -1, body: []byte(err.Error())}
		}
		out <- res
	}()
	return out
}

// await returns the answer of a feed request started with startFeed,
// failing the test if it does not come within 10s: far less than the
// request's 30s wait, so only a wake-up can answer it in time.
func await(tb testing.TB, ch <-chan response) response {
	tb.Helper()
	select {
	case r := <-ch:
		if r.status == -1 {
			tb.Fatalf("feed request: %s", r.body)
		}
		return r
	case <-time.After(10 * time.Second):
		tb.Fatalf("got no feed answer within 10s, want one at once")
	}
	return response{}
}

func TestFeed(t *testing.T) {
	t.Parallel()

	t.Run("NoContent", func(t *testing.T) {
		t.Parallel()
		ts := mustServer(t, httpapi.Config{})
		wantNoContent(t, ts.do(t, "GET", feedURL(randomNS(t), "w1", 0, "0s"), nil, nil))
	})

	t.Run("WakesOnPut", func(t *testing.T) {
		t.Parallel()
		ts := mustServer(t, httpapi.Config{})
		ns := randomNS(t)
		ch := ts.startFeed(t, feedURL(ns, "w1", 0, "30s"))
		ts.waitForWaiters(t, 1)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		wantNews(t, await(t, ch), 1, 1, true)
	})

	t.Run("WakesOnSettings", func(t *testing.T) {
		t.Parallel()
		ts := mustServer(t, httpapi.Config{})
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		ch := ts.startFeed(t, feedURL(ns, "w1", 1, "30s"))
		ts.waitForWaiters(t, 1)
		ts.ok(t, "PUT", path(ns, "/settings"), []byte(`{"nodes":{"node-red-contrib-x":{"version":"1.0.0","user":true}}}`), nil, nil)
		r := await(t, ch)
		var got feedNews
		r.decode(t, &got)
		// The packages event may come in the same burst or the next.
		if got.Revision < 2 || got.Flows || got.Events < 1 {
			t.Fatalf("got %+v, want news from revision 2 without flows", got)
		}
	})

	t.Run("WakesOnAnotherServersAppend", func(t *testing.T) {
		t.Parallel()
		ts := mustServer(t, httpapi.Config{})
		other := mustServer(t, httpapi.Config{})
		ns := randomNS(t)
		ch := ts.startFeed(t, feedURL(ns, "w1", 0, "30s"))
		ts.waitForWaiters(t, 1)
		// Only the tail's blocked read on Valkey can see this append.
		other.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		wantNews(t, await(t, ch), 1, 1, true)
	})

	t.Run("OfflineWorker", func(t *testing.T) {
		t.Parallel()
		ts := mustServer(t, httpapi.Config{})
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("zero"), nil, nil)
		// The worker joins at revision 1, then goes offline.
		wantNoContent(t, ts.do(t, "GET", feedURL(ns, "w1", 1, "0s"), nil, nil))
		for i := range 3 {
			ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc(fmt.Sprint("deploy", i)), nil, nil)
		}

		t.Run("Coalesced", func(t *testing.T) {
			wantNews(t, ts.do(t, "GET", feedURL(ns, "w1", 1, "0s"), nil, nil), 4, 3, true)
		})
		t.Run("RedeliveredWithoutAck", func(t *testing.T) {
			wantNews(t, ts.do(t, "GET", feedURL(ns, "w1", 1, "0s"), nil, nil), 4, 3, true)
			// after only positions a new group: this one stays where it is.
			wantNews(t, ts.do(t, "GET", feedURL(ns, "w1", 4, "0s"), nil, nil), 4, 3, true)
		})
		t.Run("WorkersBeforeAck", func(t *testing.T) {
			w := workers(t, ts, ns)
			if w.Revision != 4 || len(w.Workers) != 1 {
				t.Fatalf("got %+v, want revision 4 and one worker", w)
			}
			if got, want := w.Workers[0], (workerInfo{Worker: "w1", Acknowledged: 1, LastDelivered: 4, Lag: 3, Pending: 3}); !sameWorker(got, want) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
		t.Run("Acked", func(t *testing.T) {
			var ack struct {
				Acknowledged domain.Revision `json:"acknowledged"`
				Entries      int             `json:"entries"`
			}
			ts.ok(t, "POST", path(ns, "/feed/ack"), []byte(`{"worker":"w1","revision":4}`), nil, &ack)
			if ack.Acknowledged != 4 || ack.Entries != 3 {
				t.Fatalf("got %+v, want revision 4 acknowledged over 3 entries", ack)
			}
			wantNoContent(t, ts.do(t, "GET", feedURL(ns, "w1", 1, "0s"), nil, nil))
		})
		t.Run("WorkersAfterAck", func(t *testing.T) {
			w := workers(t, ts, ns)
			if len(w.Workers) != 1 {
				t.Fatalf("got %+v, want one worker", w)
			}
			if got, want := w.Workers[0], (workerInfo{Worker: "w1", Acknowledged: 4, LastDelivered: 4}); !sameWorker(got, want) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
		t.Run("NextDeploy", func(t *testing.T) {
			ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("next"), nil, nil)
			wantNews(t, ts.do(t, "GET", feedURL(ns, "w1", 1, "0s"), nil, nil), 5, 1, true)
		})
		t.Run("AckedWithThePoll", func(t *testing.T) {
			// ack=5 acknowledges like POST …/feed/ack, then polls.
			wantNoContent(t, ts.do(t, "GET", feedURL(ns, "w1", 1, "0s")+"&ack=5", nil, nil))
			if got, want := workers(t, ts, ns).Workers[0], (workerInfo{Worker: "w1", Acknowledged: 5, LastDelivered: 5}); !sameWorker(got, want) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
			// Entries past the ack still come.
			ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("after the ack"), nil, nil)
			ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("and another"), nil, nil)
			wantNews(t, ts.do(t, "GET", feedURL(ns, "w1", 1, "0s")+"&ack=6", nil, nil), 7, 1, true)
		})
	})

	t.Run("WorkersIndependent", func(t *testing.T) {
		t.Parallel()
		ts := mustServer(t, httpapi.Config{})
		ns := randomNS(t)
		wantNoContent(t, ts.do(t, "GET", feedURL(ns, "w1", 0, "0s"), nil, nil))
		wantNoContent(t, ts.do(t, "GET", feedURL(ns, "w2", 0, "0s"), nil, nil))
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		wantNews(t, ts.do(t, "GET", feedURL(ns, "w1", 0, "0s"), nil, nil), 1, 1, true)
		ts.ok(t, "POST", path(ns, "/feed/ack"), []byte(`{"worker":"w1","revision":1}`), nil, nil)
		// w1's ack leaves w2's delivery alone.
		wantNews(t, ts.do(t, "GET", feedURL(ns, "w2", 0, "0s"), nil, nil), 1, 1, true)
		wantNoContent(t, ts.do(t, "GET", feedURL(ns, "w1", 0, "0s"), nil, nil))
		if got := len(workers(t, ts, ns).Workers); got != 2 {
			t.Fatalf("got %d workers, want 2", got)
		}
	})

	t.Run("GroupReapedElsewhere", func(t *testing.T) {
		// This server created w1's group and remembers it; another replica
		// reaps it; deploys follow. The worker must still hear of them.
		t.Parallel()
		ts := mustServer(t, httpapi.Config{})
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		wantNoContent(t, ts.do(t, "GET", feedURL(ns, "w1", 1, "0s"), nil, nil))
		reap := func() {
			if err := ts.store.DestroyGroup(testCtx(t), ns, "worker:w1"); err != nil {
				t.Fatal(err)
			}
		}
		reap()
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("two"), nil, nil)
		wantNews(t, ts.do(t, "GET", feedURL(ns, "w1", 1, "0s"), nil, nil), 2, 1, true)

		reap()
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("three"), nil, nil)
		lines, end := ts.openStream(t, feedURL(ns, "w1", 2, "30s")+"&stream=1")
		if got, want := nextLine(t, lines, end), ts.withID(t, ns, feedNews{Revision: 3, Flows: true, Events: 1}); got != want {
			t.Fatalf("streamed: got %+v, want %+v", got, want)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		ts := mustServer(t, httpapi.Config{})
		ns := randomNS(t)
		for _, q := range []string{
			"worker=&after=0&wait=0s",
			"after=0&wait=0s",
			"worker=a%20b&after=0&wait=0s",
			"worker=a%7Bb&after=0&wait=0s",
			"worker=-w&after=0&wait=0s",
			"worker=w1&after=-1&wait=0s",
			"worker=w1&after=x&wait=0s",
			"worker=w1&after=0&wait=forever",
			"worker=w1&after=0&wait=-1s",
			"worker=w1&after=0&wait=10",
			"worker=w1&after=0&ack=x",
			"worker=w1&after=0&ack=-2",
			"worker=w1&after=0&stream=yes",
		} {
			wantError(t, ts.do(t, "GET", path(ns, "/feed?"+q), nil, nil), http.StatusBadRequest, domain.EINVALID)
		}
		for _, body := range []string{`{"worker":"a b","revision":1}`, `{"revision":1}`, `{"worker":"w1","revision":"x"}`, `[]`} {
			wantError(t, ts.do(t, "POST", path(ns, "/feed/ack"), []byte(body), nil), http.StatusBadRequest, domain.EINVALID)
		}
		if groups, err := ts.store.Groups(testCtx(t), ns); err != nil || len(groups) != 0 {
			t.Fatalf("got groups %v (%v), want none created", groups, err)
		}
	})

	t.Run("ErrNotFoundAckUnknownWorker", func(t *testing.T) {
		t.Parallel()
		ts := mustServer(t, httpapi.Config{})
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		wantError(t, ts.do(t, "POST", path(ns, "/feed/ack"), []byte(`{"worker":"ghost","revision":1}`), nil), http.StatusNotFound, domain.ENOTFOUND)
	})
}

// TestClose checks that Close ends a waiting feed request with 204 at once,
// so that an HTTP server's Shutdown can drain it.
func TestClose(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	ch := ts.startFeed(t, feedURL(ns, "w1", 0, "30s"))
	ts.waitForWaiters(t, 1)
	ts.api.Close()
	wantNoContent(t, await(t, ch))
}

func TestReapIdleWorkers(t *testing.T) {
	t.Parallel()
	// A server of its own: the reaper sweeps every namespace, and would
	// destroy other tests' worker groups on the shared one.
	addr := valkeytest.Start(t).Addr
	keep := mustServerAt(t, addr, httpapi.Config{})
	reap := mustServerAt(t, addr, httpapi.Config{WorkerIdleTTL: time.Millisecond})
	ctx := testCtx(t)
	ns := randomNS(t)
	keep.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
	wantNoContent(t, keep.do(t, "GET", feedURL(ns, "w1", 1, "0s"), nil, nil))
	// A projector that read and stayed idle as long as the worker.
	if _, err := keep.store.CreateGroup(ctx, ns, streams.ProjectorGroup, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := keep.store.ReadGroup(ctx, ns, streams.ProjectorGroup, "p1", 10, 0); err != nil {
		t.Fatal(err)
	}
	groupNames := func() []string {
		groups, err := keep.store.Groups(ctx, ns)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, g := range groups {
			names = append(names, g.Name)
		}
		return names
	}
	waitFor(t, "both groups idle for 1ms", func() bool {
		groups, err := keep.store.Groups(ctx, ns)
		if err != nil {
			t.Fatal(err)
		}
		if len(groups) != 2 {
			t.Fatalf("got groups %v, want worker:w1 and %s", groupNames(), streams.ProjectorGroup)
		}
		for _, g := range groups {
			if g.Consumers == 0 || g.Idle < time.Millisecond {
				return false
			}
		}
		return true
	})

	t.Run("NotIdleEnough", func(t *testing.T) {
		n, err := keep.api.ReapIdleWorkers(ctx)
		if err != nil || n != 0 {
			t.Fatalf("got %d destroyed (%v), want 0 under the default TTL of 7 days", n, err)
		}
		if got := len(groupNames()); got != 2 {
			t.Fatalf("got groups %v, want both left", groupNames())
		}
	})

	t.Run("OK", func(t *testing.T) {
		n, err := reap.api.ReapIdleWorkers(ctx)
		if err != nil || n != 1 {
			t.Fatalf("got %d destroyed (%v), want 1", n, err)
		}
		if got := groupNames(); len(got) != 1 || got[0] != streams.ProjectorGroup {
			t.Fatalf("got groups %v, want only %s: the projector's group is not a worker's", got, streams.ProjectorGroup)
		}
	})

	t.Run("WorkerComesBack", func(t *testing.T) {
		wantNoContent(t, reap.do(t, "GET", feedURL(ns, "w1", 1, "0s"), nil, nil))
		reap.ok(t, "PUT", path(ns, "/flows"), flowsDoc("two"), nil, nil)
		wantNews(t, reap.do(t, "GET", feedURL(ns, "w1", 1, "0s"), nil, nil), 2, 1, true)
	})
}

// workerInfo is one worker in GET …/workers.
type workerInfo = httpapi.WorkerInfo

// sameWorker compares all but the idle time.
func sameWorker(w, o workerInfo) bool {
	w.IdleSeconds, o.IdleSeconds = 0, 0
	return w == o
}

type workersAnswer = httpapi.Workers

func workers(tb testing.TB, ts *testServer, ns string) workersAnswer {
	tb.Helper()
	var w workersAnswer
	ts.ok(tb, "GET", path(ns, "/workers"), nil, hdr{"Authorization": "Bearer " + readSecret}, &w)
	return w
}

func TestFeedMaxWait(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{FeedMaxWait: time.Second})

	t.Run("CapsRequestedWait", func(t *testing.T) {
		t.Parallel()
		ch := ts.startFeed(t, feedURL(randomNS(t), "w1", 0, "1h"))
		wantNoContent(t, await(t, ch))
	})

	t.Run("CapsDefaultWait", func(t *testing.T) {
		t.Parallel()
		ch := ts.startFeed(t, path(randomNS(t), "/feed?worker=w1&after=0"))
		wantNoContent(t, await(t, ch))
	})
}

// openStream starts a streaming feed request; its news lines arrive on the
// first channel, and the end of the answer (nil, or what failed) on the
// second.
func (ts *testServer) openStream(tb testing.TB, url string) (<-chan feedNews, <-chan error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	lines, end := make(chan feedNews, 100), make(chan error, 1)
	done := make(chan struct{})
	tb.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		end <- ts.readStream(ctx, url, func(n feedNews, _ time.Time) error {
			lines <- n
			return nil
		})
	}()
	return lines, end
}

// readStream makes a streaming feed request and calls line with each news
// line and when it arrived, until the answer ends (nil), line fails, or the
// request does.
func (ts *testServer) readStream(ctx context.Context, url string, line func(feedNews, time.Time) error) error {
	req, err := http.NewRequestWithContext(ctx, "GET", ts.URL+url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+readSecret)
	res, err := ts.Client().Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/x-ndjson" {
		return fmt.Errorf("got status %d, %s, want 200 application/x-ndjson", res.StatusCode, res.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		at := time.Now()
		var n feedNews
		if err := json.Unmarshal(sc.Bytes(), &n); err != nil {
			return fmt.Errorf("line %q: %v", sc.Bytes(), err)
		}
		if err := line(n, at); err != nil {
			return err
		}
	}
	return sc.Err()
}

func nextLine(tb testing.TB, lines <-chan feedNews, end <-chan error) feedNews {
	tb.Helper()
	return nextLineWithin(tb, lines, end, 10*time.Second)
}

// TestFeedStream checks stream=1: pending entries first, then a line per
// burst in the same answer, until the wait or the server's Close ends it.
func TestFeedStream(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	other := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("zero"), nil, nil)
	wantNoContent(t, ts.do(t, "GET", feedURL(ns, "w1", 1, "0s"), nil, nil))
	for i := range 3 {
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc(fmt.Sprint("offline", i)), nil, nil)
	}

	lines, end := ts.openStream(t, feedURL(ns, "w1", 1, "30s")+"&stream=1")
	if got, want := nextLine(t, lines, end), ts.withID(t, ns, feedNews{Revision: 4, Flows: true, Events: 3}); got != want {
		t.Fatalf("first line: got %+v, want the pending %+v", got, want)
	}
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("live"), nil, nil)
	if got, want := nextLine(t, lines, end), ts.withID(t, ns, feedNews{Revision: 5, Flows: true, Events: 1}); got != want {
		t.Fatalf("second line: got %+v, want %+v", got, want)
	}
	// Another server's appends reach the stream (through the tail, or the
	// group when the tail cannot tell).
	ts.ok(t, "POST", path(ns, "/feed/ack"), []byte(`{"worker":"w1","revision":5}`), nil, nil)
	other.ok(t, "PUT", path(ns, "/settings"), []byte(`{"nodes":{"node-red-contrib-x":{"version":"1.0.0","user":true}}}`), nil, nil)
	got := nextLine(t, lines, end)
	for got.Revision < 7 {
		got = nextLine(t, lines, end) // settings, then packages, maybe apart
	}
	if got.Revision != 7 || got.Flows || !got.Packages {
		t.Fatalf("got %+v, want revision 7, packages without flows", got)
	}
	if w := workers(t, ts, ns).Workers[0]; w.Acknowledged != 5 {
		t.Fatalf("got %+v, want revision 5 acknowledged", w)
	}

	ts.api.Close()
	select {
	case err := <-end:
		if err != nil {
			t.Fatalf("the stream ended with %v, want a clean end", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end within 10s of Close")
	}
	if n := len(lines); n != 0 {
		t.Fatalf("got %d more lines, want none", n)
	}

	t.Run("EndsAtTheWaitAfterTheAck", func(t *testing.T) {
		ts := mustServer(t, httpapi.Config{})
		lines, end := ts.openStream(t, feedURL(ns, "w1", 1, "100ms")+"&stream=1&ack=7")
		select {
		case err := <-end:
			if err != nil || len(lines) != 0 {
				t.Fatalf("got %v and %d lines, want a clean end without news", err, len(lines))
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a stream with wait=100ms did not end within 10s")
		}
		if w := workers(t, ts, ns).Workers[0]; w.Acknowledged != 7 || w.Pending != 0 {
			t.Fatalf("got %+v, want revision 7 acknowledged, nothing pending", w)
		}
	})
}

// TestFeedStreamLongBacklog checks a stream for a worker more than one
// read's worth of entries behind: the first 1000 come as one line, the rest
// as the next, on the same answer.
func TestFeedStreamLongBacklog(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	wantNoContent(t, ts.do(t, "GET", feedURL(ns, "w1", 0, "0s"), nil, nil))
	streamstest.AppendMixed(t, testCtx(t), ts.store, ns, 1005)
	lines, end := ts.openStream(t, feedURL(ns, "w1", 0, "30s")+"&stream=1")
	if got, want := nextLine(t, lines, end), ts.withID(t, ns, feedNews{Revision: 1000, Flows: true, Packages: true, Events: 1000}); got != want {
		t.Fatalf("first line: got %+v, want %+v", got, want)
	}
	if got, want := nextLine(t, lines, end), ts.withID(t, ns, feedNews{Revision: 1005, Flows: true, Events: 5}); got != want {
		t.Fatalf("second line: got %+v, want %+v", got, want)
	}
}
