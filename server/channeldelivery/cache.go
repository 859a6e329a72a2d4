package channeldelivery

import (
	"sync"
	"time"
)

// ttlCache keeps values for a while, at most size of them: when full, expired entries go first, then the one
// closest to expiry. Member lists are few (teams, channels and tags that are mentioned), so a scan on overflow
// is cheaper than keeping an order. Safe for concurrent use.
type ttlCache[V any] struct {
	mu    sync.Mutex
	ttl   time.Duration
	size  int
	items map[string]ttlItem[V]
}

type ttlItem[V any] struct {
	value   V
	expires time.Time
}

func newTTLCache[V any](size int, ttl time.Duration) *ttlCache[V] {
	return &ttlCache[V]{ttl: ttl, size: size, items: map[string]ttlItem[V]{}}
}

func (c *ttlCache[V]) get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[key]
	if !ok || !now.Before(it.expires) {
		var zero V
		return zero, false
	}
	return it.value, true
}

func (c *ttlCache[V]) put(key string, v V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; !ok && len(c.items) >= c.size {
		oldest := ""
		for k, it := range c.items {
			if !now.Before(it.expires) {
				delete(c.items, k)
				continue
			}
			if oldest == "" || it.expires.Before(c.items[oldest].expires) {
				oldest = k
			}
		}
		if len(c.items) >= c.size && oldest != "" {
			delete(c.items, oldest)
		}
	}
	c.items[key] = ttlItem[V]{value: v, expires: now.Add(c.ttl)}
}
