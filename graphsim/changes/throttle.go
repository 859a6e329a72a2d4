package changes

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// Subscription API limits per app per tenant (spec §1.3), each over a 20-second window.
const throttleWindow = 20 * time.Second

var throttleLimits = map[string]int{
	"write":       500,
	"reauthorize": 1000,
	"get":         500,
	"list":        25,
}

type rateKey struct{ app, tenant, class string }

// throttled applies the subscription API limits when Settings.Throttle is on, answering
// 429 with Retry-After itself. Off by default: with a frozen test clock a window never ends.
func (m *Manager) throttled(w http.ResponseWriter, r *http.Request, tok TokenInfo, class string) bool {
	m.mu.Lock()
	if !m.settings.Throttle {
		m.mu.Unlock()
		return false
	}
	now := m.d.Now()
	k := rateKey{tok.AppID, tok.TenantID, class}
	recent := m.rates[k][:0]
	for _, t := range m.rates[k] {
		if now.Sub(t) < throttleWindow {
			recent = append(recent, t)
		}
	}
	if len(recent) >= throttleLimits[class] {
		m.rates[k] = recent
		wait := int(math.Ceil(recent[0].Add(throttleWindow).Sub(now).Seconds()))
		m.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(max(wait, 1)))
		writeError(w, r, http.StatusTooManyRequests, "TooManyRequests", "Too many requests.")
		return true
	}
	m.rates[k] = append(recent, now)
	m.mu.Unlock()
	return false
}
