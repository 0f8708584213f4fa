package streams

import (
	"fmt"
	"testing"
)

// TestLRUBounds checks that the caches of big reads drop the least recently
// used first, past their entries or their bytes, and refuse what alone is
// past their bytes.
func TestLRUBounds(t *testing.T) {
	c := &lru[int]{max: 100}
	for i := range bigCacheEntries + 2 {
		c.put(fmt.Sprint(i), i, 1)
	}
	if _, ok := c.get("0"); ok {
		t.Errorf("got entry 0 after %d puts, want it dropped", bigCacheEntries+2)
	}
	if v, ok := c.get("2"); !ok || v != 2 {
		t.Errorf("got %d, %v for entry 2, want 2, true", v, ok)
	}
	// 2 is now the most recent: the next to go is 3.
	c.put("big", -1, 95)
	if _, ok := c.get("3"); ok {
		t.Error("got entry 3 after a put past the bytes, want it dropped")
	}
	if _, ok := c.get("2"); !ok {
		t.Error("entry 2, used last, was dropped before older ones")
	}
	if c.bytes > c.max {
		t.Errorf("holds %d bytes, want at most %d", c.bytes, c.max)
	}
	c.put("huge", -2, 101)
	if _, ok := c.get("huge"); ok {
		t.Error("kept a value past the cache's bytes")
	}
}
