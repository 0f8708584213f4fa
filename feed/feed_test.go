package feed_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/feed"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

func TestMain(m *testing.M) { os.Exit(valkeytest.Main(m)) }

// mustFeed returns a feed over a store on the shared test server, the
// store, and a fresh namespace.
func mustFeed(tb testing.TB, cfg feed.Config) (*feed.Feed, *streams.Store, string) {
	tb.Helper()
	s, err := streams.New(streamstest.Client(tb, ""), streams.Config{}, nil)
	if err != nil {
		tb.Fatalf("streams.New: %v", err)
	}
	f := feed.New(s, cfg, nil, feed.Metrics{})
	tb.Cleanup(f.Close)
	return f, s, streamstest.Namespace(tb)
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// answer records what Follow gives; with poll set it is done at the first
// news, as a long poll is.
type answer struct {
	poll bool
	mu   sync.Mutex
	news []feed.News
	got  chan struct{} // closed at the first news
}

func newAnswer(poll bool) *answer { return &answer{poll: poll, got: make(chan struct{})} }

func (a *answer) Give(n feed.News) error {
	if n.Events == 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.news) == 0 {
		close(a.got)
	}
	a.news = append(a.news, n)
	return nil
}

func (a *answer) Done() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.poll && len(a.news) > 0
}

func (a *answer) first() feed.News {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.news[0]
}

func appendFlows(tb testing.TB, ctx context.Context, s *streams.Store, ns, doc string) domain.Revision {
	tb.Helper()
	f, err := domain.ParseFlows([]byte(doc))
	if err != nil {
		tb.Fatal(err)
	}
	res, err := streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: f}, "")
	if err != nil {
		tb.Fatal(err)
	}
	return res.Revision
}

// eventID is the id of ns's event at rev.
func eventID(tb testing.TB, s *streams.Store, ns string, rev domain.Revision) string {
	tb.Helper()
	p, ok, err := s.EventAt(context.Background(), ns, rev)
	if err != nil || !ok {
		tb.Fatalf("event at %d: %v (found %v)", rev, err, ok)
	}
	return p.ID
}

// TestFollow: a worker is given what its group holds first, then, once up
// to date, what the namespace's tail (woken by Notify) sees.
func TestFollow(t *testing.T) {
	t.Parallel()
	f, s, ns := mustFeed(t, feed.Config{})
	ctx := testCtx(t)
	req := feed.Request{Namespace: ns, Worker: "w1"}
	if err := f.Join(ctx, req); err != nil {
		t.Fatal(err)
	}
	rev := appendFlows(t, ctx, s, ns, `[{"id":"a","type":"tab"}]`)
	t.Run("PendingFirst", func(t *testing.T) {
		a := newAnswer(true)
		if err := f.Follow(ctx, req, a, nil); err != nil {
			t.Fatal(err)
		}
		if got, want := a.first(), (feed.News{Revision: rev, ID: eventID(t, s, ns, rev), Flows: true, Events: 1}); got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
	t.Run("NotifyWakes", func(t *testing.T) {
		a := newAnswer(true)
		acked := req
		acked.Ack = rev
		done := make(chan error, 1)
		go func() { done <- f.Follow(ctx, acked, a, nil) }()
		next := appendFlows(t, ctx, s, ns, `[{"id":"a","type":"tab","label":"x"}]`)
		f.Notify(ns, streams.Entry{Revision: next, Aggregate: domain.AggregateFlows, ID: eventID(t, s, ns, next)})
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got, want := a.first(), (feed.News{Revision: next, ID: eventID(t, s, ns, next), Flows: true, Events: 1}); got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
	t.Run("EndsAtEnd", func(t *testing.T) {
		a := newAnswer(true)
		up := req
		up.Ack = rev + 1
		end := make(chan time.Time)
		close(end)
		if err := f.Follow(ctx, up, a, end); err != nil {
			t.Fatal(err)
		}
		if len(a.news) != 0 {
			t.Fatalf("got %+v, want no news", a.news)
		}
	})
}

func TestAck(t *testing.T) {
	t.Parallel()
	f, s, ns := mustFeed(t, feed.Config{})
	ctx := testCtx(t)
	t.Run("OK", func(t *testing.T) {
		req := feed.Request{Namespace: ns, Worker: "w1"}
		if err := f.Join(ctx, req); err != nil {
			t.Fatal(err)
		}
		rev := appendFlows(t, ctx, s, ns, `[{"id":"a","type":"tab"}]`)
		if err := f.Follow(ctx, req, newAnswer(true), nil); err != nil {
			t.Fatal(err)
		}
		n, err := f.Ack(ctx, ns, "w1", streams.Position{Revision: rev})
		if err != nil || n != 1 {
			t.Fatalf("got %d entries (%v), want 1", n, err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := f.Ack(ctx, ns, "nobody", streams.Position{Revision: 1}); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("got %v, want ENOTFOUND", err)
		}
	})
}
