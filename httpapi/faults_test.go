package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

// everyRoute is one valid request to each route of the API with a
// namespace; {ns} is replaced.
var everyRoute = []struct{ method, path, body string }{
	{"GET", "/flows", ""},
	{"PUT", "/flows", `[{"id":"a","type":"tab"}]`},
	{"POST", "/deploy", `{"flows":[{"id":"a","type":"tab"}],"credentials":{"$":"00"}}`},
	{"GET", "/credentials", ""},
	{"PUT", "/credentials", `{"$":"00"}`},
	{"GET", "/settings", ""},
	{"PUT", "/settings", `{"a":1}`},
	{"GET", "/sessions", ""},
	{"PUT", "/sessions", `{}`},
	{"GET", "/library/flows?path=", ""},
	{"PUT", "/library/flows?path=a/b", `{"meta":{},"body":"[]"}`},
	{"GET", "/feed?worker=w1&wait=1s", ""},
	{"GET", "/feed?worker=w1&wait=1s&stream=1", ""},
	{"POST", "/feed/ack", `{"worker":"w1","revision":1}`},
	{"GET", "/workers", ""},
	{"PUT", "/workers/w1/packages", `{"revision":1,"ok":true,"packages":[]}`},
	{"GET", "/history", ""},
	{"GET", "/revisions/1", ""},
	{"GET", "/revisions/1/flows", ""},
	{"GET", "/diff?from=1&to=2", ""},
	{"GET", "/nodes/a/history", ""},
	{"POST", "/rollback", `{"to":1,"reason":"test"}`},
	{"GET", "/flows?ring=canary", ""},
	{"GET", "/credentials?ring=canary", ""},
	{"GET", "/feed?worker=w1&ring=canary&wait=1s", ""},
	{"PUT", "/workers/w1/health", `{"ring":"canary","started":true}`},
	{"GET", "/rollout", ""},
	{"GET", "/rollout/policy", ""},
	{"PUT", "/rollout/policy", `{"rings":[{"name":"canary"}]}`},
	{"DELETE", "/rollout/policy", ""},
	{"POST", "/rollout/pause", ""},
}

// TestValkeyFaults breaks the server's Valkey for real and calls every
// route, on a namespace the server has served and on one it has never
// seen: each answers 503 unavailable, as JSON with Retry-After, within 2 s;
// /readyz says why; once Valkey is back everything works again by itself.
func TestValkeyFaults(t *testing.T) {
	t.Parallel()
	for _, fault := range []struct {
		name        string
		break_, fix func(*valkeytest.Server)
		why         string
		// sentLand: writes sent during the fault reach Valkey when it is
		// fixed (they answered 503: "may have landed").
		sentLand bool
	}{
		{"Killed", (*valkeytest.Server).Kill, func(s *valkeytest.Server) { s.Restart(t) }, "unreachable", false},
		{"Hung", (*valkeytest.Server).Pause, (*valkeytest.Server).Resume, "deadline", true},
	} {
		t.Run(fault.name, func(t *testing.T) {
			t.Parallel()
			srv := valkeytest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
			ts := mustServerAt(t, srv.Addr, httpapi.Config{RequestTimeout: time.Second})
			ts.api.SetReady(true)
			known := randomNS(t)
			ts.ok(t, "PUT", path(known, "/flows"), []byte(`[{"id":"a","type":"tab"}]`), nil, nil)
			ts.ok(t, "PUT", path(known, "/flows"), []byte(`[{"id":"a","type":"tab","label":"2"}]`), nil, nil)
			ts.ok(t, "GET", path(known, "/feed?worker=w1&wait=0s"), nil, nil, nil)
			fault.break_(srv)
			defer fault.fix(srv) // also when the test fails midway
			// All at once: with Valkey hung, each waits out its deadline.
			var mu sync.Mutex
			var slowest time.Duration
			var wg sync.WaitGroup
			for _, ns := range []string{known, randomNS(t)} {
				for _, rt := range everyRoute {
					wg.Add(1)
					go func() {
						defer wg.Done()
						start := time.Now()
						r, err := ts.send(context.Background(), rt.method, path(ns, rt.path), []byte(rt.body), nil)
						took := time.Since(start)
						mu.Lock()
						defer mu.Unlock()
						slowest = max(slowest, took)
						if err != nil {
							t.Errorf("%s %s: %v", rt.method, rt.path, err)
							return
						}
						if took > 2*time.Second {
							t.Errorf("%s %s took %s, want under 2s", rt.method, rt.path, took)
						}
						var e errorBody
						json.Unmarshal(r.body, &e)
						if r.status != http.StatusServiceUnavailable || e.Code != domain.EUNAVAILABLE || e.Message == "" || r.header.Get("Content-Type") != "application/json" {
							t.Errorf("%s %s: got %d %s %s, want 503 JSON unavailable", rt.method, rt.path, r.status, r.header.Get("Content-Type"), r.body)
						}
						if r.header.Get("Retry-After") == "" {
							t.Errorf("%s %s: no Retry-After with 503 %s", rt.method, rt.path, e.Message)
						}
					}()
				}
			}
			wg.Wait()
			t.Logf("slowest of %d routes with Valkey %s: %s", 2*len(everyRoute), fault.name, slowest)
			r := ts.do(t, "GET", "/readyz", nil, nil)
			if r.status != http.StatusServiceUnavailable || !contains(r.body, fault.why) {
				t.Errorf("readyz: got %d %s, want 503 saying %q", r.status, r.body, fault.why)
			}
			fault.fix(srv)
			var head string
			waitFor(t, "the API to serve again", func() bool {
				r, err := ts.send(context.Background(), "GET", path(known, "/flows"), nil, nil)
				head = r.header.Get("Flowhist-Revision")
				return err == nil && r.status == http.StatusOK
			})
			if !fault.sentLand && head != "2" {
				t.Fatalf("got revision %s after the fault, want 2: every acknowledged write, and nothing else", head)
			}
			res := ts.ok(t, "PUT", path(known, "/flows"), []byte(`[{"id":"a","type":"tab","label":"after"}]`), nil, nil)
			if got, want := res.header.Get("Flowhist-Revision"), fmt.Sprint(mustAtoi(t, head)+1); got != want {
				t.Fatalf("got revision %s for the first deploy after the fault, want %s", got, want)
			}
			if r := ts.do(t, "GET", "/readyz", nil, nil); r.status != http.StatusOK {
				t.Fatalf("readyz after the fault: got %d %s, want 200", r.status, r.body)
			}
		})
	}
}

// TestUnconditionalWritesNeverConflict sends 80 PUTs without If-Match at
// once to one namespace: each lands (on fb237bf 62 of 80 answered 409), and
// the revisions are gapless.
func TestUnconditionalWritesNeverConflict(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	for _, target := range []struct{ name, path string }{
		{"Flows", "/flows"},
		{"Credentials", "/credentials"},
	} {
		t.Run(target.name, func(t *testing.T) {
			t.Parallel()
			ns := randomNS(t)
			bodies := make([][]byte, 80)
			for i := range bodies {
				if target.path == "/flows" {
					bodies[i] = fmt.Appendf(nil, `[{"id":"a","type":"tab","label":"%d"}]`, i)
				} else {
					bodies[i] = fmt.Appendf(nil, `{"$":"%04x"}`, i)
				}
			}
			statuses := concurrently(t, ts, "PUT", path(ns, target.path), bodies)
			for i, s := range statuses {
				if s != http.StatusOK {
					t.Fatalf("writer %d: got %d, want 200", i, s)
				}
			}
			if got := ts.head(t, ns); got != 80 {
				t.Fatalf("got head %d after 80 writes, want 80", got)
			}
			for i, e := range ts.events(t, ns) {
				if e.Revision != domain.Revision(i+1) {
					t.Fatalf("event %d has revision %d: not gapless", i, e.Revision)
				}
			}
		})
	}
}

// concurrently sends one request per body at the same moment and returns
// their statuses.
func concurrently(tb testing.TB, ts *testServer, method, p string, bodies [][]byte) []int {
	tb.Helper()
	statuses := make([]int, len(bodies))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, body := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := ts.send(context.Background(), method, p, body, nil)
			if err != nil {
				tb.Errorf("writer %d: %v", i, err)
				return
			}
			statuses[i] = r.status
		}()
	}
	close(start)
	wg.Wait()
	return statuses
}

// BenchmarkUnconditionalWriters80 is 80 PUT …/flows without If-Match sent
// at once to one namespace, each a one-node change of a 100-node document;
// it reports writes/s. BenchmarkUnconditionalWriters80Baseline is the same
// 80 documents SET at once on raw Valkey, in the same run.
func BenchmarkUnconditionalWriters80(b *testing.B) {
	ts := mustServer(b, httpapi.Config{})
	ts.Client().Transport.(*http.Transport).MaxIdleConnsPerHost = 80
	bodies := writers80()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		ns := randomNS(b)
		for j, s := range concurrently(b, ts, "PUT", path(ns, "/flows"), bodies) {
			if s != http.StatusOK {
				b.Fatalf("writer %d: got %d, want 200", j, s)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(bodies))/time.Since(start).Seconds(), "writes/s")
}

func BenchmarkUnconditionalWriters80Baseline(b *testing.B) {
	c := mustClient(b)
	ctx := testCtx(b)
	bodies := writers80()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		key := "bench:{" + randomNS(b) + "}:flows"
		var wg sync.WaitGroup
		for _, body := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.Do(ctx, c.B().Set().Key(key).Value(string(body)).Build()).Error(); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		c.Do(ctx, c.B().Del().Key(key).Build())
	}
	b.ReportMetric(float64(b.N*len(bodies))/time.Since(start).Seconds(), "writes/s")
}

func writers80() [][]byte {
	bodies := make([][]byte, 80)
	for i := range bodies {
		d := domaintest.NewDoc(100)
		d.Touch(i)
		bodies[i] = append([]byte(nil), d.Bytes()...)
	}
	return bodies
}

// TestDurabilityInAnswers configures a replica that does not exist: the
// answer says what was achieved and the shortfall is counted; with
// durability required the answer is 503, and the event, which landed, is
// in the history and reaches followers.
func TestDurabilityInAnswers(t *testing.T) {
	t.Parallel()
	d := streams.Durability{Replicas: 1, Timeout: 20 * time.Millisecond}
	t.Run("Reported", func(t *testing.T) {
		t.Parallel()
		ts := mustServerWith(t, valkeytest.Shared(t), streams.Config{Durability: d}, httpapi.Config{})
		ns := randomNS(t)
		var res struct {
			Durability *struct {
				Replicas *int  `json:"replicas"`
				AOF      *bool `json:"aof"`
				Achieved *bool `json:"achieved"`
			} `json:"durability"`
		}
		ts.ok(t, "PUT", path(ns, "/settings"), []byte(`{}`), nil, &res)
		if r := res.Durability; r == nil || r.Replicas == nil || *r.Replicas != 0 || r.AOF == nil || *r.AOF || r.Achieved == nil || *r.Achieved {
			t.Fatalf("got durability %+v, want {replicas: 0, aof: false, achieved: false}", r)
		}
		ts.ok(t, "PUT", path(ns, "/flows"), []byte(`[]`), nil, &res)
		if res.Durability == nil {
			t.Fatal("a flows deploy's answer has no durability")
		}
		if got := ts.metric(t, "flowhist_durability_shortfalls_total"); got != 2 {
			t.Fatalf("got %v shortfalls counted, want 2", got)
		}
	})
	t.Run("Required", func(t *testing.T) {
		t.Parallel()
		d := d
		d.Required = true
		ts := mustServerWith(t, valkeytest.Shared(t), streams.Config{Durability: d}, httpapi.Config{})
		ns := randomNS(t)
		r := ts.do(t, "PUT", path(ns, "/flows"), []byte(`[{"id":"a","type":"tab"}]`), hdr{"Idempotency-Key": "k1"})
		e := wantError(t, r, http.StatusServiceUnavailable, domain.EUNAVAILABLE)
		if !contains([]byte(e.Message), "revision 1") {
			t.Fatalf("got message %q, want it to name the revision written", e.Message)
		}
		if got := ts.head(t, ns); got != 1 {
			t.Fatalf("got head %d, want the deploy in the log at 1", got)
		}
		// The same key again appends nothing.
		ts.do(t, "PUT", path(ns, "/flows"), []byte(`[{"id":"a","type":"tab"}]`), hdr{"Idempotency-Key": "k1"})
		if got := ts.head(t, ns); got != 1 {
			t.Fatalf("got head %d after the retry, want 1", got)
		}
		ts.ok(t, "GET", path(ns, "/flows"), nil, nil, nil)
		// Settings that landed though answered 503 still bring the
		// packages change they imply: workers must install the module.
		settings := []byte(`{"nodes":{"node-red-node-random":{"version":"0.4.1","user":true}}}`)
		wantError(t, ts.do(t, "PUT", path(ns, "/settings"), settings, hdr{"Idempotency-Key": "s1"}), http.StatusServiceUnavailable, domain.EUNAVAILABLE)
		var h httpapi.History
		ts.ok(t, "GET", path(ns, "/history?kind=packages"), nil, nil, &h)
		if len(h.Entries) != 1 {
			t.Fatalf("got %d packages events after settings answered 503, want 1", len(h.Entries))
		}
		// The retry with the same key appends nothing more.
		ts.do(t, "PUT", path(ns, "/settings"), settings, hdr{"Idempotency-Key": "s1"})
		if got := ts.head(t, ns); got != 3 {
			t.Fatalf("got head %d after the retry, want 3 (flows, settings, packages)", got)
		}
	})
}

func mustAtoi(tb testing.TB, s string) int {
	tb.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		tb.Fatalf("%q is not a number", s)
	}
	return n
}
