package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams/streamstest"
)

// BenchmarkFeedAckNotify1000 is 1 000 streamed workers that acknowledge as
// soon as they have the news, in this process with flowhist, for
// profiling where a deploy's fan-out and its acknowledgements spend
// flowhist's time (the e2e BenchmarkWorkersNotify measures it with
// flowhist in a process of its own):
//
//	go test -run '^$' -bench FeedAckNotify1000 -benchtime 20x -cpuprofile /tmp/feed.prof ./httpapi/
//
// post acknowledges with POST …/feed/ack, duplex with a line on the body
// of POST …/feed. It reports p50-us and p99-us from the deploy's 200 to
// the last worker hearing of it.
func BenchmarkFeedAckNotify1000(b *testing.B) {
	b.Run("post", func(b *testing.B) { benchFeedAcks(b, 1000, false, nil) })
	b.Run("duplex", func(b *testing.B) { benchFeedAcks(b, 1000, true, nil) })
	// The deploy a ~1 MB document with one node changed, as in the e2e
	// benchmark: its projection runs during the fan-out.
	b.Run("duplex-1MB", func(b *testing.B) { benchFeedAcks(b, 1000, true, domaintest.NewDoc(benchNodes)) })
}

// benchFeedAcks deploys small documents, or doc with one node changed each
// round.
func benchFeedAcks(b *testing.B, n int, duplex bool, doc *domaintest.Doc) {
	ts := mustServer(b, httpapi.Config{})
	tr := ts.Client().Transport.(*http.Transport)
	tr.MaxIdleConnsPerHost = 2 * n
	ns := randomNS(b)
	ts.ok(b, "PUT", path(ns, "/flows"), flowsDoc("start"), nil, nil)
	after := ts.head(b, ns)

	wakes := make(chan wake, n)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait() })
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			benchAckingWorker(ctx, ts, ns, fmt.Sprintf("w%04d", w), after, duplex, wakes)
		}()
	}
	rounds := 0
	streamstest.NotifyRounds(b,
		func() {
			ts.waitForWaiters(b, n)
			waitFor(b, "the last round's acknowledgements", func() bool {
				return ts.metric(b, "flowhist_feed_acks_total") >= float64(rounds*n)
			})
		},
		func(i int) (time.Time, time.Time) {
			rounds++
			body := flowsDoc(fmt.Sprint("round", i))
			if doc != nil {
				doc.Touch(i % doc.Len())
				body = doc.Bytes()
			}
			req, _ := http.NewRequest("PUT", ts.URL+path(ns, "/flows"), bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+deploySecret)
			return streamstest.Deploy(b, ts.Client(), req)
		},
		func() time.Time {
			var last time.Time
			for range n {
				w := <-wakes
				if w.err != nil {
					b.Fatal(w.err)
				}
				if w.at.After(last) {
					last = w.at
				}
			}
			return last
		})
}

// benchAckingWorker follows ns's streamed feed until ctx ends,
// acknowledging each line at once.
func benchAckingWorker(ctx context.Context, ts *testServer, ns, worker string, after domain.Revision, duplex bool, wakes chan<- wake) {
	for ctx.Err() == nil {
		var body io.Reader
		var acks io.Writer
		closeAcks := func() {}
		method, url := "GET", feedURL(ns, worker, after, "60s")+"&stream=1"
		if duplex {
			method, url = "POST", feedURL(ns, worker, after, "60s")
			body, acks, closeAcks = ackBody(ctx)
		}
		req, _ := http.NewRequestWithContext(ctx, method, ts.URL+url, body)
		req.Header.Set("Authorization", "Bearer "+readSecret)
		res, err := ts.Client().Do(req)
		if err != nil {
			if ctx.Err() == nil {
				wakes <- wake{err: err}
			}
			return
		}
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			at := time.Now()
			var news feedNews
			if err := json.Unmarshal(sc.Bytes(), &news); err != nil {
				wakes <- wake{err: err}
				return
			}
			wakes <- wake{at: at}
			if duplex {
				fmt.Fprintf(acks, "{\"ack\":%d,\"id\":%q}\n", news.Revision, news.ID)
				continue
			}
			r, err := ts.send(ctx, "POST", path(ns, "/feed/ack"), []byte(fmt.Sprintf(`{"worker":%q,"revision":%d,"id":%q}`, worker, news.Revision, news.ID)), hdr{"Authorization": "Bearer " + readSecret})
			if err == nil && r.status != http.StatusOK {
				err = fmt.Errorf("ack: got status %d (%s), want 200", r.status, r.body)
			}
			if err != nil && ctx.Err() == nil {
				wakes <- wake{err: err}
				return
			}
		}
		res.Body.Close()
		closeAcks()
	}
}
