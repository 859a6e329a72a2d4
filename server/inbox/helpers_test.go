package inbox_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

// clock is a settable clock shared by a test and its Runners.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// events records what the Runner reports through Metrics, as channels a test can wait on.
type events struct {
	processed, retried, parked chan string
}

func newEvents() *events {
	return &events{processed: make(chan string, 1000), retried: make(chan string, 1000), parked: make(chan string, 1000)}
}

func (e *events) JobProcessed(q string, _ time.Duration) { e.processed <- q }
func (e *events) JobRetried(q string)                    { e.retried <- q }
func (e *events) JobParked(q string)                     { e.parked <- q }

func wait(t *testing.T, ch <-chan string, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

type testLogger struct{ t testing.TB }

func (l testLogger) log(level, msg string, kv []any) { l.t.Logf("%s: %s %v", level, msg, kv) }
func (l testLogger) LogDebug(msg string, kv ...any)  { l.log("debug", msg, kv) }
func (l testLogger) LogInfo(msg string, kv ...any)   { l.log("info", msg, kv) }
func (l testLogger) LogWarn(msg string, kv ...any)   { l.log("warn", msg, kv) }
func (l testLogger) LogError(msg string, kv ...any)  { l.log("error", msg, kv) }

// nodes opens n Stores on one fresh database, as n plugin nodes would.
func nodes(t testing.TB, n int) []*store.Store {
	t.Helper()
	dsn := storetest.NewDatabase(t)
	ctx := context.Background()
	var out []*store.Store
	for i := 0; i < n; i++ {
		s, err := store.Open(ctx, store.Options{DataSource: dsn, MaxConns: 8})
		require.NoError(t, err)
		t.Cleanup(s.Close)
		out = append(out, s)
	}
	require.NoError(t, out[0].Migrate(ctx))
	return out
}

func startRunner(t *testing.T, s inbox.RunnerStore, opts inbox.Options) *inbox.Runner {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger{t}
	}
	r, err := inbox.NewRunner(s, opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, r.Start(ctx))
	t.Cleanup(func() { r.Stop(); cancel() })
	return r
}

func enqueueN(t testing.TB, s inbox.Enqueuer, queue string, n int) {
	t.Helper()
	ctx := context.Background()
	items := make([]store.InboxItem, n)
	for i := range items {
		items[i] = store.InboxItem{Queue: queue, Payload: []byte(fmt.Sprintf(`{"n":%d}`, i)), EnqueuedAt: time.Now().UTC()}
	}
	require.NoError(t, s.EnqueueInbox(ctx, items))
}
