package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/flowhist/flowhist/domain"
	"github.com/redis/rueidis"
)

// Promotion's current values beside the log: each namespace's policy,
// overlay and reported credential fingerprint, and the promotion requests
// into it (and, by id, out of it). The events that set them are in the log
// (the record of who did what); these keys are what a deploy checks at
// once, written after the event landed and only forward in revision.

func policyKey(ns string) string        { return "fh:{" + ns + "}:policy" }
func overlayKey(ns string) string       { return "fh:{" + ns + "}:overlay" }
func credFPKey(ns string) string        { return "fh:{" + ns + "}:credfp" }
func promotionsKey(ns string) string    { return "fh:{" + ns + "}:promotions" }
func promotionsOutKey(ns string) string { return "fh:{" + ns + "}:promotions:out" }

// Recorded is a value and the namespace revision of the event that set it
// (0: never set).
type Recorded[T any] struct {
	Value    T
	Revision domain.Revision
}

// recordedJSON is how a Recorded is stored.
type recordedJSON struct {
	Value    json.RawMessage `json:"value"`
	Revision domain.Revision `json:"revision"`
}

// saveForwardScript sets KEYS[1] to ARGV[2] unless it holds a value of a
// later revision (ARGV[1]) already: a slow writer never undoes a newer
// one.
var saveForwardScript = newScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, v = pcall(cjson.decode, cur)
  if ok and type(v) == 'table' and tonumber(v.revision) and tonumber(v.revision) > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`)

func (s *Store) saveRecorded(ctx context.Context, key string, v any, rev domain.Revision) error {
	val, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b, err := json.Marshal(recordedJSON{Value: val, Revision: rev})
	if err != nil {
		return err
	}
	return classify(saveForwardScript.exec(ctx, s.client, []string{key}, []string{rev.String(), string(b)}).Error())
}

func loadRecorded[T any](ctx context.Context, s *Store, key string) (Recorded[T], error) {
	var out Recorded[T]
	b, err := s.client.Do(ctx, s.client.B().Get().Key(key).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return out, nil
	}
	if err != nil {
		return out, classify(err)
	}
	var r recordedJSON
	if err := json.Unmarshal(b, &r); err != nil {
		return out, domain.Errorf(domain.ECORRUPT, "key %s is not a recorded value: %v", key, err)
	}
	if err := json.Unmarshal(r.Value, &out.Value); err != nil {
		return out, domain.Errorf(domain.ECORRUPT, "key %s: %v", key, err)
	}
	out.Revision = r.Revision
	return out, nil
}

// Policy returns ns's promotion policy, with the credential fingerprint
// the module reported last when the policy sets none.
//
// Errors: EUNAVAILABLE, ECORRUPT.
func (s *Store) Policy(ctx context.Context, ns string) (Recorded[domain.Policy], error) {
	p, err := loadRecorded[domain.Policy](ctx, s, policyKey(ns))
	if err != nil {
		return p, fmt.Errorf("streams: policy of %s: %w", ns, err)
	}
	if p.Value.CredentialFingerprint == "" {
		fp, err := s.client.Do(ctx, s.client.B().Get().Key(credFPKey(ns)).Build()).ToString()
		if err != nil && !rueidis.IsRedisNil(err) {
			return p, fmt.Errorf("streams: credential fingerprint of %s: %w", ns, classify(err))
		}
		p.Value.CredentialFingerprint = fp
	}
	_ = p.Value.Validate() // fills empty lists
	return p, nil
}

// Protected returns the error a direct deploy or save to ns is refused
// with (domain.Policy.RefuseDirect), nil when ns is not protected: one GET.
//
// Errors: EFORBIDDEN, EUNAVAILABLE, ECORRUPT.
func (s *Store) Protected(ctx context.Context, ns string) error {
	p, err := loadRecorded[domain.Policy](ctx, s, policyKey(ns))
	if err != nil {
		return fmt.Errorf("streams: policy of %s: %w", ns, err)
	}
	return p.Value.RefuseDirect()
}

// SavePolicy stores ns's policy as set by the event at rev.
//
// Errors: EUNAVAILABLE.
func (s *Store) SavePolicy(ctx context.Context, ns string, p domain.Policy, rev domain.Revision) error {
	if err := s.saveRecorded(ctx, policyKey(ns), p, rev); err != nil {
		return fmt.Errorf("streams: save policy of %s: %w", ns, err)
	}
	return nil
}

// SaveCredentialFingerprint stores the credential fingerprint ns's module
// reported.
//
// Errors: EUNAVAILABLE.
func (s *Store) SaveCredentialFingerprint(ctx context.Context, ns, fp string) error {
	if err := s.client.Do(ctx, s.client.B().Set().Key(credFPKey(ns)).Value(fp).Build()).Error(); err != nil {
		return fmt.Errorf("streams: save credential fingerprint of %s: %w", ns, classify(err))
	}
	return nil
}

// Overlay returns ns's overlay.
//
// Errors: EUNAVAILABLE, ECORRUPT.
func (s *Store) Overlay(ctx context.Context, ns string) (Recorded[domain.Overlay], error) {
	o, err := loadRecorded[domain.Overlay](ctx, s, overlayKey(ns))
	if err != nil {
		return o, fmt.Errorf("streams: overlay of %s: %w", ns, err)
	}
	_ = o.Value.Validate() // fills empty lists
	return o, nil
}

// SaveOverlay stores ns's overlay as set by the event at rev.
//
// Errors: EUNAVAILABLE.
func (s *Store) SaveOverlay(ctx context.Context, ns string, o domain.Overlay, rev domain.Revision) error {
	if err := s.saveRecorded(ctx, overlayKey(ns), o, rev); err != nil {
		return fmt.Errorf("streams: save overlay of %s: %w", ns, err)
	}
	return nil
}

// SavePromotion stores a new request r in its target's requests and names
// it among its source's.
//
// Errors: EUNAVAILABLE.
func (s *Store) SavePromotion(ctx context.Context, r domain.PromotionRequest) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	cmds := rueidis.Commands{
		s.client.B().Hset().Key(promotionsKey(r.To)).FieldValue().FieldValue(r.ID, string(b)).Build(),
		s.client.B().Hset().Key(promotionsOutKey(r.From)).FieldValue().FieldValue(r.ID, r.To).Build(),
	}
	for _, res := range s.client.DoMulti(ctx, cmds...) {
		if err := res.Error(); err != nil {
			return fmt.Errorf("streams: save promotion request %s: %w", r.ID, classify(err))
		}
	}
	return nil
}

// decidePromotionScript replaces request ARGV[1] of KEYS[1] with ARGV[3]
// if its state is still ARGV[2]. Returns 1, 0 (state moved on) or -1 (no
// such request).
var decidePromotionScript = newScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return -1 end
if cjson.decode(cur).state ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`)

// UpdatePromotion replaces request r of namespace r.To if its stored state
// is still from, and reports whether it did.
//
// Errors: ENOTFOUND, EUNAVAILABLE.
func (s *Store) UpdatePromotion(ctx context.Context, r domain.PromotionRequest, from string) (bool, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return false, err
	}
	n, err := decidePromotionScript.exec(ctx, s.client, []string{promotionsKey(r.To)}, []string{r.ID, from, string(b)}).AsInt64()
	if err != nil {
		return false, fmt.Errorf("streams: update promotion request %s: %w", r.ID, classify(err))
	}
	if n < 0 {
		return false, domain.Errorf(domain.ENOTFOUND, "namespace %s has no promotion request %s", r.To, r.ID)
	}
	return n == 1, nil
}

// Promotion returns request id into ns.
//
// Errors: ENOTFOUND, EUNAVAILABLE, ECORRUPT.
func (s *Store) Promotion(ctx context.Context, ns, id string) (domain.PromotionRequest, error) {
	var r domain.PromotionRequest
	b, err := s.client.Do(ctx, s.client.B().Hget().Key(promotionsKey(ns)).Field(id).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return r, domain.Errorf(domain.ENOTFOUND, "namespace %s has no promotion request %q", ns, domain.Clip(id))
	}
	if err != nil {
		return r, fmt.Errorf("streams: promotion request %s: %w", id, classify(err))
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, domain.Errorf(domain.ECORRUPT, "promotion request %s of %s: %v", id, ns, err)
	}
	return r, nil
}

// Promotions returns the requests into ns (out: out of ns, read from each
// target), newest first.
//
// Errors: EUNAVAILABLE, ECORRUPT.
func (s *Store) Promotions(ctx context.Context, ns string, out bool) ([]domain.PromotionRequest, error) {
	var reqs []domain.PromotionRequest
	if out {
		targets, err := s.client.Do(ctx, s.client.B().Hgetall().Key(promotionsOutKey(ns)).Build()).AsStrMap()
		if err != nil {
			return nil, fmt.Errorf("streams: promotions out of %s: %w", ns, classify(err))
		}
		for id, to := range targets {
			r, err := s.Promotion(ctx, to, id)
			if domain.ErrorCode(err) == domain.ENOTFOUND {
				continue
			}
			if err != nil {
				return nil, err
			}
			reqs = append(reqs, r)
		}
	} else {
		all, err := s.client.Do(ctx, s.client.B().Hvals().Key(promotionsKey(ns)).Build()).AsStrSlice()
		if err != nil {
			return nil, fmt.Errorf("streams: promotions into %s: %w", ns, classify(err))
		}
		for _, b := range all {
			var r domain.PromotionRequest
			if err := json.Unmarshal([]byte(b), &r); err != nil {
				return nil, domain.Errorf(domain.ECORRUPT, "a promotion request of %s: %v", ns, err)
			}
			reqs = append(reqs, r)
		}
	}
	// Ids are UUIDv7: their order is their time.
	slices.SortFunc(reqs, func(a, b domain.PromotionRequest) int {
		switch {
		case a.ID > b.ID:
			return -1
		case a.ID < b.ID:
			return 1
		}
		return 0
	})
	return reqs, nil
}
