package streams_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
)

func TestAppend(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		for i := 1; i <= 3; i++ {
			res, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, fmt.Sprintf(`{"n":%d}`, i)), Expected: domain.ExpectRevision(domain.Revision(i - 1))})
			if err != nil {
				t.Fatalf("append %d: %v", i, err)
			}
			if res.Revision != domain.Revision(i) || res.AggregateRevision != domain.Revision(i) {
				t.Fatalf("got revision %d/%d, want %d/%d", res.Revision, res.AggregateRevision, i, i)
			}
			if want := fmt.Sprintf("%d-0", i); res.EntryID != want {
				t.Fatalf("got entry id %s, want %s", res.EntryID, want)
			}
		}
		e, err := s.ReadRevision(ctx, ns, 2)
		if err != nil {
			t.Fatal(err)
		}
		if e.Type != domain.SettingsSaved || e.Actor.User != "alice" || string(e.Payload) != `{"settings":{"n":2}}` || e.ID == "" {
			t.Fatalf("got %+v payload %s", e, e.Payload)
		}
	})
	t.Run("ErrStaleRevision", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		if _, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`), Expected: domain.ExpectNone}); err != nil {
			t.Fatal(err)
		}
		_, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{"a":1}`), Expected: domain.ExpectNone})
		wantCode(t, err, domain.ECONFLICT)
		var de *domain.Error
		if !errors.As(err, &de) || de.CurrentRevision != 1 {
			t.Fatalf("got %v, want a conflict carrying current revision 1", err)
		}
		if h, _ := s.Head(ctx, ns); h.Revision != 1 {
			t.Fatalf("got head %d after a conflict, want 1", h.Revision)
		}
	})
	t.Run("AggregatesAreIndependent", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`)})
		doc := []byte(`[{"id":"a","type":"tab"}]`)
		res, err := streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: mustParse(t, doc)}, "") // based on no flows
		if err != nil {
			t.Fatalf("a settings save made a flows deploy fail: %v", err)
		}
		if res.Revision != 2 || res.AggregateRevision != 1 {
			t.Fatalf("got %d/%d, want namespace revision 2, flows revision 1", res.Revision, res.AggregateRevision)
		}
	})
	t.Run("ErrInvalidNothingAppended", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		for name, e := range map[string]domain.Event{
			"no type":       {Namespace: ns, Aggregate: "settings", Schema: 1},
			"bad namespace": {Type: domain.SettingsSaved, Namespace: "a{b}", Aggregate: "settings", Schema: 1},
			"no aggregate":  {Type: domain.SettingsSaved, Namespace: ns, Schema: 1},
			"no schema":     {Type: domain.SettingsSaved, Namespace: ns, Aggregate: "settings"},
		} {
			_, err := s.Append(ctx, streams.AppendRequest{Event: e})
			if domain.ErrorCode(err) != domain.EINVALID {
				t.Errorf("%s: got %v, want EINVALID", name, err)
			}
		}
		_, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`), IdempotencyKey: "has space"})
		wantCode(t, err, domain.EINVALID)
		if h, _ := s.Head(ctx, ns); h.Revision != 0 {
			t.Fatalf("got head %d after invalid appends, want 0", h.Revision)
		}
	})
	t.Run("ErrNewerSchema", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`)})
		streamstest.SetSchemaVersion(t, ctx, s.Client(), ns, 99)
		_, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`)})
		if err == nil {
			t.Fatal("appended to a namespace with a newer keyspace schema")
		}
	})
}

func TestAppendConcurrency(t *testing.T) {
	t.Parallel()
	const n = 50
	t.Run("ExactOneWins", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, fmt.Sprintf(`{"i":%d}`, i)), Expected: domain.ExpectNone})
			}()
		}
		wg.Wait()
		ok, conflicts := 0, 0
		for _, err := range errs {
			switch domain.ErrorCode(err) {
			case "":
				ok++
			case domain.ECONFLICT:
				conflicts++
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
		if ok != 1 || conflicts != n-1 {
			t.Fatalf("got %d successes and %d conflicts, want 1 and %d", ok, conflicts, n-1)
		}
	})
	t.Run("AnyAllAppendGapless", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		var wg sync.WaitGroup
		revs := make([]domain.Revision, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, fmt.Sprintf(`{"i":%d}`, i))})
				if err != nil {
					t.Errorf("append %d: %v", i, err)
				}
				revs[i] = res.Revision
			}()
		}
		wg.Wait()
		events, err := s.Read(ctx, ns, streams.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != n {
			t.Fatalf("got %d events, want %d", len(events), n)
		}
		for i, e := range events {
			if e.Revision != domain.Revision(i+1) || e.AggregateRevision != domain.Revision(i+1) {
				t.Fatalf("event %d has revision %d/%d, want %d", i, e.Revision, e.AggregateRevision, i+1)
			}
			if i > 0 && e.Time.Before(events[i-1].Time) {
				t.Fatalf("revision %d is older than the one before", e.Revision)
			}
		}
		seen := map[domain.Revision]bool{}
		for _, r := range revs {
			seen[r] = true
		}
		if len(seen) != n {
			t.Fatalf("got %d distinct revisions returned, want %d", len(seen), n)
		}
	})
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	t.Run("SameKeySameResult", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		req := streams.AppendRequest{Event: settingsEvent(ns, `{"a":1}`), IdempotencyKey: "save-1"}
		first, err := s.Append(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		second, err := s.Append(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !second.Duplicate || second.Revision != first.Revision || second.EntryID != first.EntryID || !second.Time.Equal(first.Time) {
			t.Fatalf("got %+v, want the first result %+v marked duplicate", second, first)
		}
		if h, _ := s.Head(ctx, ns); h.Revision != 1 {
			t.Fatalf("got %d events, want 1", h.Revision)
		}
	})
	t.Run("FlowsRetryAfterSuccess", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		c := domain.FlowsChange{Flows: mustParse(t, []byte(`[{"id":"a"}]`))}
		first, err := streamstest.AppendFlows(ctx, s, ns, c, "deploy-7")
		if err != nil {
			t.Fatal(err)
		}
		second, err := streamstest.AppendFlows(ctx, s, ns, c, "deploy-7")
		if err != nil {
			t.Fatal(err)
		}
		if second.Revision != first.Revision || !second.Duplicate {
			t.Fatalf("got %+v, want duplicate of %+v", second.AppendResult, first.AppendResult)
		}
		if second.SHA256 != first.SHA256 || len(second.Summary.Added) != 1 || second.Summary.Added[0].ID != "a" {
			t.Fatalf("got sha %s summary %+v, want the first answer's (%s, node a added)", second.SHA256, second.Summary, first.SHA256)
		}
	})
	t.Run("ErrKeyReusedForOtherRequest", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		if _, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{"a":1}`), IdempotencyKey: "k"}); err != nil {
			t.Fatal(err)
		}
		_, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{"a":2}`), IdempotencyKey: "k"})
		wantCode(t, err, domain.EINVALID)
	})
}
