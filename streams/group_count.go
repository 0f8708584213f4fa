package streams

import (
	"context"
	"fmt"
)

// GroupCount is how many consumer groups ns's log has: 0 for a log that
// does not exist. (XINFO GROUPS, counted: XINFO STREAM would be one call
// too, but it answers with the first and last entries, a deploy each.)
//
// Errors: EUNAVAILABLE.
func (s *Store) GroupCount(ctx context.Context, ns string) (int, error) {
	groups, err := s.client.Do(ctx, s.client.B().XinfoGroups().Key(logKey(ns)).Build()).ToArray()
	if err != nil {
		if isNoSuchKey(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("streams: group count of %s: %w", ns, classify(err))
	}
	return len(groups), nil
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
