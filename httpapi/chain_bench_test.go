//go:build benchhooks

package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams"
)

// BenchmarkDeployPUTChain is BenchmarkDeployPUT with the hash chain on and
// off in the same run: deploys alternate between a namespace appended with
// the chain and one without (streams.SetChainForBenchmarks, which exists
// only under the benchhooks tag, turns it off for that namespace), and it reports each one's p50 and p99 and
// what the chain adds to the p50. Goal: at most 5%.
//
//	go test -tags benchhooks -run '^$' -bench DeployPUTChain -benchtime 400x ./httpapi/
func BenchmarkDeployPUTChain(b *testing.B) {
	ts := mustServer(b, httpapi.Config{})
	client := ts.Client()
	type arm struct {
		ns  string
		doc *domaintest.Doc
		d   []time.Duration
	}
	arms := [2]*arm{} // 0: chain on, 1: off
	for i := range arms {
		arms[i] = &arm{ns: randomNS(b), doc: domaintest.NewDoc(benchNodes)}
		streams.SetChainForBenchmarks(arms[i].ns, i == 0)
		ts.ok(b, "PUT", path(arms[i].ns, "/flows"), arms[i].doc.Bytes(), nil, nil)
	}
	b.SetBytes(int64(len(arms[0].doc.Bytes())))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := arms[i%2]
		a.doc.Touch((i / 2) % benchNodes)
		req, err := http.NewRequest("PUT", ts.URL+path(a.ns, "/flows"), bytes.NewReader(a.doc.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+deploySecret)
		t0 := time.Now()
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		a.d = append(a.d, time.Since(t0))
		if err != nil || res.StatusCode != http.StatusOK {
			b.Fatalf("PUT: got status %d (%v), want 200", res.StatusCode, err)
		}
	}
	b.StopTimer()
	p := func(d []time.Duration, q int) float64 {
		slices.Sort(d)
		return float64(d[len(d)*q/100].Microseconds())
	}
	if len(arms[1].d) == 0 {
		return
	}
	on, off := p(arms[0].d, 50), p(arms[1].d, 50)
	b.ReportMetric(on, "chain-p50-us")
	b.ReportMetric(off, "nochain-p50-us")
	b.ReportMetric(p(arms[0].d, 99), "chain-p99-us")
	b.ReportMetric(p(arms[1].d, 99), "nochain-p99-us")
	b.ReportMetric(100*(on-off)/off, "chain-added-%")
	b.ReportMetric(0, "ns/op")
}
