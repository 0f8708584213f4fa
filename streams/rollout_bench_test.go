package streams_test

import (
	"context"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/streams"
)

// BenchmarkRolloutStep measures storing one rollout step with its event:
// as one write (AppendRollout) against the two writes it replaced (the
// rollout's compare-and-set, then the append), with a raw Valkey HSET of
// the same document as the baseline of the same run.
func BenchmarkRolloutStep(b *testing.B) {
	p := domain.RolloutPolicy{Rings: []domain.Ring{{Name: "canary"}, {Name: "default"}}}
	r := &domain.Rollout{Policy: &p, State: domain.StateBaking}
	doc := `{"policy":{"rings":[{"name":"canary"},{"name":"default"}]},"state":"baking"}`
	for _, bc := range []struct {
		name string
		step func(ctx context.Context, s *streams.Store, ns string, v streams.RolloutVersion) error
	}{
		{"RawHSET", func(ctx context.Context, s *streams.Store, ns string, _ streams.RolloutVersion) error {
			c := s.Client()
			return c.Do(ctx, c.B().Hset().Key("fh:{"+ns+"}:bench").FieldValue().FieldValue("doc", doc).Build()).Error()
		}},
		{"SaveThenAppend", func(ctx context.Context, s *streams.Store, ns string, v streams.RolloutVersion) error {
			if _, err := s.SaveRollout(ctx, ns, v, r); err != nil {
				return err
			}
			_, err := s.Append(ctx, streams.AppendRequest{Event: rolloutStep(b, ns, domain.RolloutPromoted, 1)})
			return err
		}},
		{"OneWrite", func(ctx context.Context, s *streams.Store, ns string, v streams.RolloutVersion) error {
			_, err := s.AppendRollout(ctx, rolloutStep(b, ns, domain.RolloutPromoted, 1), "", v, r)
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, ns := mustStore(b, streams.Config{})
			ctx := testCtx(b)
			var v streams.RolloutVersion
			for b.Loop() {
				if err := bc.step(ctx, s, ns, v); err != nil {
					b.Fatal(err)
				}
				v++
			}
		})
	}
}
