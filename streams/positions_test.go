package streams_test

import (
	"fmt"
	"testing"

	"github.com/flowhist/flowhist/streams"
)

// TestMarkDivergedSparesWorkersOnHeldEvents: a lost write's revision is
// taken again by a new event, so a worker delivered that revision may run
// the lost event or the new one. MarkDiverged marks the first kind and
// spares a worker whose acknowledgement named the new event (the projector
// may find the loss only after workers reloaded and acknowledged the next
// deploy); once the log stops holding that event too, it is marked.
func TestMarkDivergedSparesWorkersOnHeldEvents(t *testing.T) {
	s, ns := mustStore(t, streams.Config{})
	ctx := testCtx(t)
	workers := []string{"acked", "polled", "behind", "noid"}
	for _, w := range workers {
		if _, err := s.CreateWorkerGroup(ctx, ns, w, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		if _, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, fmt.Sprintf(`{"i":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	one, _, err := s.EventAt(ctx, ns, 1)
	if err != nil {
		t.Fatal(err)
	}
	two, _, err := s.EventAt(ctx, ns, 2)
	if err != nil {
		t.Fatal(err)
	}
	// "acked" and "polled" run revision 2 and said which event; "behind"
	// runs 1 but was delivered 2; "noid" acknowledged 2 without naming it
	// (an older client).
	if _, err := s.AckWorkers(ctx, ns, []streams.WorkerAck{
		{Worker: "acked", Revision: 2, ID: two.ID},
		{Worker: "behind", Revision: 1, ID: one.ID},
		{Worker: "noid", Revision: 2},
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Poll(ctx, ns, streams.WorkerPoll{Worker: "polled", Ack: 2, AckID: two.ID}); err != nil {
		t.Fatal(err)
	}
	n, err := s.MarkDiverged(ctx, ns, 2)
	if err != nil {
		t.Fatal(err)
	}
	marks, err := s.DivergedWorkers(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || len(marks) != 2 || marks["behind"] != 2 || marks["noid"] != 2 {
		t.Fatalf("marked %d: %v; want behind and noid at 2, acked and polled spared", n, marks)
	}

	// The log loses revision 2 and another event takes it (as a restore
	// from an older AOF does, groups included): "acked" and "polled" now
	// run an event the log does not hold.
	c := mustClient(t, "")
	log := "fh:{" + ns + "}:log"
	first, err := c.Do(ctx, c.B().Xrange().Key(log).Start("1-0").End("1-0").Build()).AsXRange()
	if err != nil || len(first) != 1 {
		t.Fatalf("revision 1: %v %v", first, err)
	}
	cmds := [][]string{{"DEL", log}, {"XADD", log, "1-0"}}
	for k, v := range first[0].FieldValues {
		cmds[1] = append(cmds[1], k, v)
	}
	cmds = append(cmds, []string{"XADD", log, "2-0", "e", `{"id":"another"}`, "a", "settings"})
	for _, w := range workers {
		cmds = append(cmds, []string{"XGROUP", "CREATE", log, streams.WorkerGroup(w), "2-0"})
	}
	for _, cmd := range cmds {
		b := c.B().Arbitrary(cmd[0])
		if cmd[0] == "XGROUP" {
			b = c.B().Arbitrary(cmd[0], cmd[1])
			cmd = cmd[1:]
		}
		if err := c.Do(ctx, b.Keys(cmd[1]).Args(cmd[2:]...).Build()).Error(); err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
	}
	if n, err := s.MarkDiverged(ctx, ns, 2); err != nil || n != 2 {
		t.Fatalf("got %d marked (%v) once the log lost their event, want acked and polled", n, err)
	}
	if marks, err = s.DivergedWorkers(ctx, ns); err != nil || len(marks) != 4 {
		t.Fatalf("got %v (%v), want all four marked", marks, err)
	}

	// A destroyed group's worker is forgotten whole: a new worker of the
	// same id is not spared by what the old one acknowledged.
	if err := s.ForgetDiverged(ctx, ns, "acked"); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Do(ctx, c.B().Hexists().Key("fh:{"+ns+"}:workers:acked").Field("acked").Build()).AsBool(); err != nil || got {
		t.Fatalf("the forgotten worker's acknowledged position: exists %v (%v), want gone", got, err)
	}
}
