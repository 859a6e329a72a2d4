package subscription_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/subscription"
)

func TestCreatesTheSubscriptionOnStart(t *testing.T) {
	e := newEnv(t)
	m := e.manager("node-1", e.store)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.Start(ctx)
	defer m.Stop()

	require.Eventually(t, func() bool { return len(e.sim.Changes().Subscriptions()) == 1 }, 20*time.Second, 10*time.Millisecond)
	sub := e.sim.Changes().Subscriptions()[0]
	assert.Equal(t, subscription.Resource, sub.Resource)
	assert.Equal(t, subscription.ChangeType, sub.ChangeType)
	assert.Equal(t, e.Settings().PluginURL+"/changes", sub.NotificationURL)
	assert.Equal(t, e.Settings().PluginURL+"/lifecycle", sub.LifecycleNotificationURL)
	assert.False(t, sub.IncludeResourceData)
	assert.WithinDuration(t, e.clock.Now().Add(subscription.DefaultLifetime), sub.ExpirationDateTime, time.Second,
		"as long as Graph allows, minus a margin")

	require.Eventually(t, func() bool {
		st, err := e.store.GetSubscriptionState(ctx, subscription.StateName)
		return err == nil && st.SubscriptionID == sub.ID
	}, 20*time.Second, 10*time.Millisecond)
	st := e.state()
	assert.Equal(t, e.Settings().Fingerprint(), st.Fingerprint)
	assert.Equal(t, e.clock.Now(), st.LastGoodAt)
	assert.Empty(t, st.LastError)

	c := e.send("hello")
	assert.Equal(t, "created", c.ChangeType)
	assert.Equal(t, sub.ID, c.SubscriptionID)
	assert.Nil(t, c.Encrypted)

	status, err := m.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, "node-1", status.Leader)
	assert.Equal(t, sub.ID, status.SubscriptionID)
	e.noGap()
}

func TestRenewsWhenAThirdOfTheLifetimeRemains(t *testing.T) {
	e := newEnv(t)
	m := e.manager("node-1", e.store)
	e.reconcile(m)
	first := e.state()

	e.clock.Advance(subscription.DefaultLifetime*2/3 - time.Minute)
	e.reconcile(m)
	assert.Equal(t, first.ExpiresAt, e.state().ExpiresAt, "not yet")
	assert.Equal(t, first.LastRenewedAt, e.state().LastRenewedAt)

	e.clock.Advance(2 * time.Minute)
	e.reconcile(m)
	st := e.state()
	assert.Equal(t, first.SubscriptionID, st.SubscriptionID, "renewed in place")
	assert.Equal(t, e.clock.Now(), st.LastRenewedAt)
	assert.WithinDuration(t, e.clock.Now().Add(subscription.DefaultLifetime), st.ExpiresAt, time.Second)
	require.Len(t, e.sim.Changes().Subscriptions(), 1)
	assert.WithinDuration(t, st.ExpiresAt, e.sim.Changes().Subscriptions()[0].ExpirationDateTime, time.Second)
	e.noGap()
	renewed, created := e.counts.snapshot()
	assert.Equal(t, 1, renewed, "one renewal is counted")
	assert.Len(t, created, 1, "one creation is counted")
}

func TestRemovedSubscriptionIsRecreatedAndTheGapReported(t *testing.T) {
	e := newEnv(t)
	m := e.manager("node-1", e.store)
	e.reconcile(m)
	first := e.state()

	e.clock.Advance(10 * time.Minute)
	require.NoError(t, e.sim.Changes().FireLifecycle(first.SubscriptionID, "subscriptionRemoved"))
	e.waitLifecycle("subscriptionRemoved")
	assert.False(t, e.state().RemovedAt.IsZero(), "recorded for the leader")

	e.reconcile(m)
	st := e.state()
	assert.NotEqual(t, first.SubscriptionID, st.SubscriptionID)
	assert.Equal(t, []string{st.SubscriptionID}, e.remote())
	assert.True(t, st.RemovedAt.IsZero())
	assert.Equal(t, first.LastGoodAt, e.waitGap(), "catch-up starts at the last time the old subscription was known live")
	_, created := e.counts.snapshot()
	assert.Len(t, created, 2, "the first creation and the recreation are counted: %v", created)
	assert.Equal(t, st.SubscriptionID, e.send("after removal").SubscriptionID)

	// A late event about the old subscription changes nothing.
	require.NoError(t, m.AcceptLifecycle(context.Background(), lifecycleEvents(first.SubscriptionID, "subscriptionRemoved")))
	assert.True(t, e.state().RemovedAt.IsZero())
}

func TestReauthorizationRequiredIsAnsweredWithARenewal(t *testing.T) {
	e := newEnv(t)
	m := e.manager("node-1", e.store)
	e.reconcile(m)
	first := e.state()

	e.clock.Advance(time.Hour)
	require.NoError(t, e.sim.Changes().FireLifecycle(first.SubscriptionID, "reauthorizationRequired"))
	e.waitLifecycle("reauthorizationRequired")
	// graphsim holds notifications until the app reauthorizes.
	msg, err := e.sim.SendMessage(e.chat, graphsim.NewMessage{From: bob, HTML: "<p>while paused</p>"})
	require.NoError(t, err)
	require.True(t, e.sim.Changes().Subscriptions()[0].Paused)

	e.reconcile(m)
	st := e.state()
	assert.Equal(t, first.SubscriptionID, st.SubscriptionID)
	assert.True(t, st.ReauthorizeRequestedAt.IsZero())
	assert.Equal(t, e.clock.Now(), st.LastRenewedAt, "renewed although plenty of lifetime was left")
	assert.False(t, e.sim.Changes().Subscriptions()[0].Paused)
	require.Eventually(t, func() bool {
		items, err := e.store.ClaimInbox(context.Background(), "changes", 10, time.Now().Add(time.Hour), time.Minute)
		require.NoError(t, err)
		for _, it := range items {
			var c struct{ MessageID string }
			require.NoError(t, json.Unmarshal(it.Payload, &c))
			if c.MessageID == msg {
				return true
			}
		}
		return false
	}, 20*time.Second, 20*time.Millisecond, "held notification delivered after the renewal")
	e.noGap()
}

func TestSubscriptionUnknownToGraphAtRenewalIsRecreated(t *testing.T) {
	e := newEnv(t)
	m := e.manager("node-1", e.store)
	e.reconcile(m)
	first := e.state()
	// Someone deleted it in the tenant (or Graph lost it).
	require.NoError(t, e.graph.App().DeleteSubscription(context.Background(), first.SubscriptionID))

	e.clock.Advance(subscription.DefaultLifetime * 3 / 4)
	e.reconcile(m)
	st := e.state()
	assert.NotEqual(t, first.SubscriptionID, st.SubscriptionID)
	assert.Equal(t, []string{st.SubscriptionID}, e.remote())
	assert.Equal(t, first.LastGoodAt, e.waitGap())
}

func TestExpiredSubscriptionIsRecreatedAfterDowntime(t *testing.T) {
	e := newEnv(t)
	m := e.manager("node-1", e.store)
	e.reconcile(m)
	first := e.state()
	m.Stop() // not started: no-op

	// The whole cluster was down for four days.
	e.clock.Advance(4 * 24 * time.Hour)
	later := e.manager("node-2", e.openStore())
	e.reconcile(later)
	st := e.state()
	assert.NotEqual(t, first.SubscriptionID, st.SubscriptionID)
	assert.Equal(t, first.LastGoodAt, e.waitGap())
	e.noGap()
}

func TestSecretChangeRecreatesTheSubscriptionWithTheNewClientState(t *testing.T) {
	e := newEnv(t)
	m := e.manager("node-1", e.store)
	e.reconcile(m)
	first := e.state()

	e.set(func(s *subscription.Settings) { s.WebhookSecret = "secret-two" })
	e.reconcile(m)
	st := e.state()
	assert.NotEqual(t, first.SubscriptionID, st.SubscriptionID)
	assert.NotEqual(t, first.Fingerprint, st.Fingerprint)
	assert.Equal(t, []string{st.SubscriptionID}, e.remote(), "the old subscription is deleted")
	// The webhook now accepts only the new secret, so arriving at all proves Graph uses it.
	assert.Equal(t, st.SubscriptionID, e.send("with the new secret").SubscriptionID)
	assert.Equal(t, first.LastGoodAt, e.waitGap(), "notifications during the swap may be lost")

	// A restart with the same settings keeps it.
	e.reconcile(e.manager("node-1", e.openStore()))
	assert.Equal(t, st.SubscriptionID, e.state().SubscriptionID)
}

func TestRecreateOnRequest(t *testing.T) {
	e := newEnv(t)
	m := e.manager("node-1", e.store)
	e.reconcile(m)
	first := e.state()
	other := e.manager("node-2", e.openStore())
	require.NoError(t, other.Recreate(context.Background(), "admin asked"), "any node may ask")
	e.reconcile(m)
	assert.NotEqual(t, first.SubscriptionID, e.state().SubscriptionID)
	assert.Empty(t, e.state().RecreateReason)
}

func TestStaleRemoteSubscriptionIsDeleted(t *testing.T) {
	e := newEnv(t)
	// Left behind by a node that crashed between creating it and saving the state.
	stale, err := e.graph.App().CreateSubscription(context.Background(), graph.SubscriptionRequest{
		Resource: subscription.Resource, ChangeType: subscription.ChangeType, NotificationURL: e.Settings().NotificationURL(),
		LifecycleNotificationURL: e.Settings().LifecycleURL(), ClientState: "secret-one", ExpiresAt: e.clock.Now().Add(2 * time.Hour)})
	require.NoError(t, err)

	m := e.manager("node-1", e.store)
	e.reconcile(m)
	st := e.state()
	assert.NotEqual(t, stale.ID, st.SubscriptionID)
	assert.Equal(t, []string{st.SubscriptionID}, e.remote())
	// It may have been delivering (e.g. the official plugin's, which posts to the same URL): what it had not
	// notified before its deletion is caught up once the new one is live.
	assert.Equal(t, e.clock.Now().Add(-10*time.Minute), e.waitGap())
}

func TestNoStaleSubscriptionNoCatchUp(t *testing.T) {
	e := newEnv(t)
	m := e.manager("node-1", e.store)
	e.reconcile(m)
	assert.NotEmpty(t, e.state().SubscriptionID)
	e.noGap()
}

func TestGraphFailuresAreRecordedAndRetriedAtTheNextCheck(t *testing.T) {
	e := newEnv(t)
	m := e.manager("node-1", e.store)
	e.sim.InjectFault(graphsim.Fault{Route: "POST /subscriptions", Status: 503, RetryAfter: 5, Count: 1})
	err := m.Reconcile(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "throttling or unavailable")
	st := e.state()
	assert.Empty(t, st.SubscriptionID)
	assert.Contains(t, st.LastError, "create the subscription")
	assert.Equal(t, e.clock.Now(), st.LastErrorAt)

	e.reconcile(m)
	st = e.state()
	assert.NotEmpty(t, st.SubscriptionID)
	assert.Empty(t, st.LastError, "cleared once healthy")
}

func TestTwoManagersKeepOneSubscription(t *testing.T) {
	e := newEnv(t)
	a := e.manager("node-a", e.store)
	b := e.manager("node-b", e.openStore())

	var wg sync.WaitGroup
	for _, m := range []*subscription.Manager{a, b} {
		wg.Add(1)
		go func(m *subscription.Manager) { defer wg.Done(); assert.NoError(t, m.Reconcile(context.Background())) }(m)
	}
	wg.Wait()
	for i := 0; i < 3; i++ {
		e.reconcile(a)
		e.reconcile(b)
	}
	require.Len(t, e.remote(), 1)
	first := e.state()

	sa, err := a.Status(context.Background())
	require.NoError(t, err)
	sb, err := b.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, sa.Leader, sb.Leader, "both nodes see the same leader")
	assert.Equal(t, first.SubscriptionID, sb.SubscriptionID)

	// The leader shuts down; the other takes over and keeps the same subscription.
	leader, follower := a, b
	if sa.Leader == "node-b" {
		leader, follower = b, a
	}
	leader.Start(context.Background())
	leader.Stop()
	e.reconcile(follower)
	st, err := follower.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, follower.NodeID(), st.Leader)
	assert.Equal(t, first.SubscriptionID, st.SubscriptionID)
	assert.Equal(t, []string{first.SubscriptionID}, e.remote())
}

func TestNothingHappensWithoutSettingsOrGraph(t *testing.T) {
	e := newEnv(t)
	e.set(func(s *subscription.Settings) { s.WebhookSecret = "" })
	m := e.manager("node-1", e.store)
	e.reconcile(m)
	assert.Empty(t, e.remote())

	_, err := subscription.New(subscription.Deps{}, subscription.Options{})
	assert.Error(t, err)
}

func TestLifecycleEventsWakeTheRunningLeader(t *testing.T) {
	e := newEnv(t)
	opts := testOptions
	opts.Interval = time.Hour // only a wake-up can explain a prompt reaction
	m := e.managerWith("node-1", e.store, opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.Start(ctx)
	defer m.Stop()
	require.Eventually(t, func() bool {
		st, err := e.store.GetSubscriptionState(ctx, subscription.StateName)
		return err == nil && st.SubscriptionID != ""
	}, 20*time.Second, 10*time.Millisecond)
	first := e.state()

	require.NoError(t, e.sim.Changes().FireLifecycle(first.SubscriptionID, "subscriptionRemoved"))
	assert.Equal(t, first.LastGoodAt, e.awaitGap())
	// The gap is reported just before the new state is saved (a crash in between reports it again).
	require.Eventually(t, func() bool { return e.state().SubscriptionID != first.SubscriptionID }, 20*time.Second, 10*time.Millisecond)
	assert.Equal(t, []string{e.state().SubscriptionID}, e.remote())

	// Notifications accepted by this node's webhook are recorded for the other nodes within seconds.
	c := e.send("noticed")
	require.Eventually(t, func() bool { return !e.state().LastNotificationAt.IsZero() }, 20*time.Second, 10*time.Millisecond)
	assert.WithinDuration(t, c.ReceivedAt, e.state().LastNotificationAt, time.Millisecond)
}

func TestMissedEventReportsAGapWithoutRecreating(t *testing.T) {
	e := newEnv(t)
	m := e.manager("node-1", e.store)
	e.reconcile(m)
	first := e.state()
	e.clock.Advance(time.Minute)

	require.NoError(t, m.AcceptLifecycle(context.Background(), lifecycleEvents(first.SubscriptionID, "missed", "somethingNew")))
	e.reconcile(m)
	assert.Equal(t, first.LastGoodAt, e.waitGap())
	assert.Equal(t, first.SubscriptionID, e.state().SubscriptionID)
	e.reconcile(m)
	e.noGap()
}

func TestTakeoverAfterLongSilenceReportsAGapButKeepsALiveSubscription(t *testing.T) {
	e := newEnv(t)
	e.reconcile(e.manager("node-1", e.store))
	first := e.state()

	// Every node was down for two hours: Graph may have dropped notifications, but the subscription lives on.
	e.clock.Advance(2 * time.Hour)
	e.reconcile(e.manager("node-2", e.openStore()))
	assert.Equal(t, first.LastGoodAt, e.waitGap())
	st := e.state()
	assert.Equal(t, first.SubscriptionID, st.SubscriptionID)
	assert.Equal(t, e.clock.Now(), st.LastGoodAt)

	// A short pause is not a gap: Graph retries deliveries for hours.
	e.clock.Advance(30 * time.Minute)
	e.reconcile(e.manager("node-3", e.openStore()))
	e.noGap()
}

// The admin status must say when notifications last arrived as they arrive, not a check interval later:
// at once on the node that accepted them, within NoteInterval on the others, with a bounded number of writes
// however busy the webhook is.
func TestLastNotificationIsCurrentOnEveryNode(t *testing.T) {
	e := newEnv(t)
	opts := testOptions
	opts.Interval = time.Hour // the checks must not be what writes it
	writes := &countingNotes{Store: e.store}
	here := e.managerWith("node-1", writes, opts) // the first one built: the webhook reports to it
	other := e.managerWith("node-2", e.openStore(), opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	here.Start(ctx)
	defer here.Stop()
	other.Start(ctx)
	defer other.Stop()
	require.Eventually(t, func() bool {
		st, err := e.store.GetSubscriptionState(ctx, subscription.StateName)
		return err == nil && st.SubscriptionID != ""
	}, 20*time.Second, 10*time.Millisecond)

	c := e.send("noticed")
	st, err := here.Status(ctx)
	require.NoError(t, err)
	assert.WithinDuration(t, c.ReceivedAt, st.LastNotificationAt, time.Millisecond, "the receiving node knows at once")

	began := time.Now()
	require.Eventually(t, func() bool {
		st, err := other.Status(ctx)
		require.NoError(t, err)
		return !st.LastNotificationAt.Before(c.ReceivedAt.Truncate(time.Microsecond))
	}, 10*time.Second, 20*time.Millisecond, "another node sees it once it is written")
	assert.Less(t, time.Since(began), subscription.DefaultNoteInterval+time.Second)

	// A burst of notifications (the webhook calls this once per accepted POST) costs at most one write per
	// interval, not one per POST.
	before := writes.count()
	start := time.Now()
	for i := range 500 {
		here.NotificationReceived(start.Add(time.Duration(i) * time.Millisecond))
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	assert.LessOrEqual(t, writes.count()-before, int(elapsed/subscription.DefaultNoteInterval)+1)
	st, err = here.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, start.Add(499*time.Millisecond).UTC(), st.LastNotificationAt)
}

// countingNotes is the real store, counting the writes of the last notification time.
type countingNotes struct {
	*store.Store
	mu sync.Mutex
	n  int
}

func (c *countingNotes) NoteSubscriptionNotification(ctx context.Context, name string, at time.Time) error {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.Store.NoteSubscriptionNotification(ctx, name, at)
}

func (c *countingNotes) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
