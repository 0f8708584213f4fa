package streams

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/rueidis"
)

// Sessions are Node-RED's live bearer tokens: state with a time to live,
// never events, so they never enter the log or its history.

// Sessions returns ns's sessions JSON, nil if none are stored.
//
// Errors: EUNAVAILABLE.
func (s *Store) Sessions(ctx context.Context, ns string) ([]byte, error) {
	b, err := s.client.Do(ctx, s.client.B().Get().Key(sessionsKey(ns)).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("streams: sessions of %s: %w", ns, classify(err))
	}
	return b, nil
}

// SaveSessions stores ns's sessions JSON for ttl.
//
// Errors: EUNAVAILABLE.
func (s *Store) SaveSessions(ctx context.Context, ns string, sessions []byte, ttl time.Duration) error {
	err := s.client.Do(ctx, s.client.B().Set().Key(sessionsKey(ns)).Value(string(sessions)).Ex(ttl).Build()).Error()
	if err != nil {
		return fmt.Errorf("streams: save sessions of %s: %w", ns, classify(err))
	}
	return nil
}
