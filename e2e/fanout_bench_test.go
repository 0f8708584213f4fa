package e2e_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

// BenchmarkFeedFanout is issue 22's feed rows, at N = 1 000 and 10 000:
// N workers on the module's feed (POST …/feed, each acknowledgement a line
// on the request's body, written straight to the worker's connection as
// node:http does) against N subscribers of the old module's pub/sub, in
// the same run and the same rounds. flowhist, its valkey-server, the
// baseline's valkey-server and the listeners each run in processes of
// their own; the listeners are spread over processes of at most 2 500
// each (no process needs more than 20 000 open files), each worker's
// request waiting up to 30 minutes (http.feed_max_wait), so that the
// rounds measure the fan-out, not ten thousand workers asking again at
// the same moment every minute. Each round deploys
// a one-node change of a ~1 MB document (PUT …/flows) to flowhist, and
// then the old module's deploy to the baseline: SET of the same document
// and PUBLISH. It reports, from the start of each (the PUT, the SET; and
// the PUBLISH alone), p50-us and p99-us to the last of the N hearing:
// feed-, set-publish-, publish-; their ratios feed/publish and
// feed/set-publish at p50 and p99; and memory: flowhist's resident memory
// (fh-rss-MiB after the rounds, fh-peak-MiB its high-water mark), its
// growth per waiting worker from before the listeners connected to when
// they all wait (fh-wait-KiB/worker) and to after the rounds' deploys
// (fh-after-KiB/worker), against the baseline valkey-server's growth per
// subscriber measured the same way (valkey-wait-KiB/sub,
// valkey-after-KiB/sub), and their ratios. With -v it logs where
// flowhist's memory goes (the runtime's memory classes, its live heap and
// GC goal, smaps) before, waiting and after, per worker.
// BENCH_FH_MEMORY_LIMIT sets flowhist's memory_limit (e.g. 128MiB).
//
//	go test -run '^$' -bench 'FeedFanout/n=1000$' -benchtime 300x -timeout 30m ./e2e/
//	go test -run '^$' -bench 'FeedFanout/n=10000$' -benchtime 40x -timeout 30m ./e2e/
//	make bench-feed
func BenchmarkFeedFanout(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { benchFanout(b, n) })
	}
}

// fanoutPerProcess is the most listeners one listener process plays.
const fanoutPerProcess = 2500

func benchFanout(b *testing.B, n int) {
	dir := b.TempDir()
	deployToken := randomHex(24)
	procs := (n + fanoutPerProcess - 1) / fanoutPerProcess
	tokens := map[string]string{"deploy-bench": deployToken}
	listenerTokens := make([]string, procs)
	for i := range listenerTokens {
		// A token's limits.feeds (10 000 by default) covers one process's.
		listenerTokens[i] = randomHex(24)
		tokens[fmt.Sprintf("bench-listeners-%d", i)] = listenerTokens[i]
	}
	maxClients := strconv.Itoa(n + 100)
	fhValkey := valkeytest.Start(b, "--maxclients", maxClients)
	baseValkey := valkeytest.Start(b, "--maxclients", maxClients)
	fh := startFlowhist(b, dir, fhConfig{valkeyAddr: fhValkey.Addr, tokens: tokens,
		extra: fmt.Sprintf("http:\n  max_groups: %d\n  feed_max_wait: 30m\n", 2*n) + fhMemoryLimit(),
		// BENCH_FH_GOMEMLIMIT: flowhist's soft memory limit alone (not the
		// listeners'), e.g. 200MiB; BENCH_FH_GOGC its GOGC.
		env: fhMemLimit()})
	ns := "bench-" + randomHex(4)
	base := fh.URL + "/v1/namespaces/" + ns
	doc := benchDoc()
	put := func(i int) time.Time {
		sent, _ := putDoc(b, base, deployToken, doc, i)
		return sent
	}
	vc := streamstest.Client(b, baseValkey.Addr)
	ctx := context.Background()
	channel := "nodered:flows:updated"
	setPublish := func() (set, publish time.Time) {
		set = time.Now()
		if err := vc.Do(ctx, vc.B().Set().Key("nodered:flows").Value(string(doc.Bytes())).Build()).Error(); err != nil {
			b.Fatal(err)
		}
		publish, _ = streamstest.Publish(b, vc, channel)
		return set, publish
	}
	put(0)
	setPublish()
	fhBefore, vkBefore := rssMiB(b, fh.pid()), rssMiB(b, valkeyPid(b, baseValkey.Addr))
	memBefore := fhMemory(b, fh)

	// The feed's workers first, then the subscribers: thousands of each
	// connecting at once on two cores would starve both.
	var feeds, subs []*listenerProc
	for p := range procs {
		share := min(fanoutPerProcess, n-p*fanoutPerProcess)
		feeds = append(feeds, startListeners(b, "stream-duplex-conn", "BENCH_N="+strconv.Itoa(share), "BENCH_URL="+base,
			"BENCH_TOKEN="+listenerTokens[p], "BENCH_AFTER=1", fmt.Sprintf("BENCH_PREFIX=p%d-", p), "BENCH_RAMP=1ms", "BENCH_WAIT=30m"))
	}
	rounds := 0
	ready := func() { waitFeedReady(b, fh, n, rounds*n, 5*time.Minute) }
	ready()
	for p := range procs {
		share := min(fanoutPerProcess, n-p*fanoutPerProcess)
		subs = append(subs, startListeners(b, "pubsub", "BENCH_N="+strconv.Itoa(share), "BENCH_ADDR="+baseValkey.Addr, "BENCH_CHANNEL="+channel))
	}
	waitFor(b, 5*time.Minute, fmt.Sprintf("%d subscribers", n), func() (bool, string) {
		m, err := vc.Do(ctx, vc.B().PubsubNumsub().Channel(channel).Build()).AsIntMap()
		return err == nil && m[channel] == int64(n), fmt.Sprint("subscribers: ", m[channel])
	})
	ready()
	fhWaiting, vkWaiting := rssMiB(b, fh.pid()), rssMiB(b, valkeyPid(b, baseValkey.Addr))
	memWaiting := fhMemory(b, fh)
	last := func(ps []*listenerProc) time.Time {
		var t time.Time
		for _, p := range ps {
			if l := p.lastWithin(b, 5*time.Minute); l.After(t) {
				t = l
			}
		}
		return t
	}
	var feed, setPub, pub []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ready()
		b.StartTimer()
		sent := put(i + 1)
		rounds++
		feed = append(feed, last(feeds).Sub(sent))
		set, publish := setPublish()
		heard := last(subs)
		setPub, pub = append(setPub, heard.Sub(set)), append(pub, heard.Sub(publish))
	}
	b.StopTimer()
	ready()
	fhAfter, vkAfter := rssMiB(b, fh.pid()), rssMiB(b, valkeyPid(b, baseValkey.Addr))
	memAfter := fhMemory(b, fh)
	logMemory(b, n, memBefore, memWaiting, memAfter)
	streamstest.ReportPercentiles(b, "feed-", feed)
	streamstest.ReportPercentiles(b, "set-publish-", setPub)
	streamstest.ReportPercentiles(b, "publish-", pub)
	q := func(d []time.Duration, p int) float64 { return float64(d[len(d)*p/100]) } // sorted by ReportPercentiles
	b.ReportMetric(q(feed, 50)/q(pub, 50), "p50-feed/publish")
	b.ReportMetric(q(feed, 99)/q(pub, 99), "p99-feed/publish")
	b.ReportMetric(q(feed, 50)/q(setPub, 50), "p50-feed/set-publish")
	b.ReportMetric(q(feed, 99)/q(setPub, 99), "p99-feed/set-publish")
	perWorker := func(before, after float64) float64 { return (after - before) * 1024 / float64(n) }
	b.ReportMetric(fhAfter, "fh-rss-MiB")
	b.ReportMetric(peakMiB(b, fh.pid()), "fh-peak-MiB")
	b.ReportMetric(perWorker(fhBefore, fhWaiting), "fh-wait-KiB/worker")
	b.ReportMetric(perWorker(fhBefore, fhAfter), "fh-after-KiB/worker")
	b.ReportMetric(perWorker(vkBefore, vkWaiting), "valkey-wait-KiB/sub")
	b.ReportMetric(perWorker(vkBefore, vkAfter), "valkey-after-KiB/sub")
	b.ReportMetric(perWorker(fhBefore, fhWaiting)/perWorker(vkBefore, vkWaiting), "wait-KiB-feed/pubsub")
	b.ReportMetric(perWorker(fhBefore, fhAfter)/perWorker(vkBefore, vkAfter), "after-KiB-feed/pubsub")
}

// fhMemoryClasses are where flowhist's memory goes, as /metrics and
// /proc/PID/smaps_rollup say it: the Go runtime's memory classes, the
// GC's live heap and goal, the resident memory.
var fhMemoryClasses = []string{
	"go_memory_classes_heap_objects_bytes",  // heap in use (live and not yet collected)
	"go_memory_classes_heap_unused_bytes",   // in use spans' free slots
	"go_memory_classes_heap_free_bytes",     // free spans, still resident
	"go_memory_classes_heap_released_bytes", // free spans given back to the OS
	"go_memory_classes_heap_stacks_bytes",   // goroutine stacks
	"go_memory_classes_metadata_mspan_inuse_bytes",
	"go_memory_classes_metadata_other_bytes", // GC bitmaps, pollDescs' and the like
	"go_memory_classes_other_bytes",
	"go_memory_classes_os_stacks_bytes",
	"go_memory_classes_total_bytes", // mapped (resident or not)
	"go_gc_heap_live_bytes",         // live after the last GC
	"go_gc_heap_goal_bytes",         // where the next GC starts
	"smaps Rss", "smaps Anonymous", "smaps AnonHugePages",
}

// fhMemory reads fhMemoryClasses of flowhist now, in bytes.
func fhMemory(b *testing.B, fh *flowhist) map[string]float64 {
	b.Helper()
	m := map[string]float64{}
	_, body := get(fh.URL+"/metrics", nil)
	smaps, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", fh.pid()))
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range fhMemoryClasses {
		if field, ok := strings.CutPrefix(name, "smaps "); ok {
			for _, line := range strings.Split(string(smaps), "\n") {
				if v, ok := strings.CutPrefix(line, field+":"); ok {
					kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
					m[name] = kb * 1024
				}
			}
			continue
		}
		m[name] = metricValue(body, name)
	}
	return m
}

// logMemory logs each of fhMemoryClasses before the workers connected,
// with all n waiting and after the rounds, in MiB, and its growth per
// worker in KiB.
func logMemory(b *testing.B, n int, before, waiting, after map[string]float64) {
	var w strings.Builder
	fmt.Fprintf(&w, "flowhist's memory, MiB (KiB/worker from before): %-46s %8s %18s %18s\n", "", "before", "waiting", "after")
	for _, name := range fhMemoryClasses {
		mib := func(v float64) float64 { return v / (1 << 20) }
		per := func(v float64) float64 { return (v - before[name]) / 1024 / float64(n) }
		fmt.Fprintf(&w, "%-46s %8.1f %8.1f (%6.2f) %8.1f (%6.2f)\n", name, mib(before[name]), mib(waiting[name]), per(waiting[name]), mib(after[name]), per(after[name]))
	}
	b.Log(w.String())
}

// lastWithin is last, waiting up to within for the round's line (a round
// of 10 000 listeners takes longer than the 10 s last allows).
func (lp *listenerProc) lastWithin(b *testing.B, within time.Duration) time.Time {
	b.Helper()
	ns, err := strconv.ParseInt(lp.lineWithin(b, within), 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return time.Unix(0, ns)
}

// peakMiB is the high-water mark of process pid's resident memory.
func peakMiB(b *testing.B, pid int) float64 { return procStatusMiB(b, pid, "VmHWM") }

// valkeyPid is the process id of the valkey-server at addr.
func valkeyPid(b *testing.B, addr string) int {
	b.Helper()
	c := streamstest.Client(b, addr)
	info, err := c.Do(context.Background(), c.B().Info().Section("server").Build()).ToString()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "process_id:"); ok {
			pid, err := strconv.Atoi(v)
			if err != nil {
				b.Fatal(err)
			}
			return pid
		}
	}
	b.Fatal("no process_id in INFO server")
	return 0
}

// fhMemoryLimit is flowhist's memory_limit option from
// BENCH_FH_MEMORY_LIMIT (e.g. 230MiB, what auto sets in a 256 MiB
// container), none if unset.
func fhMemoryLimit() string {
	if v := os.Getenv("BENCH_FH_MEMORY_LIMIT"); v != "" {
		return "memory_limit: " + v + "\n"
	}
	return ""
}

// fhMemLimit is flowhist's environment for BENCH_FH_GOMEMLIMIT and
// BENCH_FH_GOGC (its GC's target alone, e.g. 50).
func fhMemLimit() []string {
	var env []string
	if v := os.Getenv("BENCH_FH_GOMEMLIMIT"); v != "" {
		env = append(env, "GOMEMLIMIT="+v)
	}
	if v := os.Getenv("BENCH_FH_GOGC"); v != "" {
		env = append(env, "GOGC="+v)
	}
	return env
}
