package httpapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowhist/flowhist/httpapi"
)

// BenchmarkHealthReports1000 is what health reports from 1 000 workers
// cost: each op is one report (PUT workers/{id}/health, a probe result
// and a ring whose gate judges it) from one of 1 000 workers, 8 at a time.
// It reports the CPU time of this process per report (server and the
// test's HTTP client together: an upper bound of the server's) and what
// that is, as a share of one core, at 1 000 workers reporting every 5 s
// (200 reports a second):
//
//	go test -run '^$' -bench HealthReports1000 -benchtime 20000x ./httpapi/
func BenchmarkHealthReports1000(b *testing.B) {
	ts := mustServer(b, httpapi.Config{})
	ts.Client().Transport.(*http.Transport).MaxIdleConnsPerHost = 16
	ns := randomNS(b)
	ts.ok(b, "PUT", path(ns, "/flows"), flowsDoc("start"), nil, nil)
	ts.ok(b, "PUT", path(ns, "/rollout/policy"), []byte(`{"rings":[{"name":"canary","bake":"10s","gate":{"probes":[{"path":"/health","status":200}]}},{"name":"default"}]}`), nil, nil)
	head := ts.head(b, ns)
	report := func(i int) error {
		body := fmt.Sprintf(`{"ring":"canary","revision":%d,"id":"0190aaaa-0000-7000-8000-000000000000","applied":"2026-12-07T10:00:00Z","started":true,"failedTypes":[],"missingTypes":[],"errors":0,"restarts":0,"probes":[{"path":"/health","status":200,"ok":true,"error":""}],"message":""}`, head)
		req, _ := http.NewRequest("PUT", ts.URL+path(ns, fmt.Sprintf("/workers/w%04d/health", i%1000)), bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+readSecret)
		res, err := ts.Client().Do(req)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("got status %d, want 200", res.StatusCode)
		}
		return nil
	}
	for i := range 1000 { // every worker has a stored report before the clock starts
		if err := report(i); err != nil {
			b.Fatal(err)
		}
	}
	before := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failure error
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := report(i); err != nil {
					mu.Lock()
					failure = err
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	b.StopTimer()
	if failure != nil {
		b.Fatal(failure)
	}
	per := (cpuTime() - before) / time.Duration(b.N)
	b.ReportMetric(float64(per.Microseconds()), "cpu-us/report")
	b.ReportMetric(100*per.Seconds()*200, "core-%@1000/5s")
}

// cpuTime is the user and system CPU time this process used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
