package inbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/richnotify"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
	"github.com/teamsnotify/msteams-sync/server/webhook"
)

func chatItem(changeType, chat, msg string) webhook.Item {
	return webhook.Item{SubscriptionID: "sub-1", ChangeType: changeType, Kind: webhook.KindChatMessage,
		ChatID: chat, MessageID: msg, TenantID: "tenant-1", Resource: "chats('" + chat + "')/messages('" + msg + "')"}
}

func claimChanges(t *testing.T, s *store.Store) []inbox.Change {
	t.Helper()
	items, err := s.ClaimInbox(context.Background(), inbox.QueueChanges, 100, time.Now().Add(time.Minute), time.Minute)
	require.NoError(t, err)
	var out []inbox.Change
	for _, it := range items {
		var c inbox.Change
		require.NoError(t, json.Unmarshal(it.Payload, &c))
		out = append(out, c)
	}
	return out
}

func TestSinkStoresEveryItemOfABatchAsAChange(t *testing.T) {
	s := storetest.NewStore(t)
	var accepted []time.Time
	sink := inbox.NewSink(s).OnAccepted(func(at time.Time) { accepted = append(accepted, at) })
	rich := chatItem("updated", "19:b@thread.v2", "2")
	rich.EncryptedContent = &richnotify.EncryptedContent{Data: "ZGF0YQ==", DataKey: "a2V5", DataSignature: "c2ln", EncryptionCertificateID: "cert-1"}
	rich.ClientState = "the-webhook-secret" // the webhook clears it; the sink must not store it either way
	require.NoError(t, sink.Accept(context.Background(), []webhook.Item{chatItem("created", "19:a@thread.v2", "1"), rich}))

	items, err := s.ClaimInbox(context.Background(), inbox.QueueChanges, 100, time.Now().Add(time.Minute), time.Minute)
	require.NoError(t, err)
	require.Len(t, items, 2)
	for _, it := range items {
		assert.NotContains(t, string(it.Payload), "the-webhook-secret")
	}
	var first, second inbox.Change
	require.NoError(t, json.Unmarshal(items[0].Payload, &first))
	require.NoError(t, json.Unmarshal(items[1].Payload, &second))
	assert.Equal(t, "created|19:a@thread.v2|1", items[0].DedupeKey)
	assert.Equal(t, inbox.Change{ChangeType: "created", ChatID: "19:a@thread.v2", MessageID: "1", TenantID: "tenant-1",
		SubscriptionID: "sub-1", Source: inbox.SourceWebhook, ReceivedAt: first.ReceivedAt}, first)
	assert.False(t, first.ReceivedAt.IsZero())
	assert.Equal(t, rich.EncryptedContent, second.Encrypted, "rich content is kept encrypted for the worker")
	assert.Equal(t, []time.Time{first.ReceivedAt}, accepted, "the hook hears of each stored batch")
}

func TestSinkBatchIsAllOrNothing(t *testing.T) {
	s := storetest.NewStore(t)
	sink := inbox.NewSink(s)
	// PostgreSQL refuses the NUL byte in the dedupe key: the batch fails as a whole and the webhook answers 503.
	err := sink.Accept(context.Background(), []webhook.Item{chatItem("created", "19:a@thread.v2", "1"), chatItem("created", "19:\x00@thread.v2", "2")})
	require.Error(t, err)
	assert.Empty(t, claimChanges(t, s))

	require.NoError(t, sink.Accept(context.Background(), []webhook.Item{
		{Kind: webhook.KindChannelMessage, TeamID: "t", ChannelID: "c", MessageID: "9", ChangeType: "created"},
	}), "items no worker handles are skipped, not stored")
	assert.Empty(t, claimChanges(t, s))
}

func TestSinkCollapsesDuplicateItems(t *testing.T) {
	s := storetest.NewStore(t)
	sink := inbox.NewSink(s)
	ctx := context.Background()
	// Graph resends batches on timeouts and sends two "updated" items for one reaction removal.
	require.NoError(t, sink.Accept(ctx, []webhook.Item{chatItem("updated", "c", "1"), chatItem("updated", "c", "1"), chatItem("created", "c", "1")}))
	require.NoError(t, sink.Accept(ctx, []webhook.Item{chatItem("updated", "c", "1"), chatItem("updated", "c", "2")}))

	var keys []string
	for _, c := range claimChanges(t, s) {
		keys = append(keys, c.ChangeType+"/"+c.MessageID)
	}
	assert.ElementsMatch(t, []string{"updated/1", "created/1", "updated/2"}, keys)
}

func TestTwoNodesProcessEachJobExactlyOnce(t *testing.T) {
	const total = 500
	stores := nodes(t, 2)
	enqueueN(t, stores[0], "work", total)

	var mu sync.Mutex
	seen := map[int64]int{}
	byNode := [2]int{}
	handler := func(node int) inbox.Handler {
		return inbox.HandlerFunc(func(_ context.Context, job inbox.Job) error {
			mu.Lock()
			seen[job.ID]++
			byNode[node]++
			mu.Unlock()
			time.Sleep(time.Millisecond) // some work, so both nodes get a share
			return nil
		})
	}
	ev := newEvents()
	for i, s := range stores {
		startRunner(t, s, inbox.Options{Queues: []inbox.QueueOptions{{Name: "work", Handler: handler(i), Workers: 4}}, PollInterval: 50 * time.Millisecond, Metrics: ev})
	}
	for i := 0; i < total; i++ {
		wait(t, ev.processed, "all jobs")
	}

	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, seen, total)
	for id, n := range seen {
		if n != 1 {
			t.Errorf("job %d processed %d times", id, n)
		}
	}
	assert.Positive(t, byNode[0], "node 1 took part")
	assert.Positive(t, byNode[1], "node 2 took part")
	stats, err := stores[1].InboxStats(context.Background())
	require.NoError(t, err)
	assert.Empty(t, stats, "every job was deleted once done")
}

func TestRetryAfterIsHonoured(t *testing.T) {
	s := storetest.NewStore(t)
	clk := newClock()
	ev := newEvents()
	attempts := make(chan int, 10)
	h := inbox.HandlerFunc(func(_ context.Context, job inbox.Job) error {
		attempts <- job.Attempts
		if job.Attempts == 1 {
			return inbox.RetryAfter(errors.New("graph answered 429"), time.Hour)
		}
		return nil
	})
	r := startRunner(t, s, inbox.Options{Queues: []inbox.QueueOptions{{Name: "q", Handler: h}}, Now: clk.Now, Metrics: ev, PollInterval: time.Hour})
	require.NoError(t, inbox.Enqueue(context.Background(), r, "q", "", map[string]int{"n": 1}))
	wait(t, ev.retried, "the throttled attempt")
	assert.Equal(t, 1, <-attempts)

	// Not claimable a minute before its time, whoever asks.
	clk.Advance(59 * time.Minute)
	early, err := s.ClaimInbox(context.Background(), "q", 10, clk.Now(), time.Minute)
	require.NoError(t, err)
	assert.Empty(t, early)

	clk.Advance(time.Minute)
	r.Wake("q")
	wait(t, ev.processed, "the second attempt")
	assert.Equal(t, 2, <-attempts)
}

func TestFailingJobBacksOffThenParksWithItsLastError(t *testing.T) {
	s := storetest.NewStore(t)
	ev := newEvents()
	h := inbox.HandlerFunc(func(_ context.Context, job inbox.Job) error {
		return errors.Errorf("chat service unavailable (attempt %d)", job.Attempts)
	})
	r := startRunner(t, s, inbox.Options{Queues: []inbox.QueueOptions{{Name: "q", Handler: h}}, Metrics: ev,
		MaxAttempts: 3, BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, PollInterval: 5 * time.Millisecond})
	require.NoError(t, inbox.Enqueue(context.Background(), r, "q", "k", []byte(`{}`)))
	wait(t, ev.retried, "retry 1")
	wait(t, ev.retried, "retry 2")
	wait(t, ev.parked, "park")
	assert.Empty(t, ev.retried, "no retry after parking")

	parked, err := s.ListParkedInbox(context.Background(), "q", 10)
	require.NoError(t, err)
	require.Len(t, parked, 1)
	assert.Equal(t, 3, parked[0].Attempts)
	assert.Equal(t, "chat service unavailable (attempt 3)", parked[0].LastError)
	stats, err := s.InboxStats(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []store.InboxQueueStats{{Queue: "q", Parked: 1}}, stats)
}

func TestParkErrorParksAtOnceAndRequeueRunsItAgain(t *testing.T) {
	s := storetest.NewStore(t)
	ev := newEvents()
	var calls atomic.Int32
	h := inbox.HandlerFunc(func(_ context.Context, job inbox.Job) error {
		if calls.Add(1) == 1 {
			return inbox.Park(errors.New("the app lacks Chat.Read.All"))
		}
		return nil
	})
	r := startRunner(t, s, inbox.Options{Queues: []inbox.QueueOptions{{Name: "q", Handler: h}}, Metrics: ev, PollInterval: 10 * time.Millisecond})
	require.NoError(t, inbox.Enqueue(context.Background(), r, "q", "", []byte(`{}`)))
	wait(t, ev.parked, "park")
	parked, err := s.ListParkedInbox(context.Background(), "", 10)
	require.NoError(t, err)
	require.Len(t, parked, 1)
	assert.Equal(t, 1, parked[0].Attempts)
	assert.Equal(t, "the app lacks Chat.Read.All", parked[0].LastError)

	n, err := s.RequeueParkedInbox(context.Background(), "q", time.Now())
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	r.Wake("q")
	wait(t, ev.processed, "requeued job")
}

func TestPanickingHandlerIsRecoveredAndRetried(t *testing.T) {
	s := storetest.NewStore(t)
	ev := newEvents()
	h := inbox.HandlerFunc(func(_ context.Context, job inbox.Job) error {
		if job.Attempts == 1 {
			panic("nil map")
		}
		return nil
	})
	r := startRunner(t, s, inbox.Options{Queues: []inbox.QueueOptions{{Name: "q", Handler: h}}, Metrics: ev,
		BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond, PollInterval: 5 * time.Millisecond})
	require.NoError(t, inbox.Enqueue(context.Background(), r, "q", "", []byte(`{}`)))
	wait(t, ev.retried, "retry after the panic")
	wait(t, ev.processed, "second attempt")
}

func TestStoppedRunnerLeavesItsBacklogToTheNextOne(t *testing.T) {
	const total = 30
	s := storetest.NewStore(t)
	enqueueN(t, s, "q", total)

	var mu sync.Mutex
	seen := map[int64]int{}
	record := func(id int64) int {
		mu.Lock()
		defer mu.Unlock()
		seen[id]++
		return len(seen)
	}

	var first *inbox.Runner
	stopped := make(chan struct{})
	h1 := inbox.HandlerFunc(func(ctx context.Context, job inbox.Job) error {
		if record(job.ID) == 5 {
			go func() { first.Stop(); close(stopped) }()
			<-inbox.StopRequested(first) // finish only once Stop has been asked: a graceful stop waits for us
		}
		return nil
	})
	var err error
	first, err = inbox.NewRunner(s, inbox.Options{Queues: []inbox.QueueOptions{{Name: "q", Handler: h1, Workers: 1}}, Logger: testLogger{t}})
	require.NoError(t, err)
	require.NoError(t, first.Start(context.Background()))
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("first runner did not stop")
	}
	mu.Lock()
	assert.Len(t, seen, 5, "the job in flight finished; nothing new was claimed after Stop")
	mu.Unlock()

	ev := newEvents()
	h2 := inbox.HandlerFunc(func(_ context.Context, job inbox.Job) error { record(job.ID); return nil })
	startRunner(t, s, inbox.Options{Queues: []inbox.QueueOptions{{Name: "q", Handler: h2}}, Metrics: ev})
	for i := 0; i < total-5; i++ {
		wait(t, ev.processed, "backlog")
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, seen, total)
	for id, n := range seen {
		assert.Equal(t, 1, n, "job %d", id)
	}
}

func TestJobOfADeadWorkerRunsAgainAfterItsLease(t *testing.T) {
	s := storetest.NewStore(t)
	clk := newClock()
	require.NoError(t, inbox.Enqueue(context.Background(), s, "q", "", []byte(`{"x":1}`)))
	// A node claims the job and dies.
	claimed, err := s.ClaimInbox(context.Background(), "q", 1, clk.Now().Add(time.Second), 5*time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 1)

	ev := newEvents()
	got := make(chan inbox.Job, 1)
	h := inbox.HandlerFunc(func(_ context.Context, job inbox.Job) error { got <- job; return nil })
	r := startRunner(t, s, inbox.Options{Queues: []inbox.QueueOptions{{Name: "q", Handler: h}}, Now: clk.Now, Metrics: ev, PollInterval: time.Hour, Lease: 5 * time.Minute})
	early, err := s.ClaimInbox(context.Background(), "q", 1, clk.Now().Add(4*time.Minute), time.Minute)
	require.NoError(t, err)
	assert.Empty(t, early, "still leased to the dead node")

	clk.Advance(5*time.Minute + time.Second)
	r.Wake("q")
	wait(t, ev.processed, "the orphaned job")
	job := <-got
	assert.Equal(t, claimed[0].ID, job.ID)
	assert.Equal(t, 2, job.Attempts)
	assert.JSONEq(t, `{"x":1}`, string(job.Payload))
}

func TestEnqueueThroughTheRunnerWakesItsWorkers(t *testing.T) {
	s := storetest.NewStore(t)
	ev := newEvents()
	var got inbox.Change
	h := inbox.HandlerFunc(func(_ context.Context, job inbox.Job) error { return job.Decode(&got) })
	// Polling once an hour: only the wake-up can explain a prompt pickup.
	r := startRunner(t, s, inbox.Options{Queues: []inbox.QueueOptions{{Name: inbox.QueueChanges, Handler: h}}, Metrics: ev, PollInterval: time.Hour})
	wait2 := func() { t.Helper(); wait(t, ev.processed, "job") }

	c := inbox.Change{ChangeType: "created", ChatID: "c", MessageID: "m", Source: inbox.SourceCatchup, Message: json.RawMessage(`{"id":"m"}`)}
	require.NoError(t, inbox.Enqueue(context.Background(), r, inbox.QueueChanges, c.DedupeKey(), c))
	wait2()
	assert.Equal(t, inbox.SourceCatchup, got.Source)
	assert.JSONEq(t, `{"id":"m"}`, string(got.Message))

	require.NoError(t, inbox.NewSink(r).Accept(context.Background(), []webhook.Item{chatItem("deleted", "c", "m")}))
	wait2()
	assert.Equal(t, "deleted", got.ChangeType)
}

func TestBackoff(t *testing.T) {
	base, max := 5*time.Second, 10*time.Minute
	for _, tc := range []struct {
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{1, 0, 5 * time.Second},
		{2, 0, 10 * time.Second},
		{4, 0, 40 * time.Second},
		{4, 0.5, 30 * time.Second},
		{4, 0.999999, 20*time.Second + 20*time.Microsecond},
		{8, 0, 10 * time.Minute},  // 640 s capped at 600 s
		{60, 0, 10 * time.Minute}, // no overflow
		{60, 0.5, 7*time.Minute + 30*time.Second},
	} {
		got := inbox.Backoff(base, max, tc.attempt, tc.jitter)
		assert.InDelta(t, float64(tc.want), float64(got), float64(time.Millisecond), "attempt %d jitter %v", tc.attempt, tc.jitter)
	}
}

func TestErrorHelpers(t *testing.T) {
	base := errors.New("boom")
	d, ok := inbox.RetryAfterOf(errors.Wrap(inbox.RetryAfter(base, 3*time.Second), "deliver"))
	assert.True(t, ok)
	assert.Equal(t, 3*time.Second, d)
	assert.ErrorIs(t, inbox.RetryAfter(base, time.Second), base)
	assert.True(t, inbox.IsPark(errors.Wrap(inbox.Park(base), "deliver")))
	assert.ErrorIs(t, inbox.Park(base), base)
	assert.False(t, inbox.IsPark(base))
	_, ok = inbox.RetryAfterOf(base)
	assert.False(t, ok)
	assert.True(t, strings.Contains(inbox.Park(nil).Error(), "park"))
}

func TestNewRunnerChecksItsOptions(t *testing.T) {
	s := storetest.NewStore(t)
	h := inbox.HandlerFunc(func(context.Context, inbox.Job) error { return nil })
	_, err := inbox.NewRunner(s, inbox.Options{})
	assert.Error(t, err)
	_, err = inbox.NewRunner(s, inbox.Options{Queues: []inbox.QueueOptions{{Name: "q", Handler: h}, {Name: "q", Handler: h}}})
	assert.Error(t, err)
	_, err = inbox.NewRunner(s, inbox.Options{Queues: []inbox.QueueOptions{{Name: "q"}}})
	assert.Error(t, err)
	r, err := inbox.NewRunner(s, inbox.Options{Queues: []inbox.QueueOptions{{Name: "q", Handler: h}}})
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background()))
	assert.Error(t, r.Start(context.Background()))
	r.Stop()
	r.Stop()
}

func TestStopCancelsJobsThatOutlastTheStopTimeout(t *testing.T) {
	s := storetest.NewStore(t)
	started := make(chan string, 1)
	h := inbox.HandlerFunc(func(ctx context.Context, job inbox.Job) error {
		started <- "job"
		<-ctx.Done() // a Graph call that does not come back
		return errors.Wrap(ctx.Err(), "fetch message")
	})
	r, err := inbox.NewRunner(s, inbox.Options{Queues: []inbox.QueueOptions{{Name: "q", Handler: h}}, StopTimeout: 50 * time.Millisecond,
		MaxAttempts: 1, Logger: testLogger{t}})
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background()))
	require.NoError(t, inbox.Enqueue(context.Background(), r, "q", "", []byte(`{}`)))
	wait(t, started, "the job")
	r.Stop()

	items, err := s.ClaimInbox(context.Background(), "q", 10, time.Now(), time.Minute)
	require.NoError(t, err)
	require.Len(t, items, 1, "due again at once, and not parked although MaxAttempts was reached: shutdown is not the job's fault")
	assert.Contains(t, items[0].LastError, "context canceled")
}

// The changes of one chat run one at a time in the order they were stored (so its DMs arrive in order), while
// other chats' changes run beside them.
func TestJobsOfOneChatRunInOrderAndChatsRunInParallel(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	const perChat = 8
	var items []store.InboxItem
	for i := 0; i < perChat; i++ {
		for _, chat := range []string{"a", "b"} {
			c := inbox.Change{ChangeType: "created", ChatID: chat, MessageID: fmt.Sprint(i)}
			payload, err := json.Marshal(c)
			require.NoError(t, err)
			items = append(items, store.InboxItem{Queue: inbox.QueueChanges, DedupeKey: c.DedupeKey(), Payload: payload, EnqueuedAt: time.Now().UTC()})
		}
	}
	require.NoError(t, s.EnqueueInbox(ctx, items))

	var mu sync.Mutex
	order := map[string][]string{}
	running := map[string]int{}
	overlapped, parallel := false, false
	ev := newEvents()
	h := inbox.HandlerFunc(func(_ context.Context, job inbox.Job) error {
		var c inbox.Change
		require.NoError(t, job.Decode(&c))
		mu.Lock()
		running[c.ChatID]++
		overlapped = overlapped || running[c.ChatID] > 1
		parallel = parallel || (running["a"] > 0 && running["b"] > 0)
		order[c.ChatID] = append(order[c.ChatID], c.MessageID)
		mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		running[c.ChatID]--
		mu.Unlock()
		return nil
	})
	startRunner(t, s, inbox.Options{Queues: []inbox.QueueOptions{{Name: inbox.QueueChanges, Handler: h, Workers: 6, OrderKey: inbox.ChatOrder}}, Metrics: ev})
	for i := 0; i < 2*perChat; i++ {
		wait(t, ev.processed, "job")
	}

	mu.Lock()
	defer mu.Unlock()
	want := []string{"0", "1", "2", "3", "4", "5", "6", "7"}
	assert.Equal(t, want, order["a"], "chat a in order")
	assert.Equal(t, want, order["b"], "chat b in order")
	assert.False(t, overlapped, "never two jobs of one chat at once")
	assert.True(t, parallel, "the two chats ran side by side")
}

// Jobs a stopping runner claimed but had not started (waiting behind their chat) are released at once, not
// after their lease.
func TestHeldJobsAreReleasedWhenTheRunnerStops(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		c := inbox.Change{ChangeType: "created", ChatID: "a", MessageID: fmt.Sprint(i)}
		require.NoError(t, inbox.Enqueue(ctx, s, inbox.QueueChanges, c.DedupeKey(), c))
	}
	started := make(chan struct{}, 3)
	release := make(chan struct{})
	h := inbox.HandlerFunc(func(context.Context, inbox.Job) error { started <- struct{}{}; <-release; return nil })
	r, err := inbox.NewRunner(s, inbox.Options{Queues: []inbox.QueueOptions{{Name: inbox.QueueChanges, Handler: h, Workers: 4, OrderKey: inbox.ChatOrder, Lease: time.Hour}}, Logger: testLogger{t}})
	require.NoError(t, err)
	require.NoError(t, r.Start(ctx))
	<-started // the first runs; the two others wait behind it, claimed
	stopped := make(chan struct{})
	go func() { r.Stop(); close(stopped) }()
	<-inbox.StopRequested(r)
	close(release)
	<-stopped

	due, err := s.ClaimInbox(ctx, inbox.QueueChanges, 10, time.Now().UTC(), time.Minute)
	require.NoError(t, err)
	assert.Len(t, due, 2, "the held jobs are due again now, not in an hour")
}

// A queue's Limit holds the number of jobs running at once below Workers (the plugin uses it to give intake
// the machine when acknowledgements slow down); every job still runs.
func TestLimitCapsTheJobsRunningAtOnce(t *testing.T) {
	s := storetest.NewStore(t)
	enqueueN(t, s, "q", 12)
	var mu sync.Mutex
	running, most := 0, 0
	ev := newEvents()
	h := inbox.HandlerFunc(func(context.Context, inbox.Job) error {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
		return nil
	})
	startRunner(t, s, inbox.Options{Queues: []inbox.QueueOptions{{Name: "q", Handler: h, Workers: 8, Limit: func() int { return 2 }}}, Metrics: ev})
	for i := 0; i < 12; i++ {
		wait(t, ev.processed, "job")
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 2, most)
}

// The chat a change belongs to comes from its dedupe key, which the webhook sink and catch-up always set; an
// item without one is not ordered.
func TestChatOrderReadsTheChatFromTheDedupeKey(t *testing.T) {
	c := inbox.Change{ChangeType: "created", ChatID: "19:a|b@thread.v2", MessageID: "1700000000000"}
	for _, tc := range []struct {
		name string
		key  string
		want string
	}{
		{"a change's key", c.DedupeKey(), "19:a|b@thread.v2"},
		{"no key", "", ""},
		{"a key of another shape", "job-42", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, inbox.ChatOrder(store.InboxItem{Queue: inbox.QueueChanges, DedupeKey: tc.key}))
		})
	}
}

// countingCompletes counts the delete statements of finished jobs, and holds the first until released.
type countingCompletes struct {
	*store.Store
	statements atomic.Int64
	first      chan struct{}
}

func (c *countingCompletes) CompleteInbox(ctx context.Context, ids ...int64) error {
	if c.statements.Add(1) == 1 {
		<-c.first
	}
	return c.Store.CompleteInbox(ctx, ids...)
}

// Jobs that finish while a delete is running are deleted together by the next one, and Stop deletes whatever
// finished last: the inbox is empty afterwards.
func TestFinishedJobsAreDeletedManyPerStatement(t *testing.T) {
	s := &countingCompletes{Store: storetest.NewStore(t), first: make(chan struct{})}
	enqueueN(t, s, "q", 40)
	var handled atomic.Int64
	allDone := make(chan struct{})
	h := inbox.HandlerFunc(func(context.Context, inbox.Job) error {
		if handled.Add(1) == 40 {
			close(allDone)
		}
		return nil
	})
	r, err := inbox.NewRunner(s, inbox.Options{Queues: []inbox.QueueOptions{{Name: "q", Handler: h, Workers: 8}}, Logger: testLogger{t}})
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background()))
	<-allDone
	close(s.first) // the first delete ran with the first finished job; every other job finished meanwhile
	r.Stop()

	stats, err := s.InboxStats(context.Background())
	require.NoError(t, err)
	assert.Empty(t, stats, "every finished job deleted")
	assert.LessOrEqual(t, s.statements.Load(), int64(3), "40 jobs, a handful of delete statements")
}

func TestRestartedRunnerTakesBackItsNodesJobsAtOnce(t *testing.T) {
	ss := nodes(t, 1)
	s := ss[0]
	ctx := context.Background()
	enqueueN(t, s, "q", 2)
	// A previous process on node-a claimed one job and was killed; node-b holds the other and is alive.
	now := time.Now().UTC()
	dead, err := s.ClaimInboxAs(ctx, "q", 1, now, time.Hour, store.InboxClaimer{Node: "node-a", Instance: "old"})
	require.NoError(t, err)
	require.Len(t, dead, 1)
	live, err := s.ClaimInboxAs(ctx, "q", 1, now, time.Hour, store.InboxClaimer{Node: "node-a-other", Instance: "x"})
	require.NoError(t, err)
	require.Len(t, live, 1)

	ran := make(chan int64, 10)
	h := inbox.HandlerFunc(func(_ context.Context, j inbox.Job) error { ran <- j.ID; return nil })
	startRunner(t, s, inbox.Options{Queues: []inbox.QueueOptions{{Name: "q", Handler: h, Lease: time.Hour}},
		PollInterval: 50 * time.Millisecond, Claimer: store.InboxClaimer{Node: "node-a", Instance: "new"}})

	select {
	case id := <-ran:
		assert.Equal(t, dead[0].ID, id, "the killed process's job runs at once, not after its hour-long lease")
	case <-time.After(10 * time.Second):
		t.Fatal("the restarted runner did not take back its node's job")
	}
	select {
	case id := <-ran:
		t.Fatalf("job %d of another node ran while that node's lease holds", id)
	case <-time.After(500 * time.Millisecond):
	}
}

func TestJobCancelledByStopKeepsItsPlaceBeforeLaterJobs(t *testing.T) {
	s := nodes(t, 1)[0]
	ctx := context.Background()
	require.NoError(t, s.EnqueueInbox(ctx, []store.InboxItem{{Queue: "q", Payload: []byte("first"), EnqueuedAt: time.Now().UTC()}}))
	started := make(chan struct{}, 1)
	h := inbox.HandlerFunc(func(ctx context.Context, _ inbox.Job) error { started <- struct{}{}; <-ctx.Done(); return ctx.Err() })
	r, err := inbox.NewRunner(s, inbox.Options{Queues: []inbox.QueueOptions{{Name: "q", Handler: h, Workers: 1}},
		PollInterval: time.Hour, StopTimeout: 50 * time.Millisecond, Logger: testLogger{t}})
	require.NoError(t, err)
	require.NoError(t, r.Start(ctx))
	<-started
	// A later message of the chat arrives (on another node) while the first is running; then the plugin is disabled.
	require.NoError(t, s.EnqueueInbox(ctx, []store.InboxItem{{Queue: "q", Payload: []byte("second"), EnqueuedAt: time.Now().UTC()}}))
	time.Sleep(20 * time.Millisecond)
	r.Stop()

	got, err := s.ClaimInbox(ctx, "q", 1, time.Now().UTC(), time.Minute)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "first", string(got[0].Payload), "the cancelled job runs first on the next start")
}

// Channel changes wait in order per channel, and repeats of one change of one message collapse.
func TestChannelChangeKeys(t *testing.T) {
	a := inbox.ChannelChange{ChangeType: "created", TeamID: "t1", ChannelID: "19:c@thread.tacv2", MessageID: "1"}
	b := a
	b.MessageID = "2"
	if a.DedupeKey() == b.DedupeKey() {
		t.Fatal("two messages share a dedupe key")
	}
	oa := inbox.ChatOrder(store.InboxItem{DedupeKey: a.DedupeKey()})
	ob := inbox.ChatOrder(store.InboxItem{DedupeKey: b.DedupeKey()})
	if oa != "t1/19:c@thread.tacv2" || oa != ob {
		t.Fatalf("order keys %q and %q: want the channel for both", oa, ob)
	}
}

func TestSinkStoresChannelItemsOnlyWhenAsked(t *testing.T) {
	s := storetest.NewStore(t)
	on := false
	sink := inbox.NewSink(s).AcceptChannels(func() bool { return on })
	post := webhook.Item{Kind: webhook.KindChannelMessage, ChangeType: "created", TeamID: "t", ChannelID: "19:c@thread.tacv2",
		MessageID: "100", TenantID: "tenant-1", SubscriptionID: "sub-2", ClientState: "the-webhook-secret"}
	reply := post
	reply.MessageID, reply.ReplyID = "100", "101"
	reply.EncryptedContent = &richnotify.EncryptedContent{Data: "ZGF0YQ==", DataKey: "a2V5", DataSignature: "c2ln", EncryptionCertificateID: "cert-1"}
	claim := func() []store.InboxItem {
		items, err := s.ClaimInbox(context.Background(), inbox.QueueChannelChanges, 100, time.Now().Add(time.Minute), time.Minute)
		require.NoError(t, err)
		return items
	}

	require.NoError(t, sink.Accept(context.Background(), []webhook.Item{post, reply}))
	assert.Empty(t, claim(), "off: nothing stored")

	on = true
	require.NoError(t, sink.Accept(context.Background(), []webhook.Item{post, reply}))
	items := claim()
	require.Len(t, items, 2)
	var got []inbox.ChannelChange
	for _, it := range items {
		assert.NotContains(t, string(it.Payload), "the-webhook-secret")
		var c inbox.ChannelChange
		require.NoError(t, json.Unmarshal(it.Payload, &c))
		assert.Equal(t, c.DedupeKey(), it.DedupeKey)
		got = append(got, c)
	}
	assert.Equal(t, inbox.ChannelChange{ChangeType: "created", TeamID: "t", ChannelID: "19:c@thread.tacv2", MessageID: "100",
		TenantID: "tenant-1", SubscriptionID: "sub-2", Source: inbox.SourceWebhook, ReceivedAt: got[0].ReceivedAt}, got[0])
	assert.Equal(t, "101", got[1].MessageID, "a reply is the message")
	assert.Equal(t, "100", got[1].RootID, "and names its thread's first message")
	assert.Equal(t, reply.EncryptedContent, got[1].Encrypted, "rich content is kept encrypted")
	assert.Empty(t, claimChanges(t, s), "nothing on the chat queue")
}
