// Package backpressure keeps the plugin's answers to Microsoft Graph fast when the machine is saturated. It
// watches how long the change-notification route takes and lowers the number of delivery jobs allowed to run at
// once while that time is above target, raising it again when it falls back. Graph slows down, and eventually
// drops, notifications to an endpoint that answers slowly, while delivery catches up on its own once the
// burst has passed: intake comes first.
package backpressure

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Options tune a Governor; zero values take the defaults.
type Options struct {
	Max int // the limit when intake is fast: the number of delivery workers (required)
	Min int // the lowest limit (default 2): delivery never stops
	// Target is the handling time of a notification POST above which delivery is held back (default 50 ms).
	Target time.Duration
	// Window is how often the limit moves (default 250 ms): down by a quarter when the slowest POST of the
	// window took longer than Target, up by an eighth of Max when every POST took under half of it. A window
	// without POSTs changes nothing (under load Graph sends fewer, bigger batches); four in a row mean the
	// burst is over, and the limit goes back to Max.
	Window time.Duration
	Now    func() time.Time
}

// Governor decides how many delivery jobs may run at once. Safe for concurrent use.
type Governor struct {
	o Options

	mu          sync.Mutex
	limit       int
	windowStart time.Time
	worst       time.Duration
	seen        int
	quiet       int // windows in a row without a POST
}

// New returns a Governor that starts at Max.
func New(o Options) *Governor {
	if o.Max < 1 {
		o.Max = 1
	}
	if o.Min <= 0 {
		o.Min = 2
	}
	o.Min = min(o.Min, o.Max)
	if o.Target <= 0 {
		o.Target = 50 * time.Millisecond
	}
	if o.Window <= 0 {
		o.Window = 250 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Governor{o: o, limit: o.Max, windowStart: o.Now()}
}

// Observe records how long one notification POST took to handle.
func (g *Governor) Observe(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.advance(g.o.Now())
	g.seen++
	g.worst = max(g.worst, d)
}

// Limit is how many delivery jobs may run now.
func (g *Governor) Limit() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.advance(g.o.Now())
	return g.limit
}

// advance closes the windows that ended before now, moving the limit once per window.
func (g *Governor) advance(now time.Time) {
	for now.Sub(g.windowStart) >= g.o.Window {
		switch {
		case g.seen == 0:
			g.quiet++
			if g.quiet >= quietWindows {
				g.limit = g.o.Max
			}
		case g.worst > g.o.Target:
			g.quiet = 0
			g.limit = max(g.o.Min, min(g.limit-1, g.limit*3/4))
		case g.worst < g.o.Target/2:
			g.quiet = 0
			g.limit = min(g.o.Max, g.limit+max(1, g.o.Max/8))
		default:
			g.quiet = 0
		}
		g.seen, g.worst = 0, 0
		g.windowStart = g.windowStart.Add(g.o.Window)
		if now.Sub(g.windowStart) >= quietWindows*g.o.Window {
			// Nobody asked for a while: the windows in between were quiet ones.
			g.limit, g.quiet, g.windowStart = g.o.Max, quietWindows, now
		}
	}
}

// quietWindows without a POST end a burst: the limit goes back to Max.
const quietWindows = 4

// Measure wraps the change-notification handler: the handling time of every genuine POST feeds the Governor.
// The handler vouches for a request with MarkGenuine once it has seen an item carrying our clientState. Anything
// else (handshakes, forged, malformed or oversized bodies) is not measured: anyone can send those, slowly on
// purpose, and a few a second would otherwise hold delivery at Min.
func (g *Governor) Measure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := g.o.Now()
		var genuine atomic.Bool
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), genuineKey{}, &genuine)))
		if r.Method == http.MethodPost && genuine.Load() {
			g.Observe(g.o.Now().Sub(start))
		}
	})
}

type genuineKey struct{}

// MarkGenuine tells the Measure wrapping this request that it came from Microsoft Graph (it carried our
// clientState), so its handling time counts. Without a Measure around the request it does nothing.
func MarkGenuine(ctx context.Context) {
	if g, ok := ctx.Value(genuineKey{}).(*atomic.Bool); ok {
		g.Store(true)
	}
}
