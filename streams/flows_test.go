package streams_test

import (
	"bytes"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
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
		var c domain.FlowsChange
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
		res, err := streamstest.AppendFlows(ctx, s, ns, c, "")
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
