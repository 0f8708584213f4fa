package projector_test

import (
	"context"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/projector"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"github.com/redis/rueidis"
)

func TestCatchUp(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := mustStore(t, mustClient(t, ""))
	ns := randomNS(t)
	streamstest.AppendMixed(t, ctx, s, ns, 80)
	p := mustProjector(t, s, projector.Config{})
	at, err := p.CatchUpNamespace(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	if at != 80 {
		t.Fatalf("got state at %d, want 80", at)
	}
	mustVerify(t, ctx, s, ns)
	// Appends after a catch-up continue from the in-memory fold.
	streamstest.AppendMixed(t, ctx, s, ns, 9)
	if at, err = p.CatchUpNamespace(ctx, ns); err != nil || at != 89 {
		t.Fatalf("got %d (%v), want 89", at, err)
	}
	mustVerify(t, ctx, s, ns)
}

func TestRestartMidLog(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := mustStore(t, mustClient(t, ""))
	t.Run("Cancelled", func(t *testing.T) {
		ns := randomNS(t)
		streamstest.AppendMixed(t, ctx, s, ns, 400)
		cctx, cancel := context.WithCancel(ctx)
		// Cancel as soon as the state is part-way: a crash mid-log.
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			for cctx.Err() == nil {
				st, err := s.LoadState(ctx, ns)
				if err == nil && st.Revision >= 10 {
					cancel()
				}
			}
		}()
		p := mustProjector(t, s, projector.Config{Batch: 1})
		_, err := p.CatchUpNamespace(cctx, ns)
		cancel()
		<-stopped
		st, _ := s.LoadState(ctx, ns)
		if err == nil || st.Revision >= 400 {
			t.Fatalf("catch-up was not interrupted (state at %d, err %v)", st.Revision, err)
		}
		restarted := mustProjector(t, s, projector.Config{})
		if at, err := restarted.CatchUpNamespace(ctx, ns); err != nil || at != 400 {
			t.Fatalf("after restart got %d (%v), want 400", at, err)
		}
		mustVerify(t, ctx, s, ns)
	})
	t.Run("NewProcess", func(t *testing.T) {
		ns := randomNS(t)
		streamstest.AppendMixed(t, ctx, s, ns, 30)
		if _, err := mustProjector(t, s, projector.Config{}).CatchUpNamespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
		streamstest.AppendMixed(t, ctx, s, ns, 30)
		if at, err := mustProjector(t, s, projector.Config{}).CatchUpNamespace(ctx, ns); err != nil || at != 60 {
			t.Fatalf("got %d (%v), want 60", at, err)
		}
		mustVerify(t, ctx, s, ns)
	})
}

func TestTwoProjectors(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	// Own server: RunOnce follows every namespace on the server.
	s := mustStore(t, mustClient(t, valkeytest.Start(t).Addr))
	ns := randomNS(t)
	a := mustProjector(t, s, projector.Config{Consumer: "a", Batch: 3})
	b := mustProjector(t, s, projector.Config{Consumer: "b", Batch: 5})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for round := 0; round < 10; round++ {
		streamstest.AppendMixed(t, ctx, s, ns, 16)
		for _, p := range []*projector.Projector{a, b} {
			wg.Add(2)
			go func() { defer wg.Done(); errs <- p.RunOnce(ctx) }()
			go func() { defer wg.Done(); _, err := p.CatchUpNamespace(ctx, ns); errs <- err }()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*projector.Projector{a, b} {
		if at, err := p.CatchUpNamespace(ctx, ns); err != nil || at != 160 {
			t.Fatalf("got %d (%v), want 160", at, err)
		}
	}
	mustVerify(t, ctx, s, ns)
	// Everything the group delivered was acknowledged.
	groups, err := s.Groups(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if g.Name == streams.ProjectorGroup && (g.Pending != 0 || g.LastDelivered != 160) {
			t.Fatalf("got %+v, want all 160 delivered and acknowledged", g)
		}
	}
}

func TestRedeliveredEventIsNoop(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := mustClient(t, valkeytest.Start(t).Addr)
	s := mustStore(t, c)
	ns := randomNS(t)
	streamstest.AppendMixed(t, ctx, s, ns, 24)
	p := mustProjector(t, s, projector.Config{Consumer: "a"})
	if err := p.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	before, _ := c.Do(ctx, c.B().Hgetall().Key(streams.KeysOf(ns).State).Build()).AsStrMap()
	// Rewind the group: every entry is delivered again.
	if err := c.Do(ctx, c.B().XgroupSetid().Key(streams.KeysOf(ns).Log).Group(streams.ProjectorGroup).Id("0").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if err := mustProjector(t, s, projector.Config{Consumer: "b"}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := c.Do(ctx, c.B().Hgetall().Key(streams.KeysOf(ns).State).Build()).AsStrMap()
	if len(after) != len(before) {
		t.Fatalf("got %d state fields after redelivery, want %d", len(after), len(before))
	}
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("state field %s changed on redelivery", k)
		}
	}
	// And directly: saving an already-applied revision writes nothing.
	st, _ := s.LoadState(ctx, ns)
	old := st.State
	old.Revision = 5
	old.Settings = []byte(`{"overwritten":true}`)
	applied, err := s.SaveState(ctx, old, domain.Change{Settings: true})
	if err != nil || applied {
		t.Fatalf("got applied=%v err=%v for revision 5 at checkpoint 24, want a no-op", applied, err)
	}
	mustVerify(t, ctx, s, ns)
}

func TestRebuild(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := mustClient(t, "")
	s := mustStore(t, c)
	ns := randomNS(t)
	streamstest.AppendMixed(t, ctx, s, ns, 40)
	p := mustProjector(t, s, projector.Config{})
	if _, err := p.CatchUpNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	streamstest.CorruptState(t, ctx, c, ns, "settings", `{"tampered":1}`)
	if r, _ := projector.Verify(ctx, s, ns); r.OK {
		t.Fatal("verify passed over a tampered state key")
	}
	if at, err := p.Rebuild(ctx, ns); err != nil || at != 40 {
		t.Fatalf("got %d (%v), want 40", at, err)
	}
	mustVerify(t, ctx, s, ns)
}

// TestLogLostUnderTheProjector has Valkey lose the newest revisions (a
// failover without durability) and hand their numbers to new deploys: the
// projector must serve the new flows, not its fold of the lost ones.
func TestLogLostUnderTheProjector(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := mustClient(t, "")
	s := mustStore(t, c)
	ns := randomNS(t)
	deploy := func(s *streams.Store, label string) {
		t.Helper()
		f, err := domain.ParseFlows([]byte(`[{"id":"t1","type":"tab","label":"` + label + `"}]`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: f}, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{"v1", "v2", "v3"} {
		deploy(s, l)
	}
	p := mustProjector(t, s, projector.Config{})
	label := func() string {
		t.Helper()
		var got string
		if err := p.View(ctx, ns, func(st *domain.State) error { got = string(st.Flows.Bytes()); return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := label(); !strings.Contains(got, "v3") {
		t.Fatalf("got %s, want v3", got)
	}
	// Revisions 2 and 3 are lost from the log and the meta; the projected
	// state keeps them (the worst case: it is ahead of the log).
	keys := streams.KeysOf(ns)
	first, err := c.Do(ctx, c.B().Xrange().Key(keys.Log).Start("1-0").End("1-0").Build()).AsXRange()
	if err != nil || len(first) != 1 {
		t.Fatalf("read revision 1: %v %v", first, err)
	}
	add := c.B().Xadd().Key(keys.Log).Id("1-0").FieldValue()
	for _, f := range []string{"e", "a", "r", "t", "p", "z", "h"} {
		add = add.FieldValue(f, first[0].FieldValues[f])
	}
	for _, cmd := range []rueidis.Completed{
		c.B().Del().Key(keys.Log).Build(), // as the replica had it: revision 1 only
		add.Build(),
		c.B().Hset().Key(keys.Meta).FieldValue().FieldValue("rev", "1").FieldValue("a:flows", "1").FieldValue("h", first[0].FieldValues["h"]).Build(),
	} {
		if err := c.Do(ctx, cmd).Error(); err != nil {
			t.Fatal(err)
		}
	}
	// Deploys through another replica (no cached head) take revisions 2
	// and 3: the log reaches the projected checkpoint again, with other
	// events.
	other := mustStore(t, c)
	deploy(other, "v4")
	deploy(other, "v5")
	// A worker group delivered past where the projector diverged (3) runs
	// what the log lost; one before it does not.
	for w, at := range map[string]domain.Revision{"past": 3, "before": 1} {
		if _, err := s.CreateWorkerGroup(ctx, ns, w, at); err != nil {
			t.Fatal(err)
		}
	}
	if got := label(); !strings.Contains(got, "v5") {
		t.Fatalf("after the loss got %s, want v5: the projector served flows the log no longer has", got)
	}
	marked, err := s.DivergedWorkers(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]domain.Revision{"past": 3}; !maps.Equal(marked, want) {
		t.Fatalf("got workers %v marked diverged, want %v", marked, want)
	}
	if r := mustVerify(t, ctx, s, ns); r.Revisions != 3 {
		t.Fatalf("verify folded %d revisions, want 3", r.Revisions)
	}
}
