package streams

import (
	"sync"

	"github.com/flowhist/flowhist/domain"
)

// What a big document's reads keep between requests. Browsing the history
// of a 10 MB document reads the same few big things again and again: the
// snapshots its diffs start from, the whole-document deploy that every
// never-changed node's history ends at, and the same deploy in the history
// and audit pages that reach it. Each is immutable under its key
// (a snapshot's member names its revisions and sha256s; a log entry's link
// covers its contents), so what is kept is what would be read again.

// What each cache may hold at most: a 10 MB document's parsed snapshot
// takes about 13 MB, its whole-document deploy decoded about 16 MB. The
// three together stay under 112 MiB, and hold nothing until entries or
// snapshots of 64 KiB or more are read.
const bigCacheEntries = 16

// snapshots keeps the parsed snapshots FlowsPair read.
var snapshots = &lru[*FlowsVersion]{max: 48 << 20}

// bigPatches keeps the decoded payloads of big flows events NodePatches
// read.
var bigPatches = &lru[decodedPatch]{max: 32 << 20}

// bigEvents keeps the decoded events of big entries Read and ReadMany
// read.
var bigEvents = &lru[*domain.Event]{max: 32 << 20}

// bigPayload is the stored size from which an entry's decoding is kept:
// below it, decoding costs less than a lookup saves.
const bigPayload = 64 << 10

type decodedPatch struct {
	event   *domain.Event // without its payload
	payload domain.FlowsPayload
}

// lru is a small cache, least recently used first, bounded in entries and
// in the bytes its callers say each value holds.
type lru[V any] struct {
	max     int // bytes
	mu      sync.Mutex
	entries []lruEntry[V]
	bytes   int
}

type lruEntry[V any] struct {
	key  string
	v    V
	size int
}

func (c *lru[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.entries {
		if e.key == key {
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			return e.v, true
		}
	}
	var zero V
	return zero, false
}

func (c *lru[V]) put(key string, v V, size int) {
	if size > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.key == key {
			return
		}
	}
	c.entries = append(c.entries, lruEntry[V]{key, v, size})
	c.bytes += size
	for len(c.entries) > bigCacheEntries || c.bytes > c.max {
		c.bytes -= c.entries[0].size
		c.entries = c.entries[1:]
	}
}

// BigCache keeps, for the layers above, what they derive from big events
// and would derive again: bounded like the caches here, in entries
// (bigCacheEntries) and bytes. Key it by what makes the value immutable
// (an entry's chain link).
type BigCache[V any] struct{ c lru[V] }

// NewBigCache returns a cache holding at most maxBytes, as its callers
// count them.
func NewBigCache[V any](maxBytes int) *BigCache[V] {
	return &BigCache[V]{c: lru[V]{max: maxBytes}}
}

// Get returns the value kept under key.
func (c *BigCache[V]) Get(key string) (V, bool) { return c.c.get(key) }

// Put keeps v under key, counting it size bytes; a value past the
// cache's bytes alone is not kept.
func (c *BigCache[V]) Put(key string, v V, size int) { c.c.put(key, v, size) }
