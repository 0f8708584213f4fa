package streams

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// The rollout lease: one driver per namespace among replicas. A replica
// takes it with SET NX PX and renews it (compare-and-pexpire) while it
// drives; when it dies the lease expires and another takes it.

var renewLeaseScript = newScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

var releaseLeaseScript = newScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// HoldRolloutLease takes ns's rollout lease for owner for ttl, or renews it
// if owner holds it; it reports whether owner holds it now.
//
// Errors: EUNAVAILABLE.
func (s *Store) HoldRolloutLease(ctx context.Context, ns, owner string, ttl time.Duration) (bool, error) {
	key, ms := rolloutLeaseKey(ns), strconv.FormatInt(ttl.Milliseconds(), 10)
	n, err := renewLeaseScript.exec(ctx, s.client, []string{key}, []string{owner, ms}).AsInt64()
	if err != nil {
		return false, fmt.Errorf("streams: renew the rollout lease of %s: %w", ns, classify(err))
	}
	if n == 1 {
		return true, nil
	}
	err = s.client.Do(ctx, s.client.B().Set().Key(key).Value(owner).Nx().PxMilliseconds(ttl.Milliseconds()).Build()).Error()
	if rueidis.IsRedisNil(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("streams: take the rollout lease of %s: %w", ns, classify(err))
	}
	return true, nil
}

// ReleaseRolloutLease gives up ns's rollout lease if owner holds it.
//
// Errors: EUNAVAILABLE.
func (s *Store) ReleaseRolloutLease(ctx context.Context, ns, owner string) error {
	if err := releaseLeaseScript.exec(ctx, s.client, []string{rolloutLeaseKey(ns)}, []string{owner}).Error(); err != nil {
		return fmt.Errorf("streams: release the rollout lease of %s: %w", ns, classify(err))
	}
	return nil
}

// RolloutLeaseHolder returns who holds ns's rollout lease ("" nobody).
//
// Errors: EUNAVAILABLE.
func (s *Store) RolloutLeaseHolder(ctx context.Context, ns string) (string, error) {
	v, err := s.client.Do(ctx, s.client.B().Get().Key(rolloutLeaseKey(ns)).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("streams: rollout lease of %s: %w", ns, classify(err))
	}
	return v, nil
}
