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
		return 0, domain.Errorf(domain.ECONFLICT, "namespace %s: the rollout changed meanwhile: try again", ns)
	}
	set := s.client.B().Srem().Key(rolloutsKey).Member(ns).Build()
	if r.Policy != nil {
		set = s.client.B().Sadd().Key(rolloutsKey).Member(ns).Build()
	}
	if err := s.client.Do(ctx, set).Error(); err != nil {
		return 0, fmt.Errorf("streams: list the rollout of %s: %w", ns, classify(err))
	}
	return RolloutVersion(n), nil
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

// WorkerHealth returns one worker's stored health (nil: none).
//
// Errors: EUNAVAILABLE.
func (s *Store) WorkerHealth(ctx context.Context, ns, worker string) ([]byte, error) {
	b, err := s.client.Do(ctx, s.client.B().Hget().Key(healthKey(ns)).Field(worker).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("streams: health of worker %s in %s: %w", worker, ns, classify(err))
	}
	return b, nil
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
