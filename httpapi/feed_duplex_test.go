package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// duplexFeed is a worker on POST …/feed: news lines come on lines, the
// answer's end (nil, or what failed) on end, and send writes a line on the
// request's body.
type duplexFeed struct {
	lines <-chan feedNews
	end   <-chan error
	body  *io.PipeWriter
}

// duplexWithNews opens worker w1's duplex feed on a new namespace and
// deploys once more: the answer has brought the news of revision 2.
func (ts *testServer) duplexWithNews(tb testing.TB) (string, *duplexFeed) {
	tb.Helper()
	ns := randomNS(tb)
	ts.ok(tb, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
	d := ts.openDuplex(tb, ns, "w1", 1)
	ts.waitForWaiters(tb, 1)
	ts.ok(tb, "PUT", path(ns, "/flows"), flowsDoc("two"), nil, nil)
	nextLine(tb, d.lines, d.end)
	return ns, d
}

// openDuplex starts POST …/feed for worker and waits for its answer's
// status line.
func (ts *testServer) openDuplex(tb testing.TB, ns, worker string, after domain.Revision) *duplexFeed {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(ctx, "POST", ts.URL+feedURL(ns, worker, after, "30s"), pr)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+readSecret)
	res, err := ts.Client().Do(req)
	if err != nil {
		cancel()
		tb.Fatalf("POST /feed: %v", err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/x-ndjson" {
		b, _ := io.ReadAll(res.Body)
		cancel()
		tb.Fatalf("POST /feed: got status %d %s (%s), want 200 application/x-ndjson", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	lines, end := make(chan feedNews, 100), make(chan error, 1)
	done := make(chan struct{})
	tb.Cleanup(func() { cancel(); pw.Close(); <-done })
	go func() {
		defer close(done)
		defer res.Body.Close()
		end <- scanNews(res.Body, lines)
	}()
	return &duplexFeed{lines: lines, end: end, body: pw}
}

// scanNews sends each news line of body on lines, and returns what ended
// it (nil: the body's end).
func scanNews(body io.Reader, lines chan<- feedNews) error {
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		var n feedNews
		if err := json.Unmarshal(sc.Bytes(), &n); err != nil {
			return fmt.Errorf("line %q: %v", sc.Bytes(), err)
		}
		lines <- n
	}
	return sc.Err()
}

func (d *duplexFeed) send(tb testing.TB, line string) {
	tb.Helper()
	if _, err := io.WriteString(d.body, line+"\n"); err != nil {
		tb.Fatalf("writing %q on the feed's body: %v", line, err)
	}
}

// ack acknowledges rev on the body.
func (d *duplexFeed) ack(tb testing.TB, rev domain.Revision) {
	tb.Helper()
	d.send(tb, fmt.Sprintf(`{"ack":%d}`, rev))
}

// ended waits for the answer to end.
func (d *duplexFeed) ended(tb testing.TB) error {
	tb.Helper()
	select {
	case err := <-d.end:
		return err
	case n := <-d.lines:
		tb.Fatalf("got news %+v, want the answer to end", n)
	case <-time.After(10 * time.Second):
		tb.Fatal("the answer did not end within 10s")
	}
	return nil
}

// acknowledged is the revision worker's group has acknowledged, as
// GET …/workers says.
func acknowledged(tb testing.TB, ts *testServer, ns, worker string) domain.Revision {
	tb.Helper()
	for _, w := range workers(tb, ts, ns).Workers {
		if w.Worker == worker {
			return w.Acknowledged
		}
	}
	tb.Fatalf("no worker %s in GET …/workers", worker)
	return 0
}

// waitAcknowledged waits until worker's group has acknowledged rev.
func waitAcknowledged(tb testing.TB, ts *testServer, ns, worker string, rev domain.Revision) {
	tb.Helper()
	waitFor(tb, fmt.Sprintf("worker %s acknowledged %d", worker, rev), func() bool {
		return acknowledged(tb, ts, ns, worker) == rev
	})
}

// TestFeedDuplex checks POST …/feed: the streamed feed, with the worker's
// acknowledgements on the request's body.
func TestFeedDuplex(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})

	t.Run("AckOnTheBody", func(t *testing.T) {
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		d := ts.openDuplex(t, ns, "w1", 1)
		ts.waitForWaiters(t, 1)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("two"), nil, nil)
		if n := nextLine(t, d.lines, d.end); n.Revision != 2 || !n.Flows {
			t.Fatalf("got %+v, want news up to 2 with flows", n)
		}
		d.ack(t, 2)
		waitAcknowledged(t, ts, ns, "w1", 2)
		// The answer goes on: the next deploy is a line of it.
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("three"), nil, nil)
		if n := nextLine(t, d.lines, d.end); n.Revision != 3 || n.Events != 1 {
			t.Fatalf("got %+v, want news up to 3 of 1 event", n)
		}
	})

	t.Run("ResumesFromItsAck", func(t *testing.T) {
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		d := ts.openDuplex(t, ns, "w1", 1)
		ts.waitForWaiters(t, 1)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("two"), nil, nil)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("three"), nil, nil)
		var seen domain.Revision
		for seen < 3 {
			seen = nextLine(t, d.lines, d.end).Revision
		}
		// Applied 2 only, then went away.
		d.ack(t, 2)
		waitAcknowledged(t, ts, ns, "w1", 2)
		d.body.Close()
		// Back: 3 is handed again, nothing at or below 2 is.
		again := ts.openDuplex(t, ns, "w1", 1)
		if n := nextLine(t, again.lines, again.end); n.Revision != 3 || n.Events != 1 {
			t.Fatalf("got %+v, want news up to 3 of 1 event", n)
		}
	})

	t.Run("AckPastTheLogIsRefused", func(t *testing.T) {
		// An acknowledgement of a revision the log does not have: the
		// worker runs something the log lost. Nothing is acknowledged,
		// the answer ends, and the worker's next answer is a reset.
		ns, d := ts.duplexWithNews(t)
		d.ack(t, 99)
		if err := d.ended(t); err != nil {
			t.Fatalf("got the answer ending with %v, want a clean end", err)
		}
		if got := acknowledged(t, ts, ns, "w1"); got != 1 {
			t.Fatalf("got acknowledged %d, want 1: nothing changed", got)
		}
		var news httpapi.FeedNews
		ts.ok(t, "GET", path(ns, "/feed?worker=w1&after=2&wait=0s"), nil, nil, &news)
		if want := ts.withID(t, ns, feedNews{Revision: 2, Flows: true, Packages: true, Reset: true}); news != want {
			t.Fatalf("got %+v, want %+v", news, want)
		}
	})

	t.Run("AckWithTheEventsID", func(t *testing.T) {
		ns, d := ts.duplexWithNews(t)
		id := ts.withID(t, ns, feedNews{Revision: 2}).ID
		d.send(t, fmt.Sprintf(`{"ack":2,"id":"%s"}`, id))
		waitAcknowledged(t, ts, ns, "w1", 2)
	})

	t.Run("BadLineEndsTheAnswer", func(t *testing.T) {
		for _, line := range []string{`not json`, `{"revision":2}`, `{"ack":"2"}`, `{"ack":-1}`, `{"ack":02}`, `{"ack":2.0}`, `{"ack":+2}`, `{"ack":2}}`, `{"ack":18446744073709551616}`, `{"ack":2,"id":"<b>x</b>"}`, `{"ack":2,"id":5}`, `{"ack":2,"id":"0190-x"}`, `{"ack":2,"id":"01900000-0000-7000-8000-000000000000"`} {
			t.Run(line, func(t *testing.T) {
				ns, d := ts.duplexWithNews(t)
				d.send(t, line)
				if err := d.ended(t); err != nil {
					t.Fatalf("got the answer ending with %v, want a clean end", err)
				}
				if got := acknowledged(t, ts, ns, "w1"); got != 1 {
					t.Fatalf("got acknowledged %d, want 1: nothing changed", got)
				}
			})
		}
	})

	t.Run("AnyJSONFormOfAnAck", func(t *testing.T) {
		// What workers send is read on a fast path; any other valid form
		// of the same line counts as well.
		ns, d := ts.duplexWithNews(t)
		d.send(t, `{ "ack" : 2, "from": "a stranger" }`)
		waitAcknowledged(t, ts, ns, "w1", 2)
	})

	t.Run("ManyWorkersAckAtOnce", func(t *testing.T) {
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		const n = 40
		feeds := make([]*duplexFeed, n)
		for i := range feeds {
			feeds[i] = ts.openDuplex(t, ns, fmt.Sprintf("w%02d", i), 1)
		}
		ts.waitForWaiters(t, n)
		before := ts.metric(t, "flowhist_feed_acks_total")
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("two"), nil, nil)
		var wg sync.WaitGroup
		for _, d := range feeds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if got := <-d.lines; got.Revision == 2 {
					io.WriteString(d.body, `{"ack":2}`+"\n")
				}
			}()
		}
		wg.Wait()
		waitFor(t, "every worker acknowledged 2", func() bool {
			for _, w := range workers(t, ts, ns).Workers {
				if w.Acknowledged != 2 || w.Pending != 0 {
					return false
				}
			}
			return true
		})
		if got := ts.metric(t, "flowhist_feed_acks_total") - before; got != n {
			t.Fatalf("got %v acknowledgements counted, want %d", got, n)
		}
	})

	t.Run("OutlivesTheServersReadTimeout", func(t *testing.T) {
		// http.read_timeout is for ordinary bodies; a feed's body is read
		// for as long as its answer lasts.
		const readTimeout = 300 * time.Millisecond
		srv := httptest.NewUnstartedServer(ts.api.Handler())
		srv.Config.ReadTimeout = readTimeout
		srv.Start()
		t.Cleanup(srv.Close)
		short := &testServer{Server: srv, api: ts.api, store: ts.store, proj: ts.proj, reg: ts.reg, token: ts.token}
		ns := randomNS(t)
		short.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		d := short.openDuplex(t, ns, "w1", 1)
		time.Sleep(2 * readTimeout) // what is waited for is the timeout passing
		short.ok(t, "PUT", path(ns, "/flows"), flowsDoc("two"), nil, nil)
		nextLine(t, d.lines, d.end)
		d.ack(t, 2)
		waitAcknowledged(t, short, ns, "w1", 2)
	})

	t.Run("StreamsWithoutStreamParameter", func(t *testing.T) {
		// POST …/feed is always a stream: a long poll's single answer
		// would end before any acknowledgement could come.
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("two"), nil, nil)
		d := ts.openDuplex(t, ns, "w1", 1)
		nextLine(t, d.lines, d.end)
		ts.waitForWaiters(t, 1)
	})
}

// TestCloseDuplex checks that Close ends a duplex feed's answer at once,
// with the acknowledgements it read written.
func TestCloseDuplex(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns, d := ts.duplexWithNews(t)
	d.ack(t, 2)
	waitAcknowledged(t, ts, ns, "w1", 2)
	ts.api.Close()
	if err := d.ended(t); err != nil {
		t.Fatalf("got the answer ending with %v, want a clean end", err)
	}
	if got := acknowledged(t, ts, ns, "w1"); got != 2 {
		t.Fatalf("got acknowledged %d after Close, want 2", got)
	}
}

// TestFeedDuplexBadBody sends a body line that is not an acknowledgement
// with the request: it ends the answer at once, and if that is before the
// answer started, with 400 and the reason (it was an empty 499).
func TestFeedDuplexBadBody(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
	for i := range 20 {
		start := time.Now()
		r := ts.do(t, "POST", path(ns, fmt.Sprintf("/feed?worker=w%d&after=1&wait=10s", i)), []byte("garbage\n"), nil)
		switch {
		case r.status == http.StatusBadRequest:
			wantError(t, r, http.StatusBadRequest, domain.EINVALID)
		case r.status == http.StatusOK && time.Since(start) < 5*time.Second:
			// The stream had started; the bad line ended it.
		default:
			t.Fatalf("attempt %d: got %d %q after %s, want 400 invalid or a stream ended at once", i, r.status, r.body, time.Since(start))
		}
	}
}

// TestFeedAfterPastTheEnd has a worker ask to start after a revision the
// log does not have (it read a log Valkey has since lost): it runs what the
// log does not hold, so it is told to reload the head (a reset) and is
// shown diverged until it acknowledges the head; then the next deploy
// reaches it.
func TestFeedAfterPastTheEnd(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
	var news httpapi.FeedNews
	ts.ok(t, "GET", path(ns, "/feed?worker=w1&after=99&wait=0s"), nil, nil, &news)
	if want := ts.withID(t, ns, feedNews{Revision: 1, Flows: true, Packages: true, Reset: true}); news != want {
		t.Fatalf("got %+v, want a reset to the head %+v", news, want)
	}
	var ws httpapi.Workers
	ts.ok(t, "GET", path(ns, "/workers"), nil, nil, &ws)
	if len(ws.Workers) != 1 || !ws.Workers[0].Diverged || ws.Workers[0].Lag == 0 {
		t.Fatalf("got %+v, want w1 diverged, not at lag 0", ws.Workers)
	}
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("two"), nil, nil)
	var next httpapi.FeedNews
	ts.ok(t, "GET", path(ns, "/feed?worker=w1&wait=0s&ack=1&ackId="+news.ID), nil, nil, &next)
	if next.Revision != 2 || !next.Flows || next.Reset {
		t.Fatalf("got %+v, want the news of revision 2", next)
	}
	var after httpapi.Workers
	ts.ok(t, "GET", path(ns, "/workers"), nil, nil, &after)
	if after.Workers[0].Diverged {
		t.Fatalf("got %+v, want w1 no longer diverged once it acknowledged the head", after.Workers)
	}
}
