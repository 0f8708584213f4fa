package httpapi_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"

	"github.com/flowhist/flowhist/httpapi"
)

// BenchmarkFeedWaiterMemory is what one waiting duplex worker costs
// flowhist: 4 000 raw connections (no client-side goroutine, so what the
// process holds more is the server's) each send POST …/feed's head and
// wait. It reports the Go heap, the goroutine stacks and the goroutines per
// waiter, measured after a GC with all waiting against before any
// connected. BENCH_HEAPPROFILE=path writes the heap profile then, with
// every allocation in it (go tool pprof -sample_index=inuse_space).
//
//	go test -run '^$' -bench FeedWaiterMemory -benchtime 1x ./httpapi/
func BenchmarkFeedWaiterMemory(b *testing.B) {
	const n = 4000
	if os.Getenv("BENCH_HEAPPROFILE") != "" {
		// Every allocation in the profile, not a sample: what one waiter
		// holds is a few hundred bytes a site.
		runtime.MemProfileRate = 1
	}
	// Measured once, whatever b.N.
	{
		ts := mustServer(b, httpapi.Config{})
		ns := randomNS(b)
		ts.ok(b, "PUT", path(ns, "/flows"), flowsDoc("start"), nil, nil)
		after := ts.head(b, ns)
		// One worker first: the namespace's tail and the process's
		// first-use allocations are not a waiter's.
		conns := make([]net.Conn, 0, n+1)
		b.Cleanup(func() {
			for _, c := range conns {
				c.Close()
			}
		})
		open := func(i int) {
			c, err := net.Dial("tcp", ts.Listener.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
			p := feedURL(ns, fmt.Sprintf("m%05d", i), after, "10m")
			io.WriteString(c, "POST "+p+" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+readSecret+"\r\nTransfer-Encoding: chunked\r\n\r\n")
		}
		open(n)
		ts.waitForWaiters(b, 1)
		before := memNow()
		for i := range n {
			open(i)
		}
		ts.waitForWaiters(b, n+1)
		now := memNow()
		if p := os.Getenv("BENCH_HEAPPROFILE"); p != "" {
			f, err := os.Create(p)
			if err != nil {
				b.Fatal(err)
			}
			pprof.WriteHeapProfile(f)
			f.Close()
		}
		b.ReportMetric(float64(now.heap-before.heap)/n, "heap-B/waiter")
		b.ReportMetric(float64(now.stack-before.stack)/n, "stack-B/waiter")
		b.ReportMetric(float64(now.goroutines-before.goroutines)/n, "goroutines/waiter")
		b.ReportMetric(float64(now.heap+now.stack-before.heap-before.stack)/n, "B/waiter")
	}
	for range b.N {
	}
}

type memUse struct{ heap, stack, goroutines int }

// memNow is the process's Go heap and stacks in use after a GC.
func memNow() memUse {
	// Each GC halves the stacks that use less than a quarter of theirs.
	for range 5 {
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memUse{heap: int(m.HeapInuse), stack: int(m.StackInuse), goroutines: runtime.NumGoroutine()}
}
