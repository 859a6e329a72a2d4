package webhook

import (
	"sync"
	"time"
)

// LogInterval is how often each kind of refused request or item is logged at most. Metrics count every one;
// the log would otherwise let anyone who knows the URL fill the server's disk with forged or broken POSTs.
const LogInterval = time.Minute

// logLimiter lets one log line per key through each LogInterval and counts what it held back.
type logLimiter struct {
	now func() time.Time

	mu         sync.Mutex
	last       map[string]time.Time
	suppressed map[string]int
}

func newLogLimiter(now func() time.Time) *logLimiter {
	return &logLimiter{now: now, last: map[string]time.Time{}, suppressed: map[string]int{}}
}

// allow reports whether an event of key (n items or requests) may be logged now, and how many were held back
// since the last line of that key. When it may not, the n are added to the held-back count.
func (l *logLimiter) allow(key string, n int) (ok bool, suppressed int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, seen := l.last[key]; seen && now.Sub(last) < LogInterval {
		l.suppressed[key] += n
		return false, 0
	}
	l.last[key] = now
	suppressed = l.suppressed[key]
	delete(l.suppressed, key)
	return true, suppressed
}
