package streams

import "github.com/redis/rueidis"

// Client returns the store's Valkey client, for the tests' raw looks at
// keys (the baseline benchmarks, corrupting data on purpose).
func (s *Store) Client() rueidis.Client { return s.client }

// PromotableFlags is promotableFlags, for its table test.
var PromotableFlags = promotableFlags

// SHA256Lua is the append script's SHA-256, for checking it against Go's.
const SHA256Lua = sha256Lua
