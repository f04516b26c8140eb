package render

import (
	"container/list"
	"sync"
)

// cache is a least-recently-used map from render key to picture, bounded in
// entries and bytes. Cached slices are shared with callers, read-only.
type cache struct {
	maxEntries int
	maxBytes   int64

	mu    sync.Mutex // guards the fields below
	ll    *list.List // of *cacheEntry, most recent first
	items map[string]*list.Element
	bytes int64
}

type cacheEntry struct {
	key string
	val []byte
}

func newCache(maxEntries int, maxBytes int64) *cache {
	return &cache{maxEntries: maxEntries, maxBytes: maxBytes, ll: list.New(), items: map[string]*list.Element{}}
}

func (c *cache) enabled() bool { return c.maxEntries > 0 && c.maxBytes > 0 }

func (c *cache) get(key string) ([]byte, bool) {
	if !c.enabled() {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*cacheEntry).val, true
}

// add stores val under key, evicting the least recently used entries to stay
// within bounds. A picture larger than the byte bound is not kept.
func (c *cache) add(key string, val []byte) {
	if !c.enabled() || int64(len(val)) > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*cacheEntry)
		c.bytes += int64(len(val) - len(e.val))
		e.val = val
		c.ll.MoveToFront(el)
	} else {
		c.items[key] = c.ll.PushFront(&cacheEntry{key, val})
		c.bytes += int64(len(val))
	}
	for c.ll.Len() > c.maxEntries || c.bytes > c.maxBytes {
		el := c.ll.Back()
		e := el.Value.(*cacheEntry)
		c.ll.Remove(el)
		delete(c.items, e.key)
		c.bytes -= int64(len(e.val))
	}
}

func (c *cache) size() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return float64(c.bytes)
}
