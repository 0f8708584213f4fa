package streams

import (
	"sync"

	"github.com/flowhist/flowhist/domain"
)

// What a big document's reads keep between requests. Browsing the history
// of a 10 MB document reads the same few big things again and again: the
// snapshots its diffs start from, and the whole-document deploy that every
// never-changed node's history ends at. Each is immutable under its key
// (a snapshot's member names its revisions and sha256s; a log entry's link
// covers its contents), so what is kept is what would be read again.

// bigCacheBytes bounds the bytes each cache keeps, bigCacheEntries how
// many things.
const (
	bigCacheBytes   = 64 << 20
	bigCacheEntries = 16
)

// snapshots keeps the parsed snapshots FlowsPair read.
var snapshots = &lru[*FlowsVersion]{}

// bigPatches keeps the decoded payloads of big flows events NodePatches
// read.
var bigPatches = &lru[decodedPatch]{}

// bigPayload is the stored payload size from which NodePatches keeps an
// event's decoded payload: below it, decoding costs less than a lookup
// saves.
const bigPayload = 64 << 10

type decodedPatch struct {
	event   *domain.Event // without its payload
	payload domain.FlowsPayload
}

// lru is a small cache, least recently used first, bounded in entries and
// in the bytes its callers say each value holds.
type lru[V any] struct {
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
	if size > bigCacheBytes/2 {
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
	for len(c.entries) > bigCacheEntries || c.bytes > bigCacheBytes {
		c.bytes -= c.entries[0].size
		c.entries = c.entries[1:]
	}
}
