package streams

import (
	"context"
	"fmt"
)

// GroupCount is how many consumer groups ns's log has (XINFO STREAM's
// count, without listing them): 0 for a log that does not exist.
//
// Errors: EUNAVAILABLE.
func (s *Store) GroupCount(ctx context.Context, ns string) (int, error) {
	m, err := s.client.Do(ctx, s.client.B().XinfoStream().Key(logKey(ns)).Build()).AsMap()
	if err != nil {
		if isNoSuchKey(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("streams: group count of %s: %w", ns, classify(err))
	}
	n, err := num(m, "groups")
	if err != nil {
		return 0, fmt.Errorf("streams: group count of %s: %w", ns, err)
	}
	return int(n), nil
}

// HasWorkerGroup reports whether worker id has a consumer group on ns's
// log.
//
// Errors: EUNAVAILABLE.
func (s *Store) HasWorkerGroup(ctx context.Context, ns, id string) (bool, error) {
	err := s.client.Do(ctx, s.client.B().XinfoConsumers().Key(logKey(ns)).Group(WorkerGroup(id)).Build()).Error()
	switch {
	case err == nil:
		return true, nil
	case isNoGroup(err) || isNoSuchKey(err):
		return false, nil
	}
	return false, fmt.Errorf("streams: group of worker %s on %s: %w", id, ns, classify(err))
}
