package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/flowhist/flowhist/domain"
)

// Positions that name the event, not just its number. A failover that loses
// a write (or a restore from an older AOF) can give the lost event's
// revision number to a different event; a worker that ran the lost one and
// says only "I am at 2" would look up to date. So a worker's position is the
// revision and the event id (the UUIDv7 in the entry's envelope, field
// "e"), and every place it comes back (an acknowledgement, a feed's start)
// checks that the log still holds that event there. A worker whose position
// the log does not hold is marked diverged in one hash per namespace, until
// it acknowledges an event the log holds: its feed answers "reset" (reload
// the head) meanwhile, and GET workers shows it as diverged.

// Position is an event's place in a namespace's log: its revision and its
// id. An empty ID names the revision alone (a client older than
// positions).
type Position struct {
	Revision domain.Revision `json:"revision"`
	ID       string          `json:"id,omitempty"`
}

// Diverged is the error of a worker whose position the log does not hold
// (Poll): At is the revision it named, Head where to reload from.
type Diverged struct {
	At   domain.Revision
	Head Position
}

func (d *Diverged) Error() string {
	return fmt.Sprintf("streams: the log does not hold the event the worker named at revision %d; its head is %d", d.At, d.Head.Revision)
}

// divergedKey is the hash of ns's diverged workers: worker id → the
// revision at which the log stopped holding what it ran.
func divergedKey(ns string) string { return "fh:{" + ns + "}:workers:diverged" }

// ackedKey is the hash of the position each worker of ns last acknowledged
// by its event id: worker id → "<entry id> <event id>". MarkDiverged reads
// it to spare a worker whose acknowledged event the log still holds: a
// worker that reloaded after a loss and acknowledged the event that took
// the lost one's revision runs what the log holds.
func ackedKey(ns string) string { return "fh:{" + ns + "}:workers:acked" }

// luaRememberAck records, in the scripts that acknowledge, the position a
// worker acknowledged by its event id (checked by holds before).
const luaRememberAck = `
local function rememberAck(acked, worker, id, ev)
  if id ~= '0-0' and ev ~= '' then redis.call('HSET', acked, worker, id .. ' ' .. ev) end
end
`

// luaPositions is the Lua the scripts that check positions share: the event
// id of an entry (read from its envelope with cjson: envelopes may gain
// fields, the id stays), memoised per call, since a deploy brings every
// worker's acknowledgement of the same revision at once, and an entry is
// read whole (payload included).
const luaPositions = `
local eventIDs = {}
local function eventAt(log, id)
  local memo = eventIDs[id]
  if memo ~= nil then return memo end
  local e = redis.call('XRANGE', log, id, id)[1]
  local out = false
  if e then
    out = ''
    local f = e[2]
    for i = 1, #f, 2 do
      if f[i] == 'e' then
        local ok, env = pcall(cjson.decode, f[i + 1])
        if ok and type(env) == 'table' and type(env.id) == 'string' then out = env.id end
        break
      end
    end
  end
  eventIDs[id] = out
  return out
end
-- holds: the log has an entry at id and, when eid is not '', its event is eid.
local function holds(log, id, eid)
  if id == '0-0' then return true end
  local at = eventAt(log, id)
  if not at then return false end
  return eid == '' or at == eid
end
local function head(log)
  local last = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)[1]
  if not last then return {'0-0', ''} end
  return {last[1], eventAt(log, last[1]) or ''}
end
`

// eventIDScript returns the event id at an entry id, or false when the log
// has no entry there. KEYS: log. ARGV: entry id ("+": the newest). Returns
// {entry id, event id} or {}.
var eventIDScript = newScript(luaPositions + `
local id = ARGV[1]
if id == '+' then return head(KEYS[1]) end
local e = eventAt(KEYS[1], id)
if not e then return {} end
return {id, e}
`)

// EventAt returns the position of ns's event at rev (rev 0: the newest),
// and false when the log has no entry there.
//
// Errors: EUNAVAILABLE.
func (s *Store) EventAt(ctx context.Context, ns string, rev domain.Revision) (Position, bool, error) {
	id := "+"
	if rev > 0 {
		id = entryID(uint64(rev))
	}
	vals, err := eventIDScript.exec(ctx, s.client, []string{logKey(ns)}, []string{id}).AsStrSlice()
	if err != nil {
		return Position{}, false, fmt.Errorf("streams: event at %d of %s: %w", rev, ns, classify(err))
	}
	if len(vals) != 2 {
		return Position{}, false, nil
	}
	r, _ := revisionOf(vals[0])
	return Position{Revision: domain.Revision(r), ID: vals[1]}, r > 0 || rev == 0, nil
}

// eventIDsScript returns the event id at each entry id, ” where the log
// has none. KEYS: log. ARGV: entry ids.
var eventIDsScript = newScript(luaPositions + `
local out = {}
for i, id in ipairs(ARGV) do out[i] = eventAt(KEYS[1], id) or '' end
return out
`)

// EventIDs returns the event id at each of revs that ns's log holds (a
// revision it does not hold is absent from the map), in one round trip.
//
// Errors: EUNAVAILABLE.
func (s *Store) EventIDs(ctx context.Context, ns string, revs []domain.Revision) (map[domain.Revision]string, error) {
	out := make(map[domain.Revision]string, len(revs))
	if len(revs) == 0 {
		return out, nil
	}
	ids := make([]string, len(revs))
	for i, r := range revs {
		ids[i] = entryID(uint64(r))
	}
	vals, err := eventIDsScript.exec(ctx, s.client, []string{logKey(ns)}, ids).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("streams: event ids of %s: %w", ns, classify(err))
	}
	for i, v := range vals {
		if v != "" && i < len(revs) {
			out[revs[i]] = v
		}
	}
	return out, nil
}

// envelopeID reads the event id from an entry's envelope (field "e").
func envelopeID(e string) string {
	var env struct {
		ID string `json:"id"`
	}
	if json.Unmarshal([]byte(e), &env) != nil {
		return ""
	}
	return env.ID
}

// markDivergedScript marks every worker group of the log whose last
// delivered entry is at or past a revision (the first the log no longer
// holds as it was) as diverged there, unless it is marked already or the
// worker acknowledged, by its event id, an event at or past that revision
// that the log holds (it reloaded onto what the log holds: a new event
// takes a lost one's revision, so the revision alone cannot tell).
// KEYS: log, diverged hash, acked hash. ARGV: revision. Returns how many
// it marked.
var markDivergedScript = newScript(luaPositions + `
local from = tonumber(ARGV[1])
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if not ok then return 0 end
local function reloaded(worker)
  local a = redis.call('HGET', KEYS[3], worker)
  if not a then return false end
  local id, ev = string.match(a, '^(%S+) (%S+)$')
  if not id then return false end
  return (tonumber(string.match(id, '^(%d+)')) or 0) >= from and holds(KEYS[1], id, ev)
end
local n = 0
for _, g in ipairs(groups) do
  local name, last
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then last = g[i + 1] end
  end
  if name and string.sub(name, 1, 7) == 'worker:' and last then
    local w = string.sub(name, 8)
    local r = tonumber(string.match(last, '^(%d+)')) or 0
    if r >= from and not reloaded(w) and redis.call('HSETNX', KEYS[2], w, ARGV[1]) == 1 then n = n + 1 end
  end
end
return n
`)

// MarkDiverged marks every worker of ns whose group was delivered revision
// from or later as diverged at from: the log no longer holds what it held
// there (the projector or a feed found out), so what those workers run may
// be in no revision of the log. A worker whose last acknowledgement named
// an event at or past from that the log holds is spared: it already runs
// what the log holds. Each marked worker stays diverged, its feed
// answering reset, until it acknowledges an event the log holds. It
// returns how many workers it marked.
//
// Errors: EUNAVAILABLE.
func (s *Store) MarkDiverged(ctx context.Context, ns string, from domain.Revision) (int, error) {
	n, err := markDivergedScript.exec(ctx, s.client, []string{logKey(ns), divergedKey(ns), ackedKey(ns)}, []string{formatUint(uint64(max(from, 1)))}).AsInt64()
	if err != nil {
		return 0, fmt.Errorf("streams: mark the workers of %s diverged: %w", ns, classify(err))
	}
	return int(n), nil
}

// DivergedWorkers returns ns's diverged workers and the revision at which
// each diverged.
//
// Errors: EUNAVAILABLE.
func (s *Store) DivergedWorkers(ctx context.Context, ns string) (map[string]domain.Revision, error) {
	m, err := s.client.Do(ctx, s.client.B().Hgetall().Key(divergedKey(ns)).Build()).AsStrMap()
	if err != nil {
		return nil, fmt.Errorf("streams: diverged workers of %s: %w", ns, classify(err))
	}
	out := make(map[string]domain.Revision, len(m))
	for w, v := range m {
		r, _ := strconv.ParseUint(v, 10, 64)
		out[w] = domain.Revision(r)
	}
	return out, nil
}

// ForgetDiverged drops worker's diverged mark and its acknowledged
// position (its group was destroyed).
//
// Errors: EUNAVAILABLE.
func (s *Store) ForgetDiverged(ctx context.Context, ns, worker string) error {
	for _, r := range s.client.DoMulti(ctx,
		s.client.B().Hdel().Key(divergedKey(ns)).Field(worker).Build(),
		s.client.B().Hdel().Key(ackedKey(ns)).Field(worker).Build()) {
		if err := r.Error(); err != nil {
			return fmt.Errorf("streams: forget worker %s of %s: %w", worker, ns, classify(err))
		}
	}
	return nil
}
