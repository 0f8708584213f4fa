package streams_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

// BenchmarkDeployEveryReplica is what Sentinel's default durability costs:
// on a primary with one replica (loopback), the old module's SET+PUBLISH
// baseline, flowhist's deploy without waiting, and flowhist's deploy
// waiting for every replica (the default under Sentinel), interleaved in
// the same run.
// Run: go test -run - -bench DeployEveryReplica -benchtime 300x ./streams/
func BenchmarkDeployEveryReplica(b *testing.B) {
	primary := valkeytest.Start(b)
	valkeytest.Start(b, "--replicaof", strings.Replace(primary.Addr, ":", " ", 1))
	c := mustClient(b, primary.Addr)
	ctx := testCtx(b)
	for deadline := time.Now().Add(10 * time.Second); ; {
		info, _ := c.Do(ctx, c.B().Info().Section("replication").Build()).ToString()
		if strings.Contains(info, "state=online") {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the replica did not come online")
		}
		time.Sleep(20 * time.Millisecond) // a replica syncing: nothing to wait on
	}
	// Interleaved, one of each per iteration, so that the machine's other
	// load falls on all three alike; reported as µs per deploy and as the
	// ratio to the baseline.
	const nodes = 200
	noWait, err := streams.New(c, streams.Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	every, err := streams.New(c, streams.Config{Durability: streams.Durability{EveryReplica: true, Required: true}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	every.SetReplicas(1)
	doc, ns := domaintest.NewDoc(nodes), streamstest.Namespace(b)
	nsNoWait, nsEvery := streamstest.Namespace(b), streamstest.Namespace(b)
	var base, plain, durable time.Duration
	timed := func(into *time.Duration, f func() error) {
		start := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		*into += time.Since(start)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		doc.Touch(i % nodes)
		body := doc.Bytes()
		timed(&base, func() error {
			if err := c.Do(ctx, c.B().Set().Key(ns+":flows").Value(string(body)).Build()).Error(); err != nil {
				return err
			}
			return c.Do(ctx, c.B().Publish().Channel(ns+":flows:updated").Message(strconv.FormatInt(time.Now().UnixMilli(), 10)).Build()).Error()
		})
		for _, run := range []struct {
			s    *streams.Store
			ns   string
			into *time.Duration
		}{{noWait, nsNoWait, &plain}, {every, nsEvery, &durable}} {
			timed(run.into, func() error {
				_, err := streamstest.AppendFlows(ctx, run.s, run.ns, domain.FlowsChange{Flows: mustParse(b, body)}, "")
				return err
			})
		}
	}
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(us(base), "µs/baseline")
	b.ReportMetric(us(plain), "µs/deploy-nowait")
	b.ReportMetric(us(durable), "µs/deploy-every-replica")
	b.ReportMetric(float64(plain)/float64(base), "nowait/baseline")
	b.ReportMetric(float64(durable)/float64(base), "every-replica/baseline")
}
