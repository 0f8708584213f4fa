package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

// BenchmarkWorkersNotify is issue 12's "a thousand workers per replica":
// for N = 50, 500 and 1 000, in one run, N streamed workers following one
// flowhist that each acknowledge as soon as they have the news, against N
// raw pub/sub subscribers. flowhist, Valkey and the listeners each run in
// their own process; each deploy is a one-node change to a ~1 MB document
// (BENCH_DOC_NODES=n: n nodes, 2 000 by default).
// Sub-benchmarks, per N:
//
//   - pubsub: the old module's notification, one PUBLISH to N subscribers;
//   - ack-post: streamed feed (GET stream=1), each worker acknowledging with
//     a POST …/feed/ack of its own;
//   - ack-duplex: streamed feed on POST …/feed, each worker acknowledging
//     with a line on that request's body, through Go's HTTP client;
//   - ack-duplex-conn: the same, each acknowledgement written straight on
//     the worker's connection (the Node-RED module's way, node:http);
//   - ack-after: streamed feed, acknowledging with POST …/feed/ack only
//     once all N heard (untimed): the fan-out alone, for comparison.
//
// Each reports p50-us and p99-us from the deploy's 200 (PUBLISH's return)
// to the last of the N hearing of it, sent-p50-us and sent-p99-us from
// sending it, fh-rss-MiB (flowhist's resident memory after the rounds) and
// valkey-conns (with the listeners connected, Valkey's clients but the
// benchmark's own).
//
//	go test -run '^$' -bench 'WorkersNotify/n=1000' -benchtime 30x -timeout 20m ./e2e/
//	make bench-feed
func BenchmarkWorkersNotify(b *testing.B) {
	for _, n := range []int{50, 500, 1000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.Run("pubsub", func(b *testing.B) { benchPubSub(b, n) })
			b.Run("ack-post", func(b *testing.B) { benchWorkers(b, n, "stream-post") })
			b.Run("ack-duplex", func(b *testing.B) { benchWorkers(b, n, "stream-duplex") })
			b.Run("ack-duplex-conn", func(b *testing.B) { benchWorkers(b, n, "stream-duplex-conn") })
			b.Run("ack-after", func(b *testing.B) { benchWorkers(b, n, "stream") })
		})
	}
}

func benchWorkers(b *testing.B, n int, role string) {
	dir := b.TempDir()
	token := randomHex(24)
	srv := valkeytest.Start(b)
	fh := startFlowhist(b, dir, fhConfig{valkeyAddr: srv.Addr, tokens: map[string]string{"deploy-bench": token}})
	ns := "bench-" + randomHex(4)
	base := fh.URL + "/v1/namespaces/" + ns
	doc := benchDoc()
	put := func(i int) (time.Time, time.Time) { return putDoc(b, base, token, doc, i) }
	put(0)
	lp := startListeners(b, role, "BENCH_N="+strconv.Itoa(n), "BENCH_URL="+base, "BENCH_TOKEN="+token, "BENCH_AFTER=1")
	rounds := 0
	ready := func() { waitFeedReady(b, fh, n, rounds*n, 60*time.Second) }
	ready()
	conns := valkeyClients(b, srv.Addr)
	streamstest.NotifyRounds(b, ready,
		func(i int) (time.Time, time.Time) { rounds++; return put(i + 1) },
		func() time.Time { return lp.last(b) })
	// After NotifyRounds, which resets the metrics.
	b.ReportMetric(rssMiB(b, fh.pid()), "fh-rss-MiB")
	b.ReportMetric(float64(conns), "valkey-conns")
}

func benchPubSub(b *testing.B, n int) {
	srv := valkeytest.Start(b)
	c := streamstest.Client(b, srv.Addr)
	channel := "nodered:flows:updated"
	lp := startListeners(b, "pubsub", "BENCH_N="+strconv.Itoa(n), "BENCH_ADDR="+srv.Addr, "BENCH_CHANNEL="+channel)
	ctx := context.Background()
	waitFor(b, 60*time.Second, fmt.Sprintf("%d subscribers", n), func() (bool, string) {
		m, err := c.Do(ctx, c.B().PubsubNumsub().Channel(channel).Build()).AsIntMap()
		return err == nil && m[channel] == int64(n), fmt.Sprint("subscribers: ", m[channel])
	})
	conns := valkeyClients(b, srv.Addr)
	streamstest.NotifyRounds(b, func() {},
		func(int) (time.Time, time.Time) { return streamstest.Publish(b, c, channel) },
		func() time.Time { return lp.last(b) })
	b.ReportMetric(float64(conns), "valkey-conns")
}

// benchDoc is the benchmarks' flows document: ~1 MB (2 000 nodes), or
// BENCH_DOC_NODES=n nodes.
func benchDoc() *domaintest.Doc {
	nodes := 2000
	if v, err := strconv.Atoi(os.Getenv("BENCH_DOC_NODES")); err == nil {
		nodes = v
	}
	return domaintest.NewDoc(nodes)
}

// putDoc deploys doc with node i%len changed to the namespace at base, and
// returns when it was sent and answered.
func putDoc(b *testing.B, base, token string, doc *domaintest.Doc, i int) (sent, answered time.Time) {
	doc.Touch(i % doc.Len())
	req, _ := http.NewRequest("PUT", base+"/flows", bytes.NewReader(doc.Bytes()))
	req.Header.Set("Authorization", "Bearer "+token)
	return streamstest.Deploy(b, client, req)
}

// waitFeedReady waits until n feed requests wait on fh and it has written
// acks acknowledgements.
func waitFeedReady(b *testing.B, fh *flowhist, n, acks int, within time.Duration) {
	b.Helper()
	want := fmt.Sprintf("flowhist_feed_waiters %d\n", n)
	waitFor(b, within, fmt.Sprintf("%d feed requests waiting, %d acknowledgements", n, acks), func() (bool, string) {
		_, body := get(fh.URL+"/metrics", nil)
		got := metricValue(body, "flowhist_feed_acks_total")
		return strings.Contains(body, want) && got >= float64(acks), fmt.Sprintf("waiting %v, acks %v", metricValue(body, "flowhist_feed_waiters"), got)
	})
}

// metricValue is the value of an unlabelled metric in a /metrics body, -1
// when absent.
func metricValue(body, name string) float64 {
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// rssMiB is the resident memory of process pid.
func rssMiB(b *testing.B, pid int) float64 { return procStatusMiB(b, pid, "VmRSS") }

// procStatusMiB is field (a size in kB) of /proc/PID/status, in MiB.
func procStatusMiB(b *testing.B, pid int, field string) float64 {
	b.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// valkeyClients is the number of clients Valkey at addr has, but the one
// asking.
func valkeyClients(b *testing.B, addr string) int {
	b.Helper()
	c := streamstest.Client(b, addr)
	info, err := c.Do(context.Background(), c.B().Info().Section("clients").Build()).ToString()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "connected_clients:"); ok {
			n, _ := strconv.Atoi(v)
			return n - 1
		}
	}
	b.Fatal("no connected_clients in INFO clients")
	return 0
}

// pid is the process's id.
func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}
