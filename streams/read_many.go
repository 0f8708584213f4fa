package streams

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/redis/rueidis"
)

// Range is one namespace's part of a ReadMany.
type Range struct {
	Namespace string
	// From and To bound the revisions, inclusive; zero means unbounded.
	From, To domain.Revision
	// Backward reads newest first.
	Backward bool
	// Limit is the most events read; zero means 100.
	Limit int
}

// ReadMany reads ranges of many namespaces in one round trip, for queries
// across namespaces (the audit). It returns each range's events, in log
// order or reverse, and the server's time read just before them: on one
// Valkey server every event appended later has a time at or after it, so
// a reader that follows the logs can tell which times are complete.
//
// Errors: EUNAVAILABLE, ECORRUPT (an entry that does not decode).
func (s *Store) ReadMany(ctx context.Context, ranges []Range) ([][]*domain.Event, time.Time, error) {
	cmds := make(rueidis.Commands, 0, len(ranges)+1)
	cmds = append(cmds, s.client.B().Time().Build())
	for _, r := range ranges {
		lo, hi := "-", "+"
		if r.From > 0 {
			lo = entryID(uint64(r.From))
		}
		if r.To > 0 {
			hi = entryID(uint64(r.To))
		}
		limit := int64(r.Limit)
		if limit <= 0 {
			limit = 100
		}
		if r.Backward {
			cmds = append(cmds, s.client.B().Xrevrange().Key(logKey(r.Namespace)).End(hi).Start(lo).Count(limit).Build())
		} else {
			cmds = append(cmds, s.client.B().Xrange().Key(logKey(r.Namespace)).Start(lo).End(hi).Count(limit).Build())
		}
	}
	res := s.client.DoMulti(ctx, cmds...)
	now, err := serverTime(res[0])
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("streams: read many: %w", classify(err))
	}
	out := make([][]*domain.Event, len(ranges))
	for i, r := range res[1:] {
		entries, err := r.AsXRange()
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("streams: read %s: %w", ranges[i].Namespace, classify(err))
		}
		if out[i], err = decodeEntriesKept(ranges[i].Namespace, entries); err != nil {
			return nil, time.Time{}, err
		}
	}
	return out, now, nil
}

func serverTime(r rueidis.RedisResult) (time.Time, error) {
	v, err := r.AsStrSlice()
	if err != nil {
		return time.Time{}, err
	}
	if len(v) != 2 {
		return time.Time{}, fmt.Errorf("unexpected TIME reply %q", v)
	}
	sec, _ := strconv.ParseInt(v[0], 10, 64)
	usec, _ := strconv.ParseInt(v[1], 10, 64)
	return time.Unix(sec, usec*1000).UTC(), nil
}

// TimeBound asks ReadTimeBounds for one namespace's revisions around a
// time: with Since, the first revision at or after it; with Until, the last
// at or before it.
type TimeBound struct {
	Namespace    string
	Since, Until time.Time
}

// ReadTimeBounds answers bounds in one round trip: each one's first and
// last revision in range, (0, 0) when none is.
//
// Errors: EUNAVAILABLE.
func (s *Store) ReadTimeBounds(ctx context.Context, bounds []TimeBound) ([][2]domain.Revision, error) {
	build := func(src bool) rueidis.Commands {
		cmds := make(rueidis.Commands, 0, len(bounds))
		for _, b := range bounds {
			a, u := timeArgs(b.Since, b.Until)
			if src {
				cmds = append(cmds, s.client.B().Eval().Script(timeScript.src).Numkeys(1).Key(logKey(b.Namespace)).Arg(a, u).Build())
			} else {
				cmds = append(cmds, s.client.B().Evalsha().Sha1(timeScript.sha).Numkeys(1).Key(logKey(b.Namespace)).Arg(a, u).Build())
			}
		}
		return cmds
	}
	res := s.client.DoMulti(ctx, build(false)...)
	if len(res) > 0 && isNoScript(res[0].Error()) {
		// The first EVAL loads it for the others' EVALSHA next time.
		res = s.client.DoMulti(ctx, build(true)...)
	}
	out := make([][2]domain.Revision, len(bounds))
	for i, r := range res {
		v, err := r.AsIntSlice()
		if err != nil {
			return nil, fmt.Errorf("streams: read %s by time: %w", bounds[i].Namespace, classify(err))
		}
		if len(v) == 2 && v[0] > 0 {
			out[i] = [2]domain.Revision{domain.Revision(v[0]), domain.Revision(v[1])}
		}
	}
	return out, nil
}
