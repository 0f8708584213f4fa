package usecase_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
	"github.com/flowhist/flowhist/usecase"
)

// TestAuditOrder reads three namespaces of 500 events each (more than a
// batch) newest first and, following, oldest first from the beginning:
// every event once, in the audit's order, whichever way.
func TestAuditOrder(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s, prefix := mustStore(t)
	app := mustApp(t, s)
	names := []string{prefix + "-a", prefix + "-b", prefix + "-c"}
	for i := 0; i < 500; i++ {
		for _, ns := range names[:1+i%3] { // uneven: a gets the most
			streamstest.AppendMixed(t, ctx, s, ns, 1)
		}
	}
	total := 0
	for _, ns := range names {
		h, _ := s.Head(ctx, ns)
		total += int(h.Revision)
	}
	q := usecase.AuditQuery{Namespaces: []string{prefix + "-*"}}
	var back []string
	if _, err := app.Audit(ctx, q, func(e *domain.Event, c string) error { back = append(back, c); return nil }); err != nil {
		t.Fatal(err)
	}
	var fwd []string
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second) // a miss fails, not hangs
	defer cancel()
	stop := errors.New("enough")
	q.Follow, q.Cursor = true, "0.0."+prefix // before everything
	_, err := app.Audit(fctx, q, func(e *domain.Event, c string) error {
		fwd = append(fwd, c)
		if len(fwd) == total {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("follow ended with %v after %d of %d", err, len(fwd), total)
	}
	if len(back) != total {
		t.Fatalf("newest first: got %d events, want %d", len(back), total)
	}
	for i := range fwd {
		if fwd[i] != back[total-1-i] {
			t.Fatalf("event %d: following got %s, newest first read %s there", i, fwd[i], back[total-1-i])
		}
	}
}

// TestAuditFollowFromACursorInABurst: events of one namespace in the same
// millisecond as the cursor's, after it, are not skipped.
func TestAuditFollowFromACursorInABurst(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s, ns := mustStore(t)
	app := mustApp(t, s)
	streamstest.AppendMixed(t, ctx, s, ns, 3)
	// The three in one millisecond, as a burst of appends can be.
	c := streamstest.Client(t, "")
	entries := streamstest.Entries(t, ctx, c, ns)
	for _, e := range entries {
		e.FieldValues["t"] = entries[0].FieldValues["t"]
	}
	streamstest.RewriteLog(t, ctx, c, ns, entries)
	events, err := s.Read(ctx, ns, streams.Query{})
	if err != nil {
		t.Fatal(err)
	}
	cur := usecase.AuditCursor{Time: events[0].Time, Namespace: ns, Revision: 1}.String()
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second) // a miss fails, not hangs
	defer cancel()
	var got []domain.Revision
	stop := errors.New("enough")
	_, err = app.Audit(fctx, usecase.AuditQuery{Namespaces: []string{ns}, Follow: true, Cursor: cur}, func(e *domain.Event, _ string) error {
		got = append(got, e.Revision)
		if len(got) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || got[0] != 2 || got[1] != 3 {
		t.Fatalf("got %v (%v), want revisions 2 and 3", got, err)
	}
}

// TestAuditActorPages: a query by actor, whose pages pass over other
// users' entries undecoded, answers the same events and cursors, page
// after page (bounded scans included), as the same filter in Match.
func TestAuditActorPages(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s, prefix := mustStore(t)
	app := mustApp(t, s)
	names := []string{prefix + "-a", prefix + "-b"}
	users := []string{"alice", "bob", "<bob>", "bob ", "ｂob", "carol"}
	for i := 0; i < 150; i++ {
		ns := names[i%2]
		payload, _ := domain.EncodePayload(domain.SettingsPayload{Settings: []byte(`{}`)})
		e := domain.Event{
			Type: domain.SettingsSaved, Namespace: ns, Aggregate: domain.AggregateSettings,
			Provenance: domain.Provenance{Actor: domain.Actor{User: users[i*7%len(users)], Channel: domain.ChannelAPI}, SHA256: domain.SHA256Hex([]byte(`{}`))},
			Schema:     domain.SettingsPayloadSchema, Payload: payload,
		}
		if _, err := s.Append(ctx, streams.AppendRequest{Event: e}); err != nil {
			t.Fatal(err)
		}
	}
	pages := func(q usecase.AuditQuery) (got []string) {
		for page := 0; ; page++ {
			next, err := app.Audit(ctx, q, func(e *domain.Event, c string) error {
				got = append(got, e.Actor.User+" "+c)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, "page "+next)
			if next == "" || page > 100 {
				return got
			}
			q.Cursor = next
		}
	}
	for _, u := range users {
		by := pages(usecase.AuditQuery{Namespaces: []string{prefix + "-*"}, Limit: 4, MaxScan: 9, Actor: u})
		want := pages(usecase.AuditQuery{Namespaces: []string{prefix + "-*"}, Limit: 4, MaxScan: 9,
			Match: func(e *domain.Event) bool { return e.Actor.User == u }})
		if len(by) != len(want) || len(want) < 10 {
			t.Fatalf("user %q: got %d lines, want %d (at least 10)", u, len(by), len(want))
		}
		for i := range want {
			if by[i] != want[i] {
				t.Fatalf("user %q: line %d is %q, want %q", u, i, by[i], want[i])
			}
		}
	}
}
