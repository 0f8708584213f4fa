package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	fhclient "github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// The tests' one feed client: feedWorker follows a namespace's feed as the
// Node-RED module does, through flowhist's Go client (FeedStream, Ack).
// readNews reads a streamed answer's news lines for the benchmarks'
// listeners, which play the wire patterns the client does not (long polls
// acknowledging in the next request, acknowledgements on the request's own
// body).

// feedWorker follows a namespace's feed as the Node-RED module does:
// streamed feed requests (stream=1) one after another, each line's
// revision acknowledged (POST …/feed/ack) once it has it, asking from the
// revision it acknowledged; when a request fails it moves to the next URL
// (round robin), and once every URL failed in a row it backs off (20 ms,
// doubling up to 500 ms). It records what it heard, when each stream
// answered, and each failure, for the tests to wait on with waitFor.
type feedWorker struct {
	id   string
	urls []string
	apis []*fhclient.Client // one per URL
	wait time.Duration      // each feed request's wait

	mu       sync.Mutex
	acked    uint64
	ackedID  string    // the event id at acked, as the feed named it
	resets   int       // reset lines heard (the log lost what it ran)
	heard    []heard   // every line, in order
	connects []connect // every feed request the server answered
	failures []string  // every failed request, in order
}

type heard struct {
	rev uint64
	at  time.Time
}

type connect struct {
	url string
	at  time.Time
}

// feedWait is a feedWorker's feed requests' wait unless a test sets
// another.
const feedWait = 30 * time.Second

// startFeedWorker starts worker id on namespace ns with token, its group
// (if new) from revision after, following the flowhists at urls (the first
// first), each request waiting up to wait (0: feedWait). It stops when the
// test ends.
func startFeedWorker(tb testing.TB, id, ns, token string, after uint64, wait time.Duration, urls ...string) *feedWorker {
	tb.Helper()
	if wait == 0 {
		wait = feedWait
	}
	w := &feedWorker{id: id, urls: urls, wait: wait, acked: after}
	for _, u := range urls {
		// A request that hangs (an outage) fails 10 s after its wait
		// would have ended; an acknowledgement is quick or failed.
		c, err := fhclient.New(fhclient.Config{URL: u, Token: token, Namespace: ns, Timeout: 10 * time.Second})
		if err != nil {
			tb.Fatalf("feed worker %s on %s: %v", id, u, err)
		}
		w.apis = append(w.apis, c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	return w
}

func (w *feedWorker) run(ctx context.Context) {
	backoff := 20 * time.Millisecond
	failures := 0
	for i := 0; ctx.Err() == nil; {
		if failures >= len(w.urls) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 500*time.Millisecond)
		}
		if err := w.follow(ctx, i%len(w.urls)); err != nil {
			if ctx.Err() == nil {
				w.mu.Lock()
				w.failures = append(w.failures, err.Error())
				w.mu.Unlock()
			}
			failures++
			i++
			continue
		}
		failures, backoff = 0, 20*time.Millisecond
	}
}

// follow reads one streamed feed answer from the i-th URL to its end.
func (w *feedWorker) follow(ctx context.Context, i int) error {
	w.mu.Lock()
	after, afterID := w.acked, w.ackedID
	w.mu.Unlock()
	opened := func() {
		w.mu.Lock()
		w.connects = append(w.connects, connect{w.urls[i], time.Now()})
		w.mu.Unlock()
	}
	q := fhclient.FeedQuery{Worker: w.id, After: domain.Revision(after), AfterID: afterID, Wait: w.wait}
	return w.apis[i].FeedStream(ctx, q, opened, func(n httpapi.FeedNews) error {
		now := time.Now()
		w.mu.Lock()
		w.heard = append(w.heard, heard{uint64(n.Revision), now})
		w.mu.Unlock()
		if _, err := w.apis[i].Ack(ctx, w.id, n.Revision, n.ID); err != nil {
			return fmt.Errorf("POST feed/ack: %w", err)
		}
		w.mu.Lock()
		if n.Reset {
			// Reloaded the head, which may be behind what it ran.
			w.acked, w.ackedID = uint64(n.Revision), n.ID
			w.resets++
		} else if uint64(n.Revision) >= w.acked {
			w.acked, w.ackedID = uint64(n.Revision), n.ID
		}
		w.mu.Unlock()
		return nil
	})
}

// heardAt is when w first heard of rev or later.
func (w *feedWorker) heardAt(rev uint64) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, h := range w.heard {
		if h.rev >= rev {
			return h.at, true
		}
	}
	return time.Time{}, false
}

// connectedTo is when w's first stream from u after since answered.
func (w *feedWorker) connectedTo(u string, since time.Time) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.connects {
		if c.url == u && c.at.After(since) {
			return c.at, true
		}
	}
	return time.Time{}, false
}

// ackedAt reports whether w acknowledged rev or later.
func (w *feedWorker) ackedAt(rev uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked >= rev
}

// failed is how many of w's requests failed.
func (w *feedWorker) failed() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.failures)
}

// String is w's state, for failure messages.
func (w *feedWorker) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	last := "none"
	if n := len(w.failures); n > 0 {
		last = w.failures[n-1]
	}
	return fmt.Sprintf("worker %s: heard %v, acked %d, connects %v, %d failed requests, the last: %s", w.id, w.heard, w.acked, w.connects, len(w.failures), last)
}

// heardWithin waits until w heard of rev and returns how long after at
// (a deploy's sending) that was; 0 if before.
func (w *feedWorker) heardWithin(tb testing.TB, rev uint64, at time.Time, within time.Duration) time.Duration {
	tb.Helper()
	waitFor(tb, within, fmt.Sprintf("worker %s told of revision %d", w.id, rev), func() (bool, string) {
		_, ok := w.heardAt(rev)
		return ok, w.String()
	})
	t, _ := w.heardAt(rev)
	return max(t.Sub(at), 0)
}

// readNews reads a streamed feed answer's news lines and calls onNews with
// each one's revision and when it was read, until the answer ends.
func readNews(body io.Reader, onNews func(rev uint64, at time.Time) error) error {
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		at := time.Now()
		var n struct {
			Revision uint64 `json:"revision"`
		}
		if err := json.Unmarshal(sc.Bytes(), &n); err != nil {
			return fmt.Errorf("GET feed: line %q: %v", sc.Text(), err)
		}
		if err := onNews(n.Revision, at); err != nil {
			return err
		}
	}
	return sc.Err()
}
