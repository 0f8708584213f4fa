package streams_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

func TestRead(t *testing.T) {
	t.Parallel()
	s, ns := mustStore(t, streams.Config{})
	ctx := testCtx(t)
	var times []time.Time
	for i := 1; i <= 30; i++ {
		res, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, fmt.Sprintf(`{"i":%d}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, res.Time)
	}
	revs := func(events []*domain.Event) []domain.Revision {
		out := make([]domain.Revision, len(events))
		for i, e := range events {
			out[i] = e.Revision
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    streams.Query
		want []domain.Revision
	}{
		{"ForwardRange", streams.Query{From: 3, To: 5}, []domain.Revision{3, 4, 5}},
		{"BackwardLimit", streams.Query{Backward: true, Limit: 3}, []domain.Revision{30, 29, 28}},
		{"BackwardFromTo", streams.Query{Backward: true, From: 10, To: 12}, []domain.Revision{12, 11, 10}},
		{"ForwardLimit", streams.Query{From: 28, Limit: 10}, []domain.Revision{28, 29, 30}},
		{"PastEnd", streams.Query{From: 31}, []domain.Revision{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Read(ctx, ns, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(revs(got)) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", revs(got), tc.want)
			}
		})
	}
	t.Run("TimeRange", func(t *testing.T) {
		// Times have millisecond resolution and may repeat: the range is
		// every revision whose time is within [since, until].
		since, until := times[9], times[19]
		var want []domain.Revision
		for i, tm := range times {
			if !tm.Before(since) && !tm.After(until) {
				want = append(want, domain.Revision(i+1))
			}
		}
		got, err := s.Read(ctx, ns, streams.Query{Since: since, Until: until})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(revs(got)) != fmt.Sprint(want) {
			t.Fatalf("got %v, want %v", revs(got), want)
		}
		got, err = s.Read(ctx, ns, streams.Query{Since: times[29].Add(time.Hour)})
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v (%v) after the last event, want none", revs(got), err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := s.ReadRevision(ctx, ns, 31)
		wantCode(t, err, domain.ENOTFOUND)
		_, err = s.ReadRevision(ctx, "no-such-ns", 1)
		wantCode(t, err, domain.ENOTFOUND)
	})
}
