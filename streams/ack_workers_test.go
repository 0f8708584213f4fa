package streams_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

// TestAckWorkers checks that acknowledging several workers in one call
// does for each what AckUpTo does for one, and that a worker with no group
// does not fail the others.
func TestAckWorkers(t *testing.T) {
	s, ns := mustStore(t, streams.Config{})
	ctx := testCtx(t)
	for _, w := range []string{"fresh", "behind", "pending"} {
		if _, err := s.CreateWorkerGroup(ctx, ns, w, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if _, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, fmt.Sprintf(`{"i":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	// "pending" was delivered 1-3 by a poll; "fresh" and "behind" heard
	// of them from elsewhere (a shared tail) and were delivered nothing.
	if _, _, err := s.Poll(ctx, ns, streams.WorkerPoll{Worker: "pending", Count: 10}); err != nil {
		t.Fatal(err)
	}
	got, err := s.AckWorkers(ctx, ns, []streams.WorkerAck{
		{Worker: "fresh", Revision: 3},
		{Worker: "behind", Revision: 1},
		{Worker: "ghost", Revision: 3},
		{Worker: "pending", Revision: 2},
	})
	if err != nil {
		t.Fatalf("AckWorkers: %v", err)
	}
	if want := []int{3, 1, -1, 2}; !slices.Equal(got, want) {
		t.Fatalf("got %v acknowledged, want %v", got, want)
	}
	groups, err := s.Groups(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		acked   domain.Revision
		pending int64
	}{"fresh": {3, 0}, "behind": {1, 2}, "pending": {2, 1}}
	for _, g := range groups {
		w, ok := want[g.Worker]
		if !ok {
			t.Fatalf("got group %s, want only %v", g.Name, want)
		}
		// Past the acknowledged revision, what is new is delivered and
		// pending: the next poll hands it back.
		if g.Acknowledged != w.acked || g.Pending != w.pending || g.LastDelivered != 3 {
			t.Errorf("%s: got acknowledged %d, pending %d, delivered %d; want %d, %d, 3", g.Worker, g.Acknowledged, g.Pending, g.LastDelivered, w.acked, w.pending)
		}
	}
	if got, err := s.AckWorkers(ctx, ns, nil); err != nil || got != nil {
		t.Fatalf("got %v, %v for no acknowledgements, want nothing", got, err)
	}
}

// TestAckWorkersRefused checks that a Valkey refusing writes fails the
// call, EUNAVAILABLE, rather than passing for workers with no group.
func TestAckWorkersRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		args func(primary string) []string
	}{
		{"ReadOnly", func(primary string) []string { return []string{"--replicaof", strings.Replace(primary, ":", " ", 1)} }},
		{"NoReplicas", func(string) []string { return []string{"--min-replicas-to-write", "1"} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			primary := valkeytest.Start(t)
			srv := valkeytest.Start(t, c.args(primary.Addr)...)
			s := storeAt(t, srv.Addr)
			_, err := s.AckWorkers(testCtx(t), randomNS(t), []streams.WorkerAck{{Worker: "w1", Revision: 1}})
			wantCode(t, err, domain.EUNAVAILABLE)
		})
	}
}

// BenchmarkAckWorkers is one deploy acknowledged by 250 workers in one
// call (the most one script call takes): the Valkey time a batch of
// acknowledgements costs.
//
//	go test -run '^$' -bench AckWorkers ./streams/
func BenchmarkAckWorkers(b *testing.B) {
	// Each acknowledgement names the revision alone (an older worker), or
	// the event's id too, which the script checks against the log.
	b.Run("revision", func(b *testing.B) { benchAckWorkers(b, false) })
	b.Run("revision+id", func(b *testing.B) { benchAckWorkers(b, true) })
}

func benchAckWorkers(b *testing.B, withID bool) {
	s, ns := mustStore(b, streams.Config{})
	ctx := testCtx(b)
	const workers = 250
	acks := make([]streams.WorkerAck, workers)
	for i := range acks {
		acks[i].Worker = fmt.Sprintf("w%03d", i)
		if _, err := s.CreateWorkerGroup(ctx, ns, acks[i].Worker, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		res, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, fmt.Sprintf(`{"i":%d}`, i))})
		if err != nil {
			b.Fatal(err)
		}
		id := ""
		if withID {
			at, _, err := s.EventAt(ctx, ns, res.Revision)
			if err != nil {
				b.Fatal(err)
			}
			id = at.ID
		}
		for j := range acks {
			acks[j].Revision, acks[j].ID = res.Revision, id
		}
		b.StartTimer()
		got, err := s.AckWorkers(ctx, ns, acks)
		if err != nil {
			b.Fatal(err)
		}
		if got[0] != 1 {
			b.Fatalf("got %d acknowledged, want 1", got[0])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*workers), "us/worker")
}
