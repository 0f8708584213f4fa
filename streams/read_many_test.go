package streams_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// MaybeActor may only say "certainly not" of an entry whose user is not
// the one asked for: every user asked for, however spelled in the log
// (escaped by the encoder, escaped by hand, invalid UTF-8, markup, look-
// alikes, another field holding the name), reads back the same events
// with and without it.
func TestReadManyMaybeActor(t *testing.T) {
	t.Parallel()
	s, ns := mustStore(t, streams.Config{})
	ctx := testCtx(t)
	users := []string{"alice", "bob", "ali", "alice ", "Alice", "ａlice", "alicé", "ali\u0301ce", `al"ice`, `al\ice`,
		"<b>alice</b>", "a&b", "a\u2028b", "tab\there", "\uFFFDbob", "", "bob\u0000"}
	for _, u := range users {
		e := settingsEvent(ns, `{}`)
		e.Actor.User = u
		if _, err := s.Append(ctx, streams.AppendRequest{Event: e}); err != nil {
			t.Fatal(err)
		}
	}
	// Entries the encoder would not write, but a log may hold: a hand
	// escaped name, invalid UTF-8 (decoded as U+FFFD), the name elsewhere.
	c := mustClient(t, "")
	rev := len(users)
	for _, env := range []string{
		`{"id":"x1","type":"settings.saved","actor":{"user":"\u0061lice"},"schema":1}`,
		`{"id":"x2","type":"settings.saved","actor":{"user":"\u0062ob","channel":"alice"},"schema":1}`,
		"{\"id\":\"x3\",\"type\":\"settings.saved\",\"actor\":{\"user\":\"\xffbob\"},\"schema\":1}",
		`{"id":"x4","type":"settings.saved","actor":{"channel":"bob"},"reason":"alice","schema":1}`,
		`{"id":"x5","type":"settings.saved","ACTOR":{"USER":"bob"},"schema":1}`,
		`{"id":"x6","type":"settings.saved","actor":{"user":"carol"},"schema":1}`,
	} {
		rev++
		err := c.Do(ctx, c.B().Xadd().Key(streams.KeysOf(ns).Log).Id(strconv.Itoa(rev)+"-0").FieldValue().
			FieldValue("e", env).FieldValue("p", `{"settings":{}}`).FieldValue("a", domain.AggregateSettings).
			FieldValue("r", strconv.Itoa(rev)).FieldValue("t", strconv.FormatInt(time.Now().UnixMilli(), 10)).Build()).Error()
		if err != nil {
			t.Fatal(err)
		}
	}
	all, _, err := s.ReadMany(ctx, []streams.Range{{Namespace: ns, Backward: true, Limit: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if len(all[0]) != rev {
		t.Fatalf("got %d events, want %d", len(all[0]), rev)
	}
	skippedAny := false
	for _, u := range append(users, "carol", "\u0061lice", "x", `\u0061lice`) {
		maybe := streams.MaybeActor(u)
		got, _, err := s.ReadMany(ctx, []streams.Range{{Namespace: ns, Backward: true, Limit: 1000, Maybe: maybe}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got[0]) != len(all[0]) {
			t.Fatalf("user %q: got %d events, want %d", u, len(got[0]), len(all[0]))
		}
		matches, want := 0, 0
		for _, e := range all[0] {
			if e.Actor.User == u {
				want++
			}
		}
		for i, e := range got[0] {
			want := all[0][i]
			if e.Revision != want.Revision || !e.Time.Equal(want.Time) || e.Namespace != ns {
				t.Fatalf("user %q: event %d is revision %d at %s in %q, want %d at %s in %q", u, i, e.Revision, e.Time, e.Namespace, want.Revision, want.Time, ns)
			}
			if streams.Skipped(e) {
				skippedAny = true
				if want.Actor.User == u && u != "" {
					t.Errorf("user %q: revision %d (user %q) was skipped", u, want.Revision, want.Actor.User)
				}
				continue
			}
			if e.ID != want.ID || e.Actor != want.Actor {
				t.Errorf("user %q: revision %d reads %q %+v, want %q %+v", u, e.Revision, e.ID, e.Actor, want.ID, want.Actor)
			}
			if e.Actor.User == u {
				matches++
			}
		}
		if u != "" && matches != want {
			t.Errorf("user %q: %d events read are theirs, want %d", u, matches, want)
		}
	}
	if !skippedAny {
		t.Error("nothing was skipped: the pre-filter does nothing")
	}
	if streams.MaybeActor("") != nil {
		t.Error(`MaybeActor(""): got a filter, want nil (everyone's)`)
	}
}

// An entry the pre-filter lets through is decoded as ever: one claiming
// the type of skipped events is corrupt, not passed over.
func TestReadManyMaybeSkippedTypeIsCorrupt(t *testing.T) {
	t.Parallel()
	s, ns := mustStore(t, streams.Config{})
	ctx := testCtx(t)
	c := mustClient(t, "")
	err := c.Do(ctx, c.B().Xadd().Key(streams.KeysOf(ns).Log).Id("1-0").FieldValue().
		FieldValue("e", `{"id":"x","type":"\u0000skipped","actor":{"user":"bob"},"schema":1}`).FieldValue("p", `{}`).
		FieldValue("a", domain.AggregateSettings).FieldValue("r", "1").FieldValue("t", "1").Build()).Error()
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.ReadMany(ctx, []streams.Range{{Namespace: ns, Maybe: streams.MaybeActor("bob")}})
	wantCode(t, err, domain.ECORRUPT)
}

// TestReadManyMaybeActorCorrupt: an entry whose envelope is missing or cut
// short is reported corrupt by a read filtered by user, as by an unfiltered
// one, not passed over as someone else's.
func TestReadManyMaybeActorCorrupt(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := mustClient(t, "")
	for _, env := range []string{"", `{"id":"x1","type":"settings.saved","actor":{"us`} {
		s, ns := mustStore(t, streams.Config{})
		if _, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`)}); err != nil {
			t.Fatal(err)
		}
		b := c.B().Xadd().Key(streams.KeysOf(ns).Log).Id("2-0").FieldValue().
			FieldValue("p", `{"settings":{}}`).FieldValue("a", domain.AggregateSettings).
			FieldValue("r", "2").FieldValue("t", strconv.FormatInt(time.Now().UnixMilli(), 10))
		if env != "" {
			b = b.FieldValue("e", env)
		}
		if err := c.Do(ctx, b.Build()).Error(); err != nil {
			t.Fatal(err)
		}
		for _, maybe := range []func(string) bool{nil, streams.MaybeActor("bob")} {
			_, _, err := s.ReadMany(ctx, []streams.Range{{Namespace: ns, Backward: true, Limit: 10, Maybe: maybe}})
			if domain.ErrorCode(err) != domain.ECORRUPT {
				t.Fatalf("envelope %q, filtered %v: got %v, want corrupt", env, maybe != nil, err)
			}
		}
	}
}
