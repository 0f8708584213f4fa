package streams_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
)

// TestFlowsAtSnapshotBlobMissing: a snapshot's blob found missing is
// corruption only if the snapshot is still listed. A failover can answer
// the listing from a primary that wrote the snapshot after its successor
// was elected and the blob's GET from the successor, which never had
// either (cmd/flowhist's TestSentinelFailoverLosesNothingAcknowledged once
// answered "corrupt" so): that window is EUNAVAILABLE, and a retry reads
// the right document.
func TestFlowsAtSnapshotBlobMissing(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T) (*streams.Store, string, []byte, string) {
		s, ns := mustStore(t, streams.Config{SnapshotEvery: 2})
		ctx := testCtx(t)
		doc := domaintest.NewDoc(20)
		for i := 0; i < 5; i++ {
			doc.Touch(i)
			if _, err := streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: mustParse(t, doc.Bytes())}, ""); err != nil {
				t.Fatal(err)
			}
		}
		c := s.Client()
		snaps, err := c.Do(ctx, c.B().Zrange().Key("fh:{"+ns+"}:snaps").Min("+inf").Max("-inf").Byscore().Rev().Limit(0, 1).Build()).AsStrSlice()
		if err != nil || len(snaps) != 1 {
			t.Fatalf("got snapshots %q (%v), want one", snaps, err)
		}
		fresh, _ := streams.New(c, streams.Config{}, nil) // no cached head
		return fresh, ns, doc.Bytes(), snaps[0]
	}
	lose := func(t *testing.T, s *streams.Store, ns, member string, listed bool) {
		c := s.Client()
		cmds := []string{"DEL", "fh:{" + ns + "}:blob:" + strings.Split(member, ":")[2]}
		if err := c.Do(testCtx(t), c.B().Arbitrary(cmds...).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		if !listed {
			if err := c.Do(testCtx(t), c.B().Zrem().Key("fh:{"+ns+"}:snaps").Member(member).Build()).Error(); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("ErrUnavailableWhenAFailoverLostTheSnapshot", func(t *testing.T) {
		s, ns, want, member := setup(t)
		done := streams.OnSnapshotListed(ns, func() { lose(t, s, ns, member, false) })
		_, err := s.FlowsAt(testCtx(t), ns, 0)
		done()
		wantCode(t, err, domain.EUNAVAILABLE)
		v, err := s.FlowsAt(testCtx(t), ns, 0) // the retry
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if !bytes.Equal(v.Flows.Bytes(), want) {
			t.Fatal("retry: document differs")
		}
	})
	t.Run("ErrCorruptWhenTheListedSnapshotHasNoBlob", func(t *testing.T) {
		s, ns, _, member := setup(t)
		lose(t, s, ns, member, true)
		_, err := s.FlowsAt(testCtx(t), ns, 0)
		wantCode(t, err, domain.ECORRUPT)
		if !strings.Contains(domain.ErrorMessage(err), "is missing") {
			t.Fatalf("got %v, want the missing blob named", err)
		}
	})
}
