package streams_test

import (
	"testing"
	"time"

	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

func TestDurability(t *testing.T) {
	t.Parallel()
	srv := valkeytest.Start(t, "--appendonly", "yes", "--appendfsync", "everysec")
	client := mustClient(t, srv.Addr)
	ctx := testCtx(t)
	t.Run("LocalAOF", func(t *testing.T) {
		s, _ := streams.New(client, streams.Config{Durability: streams.Durability{AOF: true}}, nil)
		ns := randomNS(t)
		res, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`)})
		if err != nil {
			t.Fatal(err)
		}
		if d := res.Durability; d == nil || !d.LocalAOF || !d.Achieved {
			t.Fatalf("got %+v, want the local AOF fsync confirmed", d)
		}
	})
	t.Run("MissingReplicaReported", func(t *testing.T) {
		s, _ := streams.New(client, streams.Config{Durability: streams.Durability{Replicas: 1, Timeout: 50 * time.Millisecond}}, nil)
		ns := randomNS(t)
		res, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`)})
		if err != nil {
			t.Fatalf("the append itself must succeed: %v", err)
		}
		if d := res.Durability; d == nil || d.Achieved || d.Replicas != 0 {
			t.Fatalf("got %+v, want 0 replicas and not achieved", d)
		}
		if res.Revision != 1 {
			t.Fatalf("got revision %d, want 1", res.Revision)
		}
	})
}

// TestPromotableFlags: a replica Sentinel marks down or cannot reach is
// not one it could promote, so appends need not wait for it.
func TestPromotableFlags(t *testing.T) {
	for flags, want := range map[string]bool{
		"slave":                      true,
		"slave,master_link_down":     true,
		"slave,s_down":               false,
		"slave,s_down,disconnected":  false,
		"slave,disconnected":         false,
		"slave,o_down":               false,
		"slave,promoted,failover_in": true,
	} {
		if got := streams.PromotableFlags(flags); got != want {
			t.Errorf("%q: got %v, want %v", flags, got, want)
		}
	}
}
