package streams

import (
	"container/list"
	"sync"
)

// headCache keeps the newest flows version of the most recently deployed
// namespaces, so a deploy diffs against memory instead of rebuilding the
// document from Valkey. Entries are immutable; staleness is caught by the
// append script's revision check.
type headCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front: most recently used; values are string keys
	items map[string]*list.Element
	vals  map[string]*FlowsVersion
	// snapshots holds the namespaces whose due snapshot is out
	// (AppendFlowsSnapshotLater) and not saved yet.
	snapshots sync.Map
}

func newHeadCache(max int) *headCache {
	return &headCache{max: max, order: list.New(), items: map[string]*list.Element{}, vals: map[string]*FlowsVersion{}}
}

func (c *headCache) get(ns string) (*FlowsVersion, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[ns]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return c.vals[ns], true
}

func (c *headCache) put(ns string, v *FlowsVersion) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.vals[ns]; ok && cur.Revision > v.Revision {
		return // a newer head is already known
	}
	if el, ok := c.items[ns]; ok {
		c.order.MoveToFront(el)
	} else {
		c.items[ns] = c.order.PushFront(ns)
	}
	c.vals[ns] = v
	for c.order.Len() > c.max {
		el := c.order.Back()
		k := el.Value.(string)
		c.order.Remove(el)
		delete(c.items, k)
		delete(c.vals, k)
	}
}

func (c *headCache) drop(ns string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[ns]; ok {
		c.order.Remove(el)
		delete(c.items, ns)
		delete(c.vals, ns)
	}
}
