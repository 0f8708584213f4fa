package streams_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/streams/valkeytest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestLateSnapshotOfALostAppend: a snapshot an append found due is written
// after the deploy was answered. If Valkey lost that append meanwhile (here:
// killed and restarted from a file saved just before it), the snapshot must
// not be written: the next deploy takes the lost revision, and a snapshot
// there would answer the lost document for it (and the next deploy would
// build on it).
func TestLateSnapshotOfALostAppend(t *testing.T) {
	t.Parallel()
	srv := valkeytest.Start(t)
	c := streamstest.Client(t, srv.Addr)
	s, err := streams.New(c, streams.Config{SnapshotEvery: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ns := randomNS(t)
	ctx := testCtx(t)
	doc := domaintest.NewDoc(40)
	var snap *streams.FlowsSnapshot
	var lost domain.Revision
	for i := 0; snap == nil; i++ {
		if i > 10 {
			t.Fatal("no snapshot came due in 10 deploys with SnapshotEvery 3")
		}
		// Valkey's file: everything before this append.
		if err := c.Do(ctx, c.B().Save().Build()).Error(); err != nil {
			t.Fatal(err)
		}
		doc.Touch(i)
		base, err := s.FlowsHead(ctx, ns, false)
		if err != nil {
			t.Fatal(err)
		}
		fe, err := domain.NewFlowsEvent(ns, base.Head(), domain.FlowsChange{Flows: mustParse(t, doc.Bytes())})
		if err != nil {
			t.Fatal(err)
		}
		res, sn, err := s.AppendFlowsSnapshotLater(ctx, ns, base, fe, "")
		if err != nil {
			t.Fatal(err)
		}
		snap, lost = sn, res.Revision
	}
	srv.Kill()
	srv.Restart(t) // from the file: revision lost is lost
	// A client and store of their own, connected after the restart; the
	// store logs what became of the snapshot.
	c = streamstest.Client(t, srv.Addr)
	core, logs := observer.New(zap.WarnLevel)
	late, err := streams.New(c, streams.Config{SnapshotEvery: 3}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	late.SaveSnapshot(ctx, snap) // the background write lands now
	snaps := func() []string {
		t.Helper()
		m, err := c.Do(ctx, c.B().Zrange().Key("fh:{"+ns+"}:snaps").Min("0").Max("+inf").Byscore().Build()).AsStrSlice()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if got := snaps(); slices.ContainsFunc(got, func(m string) bool { return strings.HasPrefix(m, lost.String()+":") }) {
		t.Fatalf("snapshots %q: one at the lost revision %d was written", got, lost)
	}
	if got := logs.FilterMessage("flows snapshot failed").All(); len(got) != 1 || !strings.Contains(fmt.Sprint(got[0].ContextMap()["error"]), "no longer holds") {
		t.Fatalf("logged %v, want the snapshot refused because the log no longer holds its event", logs.All())
	}

	// Another deploy takes the lost revision; its flows are its own.
	other, err := streams.New(c, streams.Config{SnapshotEvery: 1000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	next := domaintest.NewDoc(40)
	next.Touch(39)
	res, err := streamstest.AppendFlows(ctx, other, ns, domain.FlowsChange{Flows: mustParse(t, next.Bytes())}, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Revision != lost {
		t.Fatalf("the next deploy is revision %d, want the lost %d again", res.Revision, lost)
	}
	fresh, err := streams.New(c, streams.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := fresh.FlowsAt(ctx, ns, lost)
	if err != nil {
		t.Fatal(err)
	}
	if string(v.Flows.Bytes()) != string(next.Bytes()) {
		t.Fatalf("revision %d answers another document than its event's (the lost deploy's: %v)", lost, string(v.Flows.Bytes()) == string(doc.Bytes()))
	}
}
