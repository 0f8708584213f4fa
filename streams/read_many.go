package streams

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	// Maybe, when set, sees each entry's stored envelope before it is
	// decoded, and returns false only for an entry the reader certainly
	// does not want (MaybeActor): that entry is not decoded, and comes
	// back as a skipped event (Skipped) holding only its namespace,
	// revision and time, so that the reader still knows where it is.
	Maybe func(envelope string) bool
}

// Skipped reports whether e is a skipped event of ReadMany: one that
// Range.Maybe ruled out, not an event of the log.
func Skipped(e *domain.Event) bool { return e.Type == skippedType }

// skippedType is the type of skipped events. No event of a log has it: an
// entry decoded with this type is corrupt.
const skippedType domain.EventType = "\x00skipped"

// MaybeActor returns a Range.Maybe that rules out the entries whose
// actor's user cannot be user. It looks for user as a JSON string, quotes
// included, anywhere in the envelope, and only where that is exact: an
// envelope with any escape in it (\u0061 decodes as a) is a maybe, and so
// is every envelope when user holds what JSON must escape or what
// decoding makes of invalid UTF-8 (U+FFFD). A maybe is decoded and
// filtered as any other entry, and so is an envelope missing or cut short
// (it is reported corrupt). nil when user is "" (everyone's).
func MaybeActor(user string) func(envelope string) bool {
	if user == "" {
		return nil
	}
	if !utf8.ValidString(user) || strings.ContainsFunc(user, func(r rune) bool {
		return r < 0x20 || r == '"' || r == '\\' || r == utf8.RuneError
	}) {
		return func(string) bool { return true }
	}
	quoted := `"` + user + `"`
	return func(env string) bool {
		// An envelope missing or cut short is a maybe too: decoded, it is
		// reported corrupt, as an unfiltered read reports it, instead of
		// passed over unseen.
		if len(env) < 2 || env[0] != '{' || env[len(env)-1] != '}' {
			return true
		}
		return strings.Contains(env, quoted) || strings.IndexByte(env, '\\') >= 0
	}
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
		if ranges[i].Maybe != nil {
			if out[i], err = readMaybe(ranges[i].Namespace, r, ranges[i].Maybe); err != nil {
				return nil, time.Time{}, err
			}
			continue
		}
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

// readMaybe is the events of an XRANGE reply r, with maybe's entries
// decoded as decodeEntriesKept does, and the others skipped (Range.Maybe)
// without so much as a map of their fields.
func readMaybe(ns string, r rueidis.RedisResult, maybe func(string) bool) ([]*domain.Event, error) {
	msgs, err := r.ToArray()
	if err != nil {
		return nil, fmt.Errorf("streams: read %s: %w", ns, classify(err))
	}
	events := make([]*domain.Event, 0, len(msgs))
	// Skipped events, allocated together: a page filtered by a user who
	// did little passes over a thousand or more.
	var skipped []domain.Event
	for _, m := range msgs {
		id, env, t, ok := entryFields(m)
		if !ok || maybe(env) {
			en, err := m.AsXRangeEntry()
			if err != nil {
				return nil, fmt.Errorf("streams: read %s: %w", ns, classify(err))
			}
			e, err := decodeEntriesKept(ns, []rueidis.XRangeEntry{en})
			if err != nil {
				return nil, err
			}
			if Skipped(e[0]) {
				return nil, corrupt(ns, "revision %d: event type %q", e[0].Revision, e[0].Type)
			}
			events = append(events, e[0])
			continue
		}
		rev, ok := revisionOf(id)
		if !ok {
			return nil, corrupt(ns, "log entry %s is not a revision", id)
		}
		if len(skipped) == cap(skipped) {
			skipped = make([]domain.Event, 0, len(msgs)-len(events))
		}
		skipped = append(skipped, domain.Event{
			Type: skippedType, Namespace: ns, Revision: domain.Revision(rev),
			Time: time.UnixMilli(int64(parseUint(t))).UTC(),
		})
		events = append(events, &skipped[len(skipped)-1])
	}
	return events, nil
}

// entryFields reads an XRANGE entry's id and its fields e and t (the last
// of each, as a map would); ok is false for anything else than an id and
// a list of fields and values.
func entryFields(m rueidis.RedisMessage) (id, e, t string, ok bool) {
	values, err := m.ToArray()
	if err != nil || len(values) != 2 {
		return "", "", "", false
	}
	if id, err = values[0].ToString(); err != nil {
		return "", "", "", false
	}
	fields, err := values[1].ToArray()
	if err != nil || len(fields)%2 != 0 {
		return "", "", "", false
	}
	for k := 0; k < len(fields); k += 2 {
		name, err := fields[k].ToString()
		if err != nil {
			return "", "", "", false
		}
		switch name {
		case "e":
			e, err = fields[k+1].ToString()
		case "t":
			t, err = fields[k+1].ToString()
		}
		if err != nil {
			return "", "", "", false
		}
	}
	return id, e, t, true
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
