package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/redis/rueidis"
)

// The notification benchmarks as deployed: flowhist runs as its own binary
// (as valkey-server does for the baseline), the 50 listeners (feed workers,
// or the old module's pub/sub subscribers) run in a second process of this
// test binary, and this process deploys (or publishes) and times. Each
// reports the time from the deploy's 200 (the PUBLISH's return) to the last
// of the 50 listeners hearing of it (p50-us, p99-us; 0 when all heard
// before, counted in early-%), and from sending it (sent-p50-us,
// sent-p99-us). httpapi has in-process versions of both.
//
//	go test -run '^$' -bench Notify50 -benchtime 200x ./e2e/

const (
	listenerEnv = "FLOWHIST_BENCH_LISTENERS"
	listeners   = 50
)

// BenchmarkFeedNotify50: 50 long-polling workers, each polling again at
// once with the ack (ack=REV).
func BenchmarkFeedNotify50(b *testing.B) { benchFeed(b, "feed") }

// BenchmarkFeedStreamNotify50: 50 workers on streamed feeds (stream=1), as
// the Node-RED module follows it, acknowledging once all 50 heard (the
// module acknowledges after its reload, tens of milliseconds later).
func BenchmarkFeedStreamNotify50(b *testing.B) { benchFeed(b, "stream") }

func benchFeed(b *testing.B, role string) {
	dir := b.TempDir()
	token := randomHex(24)
	fh := startFlowhist(b, dir, fhConfig{valkeyAddr: valkeytest.Start(b).Addr, tokens: map[string]string{"deploy-bench": token}})
	ns := "bench-" + randomHex(4)
	base := fh.URL + "/v1/namespaces/" + ns
	put := func(tag string) (time.Time, time.Time) {
		req, _ := http.NewRequest("PUT", base+"/flows", strings.NewReader(fmt.Sprintf(`[{"id":"t1","type":"tab","label":%q}]`, tag)))
		req.Header.Set("Authorization", "Bearer "+token)
		return streamstest.Deploy(b, client, req)
	}
	put("start")
	lp := startListeners(b, role, "BENCH_URL="+base, "BENCH_TOKEN="+token, "BENCH_AFTER=1")
	waiting := func() (bool, string) {
		_, body := get(fh.URL+"/metrics", nil)
		return strings.Contains(body, fmt.Sprintf("flowhist_feed_waiters %d\n", listeners)), "not every listener waits yet"
	}
	streamstest.NotifyRounds(b,
		func() { waitFor(b, 10*time.Second, "50 feed requests waiting", waiting) },
		func(i int) (time.Time, time.Time) { return put(fmt.Sprint("round ", i)) },
		func() time.Time { return lp.last(b) })
}

func BenchmarkPubSubNotify50(b *testing.B) {
	srv := valkeytest.Start(b)
	c := streamstest.Client(b, srv.Addr)
	channel := "nodered:flows:updated"
	lp := startListeners(b, "pubsub", "BENCH_ADDR="+srv.Addr, "BENCH_CHANNEL="+channel)
	ctx := context.Background()
	waitFor(b, 10*time.Second, "50 subscribers", func() (bool, string) {
		m, err := c.Do(ctx, c.B().PubsubNumsub().Channel(channel).Build()).AsIntMap()
		return err == nil && m[channel] == listeners, "not every subscriber yet"
	})
	streamstest.NotifyRounds(b, func() {},
		func(int) (time.Time, time.Time) { return streamstest.Publish(b, c, channel) },
		func() time.Time { return lp.last(b) })
}

// listenerProc is the process playing the 50 listeners.
type listenerProc struct{ lines chan string }

func startListeners(b *testing.B, role string, env ...string) *listenerProc {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, listenerEnv+"="+role)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lp := &listenerProc{lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lp.lines <- sc.Text()
		}
		close(lp.lines)
	}()
	if l := lp.line(b); l != "ready" {
		b.Fatalf("listener process said %q, want ready", l)
	}
	return lp
}

func (lp *listenerProc) line(b *testing.B) string {
	b.Helper()
	select {
	case l, ok := <-lp.lines:
		if !ok {
			b.Fatal("the listener process ended")
		}
		return l
	case <-time.After(10 * time.Second):
		b.Fatal("the listener process said nothing for 10 s")
	}
	return ""
}

// last returns when the round's last listener heard of the change.
func (lp *listenerProc) last(b *testing.B) time.Time {
	b.Helper()
	ns, err := strconv.ParseInt(lp.line(b), 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return time.Unix(0, ns)
}

// runListeners is the listener process: 50 feed workers (long-poll, poll
// again with the ack), 50 streamed-feed workers (ack after the round) or 50
// pub/sub subscribers. It prints "ready", then for each round the Unix
// nanoseconds at which its last listener heard.
func runListeners(role string) int {
	wakes := make(chan time.Time, listeners)
	release, acked := make(chan struct{}, listeners), make(chan struct{}, listeners)
	fail := func(err error) { fmt.Fprintln(os.Stderr, "bench listeners:", err); os.Exit(1) }
	base, token := os.Getenv("BENCH_URL"), os.Getenv("BENCH_TOKEN")
	after, _ := strconv.Atoi(os.Getenv("BENCH_AFTER"))
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * listeners}}
	request := func(method, path string, body []byte) (*http.Response, error) {
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		return hc.Do(req)
	}
	do := func(method, path string, body []byte) (int, []byte, error) {
		res, err := request(method, path, body)
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res.StatusCode, b, err
	}
	switch role {
	case "feed":
		for w := range listeners {
			go func() {
				worker, at := fmt.Sprintf("w%02d", w), after
				for {
					status, body, err := do("GET", fmt.Sprintf("/feed?worker=%s&after=%d&ack=%d&wait=60s", worker, after, at), nil)
					now := time.Now()
					switch {
					case err != nil:
						fail(err)
					case status == http.StatusNoContent:
						continue
					case status != http.StatusOK:
						fail(fmt.Errorf("feed: %d %s", status, body))
					}
					var news struct{ Revision int }
					if err := json.Unmarshal(body, &news); err != nil {
						fail(err)
					}
					at = news.Revision
					wakes <- now
				}
			}()
		}
	case "stream":
		for w := range listeners {
			go func() {
				worker := fmt.Sprintf("w%02d", w)
				for {
					res, err := request("GET", fmt.Sprintf("/feed?worker=%s&after=%d&wait=60s&stream=1", worker, after), nil)
					if err != nil {
						fail(err)
					}
					if res.StatusCode != http.StatusOK {
						fail(fmt.Errorf("feed: %d", res.StatusCode))
					}
					lines := bufio.NewScanner(res.Body)
					for lines.Scan() {
						now := time.Now()
						var news struct{ Revision int }
						if err := json.Unmarshal(lines.Bytes(), &news); err != nil {
							fail(err)
						}
						wakes <- now
						<-release
						ack := []byte(fmt.Sprintf(`{"worker":%q,"revision":%d}`, worker, news.Revision))
						if status, body, err := do("POST", "/feed/ack", ack); err != nil || status != http.StatusOK {
							fail(fmt.Errorf("ack: %d %s %v", status, body, err))
						}
						acked <- struct{}{}
					}
					if err := lines.Err(); err != nil {
						fail(err)
					}
					res.Body.Close()
				}
			}()
		}
	case "pubsub":
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{os.Getenv("BENCH_ADDR")}, DisableCache: true})
		if err != nil {
			fail(err)
		}
		channel := os.Getenv("BENCH_CHANNEL")
		for range listeners {
			dc, _ := c.Dedicate()
			go dc.Receive(context.Background(), dc.B().Subscribe().Channel(channel).Build(), func(rueidis.PubSubMessage) {
				wakes <- time.Now()
			})
		}
	default:
		fail(fmt.Errorf("unknown role %q", role))
	}
	fmt.Println("ready")
	for {
		var last time.Time
		for range listeners {
			if t := <-wakes; t.After(last) {
				last = t
			}
		}
		if role == "stream" {
			// The round is over: let the acknowledgements go, before the
			// next round can start.
			for range listeners {
				release <- struct{}{}
			}
			for range listeners {
				<-acked
			}
		}
		fmt.Println(last.UnixNano())
	}
}
