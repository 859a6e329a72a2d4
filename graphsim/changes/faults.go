package changes

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Faults are injected misbehaviours of change-notification delivery (lifecycle notifications
// and handshakes are not affected). Real Graph drops, duplicates, delays and reorders items.
type Faults struct {
	DropPercent      int           // share of items never sent
	DuplicatePercent int           // share of items sent a second time, in a later POST
	Delay            time.Duration // every item waits this long before its first attempt
	ReorderWindow    time.Duration // items are gathered this long and sent in a permuted order
}

// SetFaults replaces the fault switches; the zero value turns them all off.
func (m *Manager) SetFaults(f Faults) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f.DropPercent = min(max(f.DropPercent, 0), 100)
	f.DuplicatePercent = min(max(f.DuplicatePercent, 0), 100)
	m.faults = f
}

// Faults returns the current fault switches.
func (m *Manager) Faults() Faults {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.faults
}

// SetSeed makes the fault dice reproducible.
func (m *Manager) SetSeed(seed uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rng = rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}

type faultsJSON struct {
	DropPercent      int   `json:"dropPercent"`
	DuplicatePercent int   `json:"duplicatePercent"`
	DelayMs          int64 `json:"delayMs"`
	ReorderWindowMs  int64 `json:"reorderWindowMs"`
}

type settingsJSON struct {
	HandshakeTimeoutMs int64 `json:"handshakeTimeoutMs"`
	DeliveryTimeoutMs  int64 `json:"deliveryTimeoutMs"`
	BatchWindowMs      int64 `json:"batchWindowMs"`
	MaxBatch           int   `json:"maxBatch"`
	RetryBaseMs        int64 `json:"retryBaseMs"`
	RetryMaxDelayMs    int64 `json:"retryMaxDelayMs"`
	RetryForMs         int64 `json:"retryForMs"`
	MaxAttempts        int   `json:"maxAttempts"`
	QuotaPerTenant     int   `json:"quotaPerTenant"`
	Throttle           bool  `json:"throttle"`
}

func ms(d time.Duration) int64    { return d.Milliseconds() }
func dur(ms int64) time.Duration  { return time.Duration(ms) * time.Millisecond }
func lastSegment(p string) string { return p[strings.LastIndex(strings.TrimSuffix(p, "/"), "/")+1:] }

// ControlHandler serves the test-control API; mount it under a prefix such as /_sim/changes/.
// It dispatches on the last path segment:
//
//	GET|PUT  …/faults              {"dropPercent","duplicatePercent","delayMs","reorderWindowMs"}
//	GET|PUT  …/settings            Settings in milliseconds (zero = Graph default)
//	GET      …/stats               Stats;  DELETE …/stats resets them
//	GET      …/subscriptions       every live subscription
//	POST     …/lifecycle           {"subscriptionId","lifecycleEvent"} → 202
//	PUT      …/validation-tokens   {"null":true|false}
func (m *Manager) ControlHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seg := strings.TrimSuffix(lastSegment(r.URL.Path), "/")
		put := r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodPatch
		switch {
		case seg == "faults" && r.Method == http.MethodGet:
			f := m.Faults()
			writeJSON(w, http.StatusOK, faultsJSON{f.DropPercent, f.DuplicatePercent, ms(f.Delay), ms(f.ReorderWindow)})
		case seg == "faults" && put:
			var f faultsJSON
			if !decode(w, r, &f) {
				return
			}
			m.SetFaults(Faults{f.DropPercent, f.DuplicatePercent, dur(f.DelayMs), dur(f.ReorderWindowMs)})
			w.WriteHeader(http.StatusNoContent)
		case seg == "settings" && r.Method == http.MethodGet:
			s := m.Settings()
			writeJSON(w, http.StatusOK, settingsJSON{ms(s.HandshakeTimeout), ms(s.DeliveryTimeout), ms(s.BatchWindow), s.MaxBatch,
				ms(s.RetryBase), ms(s.RetryMaxDelay), ms(s.RetryFor), s.MaxAttempts, s.QuotaPerTenant, s.Throttle})
		case seg == "settings" && put:
			var s settingsJSON
			if !decode(w, r, &s) {
				return
			}
			m.SetSettings(Settings{HandshakeTimeout: dur(s.HandshakeTimeoutMs), DeliveryTimeout: dur(s.DeliveryTimeoutMs),
				BatchWindow: dur(s.BatchWindowMs), MaxBatch: s.MaxBatch, RetryBase: dur(s.RetryBaseMs),
				RetryMaxDelay: dur(s.RetryMaxDelayMs), RetryFor: dur(s.RetryForMs), MaxAttempts: s.MaxAttempts,
				QuotaPerTenant: s.QuotaPerTenant, Throttle: s.Throttle})
			w.WriteHeader(http.StatusNoContent)
		case seg == "stats" && r.Method == http.MethodGet:
			writeJSON(w, http.StatusOK, m.Stats())
		case seg == "stats" && r.Method == http.MethodDelete:
			m.ResetStats()
			w.WriteHeader(http.StatusNoContent)
		case seg == "subscriptions" && r.Method == http.MethodGet:
			writeJSON(w, http.StatusOK, map[string]any{"value": m.Subscriptions()})
		case seg == "lifecycle" && r.Method == http.MethodPost:
			var req struct {
				SubscriptionID string `json:"subscriptionId"`
				LifecycleEvent string `json:"lifecycleEvent"`
			}
			if !decode(w, r, &req) {
				return
			}
			if err := m.FireLifecycle(req.SubscriptionID, req.LifecycleEvent); err != nil {
				writeError(w, r, http.StatusBadRequest, "BadRequest", err.Error())
				return
			}
			w.WriteHeader(http.StatusAccepted)
		case seg == "validation-tokens" && put:
			var req struct {
				Null bool `json:"null"`
			}
			if !decode(w, r, &req) {
				return
			}
			m.SetValidationTokensNull(req.Null)
			w.WriteHeader(http.StatusNoContent)
		default:
			writeError(w, r, http.StatusNotFound, "NotFound", "Unknown control endpoint "+r.Method+" "+r.URL.Path)
		}
	})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(v); err != nil {
		writeError(w, r, http.StatusBadRequest, "BadRequest", "Invalid JSON body.")
		return false
	}
	return true
}

func (m *Manager) nullValidationTokens() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.nullVT
}
