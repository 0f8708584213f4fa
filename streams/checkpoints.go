package streams

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// checkpointsKey is the stream of ns's signed checkpoints (package
// checkpoint's JSON, one an entry, field "c"), in the order they were
// signed. The store keeps them without reading them: their proof is the
// signature, and their worth is in the copies kept outside Valkey.
func checkpointsKey(ns string) string { return "fh:{" + ns + "}:checkpoints" }

// AddCheckpoint stores one signed checkpoint of ns.
//
// Errors: EUNAVAILABLE.
func (s *Store) AddCheckpoint(ctx context.Context, ns string, c []byte) error {
	err := s.client.Do(ctx, s.client.B().Xadd().Key(checkpointsKey(ns)).Id("*").FieldValue().FieldValue("c", string(c)).Build()).Error()
	if err != nil {
		return fmt.Errorf("streams: add checkpoint of %s: %w", ns, classify(err))
	}
	return nil
}

// LastCheckpoint returns ns's newest stored checkpoint, nil if none.
//
// Errors: EUNAVAILABLE.
func (s *Store) LastCheckpoint(ctx context.Context, ns string) ([]byte, error) {
	entries, err := s.client.Do(ctx, s.client.B().Xrevrange().Key(checkpointsKey(ns)).End("+").Start("-").Count(1).Build()).AsXRange()
	if err != nil {
		return nil, fmt.Errorf("streams: last checkpoint of %s: %w", ns, classify(err))
	}
	if len(entries) == 0 {
		return nil, nil
	}
	return []byte(entries[0].FieldValues["c"]), nil
}

// Checkpoints calls fn with each checkpoint of ns stored since about since
// (a minute's slack: the caller filters by the time signed), oldest first,
// a page at a time.
//
// Errors: EUNAVAILABLE, fn's.
func (s *Store) Checkpoints(ctx context.Context, ns string, since time.Time, fn func(c []byte) error) error {
	start := "-"
	if !since.IsZero() {
		start = strconv.FormatInt(max(since.Add(-time.Minute).UnixMilli(), 0), 10)
	}
	for {
		entries, err := s.client.Do(ctx, s.client.B().Xrange().Key(checkpointsKey(ns)).Start(start).End("+").Count(1000).Build()).AsXRange()
		if err != nil {
			return fmt.Errorf("streams: checkpoints of %s: %w", ns, classify(err))
		}
		for _, e := range entries {
			if err := fn([]byte(e.FieldValues["c"])); err != nil {
				return err
			}
		}
		if len(entries) < 1000 {
			return nil
		}
		start = "(" + entries[len(entries)-1].ID
	}
}
