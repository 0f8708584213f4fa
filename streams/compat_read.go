package streams

import (
	"context"
	"fmt"

	"github.com/redis/rueidis"
)

// ReadCompatFlows returns the old module's flows and credentials values
// under prefix as stored (maybe "gzip:"), nil where a key is absent.
//
// Errors: EUNAVAILABLE.
func (s *Store) ReadCompatFlows(ctx context.Context, prefix string) (flows, creds []byte, err error) {
	b := s.client.B()
	res := s.client.DoMulti(ctx, b.Get().Key(prefix+"flows").Build(), b.Get().Key(prefix+"credentials").Build())
	out := make([][]byte, 2)
	for i, r := range res {
		v, err := r.AsBytes()
		if rueidis.IsRedisNil(err) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("streams: read compat keys under %s: %w", prefix, classify(err))
		}
		out[i] = v
	}
	return out[0], out[1], nil
}
