package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
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
	// Thousands of listeners take a while to connect.
	if l := lp.lineWithin(b, 2*time.Minute); l != "ready" {
		b.Fatalf("listener process said %q, want ready", l)
	}
	return lp
}

func (lp *listenerProc) line(b *testing.B) string {
	b.Helper()
	return lp.lineWithin(b, 10*time.Second)
}

// lineWithin is the listener process's next line, waiting up to within.
func (lp *listenerProc) lineWithin(b *testing.B, within time.Duration) string {
	b.Helper()
	select {
	case l, ok := <-lp.lines:
		if !ok {
			b.Fatal("the listener process ended")
		}
		return l
	case <-time.After(within):
		b.Fatalf("the listener process said nothing for %s", within)
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

// runListeners is the listener process: BENCH_N listeners (50 if unset)
// in the role its environment names (see listen). It prints "ready", then
// for each round the Unix nanoseconds at which its last listener heard,
// once every listener heard and, in the roles that acknowledge at once,
// every acknowledgement was sent.
func runListeners(role string) int {
	n := listeners
	if v := os.Getenv("BENCH_N"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	l := &listenerSet{
		n: n, role: role,
		base: os.Getenv("BENCH_URL"), token: os.Getenv("BENCH_TOKEN"),
		wakes:   make(chan time.Time, n),
		release: make(chan struct{}, n), acked: make(chan struct{}, n),
		hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * n, MaxConnsPerHost: 0}},
	}
	l.after, _ = strconv.Atoi(os.Getenv("BENCH_AFTER"))
	if l.prefix = os.Getenv("BENCH_PREFIX"); l.prefix == "" {
		l.prefix = "w"
	}
	if l.wait = os.Getenv("BENCH_WAIT"); l.wait == "" {
		l.wait = "60s"
	}
	if err := l.listen(); err != nil {
		l.fail(err)
	}
	fmt.Println("ready")
	for {
		var last time.Time
		for range n {
			if t := <-l.wakes; t.After(last) {
				last = t
			}
		}
		switch role {
		case "stream":
			// The round is over: let the acknowledgements go, before the
			// next round can start.
			for range n {
				l.release <- struct{}{}
			}
			for range n {
				<-l.acked
			}
		case "stream-post", "stream-duplex", "stream-duplex-conn":
			for range n {
				<-l.acked
			}
		}
		fmt.Println(last.UnixNano())
	}
}

// listenerSet is the listener process's listeners.
type listenerSet struct {
	n           int
	role        string
	base, token string
	after       int
	prefix      string // of its workers' ids (BENCH_PREFIX, "w" if unset)
	wait        string // of a duplex-conn worker's request (BENCH_WAIT, 60s if unset)
	hc          *http.Client
	wakes       chan time.Time
	release     chan struct{} // "stream": one token per acknowledgement
	acked       chan struct{} // an acknowledgement was sent
}

func (l *listenerSet) fail(err error) {
	fmt.Fprintln(os.Stderr, "bench listeners:", err)
	os.Exit(1)
}

// request is one request of l's listeners whose answer streams.
func (l *listenerSet) request(method, path string, body io.Reader) (*http.Response, error) {
	req, _ := http.NewRequest(method, l.base+path, body)
	req.Header.Set("Authorization", "Bearer "+l.token)
	return l.hc.Do(req)
}

// do is one request of l's listeners, answer read (send).
func (l *listenerSet) do(method, path string, body []byte) (int, []byte, error) {
	a := send(l.hc, method, l.base+path, body, http.Header{"Authorization": {"Bearer " + l.token}})
	return a.status, a.body, a.err
}

// listen starts the listeners of l's role:
//   - feed: long-polling workers, each polling again at once with the ack
//     (ack=REV);
//   - stream: streamed-feed workers (GET stream=1) acknowledging with POST
//     …/feed/ack once the round is over;
//   - stream-post: the same, acknowledging with POST …/feed/ack at once;
//   - stream-duplex: workers on POST …/feed, acknowledging at once with a
//     line on the request's own body;
//   - stream-duplex-conn: the same on a connection of the worker's own,
//     each acknowledgement one write to it (as node:http writes a chunk),
//     not a hand-off through a pipe to the transport's writer;
//   - pubsub: the old module's subscribers, one connection each.
func (l *listenerSet) listen() error {
	switch l.role {
	case "feed":
		for w := range l.n {
			go l.poll(fmt.Sprintf("%s%04d", l.prefix, w))
		}
	case "stream", "stream-post":
		for w := range l.n {
			go l.stream(fmt.Sprintf("%s%04d", l.prefix, w))
		}
	case "stream-duplex":
		for w := range l.n {
			go l.duplex(fmt.Sprintf("%s%04d", l.prefix, w))
		}
	case "stream-duplex-conn":
		// BENCH_RAMP spaces the workers' first requests, as a fleet's
		// starts are (thousands at once are a storm of their own).
		ramp, _ := time.ParseDuration(os.Getenv("BENCH_RAMP"))
		for w := range l.n {
			go l.duplexConn(fmt.Sprintf("%s%04d", l.prefix, w))
			time.Sleep(ramp)
		}
	case "pubsub":
		// A subscriber holds one of the client's dedicated connections
		// (1 000 by default) for good.
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{os.Getenv("BENCH_ADDR")}, DisableCache: true, BlockingPoolSize: l.n + 1})
		if err != nil {
			return err
		}
		channel := os.Getenv("BENCH_CHANNEL")
		for range l.n {
			dc, _ := c.Dedicate()
			go dc.Receive(context.Background(), dc.B().Subscribe().Channel(channel).Build(), func(rueidis.PubSubMessage) {
				l.wakes <- time.Now()
			})
		}
	default:
		return fmt.Errorf("unknown role %q", l.role)
	}
	return nil
}

func (l *listenerSet) poll(worker string) {
	at := l.after
	for {
		status, body, err := l.do("GET", fmt.Sprintf("/feed?worker=%s&after=%d&ack=%d&wait=60s", worker, l.after, at), nil)
		now := time.Now()
		switch {
		case err != nil:
			l.fail(err)
		case status == http.StatusNoContent:
			continue
		case status != http.StatusOK:
			l.fail(fmt.Errorf("feed: %d %s", status, body))
		}
		var news struct{ Revision int }
		if err := json.Unmarshal(body, &news); err != nil {
			l.fail(err)
		}
		at = news.Revision
		l.wakes <- now
	}
}

func (l *listenerSet) stream(worker string) {
	for {
		res, err := l.request("GET", fmt.Sprintf("/feed?worker=%s&after=%d&wait=60s&stream=1", worker, l.after), nil)
		if err != nil {
			l.fail(err)
		}
		if res.StatusCode != http.StatusOK {
			l.fail(fmt.Errorf("feed: %d", res.StatusCode))
		}
		l.hear(res.Body, func(rev int) error {
			if l.role == "stream" {
				<-l.release
			}
			ack := []byte(fmt.Sprintf(`{"worker":%q,"revision":%d}`, worker, rev))
			if status, body, err := l.do("POST", "/feed/ack", ack); err != nil || status != http.StatusOK {
				return fmt.Errorf("%d %s %v", status, body, err)
			}
			return nil
		})
		res.Body.Close()
	}
}

// duplex is a worker on POST …/feed: news lines come on the answer, its
// acknowledgements go as lines on the request body.
func (l *listenerSet) duplex(worker string) {
	for {
		acks, w := io.Pipe()
		res, err := l.request("POST", fmt.Sprintf("/feed?worker=%s&after=%d&wait=60s", worker, l.after), acks)
		if err != nil {
			l.fail(err)
		}
		if res.StatusCode != http.StatusOK {
			l.fail(fmt.Errorf("feed: %d", res.StatusCode))
		}
		l.hear(res.Body, func(rev int) error {
			_, err := fmt.Fprintf(w, "{\"ack\":%d}\n", rev)
			return err
		})
		w.Close()
		res.Body.Close()
	}
}

// duplexConn is duplex on a connection of its own: the request and each
// acknowledgement (a chunk of the request's body) written straight to it.
func (l *listenerSet) duplexConn(worker string) {
	u, err := url.Parse(l.base)
	if err != nil {
		l.fail(err)
	}
	for {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			l.fail(err)
		}
		path := fmt.Sprintf("%s/feed?worker=%s&after=%d&wait=%s", u.Path, worker, l.after, l.wait)
		head := "POST " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nAuthorization: Bearer " + l.token +
			"\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
		if _, err := io.WriteString(conn, head); err != nil {
			l.fail(err)
		}
		br := bufio.NewReader(conn)
		res, err := http.ReadResponse(br, &http.Request{Method: "POST"})
		if err != nil {
			l.fail(err)
		}
		if res.StatusCode == http.StatusServiceUnavailable || res.StatusCode == http.StatusTooManyRequests {
			// Thousands connecting at once can outrun flowhist's Valkey
			// deadline, or its limits: a worker asks again, as the module
			// does.
			conn.Close()
			time.Sleep(time.Duration(200+rand.IntN(800)) * time.Millisecond)
			continue
		}
		if res.StatusCode != http.StatusOK {
			l.fail(fmt.Errorf("feed: %d", res.StatusCode))
		}
		var ack []byte
		l.hear(res.Body, func(rev int) error {
			line := fmt.Appendf(nil, "{\"ack\":%d}\n", rev)
			ack = fmt.Appendf(ack[:0], "%x\r\n%s\r\n", len(line), line)
			_, err := conn.Write(ack)
			return err
		})
		conn.Close()
	}
}

// hear reads a streamed feed answer's news lines (readNews): the time each
// was heard goes to wakes, then ack acknowledges its revision.
func (l *listenerSet) hear(body io.Reader, ack func(rev int) error) {
	err := readNews(body, func(rev uint64, at time.Time) error {
		l.wakes <- at
		if err := ack(int(rev)); err != nil {
			return fmt.Errorf("ack: %v", err)
		}
		l.acked <- struct{}{}
		return nil
	})
	if err != nil {
		l.fail(err)
	}
}
