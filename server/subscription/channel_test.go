package subscription_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/subscription"
)

// channelManager builds the second, channel-message manager of issue 17 on the env's store.
func (e *env) channelManager(node string, enabled *atomic.Bool) *subscription.Manager {
	e.t.Helper()
	m := e.targetManager(node, e.store, subscription.ChannelTarget(enabled.Load))
	e.mu.Lock()
	e.channel = m
	e.mu.Unlock()
	return m
}

func (e *env) targetManager(node string, s subscription.Store, target subscription.Target) *subscription.Manager {
	e.t.Helper()
	m, err := subscription.New(subscription.Deps{
		Target:   target,
		Store:    s,
		Graph:    func() subscription.Graph { return e.graph.App() },
		Settings: e.Settings,
		Keys:     subscription.NewKeys(s, func() subscription.Sealer { return e.sealer }),
		OnGap:    func(_ context.Context, since time.Time) { e.gaps <- since },
		Logger:   logger{e.t},
		Now:      e.clock.Now,
		NodeID:   node,
	}, testOptions)
	require.NoError(e.t, err)
	return m
}

func (e *env) channelState() (store.SubscriptionState, bool) {
	st, err := e.store.GetSubscriptionState(context.Background(), subscription.ChannelStateName)
	if errors.Is(err, store.ErrNotFound) {
		return st, false
	}
	require.NoError(e.t, err)
	return st, true
}

func (e *env) remoteByResource(resource string) []string {
	var ids []string
	for _, s := range e.sim.Changes().Subscriptions() {
		if strings.EqualFold(s.Resource, resource) {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

func TestChannelSubscriptionOnlyWhenTheSettingIsOn(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.sim.SetAppRoles(clientID, []string{"Chat.Read.All", "ChannelMessage.Read.All"}))
	var on atomic.Bool
	chat := e.manager("node-1", e.store)
	ch := e.channelManager("node-1", &on)

	e.reconcile(chat)
	e.reconcile(ch)
	assert.Len(t, e.remoteByResource(subscription.Resource), 1)
	assert.Empty(t, e.remoteByResource(subscription.ChannelResource), "setting off: no channel subscription")
	_, exists := e.channelState()
	assert.False(t, exists, "setting off: not even a state row")

	on.Store(true)
	e.reconcile(ch)
	ids := e.remoteByResource(subscription.ChannelResource)
	require.Len(t, ids, 1)
	st, _ := e.channelState()
	assert.Equal(t, ids[0], st.SubscriptionID)
	assert.True(t, ch.OwnsSubscription(context.Background(), ids[0]))
	assert.False(t, chat.OwnsSubscription(context.Background(), ids[0]))
	for _, s := range e.sim.Changes().Subscriptions() {
		if s.ID == ids[0] {
			assert.Equal(t, subscription.ChangeType, s.ChangeType)
			assert.Equal(t, e.Settings().NotificationURL(), s.NotificationURL)
			assert.Equal(t, e.Settings().LifecycleURL(), s.LifecycleNotificationURL)
		}
	}

	// A new leader of the chat subscription deletes stale subscriptions at our URL, but not the channel one.
	chat2 := e.targetManager("node-2", e.openStore(), subscription.ChatTarget(on.Load))
	chat.Stop()
	e.clock.Advance(10 * time.Minute) // node-1's lease lapses
	e.reconcile(chat2)
	e.reconcile(ch)
	assert.Equal(t, ids, e.remoteByResource(subscription.ChannelResource), "the chat manager spares the channel subscription")
	assert.Len(t, e.remoteByResource(subscription.Resource), 1)

	// Turned off: deleted at Graph and forgotten; the chat subscription stays.
	on.Store(false)
	e.reconcile(ch)
	assert.Empty(t, e.remoteByResource(subscription.ChannelResource))
	assert.Len(t, e.remoteByResource(subscription.Resource), 1)
	st, _ = e.channelState()
	assert.Empty(t, st.SubscriptionID)
	assert.True(t, st.LastGoodAt.IsZero(), "turning it on later starts afresh, without a catch-up of the off time")
	e.noGap()
}

func TestChannelSubscriptionWithoutThePermissionIsReportedAndRetriedSlowly(t *testing.T) {
	e := newEnv(t) // graphsim apps lack ChannelMessage.Read.All by default
	var on atomic.Bool
	on.Store(true)
	ch := e.channelManager("node-1", &on)

	err := ch.Reconcile(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ChannelMessage.Read.All")
	st, err := ch.Status(context.Background())
	require.NoError(t, err)
	assert.True(t, st.PermissionMissing())
	assert.Contains(t, st.LastError, "admin consent")
	firstAt := st.LastErrorAt

	// The next checks wait quietly instead of failing every minute.
	e.clock.Advance(time.Minute)
	require.NoError(t, ch.Reconcile(context.Background()))
	st, _ = ch.Status(context.Background())
	assert.True(t, st.PermissionMissing())
	assert.Equal(t, firstAt, st.LastErrorAt)

	// Granted, and after the slow retry interval: created.
	require.NoError(t, e.sim.SetAppRoles(clientID, []string{"Chat.Read.All", "ChannelMessage.Read.All"}))
	e.graph = e.newGraph() // a token with the new role
	e.clock.Advance(subscription.DefaultForbiddenRetry)
	e.reconcile(ch)
	st, _ = ch.Status(context.Background())
	assert.False(t, st.PermissionMissing())
	assert.Empty(t, st.LastError)
	assert.Len(t, e.remoteByResource(subscription.ChannelResource), 1)
}

func TestChannelPostAndReplyReachTheInbox(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.sim.SetAppRoles(clientID, []string{"Chat.Read.All", "ChannelMessage.Read.All"}))
	e.set(func(s *subscription.Settings) { s.RichNotifications = true })
	e.channelOn.Store(true)
	chat := e.manager("node-1", e.store)
	ch := e.channelManager("node-1", &e.channelOn)
	e.reconcile(chat) // creates the rich notification key the channel subscription shares
	e.reconcile(ch)
	ids := e.remoteByResource(subscription.ChannelResource)
	require.Len(t, ids, 1)
	for _, s := range e.sim.Changes().Subscriptions() {
		if s.ID == ids[0] {
			assert.True(t, s.IncludeResourceData, "rich, with the chat subscription's certificate")
		}
	}
	chSt, _ := e.channelState()
	assert.Equal(t, e.state().CertificateID, chSt.CertificateID, "the chat subscription's certificate")

	team, err := e.sim.CreateTeam(graphsim.TeamSpec{TenantID: tenantID, DisplayName: "Team", Members: []string{alice, bob}})
	require.NoError(t, err)
	channel, err := e.sim.CreateChannel(team, graphsim.ChannelSpec{DisplayName: "Channel"})
	require.NoError(t, err)
	root, err := e.sim.SendChannelMessage(team, channel, graphsim.NewMessage{From: alice, HTML: "<p>hello</p>"})
	require.NoError(t, err)
	reply, err := e.sim.ReplyChannelMessage(team, channel, root, graphsim.NewMessage{From: bob, HTML: "<p>hi</p>"})
	require.NoError(t, err)

	got := map[string]inbox.ChannelChange{}
	require.Eventually(t, func() bool {
		items, err := e.store.ClaimInbox(context.Background(), inbox.QueueChannelChanges, 10, time.Now().Add(time.Hour), time.Minute)
		require.NoError(t, err)
		for _, it := range items {
			var c inbox.ChannelChange
			require.NoError(t, json.Unmarshal(it.Payload, &c))
			got[c.MessageID] = c
		}
		return len(got) == 2
	}, 20*time.Second, 20*time.Millisecond, "the channel post and the reply never both reached the inbox")
	for _, id := range []string{root, reply} {
		c := got[id]
		assert.Equal(t, "created", c.ChangeType)
		assert.Equal(t, team, c.TeamID)
		assert.Equal(t, channel, c.ChannelID)
		assert.Equal(t, ids[0], c.SubscriptionID)
		assert.Equal(t, inbox.SourceWebhook, c.Source)
		assert.NotNil(t, c.Encrypted, "rich content is kept encrypted")
	}
	assert.Empty(t, got[root].RootID)
	assert.Equal(t, root, got[reply].RootID)
}

func TestChannelManagerOffWritesNothing(t *testing.T) {
	e := newEnv(t)
	var on atomic.Bool
	ch := e.channelManager("node-1", &on)
	e.reconcile(ch)
	e.reconcile(ch)
	_, exists := e.channelState()
	assert.False(t, exists, "no state row")
	_, err := e.store.GetLease(context.Background(), "channel-subscription-manager")
	assert.True(t, errors.Is(err, store.ErrNotFound), "no lease taken: %v", err)
	assert.Empty(t, e.remote())
}

func TestRemovedChannelSubscriptionIsRecreatedAndItsGapReported(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.sim.SetAppRoles(clientID, []string{"Chat.Read.All", "ChannelMessage.Read.All"}))
	var on atomic.Bool
	on.Store(true)
	chat := e.manager("node-1", e.store)
	ch := e.channelManager("node-1", &on)
	e.reconcile(chat)
	e.reconcile(ch)
	first, _ := e.channelState()
	require.NotEmpty(t, first.SubscriptionID)
	ctx := context.Background()

	// The chat manager does not take the channel subscription's events; its own subscription is untouched.
	require.NoError(t, chat.AcceptLifecycle(ctx, lifecycleEvents(first.SubscriptionID, "subscriptionRemoved")))
	assert.True(t, e.state().RemovedAt.IsZero())

	// The /lifecycle router hands each event to the manager of its subscription.
	router := subscription.LifecycleRouter(chat, ch, on.Load)
	chatID := e.state().SubscriptionID
	require.NoError(t, router.AcceptLifecycle(ctx, append(lifecycleEvents(first.SubscriptionID, "subscriptionRemoved"),
		lifecycleEvents(chatID, "reauthorizationRequired")...)))
	assert.False(t, e.state().ReauthorizeRequestedAt.IsZero(), "the chat subscription's event reached the chat manager")
	chSt, _ := e.channelState()
	assert.False(t, chSt.RemovedAt.IsZero(), "the channel subscription's event reached the channel manager")
	e.clock.Advance(time.Minute)
	e.reconcile(ch)
	next, _ := e.channelState()
	assert.NotEqual(t, first.SubscriptionID, next.SubscriptionID)
	assert.Equal(t, []string{next.SubscriptionID}, e.remoteByResource(subscription.ChannelResource))
	assert.Equal(t, first.LastGoodAt, e.waitGap(), "catch-up from the last time it was known live")
	e.noGap()
}

// postChannelItem posts one plain channel notification to the plugin's webhook, as Graph would.
func (e *env) postChannelItem(subscriptionID, messageID string) int {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"value": []map[string]any{{
		"subscriptionId": subscriptionID, "changeType": "created", "clientState": e.Settings().WebhookSecret, "tenantId": tenantID,
		"resource": "teams('t1')/channels('19:c@thread.tacv2')/messages('" + messageID + "')",
	}}})
	require.NoError(e.t, err)
	rec := httptest.NewRecorder()
	e.changes.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/changes", bytes.NewReader(body)))
	return rec.Code
}

func TestChannelItemsOfForgedSubscriptionsOrWhileOffAreNotStored(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.sim.SetAppRoles(clientID, []string{"Chat.Read.All", "ChannelMessage.Read.All"}))
	var on atomic.Bool
	on.Store(true)
	e.channelOn.Store(true)
	chat := e.manager("node-1", e.store)
	ch := e.channelManager("node-1", &on)
	e.reconcile(chat)
	e.reconcile(ch)
	st, _ := e.channelState()
	claim := func() []string {
		items, err := e.store.ClaimInbox(context.Background(), inbox.QueueChannelChanges, 10, time.Now().Add(time.Hour), time.Minute)
		require.NoError(t, err)
		var ids []string
		for _, it := range items {
			var c inbox.ChannelChange
			require.NoError(t, json.Unmarshal(it.Payload, &c))
			ids = append(ids, c.MessageID)
		}
		return ids
	}

	assert.Equal(t, http.StatusAccepted, e.postChannelItem("forged-subscription", "1"))
	assert.Equal(t, http.StatusAccepted, e.postChannelItem(st.SubscriptionID, "2"))
	assert.Equal(t, []string{"2"}, claim(), "only our channel subscription's item is stored")

	e.channelOn.Store(false)
	assert.Equal(t, http.StatusAccepted, e.postChannelItem(st.SubscriptionID, "3"), "acknowledged")
	assert.Empty(t, claim(), "setting off: not stored")
}
