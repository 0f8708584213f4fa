package e2e_test

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"

	fhclient "github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// TestRolloutReplicas is a staged rollout on two flowhist replicas with
// real Node-RED (issue #20: "two flowhist replicas: kill the one driving
// the rollout; the other finishes it"). The admin and every worker know
// both replicas' URLs; the canary and d2 start on b, w1 on a. Replica a
// drives the namespace's rollout (it holds the lease), a good deploy
// reaches the canary, and a is killed (kill -9) while the canary bakes:
// b takes the lease over when it expires and finishes the rollout, once.
func TestRolloutReplicas(t *testing.T) {
	c := newClusterWith(t, 0, false, clusterOpts{red: nodeRED4, replicas: 2})
	a, b := c.replicas[0], c.replicas[1]
	store := leaseReader(t, c.valkey.Addr)
	c.admin.mustDeploy(t, c.editorTok, healthyFlow("v1"))

	// The lease names its holder by a random owner that only the holder's
	// process knows: rather than guess which replica that is, the test
	// makes it a, setting the policy while b is down, then starts b again.
	// a keeps renewing the lease every tick, so b cannot take it while a
	// lives (checked again right before the kill).
	b.stop(syscall.SIGKILL)
	r := &rolloutCluster{c: c}
	r.setPolicy(t, rolloutPolicy("3s", "", 0))
	var driver string
	waitFor(t, 10*time.Second, "replica a to take the rollout lease", func() (bool, string) {
		driver = store.holder(t, c.ns)
		return driver != "", "nobody holds it"
	})
	b.restart(t)

	worker := func(id, ring string, first *flowhist) *nodeRed {
		other := a
		if first == a {
			other = b
		}
		n := startNodeRED(t, c.dir, nrConfig{flowhistURLs: []string{first.URL, other.URL}, token: c.tokens["read-workers"], namespace: c.ns, role: "worker", workerID: id, ring: ring, credentialSecret: c.secret, red: nodeRED4})
		c.workers = append(c.workers, n)
		return n
	}
	r.canary = worker("c1", "canary", b)
	r.defaults = []*nodeRed{worker("w1", "default", a), worker("d2", "default", b)}
	c.waitServes(t, 60*time.Second, "v1", r.all()...)

	before := r.newest(t)
	w := r.watch(t)
	c.admin.mustDeploy(t, c.editorTok, healthyFlow("v2"))
	firstServedAt(t, r.canary, "/version", "v2", time.Now(), 30*time.Second)
	// Mid-bake: the canary reported healthy on v2, so its bake has an end,
	// and that end is still ahead.
	var bakeUntil time.Time
	var target domain.Revision
	waitFor(t, 10*time.Second, "the canary ring to bake", func() (bool, string) {
		st := r.status(t)
		if st.State != "baking" || st.Ring != 0 || len(st.Rings) != 2 || st.Rings[0].BakeUntil == nil {
			return false, fmt.Sprintf("%s ring %d %q", st.State, st.Ring, st.Reason)
		}
		bakeUntil, target = *st.Rings[0].BakeUntil, st.Revision
		return true, ""
	})
	if got := store.holder(t, c.ns); got != driver {
		t.Fatalf("before the kill the lease is held by %q, want replica a's %q", got, driver)
	}
	a.stop(syscall.SIGKILL)
	killed := time.Now()
	if !killed.Before(bakeUntil) {
		t.Fatalf("replica a was killed at %s, after the canary's bake ended (%s): the machine is too slow for this bake", killed.Format(time.StampMilli), bakeUntil.Format(time.StampMilli))
	}
	// From here on every call goes to the survivor. a died before it could
	// promote: the default ring is still on v1.
	c.fh = b
	if st := r.status(t); st.State != "baking" || st.Ring != 0 || st.Rings[1].Promoted {
		t.Fatalf("right after the kill: got %s ring %d (default promoted %t), want the canary ring baking", st.State, st.Ring, st.Rings[1].Promoted)
	}
	for _, n := range r.defaults {
		if ok, s := n.serves("v1"); !ok {
			t.Errorf("the default ring left v1 before the bake ended: %s", s)
		}
	}

	waitServesAt(t, 30*time.Second, "/version", "v2", r.defaults...)
	w.waitSaw(t, "v2", r.defaults...)
	r.waitState(t, 20*time.Second, "completed", -1)
	w.stop()
	var served time.Time
	for _, n := range r.defaults {
		first, ok := w.first(n, "v2")
		if first.After(served) {
			served = first
		}
		if !ok || first.Before(bakeUntil) {
			t.Errorf("%s first answered v2 at %s, want after the canary's bake ended at %s", n.name, first.Format(time.StampMilli), bakeUntil.Format(time.StampMilli))
		}
	}
	// GET rollout on the survivor: v2 completed, every ring on it, every
	// worker done.
	st := r.status(t)
	if st.State != "completed" || st.Revision != target || st.Stable.Revision != target {
		t.Errorf("GET rollout on b: got %s of revision %d, stable %d; want completed, both %d", st.State, st.Revision, st.Stable.Revision, target)
	}
	for i, want := range []int{1, 2} {
		if ring := st.Rings[i]; ring.Target.Revision != target || ring.Done != want || ring.Total != want {
			t.Errorf("GET rollout on b: ring %s on %d with %d of %d workers done, want on %d with %d of %d", ring.Name, ring.Target.Revision, ring.Done, ring.Total, target, want, want)
		}
	}
	if got := store.holder(t, c.ns); got == "" || got == driver {
		t.Errorf("after the takeover the lease is held by %q, want replica b (not a's %q)", got, driver)
	}

	// The history shows each step once, in order, by `rollout`: the
	// rollout a started, the promotion and the completion b appended.
	h := c.history(t, fhclient.HistoryQuery{Page: fhclient.Page{Limit: 100}})
	var steps []string
	for _, e := range slices.Backward(h.Entries) {
		if e.Revision <= before || e.Aggregate != "rollout" {
			continue
		}
		steps = append(steps, string(e.Type))
		if e.Actor.User != domain.ActorRollout {
			t.Errorf("%s at %d by %q, want by %s", e.Type, e.Revision, e.Actor.User, domain.ActorRollout)
		}
	}
	if want := []string{string(domain.RolloutStarted), string(domain.RolloutPromoted), string(domain.RolloutCompleted)}; !slices.Equal(steps, want) {
		t.Errorf("rollout events after the deploy: got %v, want %v", steps, want)
	}
	t.Logf("kill -9 of %s %s before the canary's bake ended; the default ring served v2 %s after the kill (lease TTL 3s)", a.name, bakeUntil.Sub(killed).Round(time.Millisecond), served.Sub(killed).Round(time.Millisecond))
}

// leaseStore reads Valkey through flowhist's own store (which alone knows
// its key names).
type leaseStore struct{ s *streams.Store }

func leaseReader(t *testing.T, addr string) leaseStore {
	t.Helper()
	rc, err := streams.NewClient(rueidis.ClientOption{InitAddress: []string{addr}})
	if err != nil {
		t.Fatalf("connect to valkey at %s: %v", addr, err)
	}
	t.Cleanup(rc.Close)
	s, err := streams.New(rc, streams.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return leaseStore{s}
}

// holder is the owner of ns's rollout lease ("" nobody).
func (l leaseStore) holder(t *testing.T, ns string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, err := l.s.RolloutLeaseHolder(ctx, ns)
	if err != nil {
		t.Fatalf("the rollout lease of %s: %v", ns, err)
	}
	return h
}
