package channeldelivery

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestTTLCacheBudget(t *testing.T) {
	now := time.Date(2026, 12, 5, 20, 0, 0, 0, time.UTC)
	c := newTTLCache[string](10, time.Minute)
	c.put("a", "A", 6, now)
	c.put("b", "B", 4, now.Add(time.Second))
	_, ok := c.get("a", now)
	assert.True(t, ok)
	c.put("c", "C", 3, now.Add(2*time.Second)) // over budget: the entry closest to expiry (a) goes
	_, ok = c.get("a", now)
	assert.False(t, ok)
	v, ok := c.get("b", now)
	assert.True(t, ok)
	assert.Equal(t, "B", v)
	assert.Equal(t, 7, c.total)

	c.put("huge", "H", 11, now) // larger than the budget: not kept, nothing evicted
	_, ok = c.get("huge", now)
	assert.False(t, ok)
	assert.Equal(t, 7, c.total)

	c.put("b", "B2", 1, now) // replacing frees the old cost
	assert.Equal(t, 4, c.total)
	_, ok = c.get("b", now.Add(2*time.Minute))
	assert.False(t, ok, "expired")
}
