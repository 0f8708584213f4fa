package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

// simWorker is a simulated Node-RED worker of the staged-rollout contract
// (docs/rollout.md), through the Go client: it loads its ring's flows,
// follows the feed with ring=, reloads when its target's id changes, and
// reports its health after each load and every poll.
type simWorker struct {
	id, ring string
	c        *client.Client
	// health makes the report for the flows it runs (nil: healthy).
	health func(flows string) domain.WorkerHealth
	silent bool // reports nothing
	// says is the ring its reports name ("": its own).
	says string

	mu     sync.Mutex
	flows  string // the flows it runs
	event  string // their Flowhist-Event
	rev    domain.Revision
	loadAt map[string]time.Time // when it first ran each flows document
	fail   error
}

func (ts *testServer) rolloutClient(tb testing.TB, ns, token string) *client.Client {
	tb.Helper()
	c, err := client.New(client.Config{URL: ts.URL, Token: token, Namespace: ns})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// startWorker runs w until the test ends.
func (ts *testServer) startWorker(tb testing.TB, ns string, w *simWorker) *simWorker {
	tb.Helper()
	w.c = ts.rolloutClient(tb, ns, readSecret)
	w.loadAt = map[string]time.Time{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	tb.Cleanup(func() { cancel(); <-done })
	if err := w.load(ctx); err != nil {
		tb.Fatalf("worker %s: load: %v", w.id, err)
	}
	go func() {
		defer close(done)
		w.run(ctx)
	}()
	return w
}

func (w *simWorker) load(ctx context.Context) error {
	d, err := w.c.RingFlows(ctx, w.ring)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.flows, w.event, w.rev = string(d.Body), d.Event, d.Revision
	if _, ok := w.loadAt[w.flows]; !ok {
		w.loadAt[w.flows] = time.Now()
	}
	w.mu.Unlock()
	return w.report(ctx)
}

func (w *simWorker) report(ctx context.Context) error {
	if w.silent {
		return nil
	}
	w.mu.Lock()
	h := domain.WorkerHealth{Started: true}
	if w.health != nil {
		h = w.health(w.flows)
	}
	h.Ring, h.Revision, h.ID = w.ring, w.rev, w.event
	if w.says != "" {
		h.Ring = w.says
	}
	w.mu.Unlock()
	_, err := w.c.ReportHealth(ctx, w.id, h)
	return err
}

func (w *simWorker) run(ctx context.Context) {
	w.mu.Lock()
	q := client.FeedQuery{Worker: w.id, Ring: w.ring, After: w.rev, AfterID: w.event, Wait: 200 * time.Millisecond}
	w.mu.Unlock()
	for ctx.Err() == nil {
		news, ok, err := w.c.Feed(ctx, q)
		if err == nil && ok {
			w.mu.Lock()
			reload := news.Target == nil && (news.Flows || news.Reset) || news.Target != nil && news.Target.ID != w.event
			w.mu.Unlock()
			if reload {
				err = w.load(ctx)
			}
			q.Ack, q.AckID = news.Revision, news.ID
		}
		if err == nil {
			err = w.report(ctx)
		}
		if err != nil && ctx.Err() == nil {
			w.mu.Lock()
			w.fail = err
			w.mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (w *simWorker) runs() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flows
}

func (w *simWorker) ran(flows string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.loadAt[flows]
	return t, ok
}

const (
	flowsA = `[{"id":"a","type":"tab","label":"A"}]`
	flowsB = `[{"id":"a","type":"tab","label":"B"}]`
)

// rolloutSetup deploys flowsA, sets policy, and starts one canary and two
// default workers.
func (ts *testServer) rolloutSetup(tb testing.TB, policy string, canary *simWorker) (string, *client.Client, []*simWorker) {
	tb.Helper()
	ns := randomNS(tb)
	admin := ts.rolloutClient(tb, ns, adminSecret)
	ctx := testCtx(tb)
	if _, err := admin.PutFlows(ctx, []byte(flowsA), client.Write{}); err != nil {
		tb.Fatal(err)
	}
	if _, err := admin.SetRolloutPolicy(ctx, []byte(policy)); err != nil {
		tb.Fatalf("SetRolloutPolicy: %v", err)
	}
	if canary == nil {
		canary = &simWorker{}
	}
	canary.id, canary.ring = "c1", "canary"
	workers := []*simWorker{ts.startWorker(tb, ns, canary)}
	for _, id := range []string{"d1", "d2"} {
		workers = append(workers, ts.startWorker(tb, ns, &simWorker{id: id, ring: "default"}))
	}
	for _, w := range workers {
		if got := w.runs(); got != flowsA {
			tb.Fatalf("worker %s runs %s, want flows A", w.id, got)
		}
	}
	// Every worker is a member (it followed the feed) before the deploy.
	waitFor(tb, "three workers on the feed", func() bool {
		st, err := admin.Rollout(ctx)
		if err != nil {
			return false
		}
		n := 0
		for _, r := range st.Rings {
			n += r.Total
		}
		return n == 3
	})
	return ns, admin, workers
}

func (ts *testServer) rolloutHistory(tb testing.TB, ns string) []*domain.Event {
	tb.Helper()
	return ts.events(tb, ns)
}

func TestRolloutGoodDeployReachesCanaryFirst(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	const bake = 1500 * time.Millisecond
	ns, admin, ws := ts.rolloutSetup(t, `{"rings":[{"name":"canary","bake":"1500ms","gate":{"deadline":"5s"}},{"name":"default"}]}`, nil)
	ctx := testCtx(t)
	if _, err := admin.PutFlows(ctx, []byte(flowsB), client.Write{}); err != nil {
		t.Fatal(err)
	}
	canary, d1, d2 := ws[0], ws[1], ws[2]
	waitFor(t, "the canary runs B", func() bool { return canary.runs() == flowsB })
	if d1.runs() != flowsA || d2.runs() != flowsA {
		t.Fatalf("default workers run B with the canary: got %s / %s", d1.runs(), d2.runs())
	}
	st, err := admin.Rollout(ctx)
	if err != nil || !st.Active || st.State != domain.StateBaking || st.Ring != 0 {
		t.Fatalf("status: got %+v, %v; want baking ring 0", st, err)
	}
	waitFor(t, "the default ring runs B", func() bool { return d1.runs() == flowsB && d2.runs() == flowsB })
	cAt, _ := canary.ran(flowsB)
	for _, d := range []*simWorker{d1, d2} {
		dAt, _ := d.ran(flowsB)
		if dAt.Sub(cAt) < bake {
			t.Errorf("worker %s got B %s after the canary, want at least the bake %s", d.id, dAt.Sub(cAt), bake)
		}
	}
	waitFor(t, "the rollout completes", func() bool {
		st, err := admin.Rollout(ctx)
		return err == nil && st.State == domain.StateCompleted
	})
	var types []string
	for _, e := range ts.rolloutHistory(t, ns) {
		if domain.IsRolloutEvent(e.Type) {
			types = append(types, string(e.Type))
		}
	}
	if want := "rollout.policy rollout.started rollout.promoted rollout.completed"; strings.Join(types, " ") != want {
		t.Fatalf("rollout events: got %v, want %s", types, want)
	}
}

func TestRolloutBadHealthRollsBackAtCanary(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	bad := &simWorker{health: func(flows string) domain.WorkerHealth {
		h := domain.WorkerHealth{Started: true}
		if flows == flowsB {
			h.Errors = 3
		}
		return h
	}}
	ns, admin, ws := ts.rolloutSetup(t, `{"rings":[{"name":"canary","bake":"10s","gate":{"deadline":"5s"}},{"name":"default"}]}`, bad)
	ctx := testCtx(t)
	if _, err := admin.PutFlows(ctx, []byte(flowsB), client.Write{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rollout is rolled back", func() bool {
		st, err := admin.Rollout(ctx)
		return err == nil && st.State == domain.StateRolledBack
	})
	waitFor(t, "the canary runs A again", func() bool { return ws[0].runs() == flowsA })
	for _, d := range ws[1:] {
		if _, ran := d.ran(flowsB); ran {
			t.Fatalf("default worker %s ran the bad revision", d.id)
		}
	}
	var rb *domain.Event
	for _, e := range ts.rolloutHistory(t, ns) {
		if e.Type == domain.FlowsRolledBack {
			rb = e
		}
	}
	if rb == nil || rb.Actor.User != domain.ActorRollout || !strings.Contains(rb.Reason, "worker c1: 3 runtime errors (at most 0)") {
		t.Fatalf("rollback: got %+v, want by rollout naming worker c1 and its errors", rb)
	}
	st, _ := admin.Rollout(ctx)
	if !strings.Contains(st.Reason, "worker c1") {
		t.Fatalf("status reason: got %q, want it to name worker c1", st.Reason)
	}
}

// TestRolloutHealthJudgedByTheFeedRing: a canary whose reports name the
// default ring (laxer gate: 100 errors allowed) is judged by the canary's
// gate, the ring whose target it runs: its errors stop the rollout.
func TestRolloutHealthJudgedByTheFeedRing(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	liar := &simWorker{says: "default", health: func(flows string) domain.WorkerHealth {
		h := domain.WorkerHealth{Started: true}
		if flows == flowsB {
			h.Errors = 3
		}
		return h
	}}
	_, admin, ws := ts.rolloutSetup(t, `{"rings":[{"name":"canary","bake":"2s","gate":{"deadline":"5s"}},{"name":"default","gate":{"maxErrors":100}}]}`, liar)
	ctx := testCtx(t)
	if _, err := admin.PutFlows(ctx, []byte(flowsB), client.Write{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rollout ends", func() bool {
		st, err := admin.Rollout(ctx)
		return err == nil && (st.State == domain.StateRolledBack || st.State == domain.StateCompleted)
	})
	st, _ := admin.Rollout(ctx)
	if st.State != domain.StateRolledBack || !strings.Contains(st.Reason, "worker c1: 3 runtime errors (at most 0)") {
		t.Fatalf("got %s (%q), want rolled back for the canary's errors by the canary's gate", st.State, st.Reason)
	}
	for _, d := range ws[1:] {
		if _, ran := d.ran(flowsB); ran {
			t.Fatalf("default worker %s ran the bad revision", d.id)
		}
	}
}

func TestRolloutSilentWorkerFailsTheDeadline(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns, admin, _ := ts.rolloutSetup(t, `{"rings":[{"name":"canary","bake":"10s","gate":{"deadline":"1s"}},{"name":"default"}]}`, &simWorker{silent: true})
	ctx := testCtx(t)
	if _, err := admin.PutFlows(ctx, []byte(flowsB), client.Write{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rollout is rolled back", func() bool {
		st, err := admin.Rollout(ctx)
		return err == nil && st.State == domain.StateRolledBack
	})
	st, _ := admin.Rollout(ctx)
	if want := "worker c1: did not report healthy on revision"; !strings.HasPrefix(st.Reason, want) {
		t.Fatalf("reason: got %q, want %q…", st.Reason, want)
	}
	_ = ns
}

func TestRolloutWindowDelaysLaterRings(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	opens := time.Now().UTC().Add(4 * time.Second).Truncate(time.Second)
	if opens.Hour() == 23 && opens.Minute() == 59 {
		t.Skip("the window would run past midnight")
	}
	closes := opens.Add(time.Minute)
	window := fmt.Sprintf("* %s-%s UTC", opens.Format("15:04:05"), closes.Format("15:04:05"))
	ns, admin, ws := ts.rolloutSetup(t, `{"rings":[{"name":"canary","bake":"0s","gate":{"deadline":"5s"}},{"name":"default"}],"windows":["`+window+`"]}`, nil)
	ctx := testCtx(t)
	if _, err := admin.PutFlows(ctx, []byte(flowsB), client.Write{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the canary runs B", func() bool { return ws[0].runs() == flowsB })
	waitFor(t, "the rollout waits for the window", func() bool {
		st, err := admin.Rollout(ctx)
		return err == nil && st.State == domain.StateWaiting
	})
	// Workers that start now load their ring's target: the canary's new
	// revision, the default ring's old one.
	if time.Until(opens) > time.Second {
		if c2 := ts.startWorker(t, ns, &simWorker{id: "c2", ring: "canary"}); c2.runs() != flowsB {
			t.Errorf("a canary starting mid-rollout runs %s, want B", c2.runs())
		}
		if d3 := ts.startWorker(t, ns, &simWorker{id: "d3", ring: "default"}); d3.runs() != flowsA {
			t.Errorf("a default worker starting mid-rollout runs %s, want A", d3.runs())
		}
	}
	waitFor(t, "the default ring runs B", func() bool { return ws[1].runs() == flowsB && ws[2].runs() == flowsB })
	at, _ := ws[1].ran(flowsB)
	if at.Before(opens) {
		t.Fatalf("the default ring got B at %s, before the window opened at %s", at, opens)
	}
}

func TestRolloutResumesOnAnotherServer(t *testing.T) {
	t.Parallel()
	// Two API servers on one Valkey: the workers follow the second; the
	// first drives (it is the only one until the second starts). Closing
	// it mid-bake leaves the second to finish. A Valkey of their own: every
	// server on the shared one drives whatever namespace it gets the lease of.
	v := valkeytest.Start(t)
	first := mustServerAt(t, v.Addr, httpapi.Config{})
	ns := randomNS(t)
	ctx := testCtx(t)
	admin := first.rolloutClient(t, ns, adminSecret)
	if _, err := admin.PutFlows(ctx, []byte(flowsA), client.Write{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.SetRolloutPolicy(ctx, []byte(`{"rings":[{"name":"canary","bake":"2s","gate":{"deadline":"10s"}},{"name":"default"}]}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first server drives", func() bool {
		ok, err := first.api.DrivesRollout(ctx, ns)
		return err == nil && ok
	})
	second := mustServerAt(t, v.Addr, httpapi.Config{})
	canary := second.startWorker(t, ns, &simWorker{id: "c1", ring: "canary"})
	def := second.startWorker(t, ns, &simWorker{id: "d1", ring: "default"})
	if _, err := admin.PutFlows(ctx, []byte(flowsB), client.Write{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the canary runs B", func() bool { return canary.runs() == flowsB })
	if ok, _ := second.api.DrivesRollout(ctx, ns); ok {
		t.Fatal("the second server drives while the first holds the lease")
	}
	first.api.Close()
	waitFor(t, "the default ring runs B after the first server closed", func() bool { return def.runs() == flowsB })
	if ok, err := second.api.DrivesRollout(ctx, ns); !ok || err != nil {
		t.Fatalf("the second server drives: got %v, %v", ok, err)
	}
}

func TestRolloutPolicyRemovedMidRollout(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	_, admin, ws := ts.rolloutSetup(t, `{"rings":[{"name":"canary","bake":"1h","gate":{"deadline":"1h"}},{"name":"default"}]}`, nil)
	ctx := testCtx(t)
	if _, err := admin.PutFlows(ctx, []byte(flowsB), client.Write{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the canary runs B", func() bool { return ws[0].runs() == flowsB })
	if _, err := admin.DeleteRolloutPolicy(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every worker runs the head once the policy is gone", func() bool { return ws[1].runs() == flowsB && ws[2].runs() == flowsB })
}

func TestRolloutNoPolicyUnchanged(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	ctx := testCtx(t)
	admin := ts.rolloutClient(t, ns, adminSecret)
	if _, err := admin.PutFlows(ctx, []byte(flowsA), client.Write{}); err != nil {
		t.Fatal(err)
	}
	ws := []*simWorker{ts.startWorker(t, ns, &simWorker{id: "c1", ring: "canary"}), ts.startWorker(t, ns, &simWorker{id: "d1", ring: "default"})}
	if _, err := admin.PutFlows(ctx, []byte(flowsB), client.Write{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every worker runs B", func() bool { return ws[0].runs() == flowsB && ws[1].runs() == flowsB })
	news, ok, err := ws[1].c.Feed(ctx, client.FeedQuery{Worker: "x1", Ring: "canary", After: 1})
	if err != nil || !ok || news.Target != nil {
		t.Fatalf("news without a policy: got %+v %v %v, want no target", news, ok, err)
	}
	st, err := admin.Rollout(ctx)
	if err != nil || st.Policy != nil || st.State != domain.StateIdle {
		t.Fatalf("status without a policy: got %+v, %v", st, err)
	}
	if _, err := admin.RolloutAction(ctx, "promote", ""); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("promote without a rollout: got %v, want conflict", err)
	}
	if _, err := admin.RolloutPolicy(ctx); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("policy: got %v, want not found", err)
	}
	w, err := admin.Workers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rings := map[string]string{}
	for _, x := range w.Workers {
		rings[x.Worker] = x.Ring
	}
	if rings["c1"] != "canary" || rings["d1"] != "default" {
		t.Fatalf("rings in GET workers: got %v", rings)
	}
}
