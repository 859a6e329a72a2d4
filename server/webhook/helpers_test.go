package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	secret       = "s3cr3t-client-state-value"
	forgedSecret = "forged-client-state-value"
	tenantA      = "aaaaaaaa-0000-0000-0000-000000000001"
	tenantB      = "bbbbbbbb-0000-0000-0000-000000000002"
)

type logEntry struct {
	level, msg string
	kv         []any
}

type recLogger struct {
	mu      sync.Mutex
	entries []logEntry
}

func (l *recLogger) add(level, msg string, kv []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, logEntry{level, msg, kv})
}
func (l *recLogger) LogDebug(msg string, kv ...any) { l.add("debug", msg, kv) }
func (l *recLogger) LogWarn(msg string, kv ...any)  { l.add("warn", msg, kv) }
func (l *recLogger) LogError(msg string, kv ...any) { l.add("error", msg, kv) }

// text renders everything logged, to check that secrets never appear.
func (l *recLogger) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, e := range l.entries {
		fmt.Fprintf(&b, "%s %s %v\n", e.level, e.msg, e.kv)
	}
	return b.String()
}

type counters struct {
	mu       sync.Mutex
	accepted map[string]int
	dropped  map[string]int // endpoint/reason
	plain    map[string]int // endpoint/reason: rich items kept as plain ones
}

func newCounters() *counters {
	return &counters{accepted: map[string]int{}, dropped: map[string]int{}, plain: map[string]int{}}
}

func (c *counters) RichItemsUnverified(endpoint, reason string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.plain[endpoint+"/"+reason] += n
}

func (c *counters) ItemsAccepted(endpoint string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.accepted[endpoint] += n
}

func (c *counters) ItemsDropped(endpoint, reason string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropped[endpoint+"/"+reason] += n
}

type memSink struct {
	mu     sync.Mutex
	items  []Item
	events []LifecycleEvent
	calls  int
	err    error
}

func (s *memSink) Accept(_ context.Context, items []Item) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return s.err
	}
	s.items = append(s.items, items...)
	return nil
}

func (s *memSink) AcceptLifecycle(_ context.Context, events []LifecycleEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return s.err
	}
	s.events = append(s.events, events...)
	return nil
}

type fixture struct {
	sink    *memSink
	log     *recLogger
	metrics *counters
	changes *ChangesHandler
	life    *LifecycleHandler
}

func newFixture(t testing.TB, validator TokenValidator, mutate ...func(*Options)) *fixture {
	f := &fixture{sink: &memSink{}, log: &recLogger{}, metrics: newCounters()}
	opts := Options{ClientStates: Secrets{secret}, Logger: f.log, Metrics: f.metrics}
	for _, m := range mutate {
		m(&opts)
	}
	var err error
	f.changes, err = NewChangesHandler(f.sink, validator, opts)
	require.NoError(t, err)
	f.life, err = NewLifecycleHandler(f.sink, opts)
	require.NoError(t, err)
	return f
}

func post(h http.Handler, target, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	return rec
}

// note builds one change notification item as Graph sends it.
func note(subscription, clientState, chatID, messageID, tenant string, extra map[string]any) map[string]any {
	m := map[string]any{
		"subscriptionId":                 subscription,
		"subscriptionExpirationDateTime": "2026-11-27T12:00:00.1234567+00:00",
		"changeType":                     "created",
		"clientState":                    clientState,
		"resource":                       fmt.Sprintf("chats('%s')/messages('%s')", chatID, messageID),
		"resourceData": map[string]any{
			"id":          messageID,
			"@odata.type": "#Microsoft.Graph.chatMessage",
			"@odata.id":   fmt.Sprintf("chats('%s')/messages('%s')", chatID, messageID),
		},
		"tenantId": tenant,
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func batchJSON(t testing.TB, items []map[string]any, tokens []string) string {
	body := map[string]any{"value": items}
	if tokens != nil {
		body["validationTokens"] = tokens
	}
	b, err := json.Marshal(body)
	require.NoError(t, err)
	return string(b)
}
