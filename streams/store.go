package streams

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/flowhist/flowhist/domain"
	"github.com/redis/rueidis"
	"go.uber.org/zap"
)

// Store is the event store of every namespace on one Valkey deployment.
// It is safe for concurrent use.
type Store struct {
	client rueidis.Client
	cfg    Config
	log    *zap.Logger

	heads *headCache
	known sync.Map // namespaces registered in namespacesKey by this process
	// replicas is what appends wait for under Durability.EveryReplica.
	replicas atomic.Int64
}

// New returns a Store using client, which the caller owns and closes.
// It returns an error if cfg is unusable.
func New(client rueidis.Client, cfg Config, log *zap.Logger) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	s := &Store{client: client, cfg: cfg, log: log, heads: newHeadCache(cfg.HeadCache)}
	s.replicas.Store(int64(cfg.Durability.Replicas))
	return s, nil
}

// Ping reports whether Valkey serves reads now: nil, or why not.
//
// Errors: EUNAVAILABLE (unreachable, loading, no primary …; the message
// says which).
func (s *Store) Ping(ctx context.Context) error {
	// EXISTS rather than PING: PING is answered while Valkey is still
	// loading its data set, and nothing else is.
	if err := s.client.Do(ctx, s.client.B().Exists().Key(namespacesKey).Build()).Error(); err != nil {
		return fmt.Errorf("streams: ping: %w", classify(err))
	}
	return nil
}

// script is a Lua script run with EVALSHA, falling back to EVAL when the
// server does not know it yet. rueidis.Lua does the same but only on a
// rueidis.Client; appends that wait for durability must run the script and
// WAIT on one dedicated connection, so the store needs it on any
// rueidis.CoreClient.
type script struct {
	src, sha string
}

func newScript(src string) *script {
	sum := sha1.Sum([]byte(src))
	return &script{src: src, sha: hex.EncodeToString(sum[:])}
}

func (sc *script) exec(ctx context.Context, c rueidis.CoreClient, keys, args []string) rueidis.RedisResult {
	res := c.Do(ctx, c.B().Evalsha().Sha1(sc.sha).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build())
	if isNoScript(res.Error()) {
		res = c.Do(ctx, c.B().Eval().Script(sc.src).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build())
	}
	return res
}

// Namespaces returns every namespace that has a log, sorted.
func (s *Store) Namespaces(ctx context.Context) ([]string, error) {
	names, err := s.client.Do(ctx, s.client.B().Smembers().Key(namespacesKey).Build()).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("streams: list namespaces: %w", classify(err))
	}
	slices.Sort(names)
	return names, nil
}

func (s *Store) register(ctx context.Context, ns string) error {
	if _, ok := s.known.Load(ns); ok {
		return nil
	}
	if err := s.client.Do(ctx, s.client.B().Sadd().Key(namespacesKey).Member(ns).Build()).Error(); err != nil {
		return fmt.Errorf("streams: register namespace %s: %w", ns, classify(err))
	}
	s.known.Store(ns, struct{}{})
	return nil
}

// Head is a namespace's position: its revision and each aggregate's.
type Head struct {
	Revision   domain.Revision
	Aggregates map[string]domain.Revision
	// Schema is the keyspace schema version recorded, 0 if none yet.
	Schema int
}

// Head returns ns's current revisions. An unknown namespace has revision 0.
func (s *Store) Head(ctx context.Context, ns string) (Head, error) {
	m, err := s.client.Do(ctx, s.client.B().Hgetall().Key(metaKey(ns)).Build()).AsStrMap()
	if err != nil {
		return Head{}, fmt.Errorf("streams: head %s: %w", ns, classify(err))
	}
	h := Head{Aggregates: map[string]domain.Revision{}}
	for k, v := range m {
		n, _ := strconv.ParseUint(v, 10, 64)
		switch {
		case k == "rev":
			h.Revision = domain.Revision(n)
		case k == "schema":
			h.Schema = int(n)
		case strings.HasPrefix(k, "a:"):
			h.Aggregates[k[2:]] = domain.Revision(n)
		}
	}
	return h, nil
}

func formatUint(n uint64) string { return strconv.FormatUint(n, 10) }

func parseUint(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// SchemaVersion returns the keyspace schema version recorded for ns, 0 if
// none is.
//
// Errors: EUNAVAILABLE.
func (s *Store) SchemaVersion(ctx context.Context, ns string) (int, error) {
	v, err := s.client.Do(ctx, s.client.B().Hget().Key(metaKey(ns)).Field("schema").Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("streams: schema version of %s: %w", ns, classify(err))
	}
	return int(parseUint(v)), nil
}

// RecordSchemaVersion records v as ns's schema version unless one is
// recorded already.
//
// Errors: EUNAVAILABLE.
func (s *Store) RecordSchemaVersion(ctx context.Context, ns string, v int) error {
	err := s.client.Do(ctx, s.client.B().Hsetnx().Key(metaKey(ns)).Field("schema").Value(strconv.Itoa(v)).Build()).Error()
	if err != nil {
		return fmt.Errorf("streams: record schema version of %s: %w", ns, classify(err))
	}
	return nil
}
