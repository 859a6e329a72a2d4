package backpressure

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newGovernor(c *clock) *Governor {
	return New(Options{Max: 32, Min: 2, Target: 25 * time.Millisecond, Window: 250 * time.Millisecond, Now: c.now})
}
func window(g *Governor, c *clock, posts ...time.Duration) int {
	for _, d := range posts {
		g.Observe(d)
	}
	c.add(250 * time.Millisecond)
	return g.Limit()
}

func TestSlowAcknowledgementsHoldDeliveryBackAndFastOnesLetItGo(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	g := newGovernor(c)
	assert.Equal(t, 32, g.Limit(), "starts at full speed")

	var limits []int
	for i := 0; i < 12; i++ {
		limits = append(limits, window(g, c, 5*time.Millisecond, 80*time.Millisecond))
	}
	assert.Equal(t, []int{24, 18, 13, 9, 6, 4, 3, 2, 2, 2, 2, 2}, limits, "down by a quarter per slow window, never below Min")

	assert.Equal(t, 2, window(g, c, 15*time.Millisecond), "between half the target and the target: hold")
	limits = limits[:0]
	for i := 0; i < 9; i++ {
		limits = append(limits, window(g, c, 5*time.Millisecond))
	}
	assert.Equal(t, []int{6, 10, 14, 18, 22, 26, 30, 32, 32}, limits, "up by an eighth of Max per fast window, never above Max")
}

func TestAQuietSpellRestoresFullSpeedButAGapBetweenBatchesDoesNot(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	g := newGovernor(c)
	for i := 0; i < 10; i++ {
		window(g, c, time.Second)
	}
	assert.Equal(t, 2, g.Limit())
	assert.Equal(t, 2, window(g, c), "one window without a POST: Graph is batching, nothing changes")
	assert.Equal(t, 2, window(g, c, time.Second))
	c.add(2 * time.Second) // a quiet spell after the burst, nobody asking
	assert.Equal(t, 32, g.Limit())

	for i := 0; i < 10; i++ {
		window(g, c, time.Second)
	}
	var limits []int
	for i := 0; i < 4; i++ {
		limits = append(limits, window(g, c)) // the runner keeps asking while it drains
	}
	assert.Equal(t, []int{2, 2, 2, 32}, limits, "four quiet windows in a row end the burst")
}

func TestMeasureTimesGenuinePostsOnly(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	g := newGovernor(c)
	slow := func(genuine bool) http.Handler {
		return g.Measure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.add(100 * time.Millisecond)
			if genuine {
				MarkGenuine(r.Context())
			}
			w.WriteHeader(http.StatusAccepted)
		}))
	}
	slow(true).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/changes", nil))
	c.add(250*time.Millisecond - 100*time.Millisecond)
	assert.Equal(t, 32, g.Limit(), "a GET (or anything not a notification) is not measured")

	slow(false).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/changes", nil))
	c.add(250*time.Millisecond - 100*time.Millisecond)
	assert.Equal(t, 32, g.Limit(), "a POST the handler did not vouch for is not measured")

	slow(true).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/changes", nil))
	c.add(250*time.Millisecond - 100*time.Millisecond)
	assert.Equal(t, 24, g.Limit(), "a slow genuine POST holds delivery back")
}
