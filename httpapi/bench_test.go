package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams/streamstest"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/redis/rueidis"
)

// The benchmarks run in pairs on the same valkey-server in the same run:
// flowhist's HTTP API, and the raw Valkey work the old module pays for the
// same thing, so that the ratio is measured on the same machine.
//
//	go test -run '^$' -bench . -benchtime 20x ./httpapi/

const (
	benchNodes   = 2000 // ~1 MB
	benchWorkers = 50
)

// BenchmarkDeployPUT is a one-node change to a ~1 MB document deployed
// through PUT …/flows over loopback HTTP: read, parse, diff, append,
// project, answer.
func BenchmarkDeployPUT(b *testing.B) { benchDeployPUT(b, mustServer(b, httpapi.Config{})) }

// BenchmarkDeployPUTTLS is BenchmarkDeployPUT over HTTPS (TLS 1.3 on a
// kept-alive connection, as a Node-RED admin's): what TLS costs a deploy.
func BenchmarkDeployPUTTLS(b *testing.B) { benchDeployPUT(b, mustServerTLS(b, httpapi.Config{})) }

func benchDeployPUT(b *testing.B, ts *testServer) {
	ns := randomNS(b)
	doc := domaintest.NewDoc(benchNodes)
	ts.ok(b, "PUT", path(ns, "/flows"), doc.Bytes(), nil, nil)
	b.SetBytes(int64(len(doc.Bytes())))
	client := ts.Client()
	lat := streamstest.NewLatencies(b)
	for i := 0; i < b.N; i++ {
		doc.Touch(i % benchNodes)
		req, err := http.NewRequest("PUT", ts.URL+path(ns, "/flows"), bytes.NewReader(doc.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+deploySecret)
		lat.Start()
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		lat.Stop()
		if err != nil || res.StatusCode != http.StatusOK {
			b.Fatalf("PUT: got status %d (%v), want 200", res.StatusCode, err)
		}
	}
	lat.Report()
}

// BenchmarkDeployBaseline is the old module's deploy of the same change:
// SET the whole document, PUBLISH Date.now().
func BenchmarkDeployBaseline(b *testing.B) {
	c := mustClient(b)
	ctx := testCtx(b)
	key := "bench:{" + randomNS(b) + "}:flows"
	b.Cleanup(func() { c.Do(context.Background(), c.B().Del().Key(key).Build()) })
	doc := domaintest.NewDoc(benchNodes)
	b.SetBytes(int64(len(doc.Bytes())))
	lat := streamstest.NewLatencies(b)
	for i := 0; i < b.N; i++ {
		doc.Touch(i % benchNodes)
		set := c.B().Set().Key(key).Value(string(doc.Bytes())).Build()
		lat.Start()
		if err := c.Do(ctx, set).Error(); err != nil {
			b.Fatal(err)
		}
		if err := c.Do(ctx, c.B().Publish().Channel(key+":updated").Message(strconv.FormatInt(time.Now().UnixMilli(), 10)).Build()).Error(); err != nil {
			b.Fatal(err)
		}
		lat.Stop()
	}
	lat.Report()
}

// BenchmarkFeedNotify50 has 50 workers long-polling the feed (each polling
// again at once, acknowledging what it got with that poll) while one PUT deploys. It reports the time
// from the PUT's 200 to the last of the 50 feed answers (p50-us, p99-us;
// 0 when all 50 came before the 200, counted in early-%), and from sending
// the PUT (sent-p50-us, sent-p99-us).
func BenchmarkFeedNotify50(b *testing.B) { benchFeedNotify50(b, benchWorker{run: poll}) }

// BenchmarkFeedStreamNotify50 is BenchmarkFeedNotify50 with each worker
// holding one streaming feed request (stream=1), as the Node-RED module
// does, and acknowledging each news line with POST …/feed/ack once every
// worker heard of it: the module acknowledges after its reload, which takes
// far longer than the fan-out (tens of milliseconds in the e2e tests).
func BenchmarkFeedStreamNotify50(b *testing.B) { benchFeedNotify50(b, follow(true)) }

// BenchmarkFeedStreamNotify50TLS is BenchmarkFeedStreamNotify50 over
// HTTPS: what TLS costs the fan-out.
func BenchmarkFeedStreamNotify50TLS(b *testing.B) {
	benchFeedNotify50On(b, mustServerTLS(b, httpapi.Config{}), follow(true))
}

// BenchmarkFeedStreamAckNotify50 is BenchmarkFeedStreamNotify50 with every
// worker acknowledging at once, competing with the fan-out: the worst case.
func BenchmarkFeedStreamAckNotify50(b *testing.B) { benchFeedNotify50(b, follow(false)) }

// benchWorker is the worker of a notification benchmark: run is one
// worker until ctx ends; with holdAcks it takes a token from acks before
// each acknowledgement and reports it done there.
type benchWorker struct {
	holdAcks bool
	run      func(ctx context.Context, ts *testServer, ns, worker string, after domain.Revision, wakes chan<- wake, acks *ackGate)
}

// ackGate holds workers' acknowledgements until the round is over.
type ackGate struct {
	release chan struct{} // one token per worker
	done    chan error
}

func benchFeedNotify50(b *testing.B, worker benchWorker) {
	benchFeedNotify50On(b, mustServer(b, httpapi.Config{}), worker)
}

func benchFeedNotify50On(b *testing.B, ts *testServer, worker benchWorker) {
	// Keep the 50 long polls' connections between rounds.
	ts.Client().Transport.(*http.Transport).MaxIdleConnsPerHost = 2 * benchWorkers
	ns := randomNS(b)
	ts.ok(b, "PUT", path(ns, "/flows"), flowsDoc("start"), nil, nil)
	after := ts.head(b, ns)

	wakes := make(chan wake, benchWorkers)
	acks := &ackGate{release: make(chan struct{}, benchWorkers), done: make(chan error, benchWorkers)}
	held := 0 // rounds whose acknowledgements are held
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait() }) // before the server's cleanups
	for w := range benchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker.run(ctx, ts, ns, fmt.Sprintf("w%02d", w), after, wakes, acks)
		}()
	}

	streamstest.NotifyRounds(b,
		func() {
			if held > 0 {
				// Let the last round's acknowledgements go, untimed.
				for range benchWorkers {
					acks.release <- struct{}{}
				}
				for range benchWorkers {
					if err := <-acks.done; err != nil {
						b.Fatal(err)
					}
				}
				held--
			}
			ts.waitForWaiters(b, benchWorkers)
		},
		func(i int) (time.Time, time.Time) {
			req, err := http.NewRequest("PUT", ts.URL+path(ns, "/flows"), bytes.NewReader(flowsDoc(fmt.Sprint("round", i))))
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+deploySecret)
			return streamstest.Deploy(b, ts.Client(), req)
		},
		func() time.Time {
			last := collect(b, wakes)
			if worker.holdAcks {
				held++
			}
			return last
		})
}

// BenchmarkPubSubNotify50 is the old module's notification: 50 subscribers
// on dedicated connections, one PUBLISH. It reports the time from PUBLISH
// returning to the last of the 50 messages (p50-us, p99-us; 0 when all
// came before, counted in early-%), and from sending it (sent-p50-us,
// sent-p99-us).
func BenchmarkPubSubNotify50(b *testing.B) {
	c := mustClient(b)
	channel := "bench:{" + randomNS(b) + "}:flows:updated"
	wakes := make(chan wake, benchWorkers)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait() }) // before the client's Close
	for range benchWorkers {
		dc, release := c.Dedicate()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer release()
			dc.Receive(ctx, dc.B().Subscribe().Channel(channel).Build(), func(rueidis.PubSubMessage) {
				select {
				case wakes <- wake{at: time.Now()}:
				case <-ctx.Done():
				}
			})
		}()
	}
	waitFor(b, "50 subscribers", func() bool {
		m, err := c.Do(ctx, c.B().PubsubNumsub().Channel(channel).Build()).AsIntMap()
		return err == nil && m[channel] == benchWorkers
	})

	streamstest.NotifyRounds(b, func() {},
		func(int) (time.Time, time.Time) { return streamstest.Publish(b, c, channel) },
		func() time.Time { return collect(b, wakes) })
}

// wake is one worker's (or subscriber's) news arriving.
type wake struct {
	at  time.Time
	err error
}

// poll is one worker: long-poll, ack what came, poll again, until ctx ends.
func poll(ctx context.Context, ts *testServer, ns, worker string, after domain.Revision, wakes chan<- wake, _ *ackGate) {
	auth := hdr{"Authorization": "Bearer " + readSecret}
	signal := func(w wake) {
		select {
		case wakes <- w:
		case <-ctx.Done():
		}
	}
	var ack domain.Revision
	for ctx.Err() == nil {
		res, err := ts.send(ctx, "GET", feedURL(ns, worker, after, "60s")+fmt.Sprintf("&ack=%d", ack), nil, auth)
		at := time.Now()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			signal(wake{err: err})
			return
		case res.status == http.StatusNoContent:
			continue
		case res.status != http.StatusOK:
			signal(wake{err: fmt.Errorf("feed: got status %d (%s), want 200", res.status, res.body)})
			return
		}
		var news feedNews
		if err := json.Unmarshal(res.body, &news); err != nil {
			signal(wake{err: err})
			return
		}
		// Acknowledged with the next poll.
		ack = news.Revision
		signal(wake{at: at})
	}
}

// follow is a worker on a streaming feed: read news lines, ack each (at
// once, or when acks lets it with hold), request the stream again when it
// ends, until ctx ends.
func follow(hold bool) benchWorker {
	return benchWorker{holdAcks: hold, run: func(ctx context.Context, ts *testServer, ns, worker string, after domain.Revision, wakes chan<- wake, acks *ackGate) {
		signal := func(w wake) {
			select {
			case wakes <- w:
			case <-ctx.Done():
			}
		}
		ack := func(rev domain.Revision) error {
			body := []byte(fmt.Sprintf(`{"worker":%q,"revision":%d}`, worker, rev))
			res, err := ts.send(ctx, "POST", path(ns, "/feed/ack"), body, hdr{"Authorization": "Bearer " + readSecret})
			if err == nil && res.status != http.StatusOK {
				err = fmt.Errorf("ack: got status %d (%s), want 200", res.status, res.body)
			}
			return err
		}
		for ctx.Err() == nil {
			err := ts.readStream(ctx, feedURL(ns, worker, after, "60s")+"&stream=1", func(news feedNews, at time.Time) error {
				signal(wake{at: at})
				if !hold {
					return ack(news.Revision)
				}
				select {
				case <-acks.release:
				case <-ctx.Done():
					return nil
				}
				acks.done <- ack(news.Revision)
				return nil
			})
			if err != nil && ctx.Err() == nil {
				signal(wake{err: err})
				return
			}
		}
	}}
}

// collect waits for the 50 wakes of a round and returns the last one's
// time.
func collect(b *testing.B, wakes <-chan wake) time.Time {
	b.Helper()
	var last time.Time
	timeout := time.After(10 * time.Second)
	for range benchWorkers {
		select {
		case w := <-wakes:
			if w.err != nil {
				b.Fatal(w.err)
			}
			if w.at.After(last) {
				last = w.at
			}
		case <-timeout:
			b.Fatalf("got fewer than %d wakes within 10s", benchWorkers)
		}
	}
	return last
}

func mustClient(tb testing.TB) rueidis.Client {
	tb.Helper()
	return streamstest.Client(tb, "")
}
