package streams

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/redis/rueidis"
)

// Query selects a range of a namespace's log.
type Query struct {
	// From and To bound the revisions, inclusive; zero means unbounded.
	From, To domain.Revision
	// Since and Until bound the event times, inclusive; zero means
	// unbounded.
	Since, Until time.Time
	// Backward reads newest first.
	Backward bool
	// Limit is the most events returned; zero means 1000.
	Limit int
}

// Read returns the events of ns that q selects, in log order (or reverse
// with q.Backward). A namespace with no log returns none.
//
// Errors: EINVALID (an empty range), EUNAVAILABLE.
func (s *Store) Read(ctx context.Context, ns string, q Query) ([]*domain.Event, error) {
	if q.Limit <= 0 {
		q.Limit = 1000
	}
	lo, hi := "-", "+"
	if q.From > 0 {
		lo = entryID(uint64(q.From))
	}
	if q.To > 0 {
		hi = entryID(uint64(q.To))
	}
	if !q.Since.IsZero() || !q.Until.IsZero() {
		from, to, empty, err := s.timeBounds(ctx, ns, q.Since, q.Until)
		if err != nil {
			return nil, err
		}
		if empty {
			return nil, nil
		}
		if from > q.From {
			lo = entryID(uint64(from))
		}
		if to > 0 && (q.To == 0 || to < q.To) {
			hi = entryID(uint64(to))
		}
	}
	var cmd rueidis.Completed
	if q.Backward {
		cmd = s.client.B().Xrevrange().Key(logKey(ns)).End(hi).Start(lo).Count(int64(q.Limit)).Build()
	} else {
		cmd = s.client.B().Xrange().Key(logKey(ns)).Start(lo).End(hi).Count(int64(q.Limit)).Build()
	}
	entries, err := s.client.Do(ctx, cmd).AsXRange()
	if err != nil {
		return nil, fmt.Errorf("streams: read %s: %w", ns, classify(err))
	}
	return decodeEntriesKept(ns, entries)
}

// After is what ReadAfter read.
type After struct {
	Events []*domain.Event
	// Links are the events' links in the chain, for checking it.
	Links []Link
	// IDAt and LinkAt are the id and stored link of the event at the
	// revision read after ("" at revision 0).
	IDAt, LinkAt string
	// Diverged is true when the log no longer reaches that revision or
	// holds another event there.
	Diverged bool
}

// ReadAfter returns up to limit events of ns after revision at, in order,
// with their links, having checked that the log still holds, at revision
// at, the event the caller last read there (atID; "" skips the check). It
// reports Diverged when the log no longer reaches at or holds another event
// there: Valkey lost data (a failover without durability) or was restored,
// and whatever the caller built from the log must be built again. It also
// returns the id and link of the event at revision at, for a caller that
// did not know them.
//
// Errors: EUNAVAILABLE, ECORRUPT.
func (s *Store) ReadAfter(ctx context.Context, ns string, at domain.Revision, atID string, limit int) (After, error) {
	if at == 0 {
		events, links, err := s.ReadLinked(ctx, ns, 1, limit)
		return After{Events: events, Links: links}, err
	}
	entries, err := s.client.Do(ctx, s.client.B().Xrange().Key(logKey(ns)).Start(entryID(uint64(at))).End("+").Count(int64(limit)+1).Build()).AsXRange()
	if err != nil {
		return After{}, fmt.Errorf("streams: read %s: %w", ns, classify(err))
	}
	if len(entries) == 0 || entries[0].ID != entryID(uint64(at)) {
		return After{Diverged: true}, nil
	}
	// Only the envelope of the entry at revision at is read: its payload
	// was applied already.
	var env envelope
	if err := json.Unmarshal([]byte(entries[0].FieldValues["e"]), &env); err != nil {
		return After{}, corrupt(ns, "revision %d: envelope: %v", at, err)
	}
	out := After{IDAt: env.ID, LinkAt: entries[0].FieldValues["h"]}
	if atID != "" && env.ID != atID {
		out.Diverged = true
		return out, nil
	}
	out.Links, err = linksOf(ns, entries[1:])
	if err != nil {
		return After{}, err
	}
	out.Events, err = decodeEntries(ns, entries[1:])
	return out, err
}

// ReadRevision returns one event of ns.
//
// Errors: ENOTFOUND (no such revision), EUNAVAILABLE.
func (s *Store) ReadRevision(ctx context.Context, ns string, rev domain.Revision) (*domain.Event, error) {
	if rev > 0 {
		events, err := s.Read(ctx, ns, Query{From: rev, To: rev, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(events) == 1 {
			return events[0], nil
		}
	}
	return nil, domain.Errorf(domain.ENOTFOUND, "namespace %s has no revision %d", ns, rev)
}

// timeScript finds the revisions bounding a time range by binary search
// over the log: entry times never decrease (the append script makes sure),
// so one round trip serves any log length.
//
// KEYS: log. ARGV: since ms (or ""), until ms (or "").
// Returns {from, to}: the first revision at or after since and the last at
// or before until; {0, 0} when the log is empty or nothing is in range.
var timeScript = newScript(`
local log = KEYS[1]
local first = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]
local last = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)[1]
if not first then return {0, 0} end
local function rev(e) return tonumber(string.match(e[1], '^(%d+)')) end
local function t(r)
  local e = redis.call('XRANGE', log, string.format('%d', r) .. '-0', string.format('%d', r) .. '-0')[1]
  if not e then return nil end
  for i = 1, #e[2], 2 do if e[2][i] == 't' then return tonumber(e[2][i + 1]) end end
end
local lo, hi = rev(first), rev(last)
local from, to = lo, hi
if ARGV[1] ~= '' then
  local since = tonumber(ARGV[1])
  local a, b = lo, hi + 1
  while a < b do
    local m = math.floor((a + b) / 2)
    local tm = t(m)
    if tm == nil or tm < since then a = m + 1 else b = m end
  end
  from = a
end
if ARGV[2] ~= '' then
  local untl = tonumber(ARGV[2])
  local a, b = lo - 1, hi
  while a < b do
    local m = math.floor((a + b + 1) / 2)
    local tm = t(m)
    if tm ~= nil and tm <= untl then a = m else b = m - 1 end
  end
  to = a
end
if from > hi or to < lo or from > to then return {0, 0} end
return {from, to}
`)

func (s *Store) timeBounds(ctx context.Context, ns string, since, until time.Time) (from, to domain.Revision, empty bool, err error) {
	a, b := timeArgs(since, until)
	v, err := timeScript.exec(ctx, s.client, []string{logKey(ns)}, []string{a, b}).AsIntSlice()
	if err != nil {
		return 0, 0, false, fmt.Errorf("streams: read %s by time: %w", ns, classify(err))
	}
	if len(v) != 2 || v[0] == 0 {
		return 0, 0, true, nil
	}
	return domain.Revision(v[0]), domain.Revision(v[1]), false, nil
}

// timeArgs are timeScript's arguments for since and until ("" unbounded).
func timeArgs(since, until time.Time) (a, b string) {
	if !since.IsZero() {
		// Times are stored in whole milliseconds: round since up, so an
		// event at T is not "since T+1µs".
		ms := since.UnixMilli()
		if since.After(time.UnixMilli(ms)) {
			ms++
		}
		a = fmt.Sprint(ms)
	}
	if !until.IsZero() {
		b = fmt.Sprint(until.UnixMilli())
	}
	return a, b
}

func decodeEntries(ns string, entries []rueidis.XRangeEntry) ([]*domain.Event, error) {
	events := make([]*domain.Event, 0, len(entries))
	for _, en := range entries {
		e, err := decodeEntry(ns, en)
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, nil
}

// decodeEntriesKept is decodeEntries keeping the events of big entries
// between calls (bigEvents), for the reads of pages that come back to them:
// history and audit pages that reach a big document's whole-document
// deploy decoded its summary, which names every node, and decompressed its
// payload, each time. The events returned must not be modified.
func decodeEntriesKept(ns string, entries []rueidis.XRangeEntry) ([]*domain.Event, error) {
	events := make([]*domain.Event, 0, len(entries))
	for _, en := range entries {
		f := en.FieldValues
		big := len(f["e"])+len(f["p"]) >= bigPayload && IsLink(f["h"])
		key := ns + " " + en.ID + " " + f["h"]
		if big {
			if e, ok := bigEvents.get(key); ok {
				events = append(events, e)
				continue
			}
		}
		e, err := decodeEntry(ns, en)
		if err != nil {
			return nil, err
		}
		if big {
			// The decoded summary holds about four times its JSON.
			bigEvents.put(key, e, len(e.Payload)+4*len(f["e"]))
		}
		events = append(events, e)
	}
	return events, nil
}

// decodeEntry turns a log entry back into an event. A malformed entry is an
// error naming its revision: the log has been changed by something other
// than flowhist.
func decodeEntry(ns string, en rueidis.XRangeEntry) (*domain.Event, error) {
	rev, ok := revisionOf(en.ID)
	if !ok {
		return nil, corrupt(ns, "log entry %s is not a revision", en.ID)
	}
	var env envelope
	if err := json.Unmarshal([]byte(en.FieldValues["e"]), &env); err != nil {
		return nil, corrupt(ns, "revision %d: envelope: %v", rev, err)
	}
	return entryEvent(ns, rev, en, env)
}

// entryEvent is the event of entry en at revision rev, with envelope env.
func entryEvent(ns string, rev uint64, en rueidis.XRangeEntry, env envelope) (*domain.Event, error) {
	var payload []byte
	switch p := en.FieldValues["p"]; en.FieldValues["z"] {
	case "":
		payload = []byte(p)
	case "gz":
		var err error
		if payload, err = gunzipFrom(strings.NewReader(p), len(p)); err != nil {
			return nil, corrupt(ns, "revision %d: payload: %v", rev, err)
		}
	default:
		return nil, corrupt(ns, "revision %d: unknown payload encoding %q", rev, en.FieldValues["z"])
	}
	return &domain.Event{
		ID:                env.ID,
		Type:              env.Type,
		Namespace:         ns,
		Revision:          domain.Revision(rev),
		Aggregate:         en.FieldValues["a"],
		AggregateRevision: domain.Revision(parseUint(en.FieldValues["r"])),
		Time:              time.UnixMilli(int64(parseUint(en.FieldValues["t"]))).UTC(),
		Provenance:        env.Provenance,
		Schema:            env.Schema,
		Payload:           payload,
		Hash:              en.FieldValues["h"],
	}, nil
}

// revisionOf parses an entry id "<rev>-0".
func revisionOf(id string) (uint64, bool) {
	r, seq, ok := strings.Cut(id, "-")
	if !ok || seq != "0" {
		return 0, false
	}
	n := parseUint(r)
	return n, n > 0
}

func gunzip(p []byte) ([]byte, error) { return gunzipFrom(bytes.NewReader(p), len(p)) }

// gunzipFrom decompresses the n bytes of gzip that r reads, into one buffer
// sized by the size the gzip trailer records: replay, verify and node
// history decompress snapshot-sized payloads, and growing a buffer by
// doubling allocated three times the document.
func gunzipFrom(r interface {
	io.Reader
	io.ReaderAt
}, n int) ([]byte, error) {
	hint := 0
	var trailer [4]byte
	if n >= 4 {
		if _, err := r.ReadAt(trailer[:], int64(n-4)); err == nil {
			// ISIZE is the size modulo 2^32; a damaged trailer only
			// costs a wrong guess, so bound it.
			hint = min(int(binary.LittleEndian.Uint32(trailer[:])), 64<<20)
		}
	}
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(r)
	} else {
		err = zr.Reset(r)
	}
	if err != nil {
		return nil, err
	}
	defer gzipReaders.Put(zr)
	buf := bytes.NewBuffer(make([]byte, 0, hint+bytes.MinRead))
	if _, err := buf.ReadFrom(zr); err != nil {
		return nil, err
	}
	return buf.Bytes(), zr.Close()
}

// gzipReaders keeps decompressors between uses, as gzipWriters does
// compressors.
var gzipReaders sync.Pool

// pairFoldMax is how far FlowsPair folds the later version from the earlier
// one rather than from the later one's own snapshot.
var pairFoldMax domain.Revision = 5000

// FlowsPair rebuilds ns's flows and credentials at revisions from and to
// (from <= to) for a diff, checking each against its recorded sha256 as
// FlowsAt does. It reads less than two FlowsAt: the later version is folded
// from the earlier one when they are close (one snapshot read, not two),
// events are read without their summaries, and the patches between are
// applied together (domain.Flows.ApplyAll), not a document copy each, and
// the snapshots it starts from are kept parsed between calls
// (cachedSnapshot).
//
// Errors: EINVALID (from is after to), ENOTFOUND (a revision is past the
// end of the log), ECORRUPT (the log or a snapshot is corrupt; the message
// names the revision), EUNAVAILABLE.
func (s *Store) FlowsPair(ctx context.Context, ns string, from, to domain.Revision) (a, b *FlowsVersion, err error) {
	h, err := s.Head(ctx, ns)
	if err != nil {
		return nil, nil, err
	}
	if from > to {
		return nil, nil, domain.Errorf(domain.EINVALID, "from %d is after to %d", from, to)
	}
	if to > h.Revision {
		missing := to
		if from > h.Revision {
			missing = from // the first one missing, as two FlowsAt would say
		}
		return nil, nil, domain.Errorf(domain.ENOTFOUND, "namespace %s has no revision %d (newest is %d)", ns, missing, h.Revision)
	}
	if a, err = s.cachedSnapshot(ctx, ns, from); err != nil {
		return nil, nil, fmt.Errorf("streams: flows of %s at %d: %w", ns, from, err)
	}
	a, checkA, err := s.foldFlows(ctx, ns, a, from)
	if err != nil {
		return nil, nil, err
	}
	// a's hash (10 ms for 10 MB) is checked while b is folded from it.
	checked := make(chan error, 1)
	go func() { checked <- checkA() }()
	b, checkB, err := s.foldPair(ctx, ns, a, from, to)
	if err == nil {
		err = checkB()
	}
	if errA := <-checked; errA != nil {
		return nil, nil, errA // the earlier revision first
	}
	if err != nil {
		return nil, nil, err
	}
	return a, b, nil
}

// foldPair is FlowsPair's later version: folded from a, at from, or from
// its own snapshot when to is far.
func (s *Store) foldPair(ctx context.Context, ns string, a *FlowsVersion, from, to domain.Revision) (*FlowsVersion, func() error, error) {
	b := a
	if to-from > pairFoldMax {
		var err error
		if b, err = s.cachedSnapshot(ctx, ns, to); err != nil {
			return nil, nil, fmt.Errorf("streams: flows of %s at %d: %w", ns, to, err)
		}
		if b.Revision < a.Revision {
			b = a
		}
	}
	return s.foldFlows(ctx, ns, b, to)
}

// foldFlows folds the flows events after v up to revision to into v. The
// func it returns checks the result against the last one's recorded
// sha256.
func (s *Store) foldFlows(ctx context.Context, ns string, v *FlowsVersion, to domain.Revision) (*FlowsVersion, func() error, error) {
	none := func() error { return nil }
	var patches []domain.FlowsPatch
	var events []*domain.Event
	var last *domain.Event
	out := *v
	name := v.name.resume()
	for from := v.Revision + 1; from <= to; {
		entries, err := s.client.Do(ctx, s.client.B().Xrange().Key(logKey(ns)).Start(entryID(uint64(from))).End(entryID(uint64(to))).Count(500).Build()).AsXRange()
		if err != nil {
			return nil, nil, fmt.Errorf("streams: read %s: %w", ns, classify(err))
		}
		if len(entries) == 0 {
			break
		}
		for _, en := range entries {
			if en.FieldValues["a"] != domain.AggregateFlows {
				continue
			}
			e, err := decodeBrief(ns, en)
			if err != nil {
				return nil, nil, err
			}
			var p domain.FlowsPayload
			if err := domain.DecodePayload(e, &p); err != nil {
				return nil, nil, corrupt(ns, "flows at %d: %v", to, err)
			}
			patches, events = append(patches, p.Patch), append(events, e)
			if name != nil {
				foldPayload(name, en.FieldValues["p"], en.FieldValues["z"], e.Schema)
			}
			if p.Credentials != nil {
				out.Credentials = p.Credentials
			}
			out.Revision, out.AggregateRevision, last = e.Revision, e.AggregateRevision, e
		}
		r, _ := revisionOf(entries[len(entries)-1].ID)
		from = domain.Revision(r) + 1
	}
	if last == nil {
		return v, none, nil
	}
	f, err := v.Flows.ApplyAll(patches)
	if err != nil {
		// Name the revision whose patch does not fit, as FlowsAt does.
		g := v.Flows
		for i, e := range events {
			if g, err = g.Apply(patches[i]); err != nil {
				return nil, nil, corrupt(ns, "flows at %d: revision %d: %v", to, e.Revision, err)
			}
		}
		return nil, nil, corrupt(ns, "flows at %d: %v", to, err)
	}
	out.Flows, out.name = f, nil
	key := ""
	if name != nil {
		out.name, key = endFold(name)
	}
	check := func() error {
		if key != "" && verifiedFolds.has(key, last.SHA256) {
			return nil // these bytes hashed to it before
		}
		if got := f.SHA256(); got != last.SHA256 {
			return corrupt(ns, "flows rebuilt at revision %d hash to %s, recorded %s", last.Revision, got, last.SHA256)
		}
		if key != "" {
			verifiedFolds.add(key, last.SHA256)
		}
		return nil
	}
	return &out, check, nil
}

// cachedSnapshot is loadSnapshot keeping the newest versions it read,
// parsed, for the next diff: browsing a big document's history diffs
// revisions near one another, which start from the same snapshot, and
// reading one (decompressing, hashing and parsing 10 MB) cost more than
// the rest of a diff. A snapshot is named by its member in the snapshots'
// sorted set, which holds its revisions and its documents' sha256: the
// same name is the same version, whichever store or replica asks.
func (s *Store) cachedSnapshot(ctx context.Context, ns string, rev domain.Revision) (*FlowsVersion, error) {
	members, err := s.client.Do(ctx, s.client.B().Zrange().Key(snapsKey(ns)).Min(rev.String()).Max("-inf").
		Byscore().Rev().Limit(0, 1).Build()).AsStrSlice()
	if err != nil {
		return nil, classify(err)
	}
	if len(members) == 0 {
		return &FlowsVersion{name: emptyName}, nil
	}
	key := ns + " " + members[0]
	if v, ok := snapshots.get(key); ok {
		return v, nil
	}
	v, err := s.loadSnapshot(ctx, ns, rev)
	if err != nil {
		return nil, err
	}
	// Keep what was read only if it is the snapshot named (another may
	// have been taken between the two reads), and big enough to matter.
	if at, _, _ := strings.Cut(members[0], ":"); at == v.Revision.String() && v.Flows.Size() >= bigPayload {
		snapshots.put(key, v, v.Flows.Size()+len(v.Credentials))
	}
	return v, nil
}
