package usecase

import (
	"container/heap"
	"context"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// The audit: one query over the logs of many namespaces, merged into one
// order — by time, then namespace, then revision — so that a position in
// it is a cursor that continues a page, resumes an export, or restarts a
// SIEM's follow where it stopped. Each namespace is read a batch at a
// time (in one round trip for all of them), so neither a page nor a whole
// export holds more than a batch per namespace.

// AuditQuery selects events across namespaces.
type AuditQuery struct {
	// Namespaces are names or globs (path.Match: prod-*, team?); empty
	// selects every namespace.
	Namespaces []string
	// Allowed says whether the asker may see a namespace (a token's
	// namespaces); nil allows all.
	Allowed func(ns string) bool
	// Match keeps an event; nil keeps all.
	Match func(*domain.Event) bool
	// Actor, when set, keeps only the events of this user (besides
	// Match). A page reads the log's entries with streams.MaybeActor, so
	// that those certainly by someone else are passed over undecoded.
	Actor string
	// Since and Until bound the event times, inclusive; zero: unbounded.
	Since, Until time.Time
	// Cursor continues after the entry it names (AuditCursor.String).
	Cursor string
	// Limit is the most events emitted; zero: no limit (an export).
	Limit int
	// MaxScan bounds the events one call reads when Limit is set, so a
	// filter that matches little answers in bounded time with a cursor to
	// go on from; zero means 50000.
	MaxScan int
	// Follow emits the events after the cursor (or after now), oldest
	// first, and then every new event as it lands, until ctx ends.
	Follow bool
	// PollEvery is how often Follow looks for new events; zero: 250ms.
	PollEvery time.Duration
}

// AuditCursor is an event's position in the audit's order.
type AuditCursor struct {
	Time      time.Time
	Namespace string
	Revision  domain.Revision
}

// String is the cursor as answers carry it: "<unix ms>.<revision>.<ns>".
func (c AuditCursor) String() string {
	return strconv.FormatInt(c.Time.UnixMilli(), 10) + "." + c.Revision.String() + "." + c.Namespace
}

// ParseAuditCursor reads a cursor String wrote.
//
// Errors: EINVALID.
func ParseAuditCursor(s string) (AuditCursor, error) {
	parts := strings.SplitN(s, ".", 3)
	bad := domain.Errorf(domain.EINVALID, "cursor %q is not one the audit returned", domain.Clip(s))
	if len(parts) != 3 {
		return AuditCursor{}, bad
	}
	ms, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || ms < 0 {
		return AuditCursor{}, bad
	}
	rev, err := domain.ParseRevision(parts[1])
	if err != nil || domain.ValidateNamespace(parts[2]) != nil {
		return AuditCursor{}, bad
	}
	return AuditCursor{Time: time.UnixMilli(ms).UTC(), Namespace: parts[2], Revision: rev}, nil
}

func cursorOf(e *domain.Event) AuditCursor {
	return AuditCursor{Time: e.Time, Namespace: e.Namespace, Revision: e.Revision}
}

// before reports whether a comes before b in time order (oldest first).
func (a AuditCursor) before(b AuditCursor) bool {
	am, bm := a.Time.UnixMilli(), b.Time.UnixMilli()
	if am != bm {
		return am < bm
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Revision < b.Revision
}

// ValidateAuditPatterns checks the namespace names and globs of a query.
//
// Errors: EINVALID naming the pattern.
func ValidateAuditPatterns(patterns []string) error {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil || p == "" || len(p) > domain.MaxNamespaceLen {
			return domain.Errorf(domain.EINVALID, "namespace pattern %q is not a name or a glob such as prod-*", domain.Clip(p))
		}
	}
	return nil
}

// auditNamespaces are the namespaces q selects and may see.
func (a *App) auditNamespaces(ctx context.Context, q AuditQuery) ([]string, error) {
	names, err := a.store.Namespaces(ctx)
	if err != nil {
		return nil, err
	}
	out := names[:0]
	for _, ns := range names {
		if auditSelects(q, ns) {
			out = append(out, ns)
		}
	}
	return out, nil
}

func auditSelects(q AuditQuery, ns string) bool {
	if q.Allowed != nil && !q.Allowed(ns) {
		return false
	}
	if len(q.Namespaces) == 0 {
		return true
	}
	for _, p := range q.Namespaces {
		if ok, _ := path.Match(p, ns); ok {
			return true
		}
	}
	return false
}

// Audit calls emit with each event q selects — newest first, or with
// Follow oldest first and then as they land — and returns the cursor to
// continue from, "" when there is nothing more. emit's error stops it and
// is returned.
//
// Errors: EINVALID (a bad cursor or pattern), EUNAVAILABLE, ECORRUPT,
// ECANCELED, and emit's.
func (a *App) Audit(ctx context.Context, q AuditQuery, emit func(e *domain.Event, cursor string) error) (string, error) {
	if err := ValidateAuditPatterns(q.Namespaces); err != nil {
		return "", err
	}
	var cur *AuditCursor
	if q.Cursor != "" {
		c, err := ParseAuditCursor(q.Cursor)
		if err != nil {
			return "", err
		}
		cur = &c
	}
	if q.MaxScan <= 0 {
		q.MaxScan = 50000
	}
	names, err := a.auditNamespaces(ctx, q)
	if err != nil {
		return "", err
	}
	if q.Follow {
		return a.auditFollow(ctx, q, names, cur, emit)
	}
	return a.auditBackward(ctx, q, names, cur, emit)
}

// auditSource is one namespace's part of the merge.
type auditSource struct {
	ns    string
	buf   []*domain.Event // in the order of the merge
	next  domain.Revision // the next revision to read from (forward) or down from (backward)
	done  bool            // backward: nothing more to read
	batch int
	// Forward only: the time of the last event read, and whether the last
	// read filled its batch (more may be waiting).
	last   time.Time
	behind bool
}

// auditBatch is the first batch a source reads: enough for a page spread
// over every namespace, doubling as a source is read again up to
// auditMaxBatch.
func auditBatch(limit, sources int) int {
	if limit <= 0 {
		limit = 1000
	}
	return min(max(limit/max(sources, 1)+2, 8), auditMaxBatch(sources))
}

// auditMaxBatch bounds a source's batch so that all sources' buffers
// together hold about auditHeld events at most, however many namespaces
// there are (but at least 8 each).
func auditMaxBatch(sources int) int {
	return min(max(auditHeld/max(sources, 1), 8), 1000)
}

// auditHeld is about the most events an audit holds at once.
const auditHeld = 20000

func (a *App) auditBackward(ctx context.Context, q AuditQuery, names []string, cur *AuditCursor, emit func(*domain.Event, string) error) (string, error) {
	srcs := make([]*auditSource, 0, len(names))
	var bounds []streams.TimeBound
	var bounded []*auditSource
	batch := auditBatch(q.Limit, len(names))
	for _, ns := range names {
		s := &auditSource{ns: ns, batch: batch}
		until := q.Until
		if cur != nil {
			// Strictly before the cursor: an earlier millisecond, or the
			// same one in a namespace ordered before it.
			t := cur.Time.Truncate(time.Millisecond)
			if ns > cur.Namespace {
				t = t.Add(-time.Millisecond)
			}
			if until.IsZero() || t.Before(until) {
				until = t
			}
			if ns == cur.Namespace {
				if cur.Revision <= 1 {
					continue
				}
				s.next = cur.Revision - 1
			}
		}
		if !until.IsZero() {
			bounds = append(bounds, streams.TimeBound{Namespace: ns, Until: until})
			bounded = append(bounded, s)
		}
		srcs = append(srcs, s)
	}
	if len(bounds) > 0 {
		revs, err := a.store.ReadTimeBounds(ctx, bounds)
		if err != nil {
			return "", err
		}
		for i, s := range bounded {
			to := revs[i][1]
			switch {
			case to == 0:
				s.done = true
			case s.next == 0 || to < s.next:
				s.next = to
			}
		}
	}
	h := &auditHeap{backward: true}
	maybe := streams.MaybeActor(q.Actor)
	grow := 2
	if maybe != nil {
		// A read filtered by user passes over other users' entries
		// undecoded, and a user with no event among the newest thousand
		// would take four round trips from a page-sized batch: start at
		// four pages and grow four times.
		grow = 4
		for _, s := range srcs {
			s.batch = min(s.batch*grow, auditMaxBatch(len(srcs)))
		}
	}
	refill := func() error {
		var ranges []streams.Range
		var reading []*auditSource
		for _, s := range srcs {
			if len(s.buf) == 0 && !s.done {
				ranges = append(ranges, streams.Range{Namespace: s.ns, To: s.next, Backward: true, Limit: s.batch, Maybe: maybe})
				reading = append(reading, s)
			}
		}
		if len(ranges) == 0 {
			return nil
		}
		got, _, err := a.store.ReadMany(ctx, ranges)
		if err != nil {
			return err
		}
		for i, s := range reading {
			events := got[i]
			if len(events) < s.batch {
				s.done = true
			}
			if len(events) > 0 {
				last := events[len(events)-1].Revision
				s.next = last - 1
				if s.next == 0 {
					s.done = true
				}
			}
			if !q.Since.IsZero() {
				// Times never decrease along a log: cut at since.
				n := len(events)
				for n > 0 && events[n-1].Time.Before(q.Since) {
					n--
				}
				if n < len(events) {
					events, s.done = events[:n], true
				}
			}
			s.buf = events
			s.batch = min(s.batch*grow, auditMaxBatch(len(srcs)))
			if len(s.buf) > 0 {
				heap.Push(h, s)
			}
		}
		return nil
	}
	emitted, scanned := 0, 0
	for {
		if err := refill(); err != nil {
			return "", err
		}
		if h.Len() == 0 {
			return "", nil
		}
		// Pop while every source still to read has its next event here.
		for h.Len() > 0 {
			s := h.srcs[0]
			e := s.buf[0]
			s.buf = s.buf[1:]
			if len(s.buf) > 0 {
				heap.Fix(h, 0)
			} else {
				heap.Pop(h)
			}
			scanned++
			if auditKeeps(q, e) {
				if err := emit(e, cursorOf(e).String()); err != nil {
					return "", err
				}
				emitted++
			}
			if q.Limit > 0 && (emitted == q.Limit || scanned >= q.MaxScan) {
				return cursorOf(e).String(), nil
			}
			if len(s.buf) == 0 && !s.done {
				break // read its next batch before going on
			}
			if err := ctx.Err(); err != nil {
				return "", streams.ContextError(ctx)
			}
		}
	}
}

func (a *App) auditFollow(ctx context.Context, q AuditQuery, names []string, cur *AuditCursor, emit func(*domain.Event, string) error) (string, error) {
	every := q.PollEvery
	if every <= 0 {
		every = 250 * time.Millisecond
	}
	if cur == nil {
		// From now: nothing of the past.
		_, now, err := a.store.ReadMany(ctx, nil)
		if err != nil {
			return "", err
		}
		cur = &AuditCursor{Time: now.Truncate(time.Millisecond)}
	}
	if !q.Since.IsZero() && cur.Time.Before(q.Since) {
		cur = &AuditCursor{Time: q.Since.Add(-time.Millisecond)}
	}
	known := map[string]*auditSource{}
	srcs, err := a.followSources(ctx, names, *cur, known)
	if err != nil {
		return "", err
	}
	last := cur.String()
	var held []*domain.Event // read, not yet known to be in order
	var prevMark time.Time
	for polls := 1; ; polls++ {
		// A source whose last event read is past the mark already has
		// events waiting: reading more of it would only hold more.
		var ranges []streams.Range
		var reading []*auditSource
		for _, s := range srcs {
			if prevMark.IsZero() || !s.last.After(prevMark) {
				ranges = append(ranges, streams.Range{Namespace: s.ns, From: s.next, Limit: s.batch})
				reading = append(reading, s)
			}
		}
		got, now, err := a.store.ReadMany(ctx, ranges)
		if err != nil {
			if ctx.Err() != nil {
				return last, nil
			}
			return last, err
		}
		// Events before the watermark are complete: on one server, any
		// event appended after TIME has a time at or after it. A source
		// still behind bounds it by the last event it read.
		mark := now.Truncate(time.Millisecond)
		read := 0
		for i, s := range reading {
			events := got[i]
			read += len(events)
			if len(events) > 0 {
				s.next = events[len(events)-1].Revision + 1
				s.last = events[len(events)-1].Time
				held = append(held, events...)
			}
			s.behind = len(events) == s.batch
		}
		for _, s := range srcs {
			if s.behind && s.last.Before(mark) {
				mark = s.last
			}
		}
		prevMark = mark
		sortAudit(held)
		n := 0
		for n < len(held) && held[n].Time.Before(mark) {
			e := held[n]
			n++
			if !q.Until.IsZero() && e.Time.After(q.Until) {
				return last, nil
			}
			last = cursorOf(e).String()
			if auditKeeps(q, e) {
				if err := emit(e, last); err != nil {
					return last, err
				}
			}
		}
		held = append(held[:0], held[n:]...)
		if read == 0 {
			t := time.NewTimer(every)
			select {
			case <-ctx.Done():
				t.Stop()
				return last, nil
			case <-t.C:
			}
		}
		if polls%20 == 0 {
			// Namespaces created since: all their events are new.
			names, err := a.auditNamespaces(ctx, q)
			if err == nil {
				more, _ := a.followSources(ctx, names, AuditCursor{}, known)
				srcs = append(srcs, more...)
			}
		}
	}
}

// auditKeeps reports whether q keeps e, read or skipped (streams.Skipped).
func auditKeeps(q AuditQuery, e *domain.Event) bool {
	if streams.Skipped(e) || q.Actor != "" && e.Actor.User != q.Actor {
		return false
	}
	return q.Match == nil || q.Match(e)
}

// followSources starts a forward source for each namespace not in known,
// at the first event after cur.
func (a *App) followSources(ctx context.Context, names []string, cur AuditCursor, known map[string]*auditSource) ([]*auditSource, error) {
	var bounds []streams.TimeBound
	var srcs []*auditSource
	for _, ns := range names {
		if known[ns] != nil {
			continue
		}
		s := &auditSource{ns: ns, next: 1, batch: 200}
		known[ns] = s
		srcs = append(srcs, s)
		if cur.Time.IsZero() {
			continue
		}
		// Strictly after the cursor: a later millisecond, the same one in
		// a namespace ordered after it, or in the cursor's own namespace a
		// later revision (set below).
		since := cur.Time.Truncate(time.Millisecond)
		if ns < cur.Namespace {
			since = since.Add(time.Millisecond)
		}
		bounds = append(bounds, streams.TimeBound{Namespace: ns, Since: since})
	}
	if len(bounds) == 0 {
		return srcs, nil
	}
	revs, err := a.store.ReadTimeBounds(ctx, bounds)
	if err != nil {
		return nil, err
	}
	// Where nothing is that late yet, start after the newest event.
	var heads []streams.Range
	var headless []*auditSource
	for i, s := range srcs {
		if from := revs[i][0]; from > 0 {
			s.next = from
		} else {
			heads = append(heads, streams.Range{Namespace: s.ns, Backward: true, Limit: 1})
			headless = append(headless, s)
		}
		if s.ns == cur.Namespace && cur.Revision+1 > s.next {
			s.next = cur.Revision + 1
		}
	}
	if len(heads) > 0 {
		got, _, err := a.store.ReadMany(ctx, heads)
		if err != nil {
			return nil, err
		}
		for i, s := range headless {
			if len(got[i]) == 1 {
				s.next = max(s.next, got[i][0].Revision+1)
			}
		}
	}
	return srcs, nil
}

// sortAudit sorts events oldest first in the audit's order.
func sortAudit(events []*domain.Event) {
	slices.SortFunc(events, func(a, b *domain.Event) int {
		switch ca, cb := cursorOf(a), cursorOf(b); {
		case ca.before(cb):
			return -1
		case cb.before(ca):
			return 1
		}
		return 0
	})
}

// auditHeap orders sources by their next event: newest first when
// backward.
type auditHeap struct {
	srcs     []*auditSource
	backward bool
}

func (h *auditHeap) Len() int { return len(h.srcs) }
func (h *auditHeap) Less(i, j int) bool {
	a, b := cursorOf(h.srcs[i].buf[0]), cursorOf(h.srcs[j].buf[0])
	if h.backward {
		return b.before(a)
	}
	return a.before(b)
}
func (h *auditHeap) Swap(i, j int) { h.srcs[i], h.srcs[j] = h.srcs[j], h.srcs[i] }
func (h *auditHeap) Push(x any)    { h.srcs = append(h.srcs, x.(*auditSource)) }
func (h *auditHeap) Pop() any {
	s := h.srcs[len(h.srcs)-1]
	h.srcs = h.srcs[:len(h.srcs)-1]
	return s
}
