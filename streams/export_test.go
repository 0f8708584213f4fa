package streams

import "github.com/redis/rueidis"

// Client returns the store's Valkey client, for the tests' raw looks at
// keys (the baseline benchmarks, corrupting data on purpose).
func (s *Store) Client() rueidis.Client { return s.client }

// PromotableFlags is promotableFlags, for its table test.
var PromotableFlags = promotableFlags

// SHA256Lua is the append script's SHA-256, for checking it against Go's.
const SHA256Lua = sha256Lua

// OnSnapshotListed has fn run whenever a read of ns's flows has listed the
// snapshot it starts from and not yet read its blob: the window a failover
// can fall into. The returned function removes it.
func OnSnapshotListed(ns string, fn func()) func() {
	snapshotListedHooks.Store(ns, fn)
	return func() { snapshotListedHooks.Delete(ns) }
}
