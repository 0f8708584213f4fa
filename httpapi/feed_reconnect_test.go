package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// A worker's duplex feed ends when its wait does, and the worker asks
// again: a promotion can land while it is between two answers, or after
// it heard of it and before its acknowledgement was read. These tests
// check that it hears its ring's new target all the same, as the module
// asks again (after= and afterId= what it loaded, acknowledgements on the
// body).

// reconnectPolicy: three rings whose gates never pass on their own (the
// test promotes).
const reconnectPolicy = `{"rings":[{"name":"canary","bake":"168h","gate":{"deadline":"1h"}},{"name":"eu","bake":"168h","gate":{"deadline":"1h"}},{"name":"default","bake":"168h","gate":{"deadline":"1h"}}]}`

// rolloutUnderWay returns a namespace with reconnectPolicy whose rollout
// of a new deploy is at the canary ring, the position every ring ran
// before (base) and the new one (target).
func (ts *testServer) rolloutUnderWay(tb testing.TB) (ns string, base, target domain.Position) {
	tb.Helper()
	ns = randomNS(tb)
	base = ts.deployed(tb, ns, "base")
	ts.ok(tb, "PUT", path(ns, "/rollout/policy"), []byte(reconnectPolicy), nil, nil)
	target = ts.deployed(tb, ns, "target")
	// The driver starts the rollout (an event after the deploy).
	waitFor(tb, "the rollout started", func() bool { return ts.head(tb, ns) > target.Revision })
	return ns, base, target
}

// deployed deploys flowsDoc(tag) to ns and returns its position.
func (ts *testServer) deployed(tb testing.TB, ns, tag string) domain.Position {
	tb.Helper()
	var saved httpapi.Saved
	ts.ok(tb, "PUT", path(ns, "/flows"), flowsDoc(tag), nil, &saved)
	return ts.position(tb, ns, saved.Revision)
}

// position is the revision and event id of ns's event at rev.
func (ts *testServer) position(tb testing.TB, ns string, rev domain.Revision) domain.Position {
	tb.Helper()
	p, ok, err := ts.store.EventAt(testCtx(tb), ns, rev)
	if err != nil || !ok {
		tb.Fatalf("EventAt %d: %v, %v", rev, ok, err)
	}
	return domain.Position{Revision: p.Revision, ID: p.ID}
}

// feedAnswerConn is one duplex feed answer: its news lines, its end (nil when
// the wait ended it), and its body, for acknowledgements.
type feedAnswerConn struct {
	lines <-chan feedNews
	end   <-chan error
	acks  io.Writer
	// leave drops the connection mid-answer (the worker went away).
	leave func()
}

// ack acknowledges n on the answer's body.
func (a *feedAnswerConn) ack(tb testing.TB, n feedNews) {
	tb.Helper()
	if _, err := fmt.Fprintf(a.acks, "{\"ack\":%d,\"id\":%q}\n", n.Revision, n.ID); err != nil {
		tb.Fatalf("acknowledge %d: %v", n.Revision, err)
	}
}

// askFeed opens worker's duplex feed as the module asks it: after= and
// afterId= the position it loaded, its ring, a wait. The answer ends with
// the wait, or with the test.
func (ts *testServer) askFeed(tb testing.TB, ns, worker, ring string, loaded domain.Position, wait string) *feedAnswerConn {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	body, acks, closeAcks := ackBody(ctx)
	lines, end := make(chan feedNews, 100), make(chan error, 1)
	done := make(chan struct{})
	tb.Cleanup(func() { cancel(); <-done })
	res, err := ts.Client().Do(feedRequest(ctx, ts, ns, worker, ring, loaded, wait, body))
	if err != nil {
		close(done)
		tb.Fatalf("POST /feed: %v", err)
	}
	if res.StatusCode != http.StatusOK {
		close(done)
		tb.Fatalf("POST /feed: got status %d, want 200", res.StatusCode)
	}
	go func() {
		defer close(done)
		defer closeAcks()
		defer res.Body.Close()
		end <- scanNews(res.Body, lines)
	}()
	return &feedAnswerConn{lines: lines, end: end, acks: acks, leave: func() { cancel(); <-done }}
}

// feedRequest is worker's POST …/feed with body, asking after loaded.
func feedRequest(ctx context.Context, ts *testServer, ns, worker, ring string, loaded domain.Position, wait string, body io.Reader) *http.Request {
	url := ts.URL + feedURL(ns, worker, loaded.Revision, wait) + "&ring=" + ring
	if loaded.ID != "" {
		url += "&afterId=" + loaded.ID
	}
	req, _ := http.NewRequestWithContext(ctx, "POST", url, body)
	req.Header.Set("Authorization", "Bearer "+readSecret)
	return req
}

// answerEnds waits for a's end: the wait ended it, with no other line.
func answerEnds(tb testing.TB, a *feedAnswerConn) {
	tb.Helper()
	select {
	case n := <-a.lines:
		tb.Fatalf("got news %+v, want the answer to end with its wait", n)
	case err := <-a.end:
		if err != nil {
			tb.Fatalf("the answer ended with %v, want its wait's end", err)
		}
	case <-time.After(10 * time.Second):
		tb.Fatal("the answer did not end within 10s of its wait")
	}
}

// wantTarget checks that n is news at rev telling the target want.
func wantTarget(tb testing.TB, n feedNews, rev domain.Revision, want domain.Position) {
	tb.Helper()
	if n.Revision != rev || n.Target == nil || *n.Target != want {
		tb.Fatalf("got news %+v (target %+v), want news at %d with the target %+v", n, n.Target, rev, want)
	}
}

// ackedHead waits until every worker of ns has acknowledged the head.
func ackedHead(tb testing.TB, ts *testServer, ns string, n int) {
	tb.Helper()
	waitFor(tb, "every worker acknowledged the head", func() bool {
		ws := workers(tb, ts, ns)
		for _, w := range ws.Workers {
			if w.Acknowledged != ws.Revision || w.Lag != 0 {
				return false
			}
		}
		return len(ws.Workers) == n
	})
}

// TestFeedRingTargetAcrossReconnections: a worker hears its ring's new
// target when the promotion lands between two of its answers, or after it
// heard it and went away before acknowledging it; and, with workers of
// three rings whose short waits end around promotions, every worker of
// every promoted ring hears every target.
func TestFeedRingTargetAcrossReconnections(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})

	t.Run("PromotedBetweenAnswers", func(t *testing.T) {
		t.Parallel()
		ns, base, target := ts.rolloutUnderWay(t)
		a := ts.askFeed(t, ns, "e1", "eu", base, "1s")
		n := nextLine(t, a.lines, a.end)
		wantTarget(t, n, ts.head(t, ns), base)
		a.ack(t, n)
		answerEnds(t, a)
		ts.ok(t, "POST", path(ns, "/rollout/promote"), nil, nil, nil)
		// It asks again after what it loaded (base): its first line is
		// the promotion, with its ring's new target.
		a = ts.askFeed(t, ns, "e1", "eu", base, "10s")
		n = nextLine(t, a.lines, a.end)
		wantTarget(t, n, ts.head(t, ns), target)
		a.ack(t, n)
		ackedHead(t, ts, ns, 1)
	})

	t.Run("PromotionHeardNotAcknowledged", func(t *testing.T) {
		t.Parallel()
		ns, base, target := ts.rolloutUnderWay(t)
		a := ts.askFeed(t, ns, "e1", "eu", base, "30s")
		n := nextLine(t, a.lines, a.end)
		a.ack(t, n)
		ackedHead(t, ts, ns, 1)
		ts.ok(t, "POST", path(ns, "/rollout/promote"), nil, nil, nil)
		promotion := ts.head(t, ns)
		wantTarget(t, nextLine(t, a.lines, a.end), promotion, target)
		// Gone before acknowledging it (or loading the target).
		a.leave()
		a = ts.askFeed(t, ns, "e1", "eu", base, "10s")
		n = nextLine(t, a.lines, a.end)
		wantTarget(t, n, promotion, target)
		a.ack(t, n)
		ackedHead(t, ts, ns, 1)
	})

	t.Run("WaitsEndingAroundPromotions", func(t *testing.T) {
		t.Parallel()
		ns, base, target := ts.rolloutUnderWay(t)
		rings := []struct {
			name string
			n    int
		}{{"canary", 2}, {"eu", 5}, {"default", 5}}
		var ws []*reconnectingWorker
		for _, r := range rings {
			for i := range r.n {
				ws = append(ws, &reconnectingWorker{ts: ts, ns: ns, id: fmt.Sprintf("%s-%d", r.name, i), ring: r.name,
					wait: []string{"300ms", "450ms", "700ms"}[len(ws)%3], loaded: base})
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		t.Cleanup(func() { cancel(); wg.Wait() })
		for _, w := range ws {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(ctx)
			}()
		}
		// hear waits until the workers of rings[:upTo] have loaded
		// target, and checks that the others still run was.
		hear := func(upTo int, target, was domain.Position) {
			t.Helper()
			i := 0
			for r, ring := range rings {
				for range ring.n {
					w := ws[i]
					i++
					want := was
					if r < upTo {
						want = target
					}
					waitFor(t, fmt.Sprintf("worker %s (ring %s) loads %+v", w.id, w.ring, want), func() bool {
						if err := w.failure(); err != nil {
							t.Fatalf("worker %s: %v", w.id, err)
						}
						return w.runs() == want
					})
				}
			}
		}
		// awayIn waits until a worker of ring is between two answers: the
		// next step lands then.
		awayIn := func(ring string) {
			t.Helper()
			waitFor(t, "a worker of ring "+ring+" between answers", func() bool {
				for _, w := range ws {
					if w.ring == ring && w.away.Load() {
						return true
					}
				}
				return false
			})
		}
		hear(1, target, base)
		for round := range 6 {
			for upTo := 2; upTo <= len(rings); upTo++ {
				awayIn(rings[upTo-1].name)
				ts.ok(t, "POST", path(ns, "/rollout/promote"), nil, nil, nil)
				hear(upTo, target, base)
			}
			// Complete the rollout, and start the next.
			ts.ok(t, "POST", path(ns, "/rollout/promote"), nil, nil, nil)
			awayIn(rings[0].name)
			base, target = target, ts.deployed(t, ns, fmt.Sprint("round", round))
			hear(1, target, base)
		}
		ackedHead(t, ts, ns, len(ws))
		cancel()
		wg.Wait()
		// What the test is for happened: targets heard on the first line
		// of an answer asked for after the promotion.
		fresh := 0
		for _, w := range ws {
			fresh += w.freshTargets
		}
		if fresh == 0 {
			t.Fatal("no worker heard a new target on the first line of an answer: no promotion landed between answers, and the test did not check what it is for")
		}
		t.Logf("%d new targets heard on the first line of an answer", fresh)
	})
}

// reconnectingWorker follows its duplex feed as the module does, with a
// short wait: it acknowledges each line on the body, loads its ring's
// target at once, and asks again 50 to 150 ms after the answer ended
// (away meanwhile), after= and afterId= the target it loaded.
type reconnectingWorker struct {
	ts       *testServer
	ns, id   string
	ring     string
	wait     string
	mu       sync.Mutex
	loaded   domain.Position
	err      error
	answers  int
	lastLine feedNews
	// freshTargets counts new targets heard on the first line of an
	// answer (the promotion landed between answers); read after run.
	freshTargets int
	away         atomic.Bool
}

func (w *reconnectingWorker) runs() domain.Position {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.loaded
}

func (w *reconnectingWorker) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return fmt.Errorf("%w (after %d answers; last news %+v)", w.err, w.answers, w.lastLine)
	}
	return nil
}

func (w *reconnectingWorker) run(ctx context.Context) {
	fail := func(err error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if ctx.Err() == nil && w.err == nil {
			w.err = err
		}
	}
	for ctx.Err() == nil {
		if err := w.answer(ctx); err != nil {
			fail(err)
			return
		}
		w.away.Store(true)
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(50+rand.IntN(100)) * time.Millisecond):
		}
		w.away.Store(false)
	}
}

// answer asks for one answer and follows it to its end.
func (w *reconnectingWorker) answer(ctx context.Context) error {
	body, acks, closeAcks := ackBody(ctx)
	defer closeAcks()
	w.mu.Lock()
	loaded := w.loaded
	w.answers++
	w.mu.Unlock()
	res, err := w.ts.Client().Do(feedRequest(ctx, w.ts, w.ns, w.id, w.ring, loaded, w.wait, body))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /feed: got status %d, want 200", res.StatusCode)
	}
	sc := bufio.NewScanner(res.Body)
	for first := true; sc.Scan(); first = false {
		var n feedNews
		if err := json.Unmarshal(sc.Bytes(), &n); err != nil {
			return fmt.Errorf("line %q: %v", sc.Bytes(), err)
		}
		if n.Reset || n.Target == nil {
			return fmt.Errorf("got news %+v, want news with its ring's target", n)
		}
		w.mu.Lock()
		w.lastLine = n
		if *n.Target != w.loaded {
			w.loaded = *n.Target
			if first {
				w.freshTargets++
			}
		}
		w.mu.Unlock()
		fmt.Fprintf(acks, "{\"ack\":%d,\"id\":%q}\n", n.Revision, n.ID)
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
