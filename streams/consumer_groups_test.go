package streams_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

func TestConsumerGroups(t *testing.T) {
	t.Parallel()
	t.Run("OfflineConsumerGetsAllInOrder", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{"before":true}`)})
		group := streams.WorkerGroup("w1")
		if created, err := s.CreateGroup(ctx, ns, group, 1); err != nil || !created {
			t.Fatalf("CreateGroup: %v %v", created, err)
		}
		if created, err := s.CreateGroup(ctx, ns, group, 0); err != nil || created {
			t.Fatalf("second CreateGroup: got created=%v err=%v, want an existing group left alone", created, err)
		}
		// The worker is offline while 10 events are appended.
		for i := 0; i < 10; i++ {
			if _, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, fmt.Sprintf(`{"i":%d}`, i))}); err != nil {
				t.Fatal(err)
			}
		}
		events, err := s.ReadGroup(ctx, ns, group, "w1", 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 10 {
			t.Fatalf("got %d events, want 10", len(events))
		}
		for i, e := range events {
			if e.Revision != domain.Revision(i+2) {
				t.Fatalf("event %d is revision %d, want %d", i, e.Revision, i+2)
			}
		}
		infos, err := s.Groups(ctx, ns)
		if err != nil || len(infos) != 1 {
			t.Fatalf("Groups: %v %v", infos, err)
		}
		if g := infos[0]; g.Name != group || g.LastDelivered != 11 || g.Pending != 10 || g.Lag != 0 || g.Acknowledged != 1 {
			t.Fatalf("got %+v, want last delivered 11, 10 pending, lag 0, acknowledged 1", g)
		}
		revs := make([]domain.Revision, len(events))
		for i, e := range events {
			revs[i] = e.Revision
		}
		if err := s.Ack(ctx, ns, group, revs...); err != nil {
			t.Fatal(err)
		}
		infos, _ = s.Groups(ctx, ns)
		if g := infos[0]; g.Pending != 0 || g.Acknowledged != 11 {
			t.Fatalf("after ack got %+v, want nothing pending, acknowledged 11", g)
		}
	})
	t.Run("UnackedRedelivered", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		group := streams.WorkerGroup("w2")
		s.CreateGroup(ctx, ns, group, 0)
		for i := 0; i < 3; i++ {
			s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`)})
		}
		first, err := s.ReadGroup(ctx, ns, group, "w2", 2, 0)
		if err != nil || len(first) != 2 {
			t.Fatalf("got %d events (%v), want 2", len(first), err)
		}
		// The worker crashed before acking: after a restart it is handed
		// the same entries first, then what is new, in one read.
		again, err := s.ReadGroup(ctx, ns, group, "w2", 10, 0)
		if got := revisions(again); err != nil || fmt.Sprint(got) != "[1 2 3]" {
			t.Fatalf("got %v (%v), want revisions 1 and 2 again, then 3", got, err)
		}
		s.Ack(ctx, ns, group, 1, 2)
		next, err := s.ReadGroup(ctx, ns, group, "w2", 10, 0)
		if got := revisions(next); err != nil || fmt.Sprint(got) != "[3]" {
			t.Fatalf("got %v (%v), want revision 3, delivered and not acknowledged", got, err)
		}
		s.Ack(ctx, ns, group, 3)
		if last, err := s.ReadGroup(ctx, ns, group, "w2", 10, 0); err != nil || len(last) != 0 {
			t.Fatalf("got %v (%v) after acking everything, want nothing", revisions(last), err)
		}
	})
	t.Run("Poll", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		group := streams.WorkerGroup("w4")
		s.CreateGroup(ctx, ns, group, 0)
		for _, e := range []domain.Event{settingsEvent(ns, `{}`), settingsEvent(ns, `{"a":1}`), settingsEvent(ns, `{"a":2}`)} {
			if _, err := s.Append(ctx, streams.AppendRequest{Event: e}); err != nil {
				t.Fatal(err)
			}
		}
		entries := func(es []streams.Entry) string {
			out := ""
			for _, e := range es {
				out += fmt.Sprintf("%d:%s ", e.Revision, e.Aggregate)
			}
			return out
		}
		// Nothing acknowledged: every entry, delivered by this read.
		got, acked, err := s.Poll(ctx, ns, streams.WorkerPoll{Worker: "w4", Count: 10})
		if err != nil || acked != 0 || entries(got) != "1:settings 2:settings 3:settings " {
			t.Fatalf("got %q, %d acknowledged (%v), want revisions 1-3 and none acknowledged", entries(got), acked, err)
		}
		// Up to 2 acknowledged: 3 is still pending; after=3 hides it.
		if got, acked, err = s.Poll(ctx, ns, streams.WorkerPoll{Worker: "w4", Ack: 2, Count: 10}); err != nil || acked != 2 || entries(got) != "3:settings " {
			t.Fatalf("got %q, %d acknowledged (%v), want revision 3 and 2 acknowledged", entries(got), acked, err)
		}
		if got, acked, err = s.Poll(ctx, ns, streams.WorkerPoll{Worker: "w4", After: 3, Count: 10}); err != nil || acked != 0 || len(got) != 0 {
			t.Fatalf("got %q, %d acknowledged (%v), want nothing after 3", entries(got), acked, err)
		}
		// Count 0 acknowledges only.
		if got, acked, err = s.Poll(ctx, ns, streams.WorkerPoll{Worker: "w4", Ack: 3}); err != nil || acked != 1 || len(got) != 0 {
			t.Fatalf("got %q, %d acknowledged (%v), want no entries and 1 acknowledged", entries(got), acked, err)
		}
		infos, _ := s.Groups(ctx, ns)
		if g := infos[0]; g.Pending != 0 || g.Acknowledged != 3 || g.LastDelivered != 3 {
			t.Fatalf("got %+v, want nothing pending, 3 acknowledged and delivered", g)
		}
		if _, _, err := s.Poll(ctx, ns, streams.WorkerPoll{Worker: "ghost", Ack: 1, Count: 10}); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("got %v for a group that does not exist, want ENOTFOUND", err)
		}
	})
	t.Run("WorkerGroupsNameTheirWorker", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		if created, err := s.CreateWorkerGroup(ctx, ns, "w9", 0); err != nil || !created {
			t.Fatalf("CreateWorkerGroup: %v %v", created, err)
		}
		if created, err := s.CreateWorkerGroup(ctx, ns, "w9", 0); err != nil || created {
			t.Fatalf("CreateWorkerGroup again: got created %v (%v), want the existing group", created, err)
		}
		s.CreateGroup(ctx, ns, streams.ProjectorGroup, 0)
		infos, err := s.Groups(ctx, ns)
		if err != nil {
			t.Fatal(err)
		}
		workers := map[string]string{}
		for _, g := range infos {
			workers[g.Name] = g.Worker
		}
		if want := map[string]string{"worker:w9": "w9", streams.ProjectorGroup: ""}; !maps.Equal(workers, want) {
			t.Fatalf("got groups → workers %v, want %v", workers, want)
		}
		if g := infos[slices.IndexFunc(infos, func(g streams.GroupInfo) bool { return g.Worker == "w9" })]; g.Consumers != 1 {
			t.Fatalf("got %d consumers in w9's group, want the worker itself", g.Consumers)
		}
	})
	t.Run("ReclaimFromDeadConsumer", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		s.CreateGroup(ctx, ns, streams.ProjectorGroup, 0)
		s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`)})
		if got, _ := s.ReadGroup(ctx, ns, streams.ProjectorGroup, "dead", 10, 0); len(got) != 1 {
			t.Fatalf("got %d, want 1", len(got))
		}
		got, err := s.Reclaim(ctx, ns, streams.ProjectorGroup, "alive", time.Hour, 10)
		if err != nil || len(got) != 0 {
			t.Fatalf("reclaimed %d entries idle under an hour (%v), want 0", len(got), err)
		}
		got, err = s.Reclaim(ctx, ns, streams.ProjectorGroup, "alive", 0, 10)
		if err != nil || len(got) != 1 || got[0].Revision != 1 {
			t.Fatalf("got %v (%v), want revision 1 reclaimed", got, err)
		}
	})
	t.Run("BlockingReadWakesOnAppend", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		group := streams.WorkerGroup("w3")
		s.CreateGroup(ctx, ns, group, 0)
		done := make(chan []streams.Entry)
		go func() {
			events, _ := s.ReadGroup(ctx, ns, group, "w3", 10, 30*time.Second)
			done <- events
		}()
		s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`)})
		select {
		case events := <-done:
			if len(events) != 1 || events[0].Revision != 1 || events[0].Aggregate != domain.AggregateSettings {
				t.Fatalf("got %v, want revision 1 of the settings", events)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("a blocked read did not wake on append")
		}
	})
	t.Run("NewConsumerCountsIdle", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		group := streams.WorkerGroup("never-read")
		s.CreateGroup(ctx, ns, group, 0)
		if err := s.CreateConsumer(ctx, ns, group, "never-read"); err != nil {
			t.Fatal(err)
		}
		// A consumer that never read still ages, so the reaper can see it.
		deadline := time.Now().Add(10 * time.Second)
		for {
			infos, err := s.Groups(ctx, ns)
			if err != nil || len(infos) != 1 {
				t.Fatalf("Groups: %v %v", infos, err)
			}
			if infos[0].Consumers == 1 && infos[0].Idle > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("got %+v, want one consumer whose idle time grows", infos[0])
			}
			time.Sleep(5 * time.Millisecond)
		}
		err := s.CreateConsumer(ctx, ns, "worker:none", "x")
		wantCode(t, err, domain.ENOTFOUND)
	})
	t.Run("Destroy", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		s.CreateGroup(ctx, ns, "worker:gone", 0)
		if err := s.DestroyGroup(ctx, ns, "worker:gone"); err != nil {
			t.Fatal(err)
		}
		if err := s.DestroyGroup(ctx, ns, "worker:gone"); err != nil {
			t.Fatalf("destroying a missing group: %v", err)
		}
		_, err := s.ReadGroup(ctx, ns, "worker:gone", "x", 1, 0)
		wantCode(t, err, domain.ENOTFOUND)
	})
}

func revisions(events []streams.Entry) []domain.Revision {
	out := make([]domain.Revision, len(events))
	for i, e := range events {
		out[i] = e.Revision
	}
	return out
}
