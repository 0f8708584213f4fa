package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/flowhist/flowhist/usecase"
	"github.com/redis/rueidis"
	"github.com/spf13/viper"
	"go.uber.org/zap"
)

// sentinelSet is a primary, a replica and three Sentinels, all real.
// streams.durability.replicas must count every replica: Sentinel may
// promote any of them (it judges their offsets from INFO it polls), so a
// write only some replicas had can be lost; with two replicas and
// replicas: 1 this test lost acknowledged revisions to kill -9.
type sentinelSet struct {
	servers   []*valkeytest.Server // servers[0] is the first primary
	sentinels []*valkeytest.Server
	cfg       streams.DialConfig
}

const masterName = "fh-master"

func startSentinelSet(t *testing.T) *sentinelSet {
	t.Helper()
	args := []string{"--appendonly", "yes", "--appendfsync", "everysec"}
	primary := valkeytest.Start(t, args...)
	s := &sentinelSet{servers: []*valkeytest.Server{primary}}
	s.servers = append(s.servers, valkeytest.Start(t, append(args, "--replicaof", strings.Replace(primary.Addr, ":", " ", 1))...))
	for range 3 {
		s.sentinels = append(s.sentinels, valkeytest.StartSentinel(t, masterName, primary, 2))
	}
	var addrs []string
	for _, sn := range s.sentinels {
		addrs = append(addrs, sn.Addr)
	}
	s.cfg = streams.DialConfig{
		Sentinel:    streams.SentinelConfig{MasterName: masterName, Addrs: addrs},
		DialTimeout: time.Second, IOTimeout: 2 * time.Second,
	}
	// Ready once the replica is in sync and every Sentinel knows of it and
	// of the others (a failover needs them to agree).
	waitUntil(t, 30*time.Second, "the replica and the Sentinels to be ready", func() bool {
		if !strings.Contains(raw(t, primary.Addr, "INFO", "replication"), "state=online") {
			return false
		}
		for _, sn := range s.sentinels {
			if !strings.Contains(raw(t, sn.Addr, "INFO", "sentinel"), "slaves=1,sentinels=3") {
				return false
			}
		}
		return true
	})
	return s
}

// raw sends one command to addr and returns its reply as text ("" when
// it fails).
func raw(t *testing.T, addr string, cmd ...string) string {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true, ForceSingleClient: true, DisableRetry: true})
	if err != nil {
		return ""
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	res := c.Do(ctx, c.B().Arbitrary(cmd...).Build())
	if s, err := res.ToString(); err == nil {
		return s
	}
	if a, err := res.AsStrSlice(); err == nil {
		return strings.Join(a, " ")
	}
	return ""
}

// keepDeploying runs deploy(w, i) in a loop in each of writers goroutines,
// i counting up, until deploy returns false or stop (returned) is called;
// stop runs then (if any: cancel what the writers wait on) and waits for
// them. A test that fails before calling stop must still have it called
// (defer it): writers that report after the test ended panic the whole
// test binary.
func keepDeploying(writers int, deploy func(w, i int) bool) (stop func(then ...func())) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if !deploy(w, i) {
					return
				}
			}
		}()
	}
	var once sync.Once
	return func(then ...func()) {
		once.Do(func() { close(done) })
		for _, f := range then {
			f()
		}
		wg.Wait()
	}
}

// deployUntilAcked appends f to ns's flows, retrying an unavailable answer
// with the same idempotency key (as the Node-RED module does) until it is
// acknowledged or ctx ends.
func deployUntilAcked(ctx context.Context, store *streams.Store, ns string, f *domain.Flows, key string) (streams.FlowsResult, error) {
	app := usecase.New(store, nil, nil, usecase.Config{}, nil, usecase.Metrics{})
	for {
		res, err := app.Deploy(ctx, usecase.Deploy{Request: usecase.Request{Namespace: ns, IdempotencyKey: key}, Flows: f})
		if domain.ErrorCode(err) != domain.EUNAVAILABLE || ctx.Err() != nil {
			return res, err
		}
		time.Sleep(20 * time.Millisecond) // the client's back-off
	}
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond) // polling real processes: nothing to wait on
	}
}

// acknowledged is what deploys were acknowledged, at which revision.
type acknowledged struct {
	mu    sync.Mutex
	at    map[domain.Revision]string // revision → sha256 of the document acknowledged there
	twice []domain.Revision          // revisions acknowledged for two different documents
	n     int
}

func (a *acknowledged) add(rev domain.Revision, sha string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.at == nil {
		a.at = map[domain.Revision]string{}
	}
	if prev, dup := a.at[rev]; dup && prev != sha {
		a.twice = append(a.twice, rev)
	}
	a.at[rev] = sha
	a.n++
}

func (a *acknowledged) count() int { a.mu.Lock(); defer a.mu.Unlock(); return a.n }

// lost says, for each acknowledged revision that does not read back as the
// document acknowledged there (or was acknowledged twice), what it reads.
func (a *acknowledged) lost(ctx context.Context, store *streams.Store, ns string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, rev := range a.twice {
		out = append(out, fmt.Sprintf("revision %d acknowledged twice, for different documents", rev))
	}
	for rev, sha := range a.at {
		v, err := store.FlowsAt(ctx, ns, rev)
		switch {
		case err != nil:
			out = append(out, fmt.Sprintf("acknowledged revision %d: %v", rev, err))
		case v.Revision != rev || v.Flows.SHA256() != sha:
			out = append(out, fmt.Sprintf("acknowledged revision %d reads back as revision %d %s, want %s", rev, v.Revision, v.Flows.SHA256(), sha))
		}
	}
	return out
}

func (s *sentinelSet) master(t *testing.T) string {
	return strings.Replace(raw(t, s.sentinels[0].Addr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName), " ", ":", 1)
}

func (s *sentinelSet) byAddr(t *testing.T, addr string) *valkeytest.Server {
	t.Helper()
	for _, srv := range s.servers {
		if srv.Addr == addr {
			return srv
		}
	}
	t.Fatalf("no server at %q", addr)
	return nil
}

func (s *sentinelSet) failover(t *testing.T) func(string) {
	return func(string) {
		if got := raw(t, s.sentinels[0].Addr, "SENTINEL", "FAILOVER", masterName); got != "OK" {
			t.Fatalf("SENTINEL FAILOVER answered %q", got)
		}
	}
}

// failoverRound has 8 writers deploy to ns through store without pause
// while fault moves the primary elsewhere, recording each acknowledged
// deploy in acked; it ends once 40 more deploys were acknowledged after
// the Sentinels elected another primary (elected runs then).
func (s *sentinelSet) failoverRound(t *testing.T, store *streams.Store, ns, name string, acked *acknowledged, fault, elected func(primary string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	deploy := deployer(ctx, store, ns, name, acked, func(w, i int, err error) {
		if ctx.Err() == nil {
			t.Errorf("deploy %d-%d: %v", w, i, err)
		}
	})
	stop := keepDeploying(8, deploy)
	defer stop(cancel)
	before := acked.count()
	waitUntil(t, 30*time.Second, "the first deploys of "+name, func() bool { return acked.count() > before+40 })
	old := s.master(t)
	faultAt := time.Now()
	fault(old)
	waitUntil(t, 60*time.Second, "the Sentinels to elect another primary", func() bool { m := s.master(t); return m != "" && m != old })
	took, moved := time.Since(faultAt), acked.count()
	elected(old)
	waitUntil(t, 45*time.Second, "the first deploy acknowledged by the new primary", func() bool { return acked.count() > moved })
	resumed := time.Since(faultAt)
	waitUntil(t, 30*time.Second, "40 deploys on the new primary", func() bool { return acked.count() > moved+40 })
	stop()
	t.Logf("%s: elected after %s, deploys acknowledged again %s after the fault; %d acknowledged so far",
		name, took.Round(time.Millisecond), resumed.Round(time.Millisecond), acked.count())
}

// deployer returns a writer for keepDeploying: each call deploys a
// document of its own to ns through store (retrying 503s with its
// idempotency key) and records it in acked once acknowledged; an error
// goes to failed and ends that writer.
func deployer(ctx context.Context, store *streams.Store, ns, name string, acked *acknowledged, failed func(w, i int, err error)) func(w, i int) bool {
	return func(w, i int) bool {
		f, err := domain.ParseFlows(fmt.Appendf(nil, `[{"id":"t1","type":"tab"},{"id":"n%d","type":"inject","z":"t1","name":"%s %d-%d"}]`, w, name, w, i))
		if err == nil {
			var res streams.FlowsResult
			if res, err = deployUntilAcked(ctx, store, ns, f, fmt.Sprintf("%s-%s-%d-%d", ns, name, w, i)); err == nil {
				acked.add(res.Revision, f.SHA256())
				return true
			}
		}
		failed(w, i, err)
		return false
	}
}

// sentinelStore is a Store on set's primary with the durability serve
// derives from a configuration that names the Sentinels and sets durab
// (streams.durability.* keys; none: the default), its replica target
// checked once as serve does at start.
func sentinelStore(t *testing.T, set *sentinelSet, durab map[string]any) (*streams.Store, *replicaWatch) {
	t.Helper()
	v := viper.New()
	setDefaults(v)
	v.Set("valkey.sentinel.master_name", masterName)
	v.Set("valkey.sentinel.addrs", set.cfg.Sentinel.Addrs)
	v.Set("valkey.dial_timeout", time.Second)
	v.Set("valkey.io_timeout", 2*time.Second)
	for k, val := range durab {
		v.Set("streams.durability."+k, val)
	}
	cfg, err := readServeConfig(v)
	if err != nil {
		t.Fatal(err)
	}
	client, err := newValkeyClient(cfg.Valkey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	store, err := streams.New(client, cfg.Streams, nil)
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(store, nil, httpapi.Config{AuthDisabled: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := newReplicaWatch(cfg, store, api, zap.NewNop())
	if err := w.check(context.Background()); err != nil {
		t.Fatal(err)
	}
	return store, w
}

// TestSentinelFailoverLosesNothingAcknowledged deploys through Sentinel
// with the default durability (none configured: every replica, required)
// while the primary fails over, twice: by SENTINEL FAILOVER, then by kill
// -9 of the new primary (restarted once another is elected, as an
// orchestrator would: until a replica is back in sync, the new primary
// acknowledges nothing). Every deploy that was acknowledged is afterwards
// readable byte-exact at its revision, no revision was given twice, and
// the log verifies.
func TestSentinelFailoverLosesNothingAcknowledged(t *testing.T) {
	set := startSentinelSet(t)
	store, watch := sentinelStore(t, set, nil)
	if !watch.dur.EveryReplica || !watch.dur.Required || watch.replicas != 1 {
		t.Fatalf("got durability %+v waiting for %d replicas, want every replica (1), required", watch.dur, watch.replicas)
	}
	ns := streamstest.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var acked acknowledged
	set.failoverRound(t, store, ns, "SentinelFailover", &acked, set.failover(t), func(string) {})
	// The demoted primary replicates the new one before the next fault.
	waitUntil(t, 60*time.Second, "the old primary to replicate the new one", func() bool {
		return strings.Contains(raw(t, set.master(t), "INFO", "replication"), "state=online")
	})
	set.failoverRound(t, store, ns, "KilledPrimary", &acked, func(primary string) { set.byAddr(t, primary).Kill() }, func(old string) {
		// Restarted once the Sentinels have moved on: it comes back as a
		// primary, and they turn it into a replica.
		set.byAddr(t, old).Restart(t)
	})

	if lost := acked.lost(ctx, store, ns); len(lost) > 0 {
		t.Fatalf("%d of %d acknowledged deploys lost, first: %s", len(lost), len(acked.at), lost[0])
	}
	p, _ := projector.New(store, projector.Config{}, nil)
	if _, err := p.CatchUpNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	report, err := projector.Verify(ctx, store, ns)
	if err != nil || !report.OK {
		t.Fatalf("verify: %+v (%v)", report, err)
	}
	t.Logf("%d acknowledged revisions, all readable byte-exact; verify: %d revisions", len(acked.at), report.Revisions)
}

// TestSentinelMisconfigured: the two mistakes of a first Sentinel setup
// say what to fix, not to check credentials.
func TestSentinelMisconfigured(t *testing.T) {
	primary := valkeytest.Start(t)
	sentinel := valkeytest.StartSentinel(t, masterName, primary, 1)
	for _, tc := range []struct {
		name   string
		master string
		addr   string
		want   string
	}{
		{"UnknownPrimaryName", "no-such-master", sentinel.Addr, `no primary named "no-such-master": valkey.sentinel.master_name`},
		{"ValkeyServerListedAsSentinel", masterName, primary.Addr, "valkey.sentinel.addrs lists the Sentinels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newValkeyClient(streams.DialConfig{
				Sentinel:    streams.SentinelConfig{MasterName: tc.master, Addrs: []string{tc.addr}},
				DialTimeout: time.Second, IOTimeout: 2 * time.Second,
			})
			if err == nil {
				c.Close()
				t.Fatal("got a client, want an error")
			}
			if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(domain.ErrorMessage(err), tc.want) {
				t.Fatalf("got %v, want EINVALID saying %q", err, tc.want)
			}
		})
	}
}
