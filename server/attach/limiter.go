package attach

import (
	"context"
	"sync"
	"time"
)

// Clock is the time source of the Limiter; tests inject one that advances when slept on.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx ends.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Limiter is a token bucket: rate tokens per second, at most burst saved up. Every Mattermost upload takes one
// token, because each upload costs the server preview (and, for documents, text extraction) CPU that text
// delivery needs too.
type Limiter struct {
	mu     sync.Mutex
	clock  Clock
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

// NewLimiter returns a full bucket.
func NewLimiter(perSecond float64, burst int, clock Clock) *Limiter {
	if burst < 1 {
		burst = 1
	}
	return &Limiter{clock: clock, rate: perSecond, burst: float64(burst), tokens: float64(burst), last: clock.Now()}
}

// Wait takes a token, sleeping until it is due. Tokens are reserved before sleeping (the balance may go
// negative), so concurrent callers queue up in order instead of all waking at once.
func (l *Limiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	now := l.clock.Now()
	if elapsed := now.Sub(l.last); elapsed > 0 {
		l.tokens += elapsed.Seconds() * l.rate
		if l.tokens > l.burst {
			l.tokens = l.burst
		}
		l.last = now
	}
	l.tokens--
	var wait time.Duration
	if l.tokens < 0 {
		wait = time.Duration(-l.tokens / l.rate * float64(time.Second))
	}
	l.mu.Unlock()
	if wait == 0 {
		return ctx.Err()
	}
	return l.clock.Sleep(ctx, wait)
}
