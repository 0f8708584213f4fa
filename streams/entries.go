package streams

import (
	"context"
	"fmt"

	"github.com/flowhist/flowhist/domain"
)

// ReadEntries returns up to count entries of ns's log from revision from on,
// by position and aggregate only: nothing of the envelope or the payload is
// decoded. It is the cost of reading the log itself, what replay and verify
// are measured against.
//
// Errors: EUNAVAILABLE.
func (s *Store) ReadEntries(ctx context.Context, ns string, from domain.Revision, count int) ([]Entry, error) {
	start := "-"
	if from > 0 {
		start = entryID(uint64(from))
	}
	entries, err := s.client.Do(ctx, s.client.B().Xrange().Key(logKey(ns)).Start(start).End("+").Count(int64(count)).Build()).AsXRange()
	if err != nil {
		return nil, fmt.Errorf("streams: read entries of %s: %w", ns, classify(err))
	}
	out := make([]Entry, 0, len(entries))
	for _, e := range entries {
		if r, ok := revisionOf(e.ID); ok {
			out = append(out, Entry{Revision: domain.Revision(r), Aggregate: e.FieldValues["a"]})
		}
	}
	return out, nil
}
