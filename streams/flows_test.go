package streams_test

import (
	"bytes"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/streams"
)

func TestFlowsAt(t *testing.T) {
	t.Parallel()
	// Small snapshot interval: the rebuilds below cross several snapshots.
	s, ns := mustStore(t, streams.Config{SnapshotEvery: 7})
	ctx := testCtx(t)
	doc := domaintest.NewDoc(120)
	want := map[domain.Revision][]byte{}
	creds := map[domain.Revision][]byte{}
	var cur []byte
	for i := 0; i < 40; i++ {
		c := streams.FlowsChange{FlowsChange: domain.FlowsChange{}, Expected: domain.ExpectAny}
		switch {
		case i%10 == 3:
			cur = []byte(`{"$":"` + string(rune('a'+i%26)) + `0011223344"}`)
			c.Credentials = cur
			c.Type = domain.CredentialsSaved
		case i%5 == 4:
			// a settings save between deploys
			if _, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`)}); err != nil {
				t.Fatal(err)
			}
			continue
		default:
			doc.Touch((i * 37) % doc.Len())
			c.Flows = mustParse(t, doc.Bytes())
		}
		res, err := s.AppendFlows(ctx, ns, c)
		if err != nil {
			t.Fatalf("deploy %d: %v", i, err)
		}
		want[res.Revision] = doc.Bytes()
		creds[res.Revision] = cur
	}
	// A fresh store has no cache: everything is rebuilt from Valkey.
	fresh, _ := streams.New(s.Client(), streams.Config{}, nil)
	for rev, w := range want {
		v, err := fresh.FlowsAt(ctx, ns, rev)
		if err != nil {
			t.Fatalf("FlowsAt(%d): %v", rev, err)
		}
		if !bytes.Equal(v.Flows.Bytes(), w) {
			t.Fatalf("FlowsAt(%d): document differs", rev)
		}
		if !bytes.Equal(v.Credentials, creds[rev]) {
			t.Fatalf("FlowsAt(%d): got credentials %s, want %s", rev, v.Credentials, creds[rev])
		}
		if v.Revision != rev {
			t.Fatalf("FlowsAt(%d): got revision %d", rev, v.Revision)
		}
	}
	c := s.Client()
	n, err := c.Do(ctx, c.B().Zcard().Key("fh:{"+ns+"}:snaps").Build()).AsInt64()
	if err != nil || n < 3 {
		t.Fatalf("got %d snapshots (%v), want at least 3 for 32 flows revisions every 7", n, err)
	}
	t.Run("ErrPastEnd", func(t *testing.T) {
		_, err := s.FlowsAt(ctx, ns, 1000)
		wantCode(t, err, domain.ENOTFOUND)
	})
}

func TestAppendFlowsConflict(t *testing.T) {
	t.Parallel()
	s, ns := mustStore(t, streams.Config{})
	other, _ := streams.New(s.Client(), streams.Config{}, nil) // a second replica with its own cache
	ctx := testCtx(t)
	doc := domaintest.NewDoc(10)
	if _, err := s.AppendFlows(ctx, ns, streams.FlowsChange{FlowsChange: domain.FlowsChange{Flows: mustParse(t, doc.Bytes())}, Expected: domain.ExpectNone}); err != nil {
		t.Fatal(err)
	}
	doc.Touch(3)
	if _, err := other.AppendFlows(ctx, ns, streams.FlowsChange{FlowsChange: domain.FlowsChange{Flows: mustParse(t, doc.Bytes())}, Expected: domain.ExpectRevision(1)}); err != nil {
		t.Fatalf("second replica, fresh expectation: %v", err)
	}
	doc.Touch(4)
	// s's cache still says revision 1.
	_, err := s.AppendFlows(ctx, ns, streams.FlowsChange{FlowsChange: domain.FlowsChange{Flows: mustParse(t, doc.Bytes())}, Expected: domain.ExpectRevision(1)})
	wantCode(t, err, domain.ECONFLICT)
	// With ExpectAny, s re-diffs against the real head.
	res, err := s.AppendFlows(ctx, ns, streams.FlowsChange{FlowsChange: domain.FlowsChange{Flows: mustParse(t, doc.Bytes())}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := other.FlowsAt(ctx, ns, res.Revision)
	if err != nil || !bytes.Equal(v.Flows.Bytes(), doc.Bytes()) {
		t.Fatalf("after a re-diffed deploy the document does not rebuild (%v)", err)
	}
	if len(res.Summary.Changed) != 1 || res.Summary.Changed[0].ID != domaintest.ID(4) {
		t.Fatalf("got summary %+v, want node 4 changed only", res.Summary)
	}
}
