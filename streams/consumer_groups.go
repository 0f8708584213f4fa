package streams

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/redis/rueidis"
)

// Consumer groups on a namespace's log: the projector's ("projector") and
// one per worker ("worker:<id>"). Because entry ids are revisions, a group's
// last delivered id is the revision it has seen.

// ProjectorGroup is the projector's consumer group.
const ProjectorGroup = "projector"

// WorkerGroup returns the consumer group of worker id.
func WorkerGroup(id string) string { return workerPrefix + id }

const workerPrefix = "worker:"

// CreateGroup creates group on ns's log positioned after revision at, so the
// first entry it delivers is at+1. It creates an empty log if there is none.
// It reports whether the group was created (false: it existed already and
// is left where it is).
//
// Errors: EUNAVAILABLE.
func (s *Store) CreateGroup(ctx context.Context, ns, group string, at domain.Revision) (bool, error) {
	if err := s.register(ctx, ns); err != nil {
		return false, err
	}
	id := "0-0"
	if at > 0 {
		id = entryID(uint64(at))
	}
	err := s.client.Do(ctx, s.client.B().XgroupCreate().Key(logKey(ns)).Group(group).Id(id).Mkstream().
		Entriesread(int64(at)).Build()).Error()
	if isBusyGroup(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("streams: create group %s on %s: %w", group, ns, classify(err))
	}
	return true, nil
}

// CreateConsumer registers consumer in group, so that the group's idle
// time counts from now even before the consumer's first read (a group with
// no consumer has no idle time, and would never look idle).
//
// Errors: ENOTFOUND (no such group), EUNAVAILABLE.
func (s *Store) CreateConsumer(ctx context.Context, ns, group, consumer string) error {
	err := s.client.Do(ctx, s.client.B().XgroupCreateconsumer().Key(logKey(ns)).Group(group).Consumer(consumer).Build()).Error()
	if isNoGroup(err) {
		return domain.Errorf(domain.ENOTFOUND, "namespace %s has no consumer group %s", ns, group)
	}
	if err != nil {
		return fmt.Errorf("streams: create consumer %s in %s on %s: %w", consumer, group, ns, classify(err))
	}
	return nil
}

// ReadGroup returns up to count entries for consumer in group: first the
// entries delivered to it before and not acknowledged (a consumer that
// crashed mid-reload gets them again), then new ones. With block > 0 it
// waits that long for new entries when there are none. It returns their
// positions, not their events: a consumer that needs the events reads the
// log (Read), so nothing is decoded twice.
//
// Errors: ENOTFOUND (no such group), EUNAVAILABLE.
func (s *Store) ReadGroup(ctx context.Context, ns, group, consumer string, count int, block time.Duration) ([]Entry, error) {
	if block > 0 {
		events, err := s.readGroup(ctx, ns, group, consumer, count, "0", 0)
		if err != nil || len(events) > 0 {
			return events, err
		}
		return s.readGroup(ctx, ns, group, consumer, count, ">", block)
	}
	// Without blocking, both reads go in one round trip. New entries read here become pending
	// like any delivered entry, and come back first next time if unacked.
	b := s.client.B()
	res := s.client.DoMulti(ctx,
		b.Xreadgroup().Group(group, consumer).Count(int64(count)).Streams().Key(logKey(ns)).Id("0").Build(),
		b.Xreadgroup().Group(group, consumer).Count(int64(count)).Streams().Key(logKey(ns)).Id(">").Build())
	var out []Entry
	seen := map[domain.Revision]bool{}
	for _, r := range res {
		events, err := s.decodeGroupReply(ns, group, r)
		if err != nil {
			return nil, err
		}
		for _, e := range events {
			if !seen[e.Revision] {
				seen[e.Revision] = true
				out = append(out, e)
			}
		}
	}
	return out, nil
}

func (s *Store) decodeGroupReply(ns, group string, r rueidis.RedisResult) ([]Entry, error) {
	streams, err := r.AsXRead()
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	if isNoGroup(err) {
		return nil, domain.Errorf(domain.ENOTFOUND, "namespace %s has no consumer group %s", ns, group)
	}
	if err != nil {
		return nil, fmt.Errorf("streams: read group %s on %s: %w", group, ns, classify(err))
	}
	return positions(ns, streams[logKey(ns)])
}

// positions returns the entries' revisions and aggregates, decoding
// nothing else.
func positions(ns string, entries []rueidis.XRangeEntry) ([]Entry, error) {
	out := make([]Entry, 0, len(entries))
	for _, en := range entries {
		r, ok := revisionOf(en.ID)
		if !ok {
			return nil, corrupt(ns, "log entry %s is not a revision", en.ID)
		}
		out = append(out, Entry{Revision: domain.Revision(r), Aggregate: en.FieldValues["a"], ID: envelopeID(en.FieldValues["e"])})
	}
	return out, nil
}

func (s *Store) readGroup(ctx context.Context, ns, group, consumer string, count int, id string, block time.Duration) ([]Entry, error) {
	b := s.client.B().Xreadgroup().Group(group, consumer).Count(int64(count))
	var cmd rueidis.Completed
	if block > 0 {
		cmd = b.Block(block.Milliseconds()).Streams().Key(logKey(ns)).Id(id).Build()
	} else {
		cmd = b.Streams().Key(logKey(ns)).Id(id).Build()
	}
	return s.decodeGroupReply(ns, group, s.client.Do(ctx, cmd))
}

// Ack acknowledges revisions for group; they will not be delivered again.
//
// Errors: EUNAVAILABLE.
func (s *Store) Ack(ctx context.Context, ns, group string, revs ...domain.Revision) error {
	if len(revs) == 0 {
		return nil
	}
	ids := make([]string, len(revs))
	for i, r := range revs {
		ids[i] = entryID(uint64(r))
	}
	err := s.client.Do(ctx, s.client.B().Xack().Key(logKey(ns)).Group(group).Id(ids...).Build()).Error()
	if err != nil {
		return fmt.Errorf("streams: ack %s on %s: %w", group, ns, classify(err))
	}
	return nil
}

// Reclaim moves to consumer up to count entries of group that another
// consumer received but has not acknowledged for at least minIdle (it
// crashed or hangs), and returns their positions.
//
// Errors: ENOTFOUND (no such group), EUNAVAILABLE.
func (s *Store) Reclaim(ctx context.Context, ns, group, consumer string, minIdle time.Duration, count int) ([]Entry, error) {
	res := s.client.Do(ctx, s.client.B().Xautoclaim().Key(logKey(ns)).Group(group).Consumer(consumer).
		MinIdleTime(fmt.Sprint(minIdle.Milliseconds())).Start("0-0").Count(int64(count)).Build())
	arr, err := res.ToArray()
	if isNoGroup(err) {
		return nil, domain.Errorf(domain.ENOTFOUND, "namespace %s has no consumer group %s", ns, group)
	}
	if err != nil {
		return nil, fmt.Errorf("streams: reclaim %s on %s: %w", group, ns, classify(err))
	}
	if len(arr) < 2 {
		return nil, fmt.Errorf("streams: reclaim %s on %s: unexpected reply", group, ns)
	}
	entries, err := arr[1].AsXRange()
	if err != nil {
		return nil, fmt.Errorf("streams: reclaim %s on %s: %w", group, ns, err)
	}
	return positions(ns, entries)
}

// GroupInfo describes one consumer group.
type GroupInfo struct {
	Name string `json:"name"`
	// Worker is the worker whose group it is, "" for other groups.
	Worker string `json:"worker,omitempty"`
	// LastDelivered is the newest revision delivered to the group.
	LastDelivered domain.Revision `json:"lastDelivered"`
	// Acknowledged is the newest revision below which everything delivered
	// was acknowledged.
	Acknowledged domain.Revision `json:"acknowledged"`
	// Lag is how many entries the group has not been delivered yet.
	Lag int64 `json:"lag"`
	// Pending is how many delivered entries are not acknowledged.
	Pending int64 `json:"pending"`
	// Idle is the time since any consumer of the group last read or
	// acknowledged; zero with no consumers.
	Idle      time.Duration `json:"idle"`
	Consumers int           `json:"consumers"`
}

// Groups describes every consumer group of ns's log.
//
// Errors: EUNAVAILABLE.
func (s *Store) Groups(ctx context.Context, ns string) ([]GroupInfo, error) {
	res, err := s.client.Do(ctx, s.client.B().XinfoGroups().Key(logKey(ns)).Build()).ToArray()
	if err != nil {
		if isNoSuchKey(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("streams: groups of %s: %w", ns, classify(err))
	}
	head, err := s.Head(ctx, ns)
	if err != nil {
		return nil, err
	}
	out := make([]GroupInfo, 0, len(res))
	for _, g := range res {
		m, err := g.AsMap()
		if err != nil {
			return nil, fmt.Errorf("streams: groups of %s: %w", ns, err)
		}
		info := GroupInfo{Name: str(m, "name")}
		if w, ok := strings.CutPrefix(info.Name, workerPrefix); ok {
			info.Worker = w
		}
		r, _ := revisionOf(str(m, "last-delivered-id"))
		info.LastDelivered = domain.Revision(r)
		info.Pending, _ = num(m, "pending")
		if lag, err := num(m, "lag"); err == nil {
			info.Lag = lag
		} else if head.Revision > info.LastDelivered {
			// Valkey reports no lag after entries were deleted; the
			// revision difference is the same number for an untrimmed log.
			info.Lag = int64(head.Revision - info.LastDelivered)
		}
		if err := s.groupConsumers(ctx, ns, &info); err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// groupConsumers fills in the idle time and the acknowledged revision.
func (s *Store) groupConsumers(ctx context.Context, ns string, info *GroupInfo) error {
	cs, err := s.client.Do(ctx, s.client.B().XinfoConsumers().Key(logKey(ns)).Group(info.Name).Build()).ToArray()
	if err != nil {
		return fmt.Errorf("streams: consumers of %s on %s: %w", info.Name, ns, classify(err))
	}
	info.Consumers = len(cs)
	for i, c := range cs {
		m, err := c.AsMap()
		if err != nil {
			return err
		}
		idle, _ := num(m, "inactive")
		if idle < 0 { // never active
			idle, _ = num(m, "idle")
		}
		if d := time.Duration(idle) * time.Millisecond; i == 0 || d < info.Idle {
			info.Idle = d
		}
	}
	info.Acknowledged = info.LastDelivered
	if info.Pending > 0 {
		p, err := s.client.Do(ctx, s.client.B().Xpending().Key(logKey(ns)).Group(info.Name).Build()).ToArray()
		if err != nil {
			return fmt.Errorf("streams: pending of %s on %s: %w", info.Name, ns, classify(err))
		}
		if len(p) >= 2 {
			lo, _ := p[1].ToString()
			if r, ok := revisionOf(lo); ok {
				info.Acknowledged = domain.Revision(r - 1)
			}
		}
	}
	return nil
}

// DestroyGroup removes group from ns's log. Removing a group that does not
// exist is not an error.
//
// Errors: EUNAVAILABLE.
func (s *Store) DestroyGroup(ctx context.Context, ns, group string) error {
	err := s.client.Do(ctx, s.client.B().XgroupDestroy().Key(logKey(ns)).Group(group).Build()).Error()
	if err != nil && !isNoGroup(err) && !isNoSuchKey(err) {
		return fmt.Errorf("streams: destroy group %s on %s: %w", group, ns, classify(err))
	}
	return nil
}

func str(m map[string]rueidis.RedisMessage, k string) string {
	v := m[k]
	s, _ := v.ToString()
	return s
}

func num(m map[string]rueidis.RedisMessage, k string) (int64, error) {
	v := m[k]
	return v.AsInt64()
}

// groupID is the entry id of rev, "0-0" for none.
func groupID(rev domain.Revision) string {
	if rev == 0 {
		return "0-0"
	}
	return entryID(uint64(rev))
}

// CreateWorkerGroup creates worker's consumer group on ns's log positioned
// after revision at, with the worker as its consumer (so that the group's
// idle time counts from now), unless it exists. It reports whether it
// created it.
//
// Errors: EUNAVAILABLE.
func (s *Store) CreateWorkerGroup(ctx context.Context, ns, worker string, at domain.Revision) (bool, error) {
	group := WorkerGroup(worker)
	created, err := s.CreateGroup(ctx, ns, group, at)
	if err == nil && created {
		err = s.CreateConsumer(ctx, ns, group, worker)
	}
	return created, err
}

// AckUpTo acknowledges every entry of worker's group at or below rev, and
// returns how many it acknowledged. A worker acks the revision it reloaded
// to, covering the burst it coalesced. It may have learned of the entries
// from a shared tail of the log rather than from its group, so what is new
// is delivered to the worker first: the group records them, and entries
// past rev stay pending and come back on the next poll.
//
// Errors: *Diverged (the log does not hold rev), ENOTFOUND (no such
// group), EUNAVAILABLE.
func (s *Store) AckUpTo(ctx context.Context, ns, worker string, rev domain.Revision) (int, error) {
	_, n, err := s.Poll(ctx, ns, WorkerPoll{Worker: worker, Ack: rev})
	return n, err
}

// WorkerPoll is one poll of a worker's group.
type WorkerPoll struct {
	Worker string
	// Ack acknowledges every entry at or below it first; 0: none.
	Ack domain.Revision
	// After skips the entries at or below it (the worker was told of them
	// already); the entries returned come after max(Ack, After).
	After domain.Revision
	// Count is the most entries returned; 0 acknowledges only.
	Count int
	// AckID is the event id at Ack the worker applied ("": not named; the
	// log need only hold Ack).
	AckID string
	// At is the position the worker says it runs (zero: not said); the
	// log must hold it.
	At Position
}

// pollScript is a worker's poll in one round trip: check that the log
// holds the positions the worker names (positions.go), deliver consumer
// what is new in its group, acknowledge every entry pending at or below a
// revision, and return the consumer's entries still pending after it, by
// id, aggregate and event id (not their payloads: a poll needs to know what
// changed, not how). A position the log does not hold, or a worker marked
// diverged, changes nothing in the group: the answer is a reset.
//
// KEYS: log, diverged hash, acked hash (positions.go). ARGV: group,
// consumer, acknowledged entry id ("0-0": none), count (0: acknowledge
// only), entry id the returned entries come after, acknowledged event id
// ("": not named), the entry id and event id of the position the worker
// runs ("0-0": none).
// Returns {acknowledged, id1, aggregate1, event1, …}, or {-1, head entry
// id, head event id, revision diverged at} for a reset.
var pollScript = newScript(luaPositions + luaRememberAck + `
local log, marks, c = KEYS[1], KEYS[2], ARGV[2]
local function reset(at)
  local rev = tonumber(string.match(at, '^(%d+)')) or 0
  redis.call('HSETNX', marks, c, rev)
  local h = head(log)
  return {-1, h[1], h[2], rev}
end
local ackID, ackEvent, atID, atEvent = ARGV[3], ARGV[6], ARGV[7], ARGV[8]
if ackID ~= '0-0' and not holds(log, ackID, ackEvent) then return reset(ackID) end
if atID ~= '0-0' and not holds(log, atID, atEvent) then return reset(atID) end
local mark = redis.call('HGET', marks, c)
if mark then
  -- An event the log holds, named by its id (or an acknowledgement of
  -- the head, by an older worker): the worker reloaded.
  local h = head(log)
  if (ackID ~= '0-0' and (ackEvent ~= '' or ackID == h[1])) or (atID ~= '0-0' and atEvent ~= '') then
    redis.call('HDEL', marks, c)
  else
    return {-1, h[1], h[2], tonumber(mark)}
  end
end
redis.call('XREADGROUP', 'GROUP', ARGV[1], c, 'COUNT', 10000, 'STREAMS', log, '>')
rememberAck(KEYS[3], c, ackID, ackEvent)
local n = 0
if ackID ~= '0-0' then
  while true do
    local pending = redis.call('XPENDING', log, ARGV[1], '-', ackID, 1000)
    if #pending == 0 then break end
    local ids = {}
    for i, p in ipairs(pending) do ids[i] = p[1] end
    n = n + redis.call('XACK', log, ARGV[1], unpack(ids))
    if #pending < 1000 then break end
  end
end
local out = {n}
if ARGV[4] == '0' then return out end
local res = redis.call('XREADGROUP', 'GROUP', ARGV[1], c, 'COUNT', ARGV[4], 'STREAMS', log, ARGV[5])
if res then
  for _, e in ipairs(res[1][2]) do
    local a, ev = '', ''
    local f = e[2]
    if f then
      for i = 1, #f, 2 do
        if f[i] == 'a' then a = f[i + 1] elseif f[i] == 'e' then ev = f[i + 1] end
      end
    end
    out[#out + 1] = e[1]
    out[#out + 1] = a
    out[#out + 1] = ev
  end
end
return out
`)

// Poll is a worker's "I have applied p.Ack; what is next?" in one round
// trip: it acknowledges every entry of the worker's group at or below p.Ack,
// then returns up to p.Count entries after max(p.Ack, p.After) that were
// delivered to the worker and not acknowledged, oldest first, new ones
// delivered first. It returns how many entries it acknowledged.
//
// When the log does not hold p.Ack (with p.AckID, when set) or p.At, or
// the worker is marked diverged (positions.go), it changes nothing in the
// group, marks the worker, and returns a *Diverged naming the head: the
// worker reloads it. An acknowledgement or position naming an event the
// log holds clears the mark.
//
// Errors: *Diverged, ENOTFOUND (no such group), EUNAVAILABLE.
func (s *Store) Poll(ctx context.Context, ns string, p WorkerPoll) ([]Entry, int, error) {
	group := WorkerGroup(p.Worker)
	vals, err := pollScript.exec(ctx, s.client, []string{logKey(ns), divergedKey(ns), ackedKey(ns)},
		[]string{group, p.Worker, groupID(p.Ack), strconv.Itoa(p.Count), groupID(max(p.Ack, p.After)),
			p.AckID, groupID(p.At.Revision), p.At.ID}).ToArray()
	if isNoGroup(err) {
		return nil, 0, domain.Errorf(domain.ENOTFOUND, "namespace %s has no consumer group %s", ns, group)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("streams: poll %s on %s: %w", group, ns, classify(err))
	}
	if len(vals) == 0 {
		return nil, 0, fmt.Errorf("streams: poll %s on %s: an empty reply", group, ns)
	}
	acked, err := vals[0].AsInt64()
	if err != nil {
		return nil, 0, fmt.Errorf("streams: poll %s on %s: %w", group, ns, err)
	}
	if acked < 0 {
		return nil, 0, divergedReply(group, ns, vals)
	}
	if len(vals)%3 != 1 {
		return nil, 0, fmt.Errorf("streams: poll %s on %s: %d values in the reply", group, ns, len(vals))
	}
	var out []Entry
	for i := 1; i < len(vals); i += 3 {
		eid, err1 := vals[i].ToString()
		agg, err2 := vals[i+1].ToString()
		env, err3 := vals[i+2].ToString()
		r, ok := revisionOf(eid)
		if err1 != nil || err2 != nil || err3 != nil || !ok {
			return nil, 0, fmt.Errorf("streams: poll %s on %s: malformed entry %q", group, ns, eid)
		}
		out = append(out, Entry{Revision: domain.Revision(r), Aggregate: agg, ID: envelopeID(env)})
	}
	return out, int(acked), nil
}

// divergedReply reads a poll's reset: {-1, head entry id, head event id,
// revision}.
func divergedReply(group, ns string, vals []rueidis.RedisMessage) error {
	if len(vals) != 4 {
		return fmt.Errorf("streams: poll %s on %s: %d values in a reset", group, ns, len(vals))
	}
	hid, _ := vals[1].ToString()
	hev, _ := vals[2].ToString()
	at, _ := vals[3].AsInt64()
	h, _ := revisionOf(hid)
	return &Diverged{At: domain.Revision(at), Head: Position{Revision: domain.Revision(h), ID: hev}}
}

// Entry is a log entry's position and aggregate, without its payload: what
// a follower needs to know that something changed, and what.
type Entry struct {
	Revision  domain.Revision
	Aggregate string
	// ID is the event's id (its envelope's), "" where not known.
	ID string
}

// WaitEntries blocks up to block for entries of ns's log after revision
// after and returns them (none if none came). It holds one blocked
// connection; callers share one wait per namespace.
//
// Errors: EUNAVAILABLE.
func (s *Store) WaitEntries(ctx context.Context, ns string, after domain.Revision, block time.Duration) ([]Entry, error) {
	id := "0-0"
	if after > 0 {
		id = entryID(uint64(after))
	}
	res, err := s.client.Do(ctx, s.client.B().Xread().Count(1000).Block(block.Milliseconds()).Streams().Key(logKey(ns)).Id(id).Build()).AsXRead()
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("streams: wait on %s: %w", ns, classify(err))
	}
	var out []Entry
	for _, e := range res[logKey(ns)] {
		if r, ok := revisionOf(e.ID); ok {
			out = append(out, Entry{Revision: domain.Revision(r), Aggregate: e.FieldValues["a"], ID: envelopeID(e.FieldValues["e"])})
		}
	}
	return out, nil
}

// LastEntry returns the revision of the newest entry of ns's log, 0 if it
// has none.
//
// Errors: EUNAVAILABLE.
func (s *Store) LastEntry(ctx context.Context, ns string) (domain.Revision, error) {
	entries, err := s.client.Do(ctx, s.client.B().Xrevrange().Key(logKey(ns)).End("+").Start("-").Count(1).Build()).AsXRange()
	if err != nil {
		return 0, fmt.Errorf("streams: last entry of %s: %w", ns, classify(err))
	}
	if len(entries) == 0 {
		return 0, nil
	}
	r, _ := revisionOf(entries[0].ID)
	return domain.Revision(r), nil
}

// WorkerAck is one worker's acknowledgement: every entry of its group at
// or below Revision, whose event is ID ("": not named, the log need only
// hold Revision).
type WorkerAck struct {
	Worker   string
	Revision domain.Revision
	ID       string
}

// ackWorkersScript is AckUpTo for several workers of one namespace in one
// round trip: for each, check that the log holds the acknowledged event
// (positions.go; a worker whose event it does not hold is marked diverged
// and nothing else changes), deliver what is new in its group, then
// acknowledge every entry pending at or below its revision. A worker whose
// group does not exist is skipped, not an error for the others; any other
// error ends the call (the workers before it may be acknowledged:
// acknowledging again is harmless).
//
// KEYS: log, diverged hash, acked hash (positions.go). ARGV: group,
// consumer, acknowledged entry id, acknowledged event id, for each worker. Returns, for each worker, how
// many entries it acknowledged, -1 when it has no group, -2 when the log
// does not hold what it acknowledged.
var ackWorkersScript = newScript(luaPositions + luaRememberAck + `
local log, marks = KEYS[1], KEYS[2]
local anyMarks = redis.call('HLEN', marks) > 0
local out = {}
for j = 1, #ARGV, 4 do
  local g, c, id, ev = ARGV[j], ARGV[j + 1], ARGV[j + 2], ARGV[j + 3]
  if id ~= '0-0' and not holds(log, id, ev) then
    redis.call('HSETNX', marks, c, tonumber(string.match(id, '^(%d+)')) or 0)
    out[#out + 1] = -2
  else
    if anyMarks and id ~= '0-0' and (ev ~= '' or id == head(log)[1]) then redis.call('HDEL', marks, c) end
    local read = redis.pcall('XREADGROUP', 'GROUP', g, c, 'COUNT', 10000, 'STREAMS', log, '>')
    if type(read) == 'table' and read.err then
      -- No group is this worker's own answer; anything else (a read-only
      -- replica, a refused write) fails the call.
      if string.sub(read.err, 1, 7) ~= 'NOGROUP' then return read end
      out[#out + 1] = -1
    else
      rememberAck(KEYS[3], c, id, ev)
      local n = 0
      while id ~= '0-0' do
        local pending = redis.call('XPENDING', log, g, '-', id, 1000)
        if #pending == 0 then break end
        local ids = {}
        for i, p in ipairs(pending) do ids[i] = p[1] end
        n = n + redis.call('XACK', log, g, unpack(ids))
        if #pending < 1000 then break end
      end
      out[#out + 1] = n
    end
  end
end
return out
`)

// AckWorkers acknowledges, for each of acks, every entry of the worker's
// group at or below its revision, as AckUpTo does for one, in one round
// trip, and returns how many entries each acknowledged: -1 for a worker
// with no group, -2 for one whose acknowledged event the log does not hold
// (it is marked diverged, and nothing else changed). Acks should name each
// worker once. On an error some of them may be acknowledged.
//
// Errors: EUNAVAILABLE.
func (s *Store) AckWorkers(ctx context.Context, ns string, acks []WorkerAck) ([]int, error) {
	if len(acks) == 0 {
		return nil, nil
	}
	args := make([]string, 0, 4*len(acks))
	for _, a := range acks {
		args = append(args, WorkerGroup(a.Worker), a.Worker, groupID(a.Revision), a.ID)
	}
	vals, err := ackWorkersScript.exec(ctx, s.client, []string{logKey(ns), divergedKey(ns), ackedKey(ns)}, args).ToArray()
	if err != nil {
		return nil, fmt.Errorf("streams: ack %d workers on %s: %w", len(acks), ns, classify(err))
	}
	if len(vals) != len(acks) {
		return nil, fmt.Errorf("streams: ack %d workers on %s: %d values in the reply", len(acks), ns, len(vals))
	}
	out := make([]int, len(vals))
	for i, v := range vals {
		n, err := v.AsInt64()
		if err != nil {
			return nil, fmt.Errorf("streams: ack %d workers on %s: %w", len(acks), ns, err)
		}
		out[i] = int(n)
	}
	return out, nil
}
