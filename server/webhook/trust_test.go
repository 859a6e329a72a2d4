package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/backpressure"
	"github.com/teamsnotify/msteams-sync/server/richnotify"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// slowBody arrives slowly: its first read costs delay on the clock, like a sender trickling the body.
type slowBody struct {
	r     io.Reader
	clock *fakeClock
	delay time.Duration
	done  bool
}

func (b *slowBody) Read(p []byte) (int, error) {
	if !b.done {
		b.done = true
		b.clock.add(b.delay)
	}
	return b.r.Read(p)
}

// slowWriter is a client that takes its time reading the answer.
type slowWriter struct {
	*httptest.ResponseRecorder
	clock *fakeClock
	delay time.Duration
}

func (w slowWriter) WriteHeader(code int) {
	w.clock.add(w.delay)
	w.ResponseRecorder.WriteHeader(code)
}

func TestOnlyGenuineNotificationsSlowDeliveryDown(t *testing.T) {
	const slow = 100 * time.Millisecond // well over the governor's 50 ms target
	genuine := batchJSON(t, []map[string]any{note("sub", secret, "19:a@thread.v2", "1", tenantA, nil)}, nil)
	forged := batchJSON(t, []map[string]any{note("sub", forgedSecret, "19:a@thread.v2", "1", tenantA, nil)}, nil)
	requests := map[string]func() *http.Request{
		"forged": func() *http.Request { return httptest.NewRequest(http.MethodPost, "/changes", nil) },
		"malformed": func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/changes", strings.NewReader(`{"value": [`))
		},
		"oversized": func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/changes", strings.NewReader(strings.Repeat("x", 4096)))
			r.ContentLength = -1 // chunked: the size shows only while reading
			return r
		},
		"handshake": func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/changes?validationToken=abc", nil)
		},
		"genuine": func() *http.Request { return httptest.NewRequest(http.MethodPost, "/changes", nil) },
	}
	bodies := map[string]string{"forged": forged, "genuine": genuine}

	for _, name := range []string{"forged", "malformed", "oversized", "handshake", "genuine"} {
		t.Run(name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			gov := backpressure.New(backpressure.Options{Max: 32, Now: clock.now})
			f := newFixture(t, nil, func(o *Options) { o.MaxBodyBytes = 1024; o.Now = clock.now })
			h := gov.Measure(f.changes)
			for i := 0; i < 20; i++ { // a few slow POSTs a second for five seconds
				req := requests[name]()
				if b, ok := bodies[name]; ok {
					req = httptest.NewRequest(http.MethodPost, "/changes", nil)
					req.Body = io.NopCloser(&slowBody{r: strings.NewReader(b), clock: clock, delay: slow})
				} else {
					req.Body = io.NopCloser(&slowBody{r: req.Body, clock: clock, delay: slow})
				}
				h.ServeHTTP(slowWriter{httptest.NewRecorder(), clock, slow}, req)
				clock.add(250*time.Millisecond - 2*slow)
				gov.Limit()
			}
			if name == "genuine" {
				assert.Equal(t, 2, gov.Limit(), "slow answers to Graph hold delivery back")
			} else {
				assert.Equal(t, 32, gov.Limit(), "anyone can send these slowly; they must not throttle delivery")
			}
		})
	}
}

func TestPlainItemsMustComeFromOurSubscriptionAndTenant(t *testing.T) {
	const ours, inherited = "sub-ours", "sub-official-plugin"
	checks := 0
	subs := SubscriptionFunc(func(_ context.Context, id string) bool { checks++; return id == ours })
	tenant := tenantA
	f := newFixture(t, &fakeValidator{}, func(o *Options) {
		o.Subscriptions = AnySubscription(subs, SubscriptionFunc(func(_ context.Context, id string) bool { return id == inherited }))
		o.TenantID = func() string { return strings.ToUpper(tenant) } // GUIDs compare case-insensitively
	})
	body := batchJSON(t, []map[string]any{
		note(ours, secret, "19:a@thread.v2", "1", tenantA, nil),
		note("sub-someone-else", secret, "19:a@thread.v2", "2", tenantA, nil),
		note(ours, secret, "19:a@thread.v2", "3", tenantB, nil),
		note(inherited, secret, "19:a@thread.v2", "4", tenantA, nil),
		richNote("sub-rich", "19:a@thread.v2", "5", tenantA), // vouched for by its validation token instead
	}, []string{"tok"})
	rec := post(f.changes, "/", body)
	assert.Equal(t, http.StatusAccepted, rec.Code)
	var got []string
	for _, it := range f.sink.items {
		got = append(got, it.MessageID)
	}
	assert.Equal(t, []string{"1", "4", "5"}, got)
	assert.Equal(t, 1, f.metrics.dropped["changes/unknown_subscription"])
	assert.Equal(t, 1, f.metrics.dropped["changes/wrong_tenant"])
	assert.Contains(t, f.log.text(), "subscription is not one this plugin created")

	t.Run("a tenant configured by domain name cannot be compared and is not checked", func(t *testing.T) {
		tenant = "contoso.onmicrosoft.com"
		f.sink.items = nil
		post(f.changes, "/", batchJSON(t, []map[string]any{note(ours, secret, "19:a@thread.v2", "6", tenantB, nil)}, nil))
		require.Len(t, f.sink.items, 1)
	})
	t.Run("rich items whose tokens failed are checked like plain ones", func(t *testing.T) {
		tenant = tenantA
		g := newFixture(t, &fakeValidator{err: richnotify.ErrNoTokens}, func(o *Options) {
			o.Subscriptions = subs
			o.TenantID = func() string { return tenant }
		})
		post(g.changes, "/", batchJSON(t, []map[string]any{
			richNote(ours, "19:a@thread.v2", "7", tenantA),
			richNote("sub-someone-else", "19:a@thread.v2", "8", tenantA),
		}, nil))
		require.Len(t, g.sink.items, 1)
		assert.Equal(t, "7", g.sink.items[0].MessageID)
		assert.Equal(t, 1, g.metrics.dropped["changes/unknown_subscription"])
	})
}

func TestRefusalsAreCountedAlwaysButLoggedOncePerMinute(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	f := newFixture(t, nil, func(o *Options) { o.Now = clock.now; o.MaxBodyBytes = 1024 })
	forged := batchJSON(t, []map[string]any{note("sub", forgedSecret, "19:a@thread.v2", "1", tenantA, nil)}, nil)
	lines := func(substr string) []logEntry {
		f.log.mu.Lock()
		defer f.log.mu.Unlock()
		var out []logEntry
		for _, e := range f.log.entries {
			if strings.Contains(e.msg, substr) {
				out = append(out, e)
			}
		}
		return out
	}

	for i := 0; i < 50; i++ {
		post(f.changes, "/", forged)
		post(f.changes, "/", "not json")
		post(f.changes, "/", strings.Repeat("x", 2048))
		clock.add(time.Second) // 50 s: still inside the first minute
	}
	assert.Equal(t, 50, f.metrics.dropped["changes/client_state"])
	assert.Equal(t, 50, f.metrics.dropped["changes/malformed"])
	assert.Equal(t, 50, f.metrics.dropped["changes/too_large"])
	assert.Len(t, lines("clientState is missing"), 1)
	assert.Len(t, lines("malformed"), 1)
	assert.Len(t, lines("size limit"), 1)

	clock.add(15 * time.Second)
	post(f.changes, "/", forged)
	post(f.changes, "/", "not json")
	got := lines("clientState is missing")
	require.Len(t, got, 2, "a minute later the next one is logged")
	assert.Equal(t, 49, kv(got[1], "not_logged_since_last"), "with how many were not")
	assert.Equal(t, 49, kv(lines("malformed")[1], "not_logged_since_last"))
	assert.Equal(t, nil, kv(got[0], "not_logged_since_last"))

	// Each reason and endpoint has its own minute: a genuine problem is not hidden behind a flood of another.
	post(f.life, "/", forged)
	assert.Len(t, lines("clientState is missing"), 3)
	assert.NotContains(t, f.log.text(), forgedSecret)
}

func kv(e logEntry, key string) any {
	for i := 0; i+1 < len(e.kv); i += 2 {
		if e.kv[i] == key {
			return e.kv[i+1]
		}
	}
	return nil
}
