package channeldelivery

import (
	"sync"
	"time"
)

// ttlCache keeps values for a while within a budget: each value has a cost (a member list costs its length), and
// when the total would exceed the budget, expired entries go first, then those closest to expiry. Lists are few
// (the teams, channels and tags that get mentioned), so a scan on overflow is cheaper than keeping an order.
// Safe for concurrent use.
type ttlCache[V any] struct {
	mu     sync.Mutex
	ttl    time.Duration
	budget int
	total  int
	items  map[string]ttlItem[V]
}

type ttlItem[V any] struct {
	value   V
	cost    int
	expires time.Time
}

func newTTLCache[V any](budget int, ttl time.Duration) *ttlCache[V] {
	return &ttlCache[V]{ttl: ttl, budget: budget, items: map[string]ttlItem[V]{}}
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

// put stores v unless its cost alone exceeds the budget (it is then read from Graph each time).
func (c *ttlCache[V]) put(key string, v V, cost int, now time.Time) {
	if cost < 1 {
		cost = 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop(key)
	if cost > c.budget {
		return
	}
	for c.total+cost > c.budget {
		victim := ""
		for k, it := range c.items {
			if !now.Before(it.expires) {
				victim = k
				break
			}
			if victim == "" || it.expires.Before(c.items[victim].expires) {
				victim = k
			}
		}
		c.drop(victim)
	}
	c.items[key] = ttlItem[V]{value: v, cost: cost, expires: now.Add(c.ttl)}
	c.total += cost
}

// readBefore reports whether key holds a value stored at least age before now.
func (c *ttlCache[V]) readBefore(key string, age time.Duration, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[key]
	return ok && !it.expires.Add(-c.ttl).After(now.Add(-age))
}

// forget drops key.
func (c *ttlCache[V]) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop(key)
}

func (c *ttlCache[V]) drop(key string) {
	if it, ok := c.items[key]; ok {
		c.total -= it.cost
		delete(c.items, key)
	}
}
