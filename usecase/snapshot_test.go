package usecase_test

import (
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/usecase"
)

// TestDeploySnapshotsInTheBackground: a deploy that finds a snapshot due
// answers without writing it; the snapshot is written in the background,
// once (Close waits for it), and rebuilt revisions still read back.
func TestDeploySnapshotsInTheBackground(t *testing.T) {
	t.Parallel()
	c := streamstest.Client(t, "")
	s, err := streams.New(c, streams.Config{SnapshotEvery: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ns := streamstest.Namespace(t)
	app := mustApp(t, s)
	ctx := testCtx(t)
	doc := domaintest.NewDoc(40)
	for i := range 12 {
		doc.Touch(i)
		if _, err := app.Deploy(ctx, usecase.Deploy{Request: req(ns, domain.ExpectAny), Flows: doc.Flows(t)}); err != nil {
			t.Fatal(err)
		}
	}
	app.Close()
	n, err := c.Do(ctx, c.B().Zcard().Key("fh:{"+ns+"}:snaps").Build()).AsInt64()
	if err != nil || n < 2 {
		t.Fatalf("got %d snapshots (%v), want at least 2 for 12 deploys every 5", n, err)
	}
	// Each revision is covered by one snapshot at most: the counters of
	// what the next one covers never go below zero.
	revs, err := c.Do(ctx, c.B().Hget().Key(streams.KeysOf(ns).Meta).Field("snap:revs").Build()).AsInt64()
	if err != nil || revs < 0 || revs >= 5 {
		t.Fatalf("got %d revisions since the last snapshot (%v), want 0 to 4", revs, err)
	}
	fresh, _ := streams.New(c, streams.Config{}, nil)
	v, err := fresh.FlowsAt(ctx, ns, 0)
	if err != nil || v.Flows.SHA256() != domain.SHA256Hex(doc.Bytes()) {
		t.Fatalf("head rebuilt: %v", err)
	}
}
