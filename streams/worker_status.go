package streams

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/rueidis"
)

// A worker's package state, as the worker reported it last: state, never
// events (it says what one process has installed, not what was decided),
// kept in one hash per namespace, a field per worker, each value the
// worker's report as JSON.

// workerStatusTTL is how long a namespace's reports outlive the last one:
// workers that are gone for that long are forgotten.
const workerStatusTTL = 30 * 24 * time.Hour

// SaveWorkerStatus stores worker's report (JSON) in ns.
//
// Errors: EUNAVAILABLE.
func (s *Store) SaveWorkerStatus(ctx context.Context, ns, worker string, report []byte) error {
	key := workerStatusKey(ns)
	cmds := rueidis.Commands{
		s.client.B().Hset().Key(key).FieldValue().FieldValue(worker, string(report)).Build(),
		s.client.B().Expire().Key(key).Seconds(int64(workerStatusTTL / time.Second)).Build(),
	}
	for _, r := range s.client.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return fmt.Errorf("streams: save the package state of worker %s in %s: %w", worker, ns, classify(err))
		}
	}
	return nil
}

// WorkerStatuses returns ns's reports by worker id (empty when none).
//
// Errors: EUNAVAILABLE.
func (s *Store) WorkerStatuses(ctx context.Context, ns string) (map[string][]byte, error) {
	m, err := s.client.Do(ctx, s.client.B().Hgetall().Key(workerStatusKey(ns)).Build()).AsStrMap()
	if err != nil {
		return nil, fmt.Errorf("streams: package states of %s: %w", ns, classify(err))
	}
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out, nil
}
