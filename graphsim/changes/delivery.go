package changes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/pkg/errors"
)

// Stats counts delivery work. POST-level counters count HTTP requests; item counters count notifications.
type Stats struct {
	Attempts  int64 `json:"attempts"`  // notification POSTs sent (first tries and retries)
	Succeeded int64 `json:"succeeded"` // POSTs answered 2xx in time
	Failed    int64 `json:"failed"`    // POSTs answered non-2xx, timed out or unreachable
	Timeouts  int64 `json:"timeouts"`  // the subset of Failed that exceeded the delivery timeout

	ItemsDelivered  int64 `json:"itemsDelivered"`  // change and lifecycle items in succeeded POSTs
	ItemsDropped    int64 `json:"itemsDropped"`    // removed by the drop fault
	ItemsDuplicated int64 `json:"itemsDuplicated"` // extra copies made by the duplicate fault
	ItemsExpired    int64 `json:"itemsExpired"`    // abandoned because the subscription expired or was deleted
	ItemsDiscarded  int64 `json:"itemsDiscarded"`  // abandoned after retrying for Settings.RetryFor / MaxAttempts

	Handshakes        int64 `json:"handshakes"`
	HandshakeFailures int64 `json:"handshakeFailures"`
}

// Stats returns a snapshot of the counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// ResetStats zeroes the counters.
func (m *Manager) ResetStats() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats = Stats{}
}

type endpointKey struct {
	url       string
	lifecycle bool
}

// endpoint is the queue of one notification URL; one goroutine per endpoint sends its batches in order.
type endpoint struct {
	key   endpointKey
	queue []*item
	wake  chan struct{}
}

type item struct {
	lifecycle bool
	subID     string
	appID     string
	tenantID  string
	rich      bool
	body      map[string]any // the JSON of one value[] entry
	readyAt   time.Time      // not sent before this (delay fault)
	duplicate bool           // send again after delivery (duplicate fault)
}

func (it *item) clone() *item {
	c := *it
	c.body = make(map[string]any, len(it.body))
	for k, v := range it.body {
		c.body[k] = v
	}
	c.duplicate = false
	return &c
}

func (m *Manager) enqueueLocked(url string, lifecycle bool, it *item) {
	if m.closed {
		return
	}
	key := endpointKey{url, lifecycle}
	ep := m.endpoints[key]
	if ep == nil {
		ep = &endpoint{key: key, wake: make(chan struct{}, 1)}
		m.endpoints[key] = ep
		m.wg.Add(1)
		go m.runEndpoint(ep)
	}
	ep.queue = append(ep.queue, it)
	select {
	case ep.wake <- struct{}{}:
	default:
	}
}

func (m *Manager) sleep(d time.Duration) bool {
	if d <= 0 {
		return m.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-m.ctx.Done():
		return false
	}
}

func (m *Manager) runEndpoint(ep *endpoint) {
	defer m.wg.Done()
	for {
		m.mu.Lock()
		var first *item
		if len(ep.queue) > 0 {
			first = ep.queue[0]
		}
		window := max(m.settings.BatchWindow, m.faults.ReorderWindow)
		m.mu.Unlock()
		if first == nil {
			select {
			case <-ep.wake:
				continue
			case <-m.ctx.Done():
				return
			}
		}
		if !m.sleep(time.Until(first.readyAt)) || !m.sleep(window) {
			return
		}
		m.mu.Lock()
		batch := m.takeBatchLocked(ep)
		m.mu.Unlock()
		if len(batch) > 0 {
			m.deliver(ep, batch)
		}
	}
}

// takeBatchLocked removes up to MaxBatch ready items; under the reorder fault they are permuted.
func (m *Manager) takeBatchLocked(ep *endpoint) []*item {
	now := time.Now()
	var batch, rest []*item
	for _, it := range ep.queue {
		if len(batch) < m.settings.MaxBatch && !it.readyAt.After(now) {
			batch = append(batch, it)
		} else {
			rest = append(rest, it)
		}
	}
	ep.queue = rest
	if m.faults.ReorderWindow > 0 && len(batch) > 1 {
		perm := m.rng.Perm(len(batch))
		identity := true
		shuffled := make([]*item, len(batch))
		for i, p := range perm {
			shuffled[i] = batch[p]
			identity = identity && i == p
		}
		if identity {
			for i := range batch {
				shuffled[i] = batch[len(batch)-1-i]
			}
		}
		batch = shuffled
	}
	return batch
}

// liveLocked keeps the change items whose subscription may still receive them: expired or deleted
// subscriptions lose theirs, paused ones hold them, and a PATCHed notificationUrl re-routes them.
func (m *Manager) liveLocked(ep *endpoint, batch []*item) []*item {
	if ep.key.lifecycle {
		return batch
	}
	m.purgeExpiredLocked()
	var out []*item
	for _, it := range batch {
		s := m.subs[it.subID]
		switch {
		case s == nil:
			m.stats.ItemsExpired++
		case s.paused:
			s.held = append(s.held, it)
		case s.notifyURL != ep.key.url:
			m.enqueueLocked(s.notifyURL, false, it)
		default:
			it.body["subscriptionExpirationDateTime"] = notificationTime(s.expires)
			out = append(out, it)
		}
	}
	return out
}

func (m *Manager) deliver(ep *endpoint, batch []*item) {
	m.mu.Lock()
	start := m.d.Now()
	m.mu.Unlock()
	for attempt := 1; ; attempt++ {
		m.mu.Lock()
		batch = m.liveLocked(ep, batch)
		s := m.settings
		nullVT := m.nullVT
		if len(batch) > 0 {
			m.stats.Attempts++
		}
		m.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		body, err := m.payload(batch, nullVT, s.ValidationTokenLifetime)
		if err == nil {
			err = m.post(ep.key.url, body, s.DeliveryTimeout)
		}
		m.mu.Lock()
		if err == nil {
			m.stats.Succeeded++
			m.stats.ItemsDelivered += int64(len(batch))
			for _, it := range batch {
				if it.duplicate {
					m.enqueueLocked(ep.key.url, ep.key.lifecycle, it.clone())
				}
			}
			m.mu.Unlock()
			return
		}
		m.stats.Failed++
		if errors.Is(err, context.DeadlineExceeded) {
			m.stats.Timeouts++
		}
		giveUp := (s.MaxAttempts > 0 && attempt >= s.MaxAttempts) || m.d.Now().Sub(start) >= s.RetryFor
		if giveUp {
			m.stats.ItemsDiscarded += int64(len(batch))
		}
		m.mu.Unlock()
		if giveUp {
			return
		}
		delay := s.RetryBase
		for i := 1; i < attempt && delay < s.RetryMaxDelay; i++ {
			delay *= 2
		}
		if !m.sleep(min(delay, s.RetryMaxDelay)) {
			return
		}
	}
}

// payload renders one POST body; rich items add one validation token per (app, tenant) in the batch.
func (m *Manager) payload(batch []*item, nullVT bool, tokenLife time.Duration) ([]byte, error) {
	values := make([]map[string]any, 0, len(batch))
	type appTenant struct{ app, tenant string }
	var pairs []appTenant
	seen := map[appTenant]bool{}
	for _, it := range batch {
		values = append(values, it.body)
		if it.rich {
			k := appTenant{it.appID, it.tenantID}
			if !seen[k] {
				seen[k] = true
				pairs = append(pairs, k)
			}
		}
	}
	out := map[string]any{"value": values}
	if len(pairs) > 0 {
		if nullVT {
			out["validationTokens"] = nil
		} else {
			tokens := make([]string, 0, len(pairs))
			for _, p := range pairs {
				t, err := m.validationToken(p.app, p.tenant, tokenLife)
				if err != nil {
					return nil, err
				}
				tokens = append(tokens, t)
			}
			out["validationTokens"] = tokens
		}
	}
	b, err := json.Marshal(out)
	return b, errors.Wrap(err, "encode notification payload")
}

func (m *Manager) post(url string, body []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(m.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return errors.Wrap(err, "build notification request")
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := m.d.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return errors.Wrap(ctx.Err(), "send notification")
		}
		return errors.Wrap(err, "send notification")
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("notification endpoint answered %d", resp.StatusCode)
	}
	return nil
}
