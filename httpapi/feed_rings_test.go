package httpapi_test

import (
	"context"
	"fmt"
	"github.com/flowhist/flowhist/httpapi"
	"testing"
	"time"
)

// ringLine is a news line of one worker's stream.
type ringLine struct {
	worker string
	news   feedNews
}

// TestFeedPromotionWakesItsRingFirst: a promotion (a rollout event) reaches
// the workers of the promoted ring before the others, who hear it all the
// same, with their own ring's target, once those have acknowledged it (or
// after a bound, when they do not); every worker ends acknowledged at the
// head (lag 0).
func TestFeedPromotionWakesItsRingFirst(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("start"), nil, nil)
	ts.ok(t, "PUT", path(ns, "/rollout/policy"), []byte(`{"rings":[{"name":"canary","bake":"168h","gate":{"deadline":"1h"}},{"name":"eu","bake":"168h","gate":{"deadline":"1h"}},{"name":"default"}]}`), nil, nil)
	after := ts.head(t, ns)
	base := ts.ok(t, "GET", path(ns, "/flows?ring=default"), nil, nil, nil).header.Get("Flowhist-Event")

	lines := make(chan ringLine, 100)
	ring := map[string]string{"c1": "canary", "e1": "eu", "d1": "default"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, len(ring))
	t.Cleanup(func() {
		cancel()
		for range ring {
			<-done
		}
	})
	for w, r := range ring {
		go func() {
			defer func() { done <- struct{}{} }()
			ts.readStream(ctx, feedURL(ns, w, after, "60s")+"&stream=1&ring="+r, func(n feedNews, _ time.Time) error {
				lines <- ringLine{w, n}
				return nil
			})
		}()
	}
	ts.waitForWaiters(t, len(ring))
	ack := func(l ringLine) {
		t.Helper()
		ts.ok(t, "POST", path(ns, "/feed/ack"), []byte(fmt.Sprintf(`{"worker":%q,"revision":%d,"id":%q}`, l.worker, l.news.Revision, l.news.ID)), hdr{"Authorization": "Bearer " + readSecret}, nil)
	}
	next := func() ringLine {
		t.Helper()
		select {
		case l := <-lines:
			return l
		case <-time.After(10 * time.Second):
			t.Fatal("no news line within 10s")
			return ringLine{}
		}
	}
	// quiet acknowledges every line until every worker has acknowledged
	// the head.
	quiet := func() {
		t.Helper()
		waitFor(t, "every worker acknowledged the head", func() bool {
			for {
				select {
				case l := <-lines:
					ack(l)
					continue
				default:
				}
				break
			}
			ws := workers(t, ts, ns)
			for _, w := range ws.Workers {
				if w.Acknowledged != ws.Revision || w.Lag != 0 {
					return false
				}
			}
			return len(ws.Workers) == len(ring)
		})
	}
	ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("new"), nil, nil)
	target := ts.ok(t, "GET", path(ns, "/flows"), nil, nil, nil).header.Get("Flowhist-Event")
	quiet()

	// promote moves the rollout to the next ring and checks that the
	// first line is its worker's, with the new target, and that the
	// others hear the promotion too, with their rings' targets. With
	// ackFirst the promoted worker acknowledges at once; without, the
	// others hear it once the bound has passed.
	promote := func(worker string, ackFirst bool) {
		t.Helper()
		ts.ok(t, "POST", path(ns, "/rollout/promote"), nil, nil, nil)
		head := ts.head(t, ns)
		first := next()
		if first.worker != worker || first.news.Revision != head || first.news.Target == nil || first.news.Target.ID != target {
			t.Fatalf("first line after the promotion: got %s %+v, want %s's, at %d with target %s", first.worker, first.news, worker, head, target)
		}
		if ackFirst {
			ack(first)
		}
		heard := map[string]bool{}
		for len(heard) < len(ring)-1 {
			l := next()
			if l.worker == worker || l.news.Revision != head {
				t.Fatalf("got %s %+v, want the others' lines at %d", l.worker, l.news, head)
			}
			want := target
			if ring[l.worker] == "default" && worker != "d1" {
				want = base
			}
			if l.news.Target == nil || l.news.Target.ID != want {
				t.Fatalf("worker %s (ring %s): got target %+v, want %s", l.worker, ring[l.worker], l.news.Target, want)
			}
			heard[l.worker] = true
			ack(l)
		}
		if !ackFirst {
			ack(first)
		}
		quiet()
	}
	promote("e1", false)
	promote("d1", true)
}
