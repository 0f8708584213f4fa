package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/redis/rueidis"
)

// A namespace's rollout (domain.Rollout: its policy and progress) is kept
// in one hash, {v: version, doc: JSON}, written with a compare-and-set on
// the version, so a driver and an operator's action never overwrite each
// other's step. The log holds the same steps as events (the history); this
// is what a restarted or another replica resumes from. The namespaces with
// a policy are listed in one global set for the drivers to find.

func rolloutKey(ns string) string      { return "fh:{" + ns + "}:rollout" }
func rolloutLeaseKey(ns string) string { return "fh:{" + ns + "}:rollout:lease" }
func healthKey(ns string) string       { return "fh:{" + ns + "}:workers:health" }
func ringsKey(ns string) string        { return "fh:{" + ns + "}:workers:rings" }

// rolloutsKey is the global set of namespaces that have a rollout policy.
const rolloutsKey = "fh:rollouts"

// RolloutVersion is the version of a stored rollout, for SaveRollout's
// compare-and-set (0: none stored).
type RolloutVersion int64

// Rollout returns ns's rollout and its version; nil and 0 when none was
// ever stored.
//
// Errors: EUNAVAILABLE, ECORRUPT (a document this version cannot read).
func (s *Store) Rollout(ctx context.Context, ns string) (*domain.Rollout, RolloutVersion, error) {
	m, err := s.client.Do(ctx, s.client.B().Hmget().Key(rolloutKey(ns)).Field("v", "doc").Build()).ToArray()
	if err != nil {
		return nil, 0, fmt.Errorf("streams: rollout of %s: %w", ns, classify(err))
	}
	v, verr := m[0].AsInt64()
	doc, derr := m[1].ToString()
	if verr != nil || derr != nil {
		return nil, 0, nil
	}
	var r domain.Rollout
	if err := json.Unmarshal([]byte(doc), &r); err != nil {
		return nil, 0, domain.Errorf(domain.ECORRUPT, "namespace %s: rollout document unreadable: %v", ns, err)
	}
	return &r, RolloutVersion(v), nil
}

var saveRolloutScript = newScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '0') ~= ARGV[1] then return -1 end
local n = tonumber(ARGV[1]) + 1
redis.call('HSET', KEYS[1], 'v', n, 'doc', ARGV[2])
return n
`)

// SaveRollout stores r as ns's rollout if its stored version is still
// prev, and lists or unlists ns among the namespaces with a policy. It
// returns the new version.
//
// Errors: ECONFLICT (another step was stored since prev), EUNAVAILABLE.
func (s *Store) SaveRollout(ctx context.Context, ns string, prev RolloutVersion, r *domain.Rollout) (RolloutVersion, error) {
	doc, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	n, err := saveRolloutScript.exec(ctx, s.client, []string{rolloutKey(ns)}, []string{strconv.FormatInt(int64(prev), 10), string(doc)}).AsInt64()
	if err != nil {
		return 0, fmt.Errorf("streams: save the rollout of %s: %w", ns, classify(err))
	}
	if n < 0 {
		return 0, errRolloutMoved(ns)
	}
	if err := s.listRollout(ctx, ns, r.Policy != nil); err != nil {
		return 0, err
	}
	return RolloutVersion(n), nil
}

func errRolloutMoved(ns string) error {
	return domain.Errorf(domain.ECONFLICT, "namespace %s: the rollout changed meanwhile: try again", ns)
}

// listRollout lists ns among the namespaces with a policy, or unlists it.
// The set lives outside ns's slot, so it is written on its own: a writer
// lists before it stores a policy and unlists after it removed one, so an
// interruption leaves at worst a namespace listed without a policy, which
// the drivers pass over.
func (s *Store) listRollout(ctx context.Context, ns string, listed bool) error {
	set := s.client.B().Srem().Key(rolloutsKey).Member(ns).Build()
	if listed {
		set = s.client.B().Sadd().Key(rolloutsKey).Member(ns).Build()
	}
	if err := s.client.Do(ctx, set).Error(); err != nil {
		return fmt.Errorf("streams: list the rollout of %s: %w", ns, classify(err))
	}
	return nil
}

// rolloutWrite is a rollout stored by the append of the event that
// records its step (AppendRollout), if its version is still prev.
type rolloutWrite struct {
	prev RolloutVersion
	doc  string
}

// rolloutScripts are the append scripts (append.go) each wrapped in the
// rollout's compare-and-set: the wrapper checks the rollout's version,
// runs the append script unchanged (so the entry's link is computed as
// for any append), and stores the rollout only when the script appended.
// A script runs whole, nothing in between, and its effects are replicated
// and written to the AOF as one MULTI/EXEC: no reader, replica or restart
// sees the step without its event or the event without its step.
//
// KEYS: the append script's, then the rollout's hash. ARGV: the append
// script's, then the rollout's expected version and its new document.
// Returns what the append script returns, or {"conflict", "0"} when the
// rollout's version moved (an idempotency key already used answers
// "dup" first, storing nothing).
var rolloutScripts = map[*script]*script{
	appendScript:          wrapRolloutWrite(appendScript),
	appendScriptUnchained: wrapRolloutWrite(appendScriptUnchained),
}

func wrapRolloutWrite(append *script) *script {
	return newScript(`
local rollout, prev, doc = KEYS[#KEYS], ARGV[#ARGV - 1], ARGV[#ARGV]
local KEYS, ARGV = {unpack(KEYS, 1, #KEYS - 1)}, {unpack(ARGV, 1, #ARGV - 2)}
local dup = ARGV[4] == '1' and redis.call('EXISTS', KEYS[3]) == 1
if not dup and (redis.call('HGET', rollout, 'v') or '0') ~= prev then
  return {'conflict', '0'}
end
local function appendEntry()
` + append.src + `
end
local res = appendEntry()
if type(res) == 'table' and res[1] == 'ok' then
  redis.call('HSET', rollout, 'v', string.format('%d', tonumber(prev) + 1), 'doc', doc)
end
return res
`)
}

// wrap returns the script, keys and args of an append that also stores
// w; with a nil w, those given.
func (w *rolloutWrite) wrap(ns string, sc *script, keys, args []string) (*script, []string, []string) {
	if w == nil {
		return sc, keys, args
	}
	return rolloutScripts[sc], append(keys, rolloutKey(ns)), append(args, strconv.FormatInt(int64(w.prev), 10), w.doc)
}

// AppendRollout appends e, the event of a step of ns's rollout, and
// stores r as ns's rollout in the same atomic step, if the stored
// rollout's version is still prev: both or neither. A replica that dies
// mid-step leaves no step without its event (which is what wakes the
// workers), nor an event whose step is not stored. e is appended whatever
// its aggregate's revision (ExpectAny), with idempotency key key; a
// duplicate stores nothing and answers the first append's result.
//
// Errors: ECONFLICT (another step was stored since prev), EINVALID,
// EUNAVAILABLE (with a non-zero Revision when the step was stored but its
// durability fell short), ECANCELED.
func (s *Store) AppendRollout(ctx context.Context, e domain.Event, key string, prev RolloutVersion, r *domain.Rollout) (AppendResult, error) {
	doc, err := json.Marshal(r)
	if err != nil {
		return AppendResult{}, err
	}
	if r.Policy != nil {
		if err := s.listRollout(ctx, e.Namespace, true); err != nil {
			return AppendResult{}, err
		}
	}
	res, err := s.Append(ctx, AppendRequest{Event: e, Expected: domain.ExpectAny, IdempotencyKey: key, rollout: &rolloutWrite{prev: prev, doc: string(doc)}})
	if domain.ErrorCode(err) == domain.ECONFLICT {
		// With ExpectAny only the rollout's version conflicts.
		return AppendResult{}, errRolloutMoved(e.Namespace)
	}
	if res.Revision == 0 || res.Duplicate || r.Policy != nil {
		return res, err
	}
	if lerr := s.listRollout(ctx, e.Namespace, false); lerr != nil {
		// Listed without a policy, the drivers pass it over.
		s.log.Warn("rollout policy removed but still listed", zapNS(e.Namespace), zapErr(lerr))
	}
	return res, err
}

// RolloutNamespaces returns the namespaces that have a rollout policy,
// sorted.
//
// Errors: EUNAVAILABLE.
func (s *Store) RolloutNamespaces(ctx context.Context) ([]string, error) {
	names, err := s.client.Do(ctx, s.client.B().Smembers().Key(rolloutsKey).Build()).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("streams: namespaces with a rollout: %w", classify(err))
	}
	slices.Sort(names)
	return names, nil
}

// healthTTL is how long a namespace's health reports outlive the last one.
const healthTTL = 30 * 24 * time.Hour

// SaveWorkerHealth stores worker's health (JSON, bounded by the caller)
// in ns.
//
// Errors: EUNAVAILABLE.
func (s *Store) SaveWorkerHealth(ctx context.Context, ns, worker string, health []byte) error {
	if err := s.setWorkerField(ctx, healthKey(ns), worker, string(health)); err != nil {
		return fmt.Errorf("streams: save the health of worker %s in %s: %w", worker, ns, err)
	}
	return nil
}

// setWorkerField sets worker's field of the hash key, which lives for
// healthTTL after its last write.
func (s *Store) setWorkerField(ctx context.Context, key, worker, value string) error {
	cmds := rueidis.Commands{
		s.client.B().Hset().Key(key).FieldValue().FieldValue(worker, value).Build(),
		s.client.B().Expire().Key(key).Seconds(int64(healthTTL / time.Second)).Build(),
	}
	for _, r := range s.client.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return classify(err)
		}
	}
	return nil
}

// WorkerHealth returns one worker's stored health (nil: none) and the ring
// it last named on the feed ("": none recorded), in one round trip.
//
// Errors: EUNAVAILABLE.
func (s *Store) WorkerHealth(ctx context.Context, ns, worker string) ([]byte, string, error) {
	res := s.client.DoMulti(ctx,
		s.client.B().Hget().Key(healthKey(ns)).Field(worker).Build(),
		s.client.B().Hget().Key(ringsKey(ns)).Field(worker).Build())
	b, err := res[0].AsBytes()
	if err != nil && !rueidis.IsRedisNil(err) {
		return nil, "", fmt.Errorf("streams: health of worker %s in %s: %w", worker, ns, classify(err))
	}
	v, err := res[1].ToString()
	if err != nil && !rueidis.IsRedisNil(err) {
		return nil, "", fmt.Errorf("streams: ring of worker %s in %s: %w", worker, ns, classify(err))
	}
	ring, _, _ := strings.Cut(v, " ")
	return b, ring, nil
}

// WorkerHealths returns ns's stored health reports by worker.
//
// Errors: EUNAVAILABLE.
func (s *Store) WorkerHealths(ctx context.Context, ns string) (map[string][]byte, error) {
	return s.hashOf(ctx, healthKey(ns), "health reports of "+ns)
}

// WorkerRing is the ring a worker named on the feed, and when it was last
// seen there (as recorded: at most every so often).
type WorkerRing struct {
	Ring string
	Seen time.Time
}

// SaveWorkerRing records the ring worker named and that it was seen at
// seen.
//
// Errors: EUNAVAILABLE.
func (s *Store) SaveWorkerRing(ctx context.Context, ns, worker, ring string, seen time.Time) error {
	v := ring + " " + strconv.FormatInt(seen.UnixMilli(), 10)
	if err := s.setWorkerField(ctx, ringsKey(ns), worker, v); err != nil {
		return fmt.Errorf("streams: save the ring of worker %s in %s: %w", worker, ns, err)
	}
	return nil
}

// WorkerRings returns the rings ns's workers named, by worker.
//
// Errors: EUNAVAILABLE.
func (s *Store) WorkerRings(ctx context.Context, ns string) (map[string]WorkerRing, error) {
	m, err := s.client.Do(ctx, s.client.B().Hgetall().Key(ringsKey(ns)).Build()).AsStrMap()
	if err != nil {
		return nil, fmt.Errorf("streams: rings of the workers of %s: %w", ns, classify(err))
	}
	out := make(map[string]WorkerRing, len(m))
	for w, v := range m {
		ring, ms, _ := strings.Cut(v, " ")
		r := WorkerRing{Ring: ring}
		if n, err := strconv.ParseInt(ms, 10, 64); err == nil {
			r.Seen = time.UnixMilli(n)
		}
		out[w] = r
	}
	return out, nil
}

func (s *Store) hashOf(ctx context.Context, key, what string) (map[string][]byte, error) {
	m, err := s.client.Do(ctx, s.client.B().Hgetall().Key(key).Build()).AsStrMap()
	if err != nil {
		return nil, fmt.Errorf("streams: %s: %w", what, classify(err))
	}
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out, nil
}
