package subscription_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/config"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/secrets"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
	"github.com/teamsnotify/msteams-sync/server/subscription"
	"github.com/teamsnotify/msteams-sync/server/webhook"
)

const (
	tenantID = "11111111-2222-3333-4444-555555555555"
	clientID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	alice    = "a1a1a1a1-0000-4000-8000-000000000001"
	bob      = "b2b2b2b2-0000-4000-8000-000000000002"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

type logger struct{ t testing.TB }

func (l logger) log(level, msg string, kv []any) { l.t.Logf("%s: %s %v", level, msg, kv) }
func (l logger) LogDebug(msg string, kv ...any)  { l.log("debug", msg, kv) }
func (l logger) LogInfo(msg string, kv ...any)   { l.log("info", msg, kv) }
func (l logger) LogWarn(msg string, kv ...any)   { l.log("warn", msg, kv) }
func (l logger) LogError(msg string, kv ...any)  { l.log("error", msg, kv) }

// env is graphsim, one database, and the plugin's webhook served over HTTP, as Graph sees it.
type env struct {
	t      *testing.T
	clock  *clock
	sim    *graphsim.Sim
	graph  *graph.Factory
	dsn    string
	store  *store.Store // node 1's store; the webhook stores through it
	chat   string
	sealer *secrets.Keyring

	mu       sync.Mutex
	settings subscription.Settings
	first    *subscription.Manager // receives lifecycle events and hears of accepted notifications
	channel  *subscription.Manager // the channel message manager, when a test built one (channelManager)
	// channelOn is the Teams channel notifications setting as the webhook and the sink read it.
	channelOn atomic.Bool
	gaps      chan time.Time
	life      chan string
	counts    countingMetrics
	// validator checks the validation tokens of rich batches when set (see useValidator).
	validator webhook.TokenValidator
	changes   *webhook.ChangesHandler
}

// countingMetrics records what the managers report to the metrics package.
type countingMetrics struct {
	mu        sync.Mutex
	renewed   int
	recreated []string
}

func (c *countingMetrics) SubscriptionRenewed() { c.mu.Lock(); c.renewed++; c.mu.Unlock() }
func (c *countingMetrics) SubscriptionRecreated(reason string) {
	c.mu.Lock()
	c.recreated = append(c.recreated, reason)
	c.mu.Unlock()
}

func (c *countingMetrics) snapshot() (int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.renewed, append([]string(nil), c.recreated...)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{now: time.Now().UTC().Truncate(time.Second)}, gaps: make(chan time.Time, 10), life: make(chan string, 10)}
	sim, err := graphsim.New(graphsim.Options{Now: e.clock.Now, DisableThrottling: true,
		// Tests move the clock by days; the SDK's cached token must stay valid for graphsim.
		AccessTokenLifetime: 365 * 24 * time.Hour})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	e.sim = sim
	require.NoError(t, sim.AddApp(graphsim.AppRegistration{TenantID: tenantID, ClientID: clientID, ClientSecret: "client-secret",
		AppRoles: []string{"Chat.Read.All"}}))
	for _, u := range []graphsim.User{
		{ID: alice, TenantID: tenantID, DisplayName: "Alice", Mail: "alice@contoso.test", UserPrincipalName: "alice@contoso.test"},
		{ID: bob, TenantID: tenantID, DisplayName: "Bob", Mail: "bob@contoso.test", UserPrincipalName: "bob@contoso.test"},
	} {
		require.NoError(t, sim.AddUser(u))
	}
	e.chat, err = sim.CreateChat(graphsim.ChatSpec{ChatType: "oneOnOne", Members: []string{alice, bob}})
	require.NoError(t, err)
	s := sim.Changes().Settings()
	s.BatchWindow = 10 * time.Millisecond
	s.RetryBase = 20 * time.Millisecond
	sim.Changes().SetSettings(s)

	e.graph = e.newGraph()

	e.dsn = storetest.NewDatabase(t)
	e.store = e.openStore()
	require.NoError(t, e.store.Migrate(context.Background()))
	c, err := secrets.NewCipher("test-encryption-key")
	require.NoError(t, err)
	e.sealer = secrets.NewKeyring(c)

	// The plugin's webhook: clientState checked against the current secret, changes into the inbox,
	// lifecycle events to whichever manager the test installed.
	// Plain items must name a subscription the first manager knows as ours, as in the plugin.
	opts := webhook.Options{Logger: logger{t}, ClientStates: webhook.ClientStateFunc(func(_, cs string) bool {
		return webhook.MatchesAny(cs, e.Settings().WebhookSecret)
	}), Subscriptions: webhook.SubscriptionFunc(func(ctx context.Context, id string) bool {
		e.mu.Lock()
		m, ch := e.first, e.channel
		e.mu.Unlock()
		return m == nil || m.OwnsSubscription(ctx, id) || ch != nil && ch.OwnsSubscription(ctx, id)
	}), ChannelMessages: e.channelOn.Load}
	sink := inbox.NewSink(e.store).AcceptChannels(e.channelOn.Load).OnAccepted(func(at time.Time) {
		e.mu.Lock()
		m := e.first
		e.mu.Unlock()
		if m != nil {
			m.NotificationReceived(at)
		}
	})
	changes, err := webhook.NewChangesHandler(sink, validatorFunc(func(ctx context.Context, tokens, tenants []string) error {
		e.mu.Lock()
		v := e.validator
		e.mu.Unlock()
		if v == nil {
			return nil
		}
		return v.ValidateBatch(ctx, tokens, tenants)
	}), opts)
	require.NoError(t, err)
	e.changes = changes
	lifecycle, err := webhook.NewLifecycleHandler(lifecycleFunc(func(ctx context.Context, evs []webhook.LifecycleEvent) error {
		e.mu.Lock()
		m := e.first
		e.mu.Unlock()
		if err := m.AcceptLifecycle(ctx, evs); err != nil {
			return err
		}
		for _, ev := range evs {
			e.life <- ev.LifecycleEvent
		}
		return nil
	}), opts)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/plugins/com.mattermost.msteams-sync/changes", changes)
	mux.Handle("/plugins/com.mattermost.msteams-sync/lifecycle", lifecycle)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.settings = subscription.Settings{PluginURL: srv.URL + "/plugins/com.mattermost.msteams-sync", WebhookSecret: "secret-one", GraphURL: sim.GraphURL()}
	return e
}

type validatorFunc func(ctx context.Context, tokens, tenants []string) error

func (f validatorFunc) ValidateBatch(ctx context.Context, tokens, tenants []string) error {
	return f(ctx, tokens, tenants)
}

type lifecycleFunc func(context.Context, []webhook.LifecycleEvent) error

func (f lifecycleFunc) AcceptLifecycle(ctx context.Context, evs []webhook.LifecycleEvent) error {
	return f(ctx, evs)
}

// newGraph is a Graph client factory with a fresh token cache (e.g. after the app's roles changed).
func (e *env) newGraph() *graph.Factory {
	cfg := config.Defaults()
	cfg.TenantID, cfg.ClientID, cfg.ClientSecret = tenantID, clientID, "client-secret"
	cfg.Cloud, cfg.CustomAuthorityURL, cfg.CustomGraphURL, cfg.CustomCACertificate = config.CloudCustom, e.sim.AuthorityURL(), e.sim.GraphURL(), string(e.sim.CACertPEM())
	f, err := graph.NewFactory(cfg, graph.Options{MaxRetries: -1})
	require.NoError(e.t, err)
	return f
}

func (e *env) openStore() *store.Store {
	s, err := store.Open(context.Background(), store.Options{DataSource: e.dsn})
	require.NoError(e.t, err)
	e.t.Cleanup(s.Close)
	return s
}

func (e *env) Settings() subscription.Settings {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.settings
}

func (e *env) set(f func(*subscription.Settings)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(&e.settings)
}

var testOptions = subscription.Options{KeyValidity: 48 * time.Hour, KeyRotationWindow: 24 * time.Hour}

// manager builds a node's manager on its own store; the first one built receives lifecycle events.
func (e *env) manager(node string, s subscription.Store) *subscription.Manager {
	e.t.Helper()
	return e.managerWith(node, s, testOptions)
}

func (e *env) managerWith(node string, s subscription.Store, opts subscription.Options) *subscription.Manager {
	e.t.Helper()
	m, err := subscription.New(subscription.Deps{
		Store:    s,
		Graph:    func() subscription.Graph { return e.graph.App() },
		Settings: e.Settings,
		Keys:     subscription.NewKeys(s, func() subscription.Sealer { return e.sealer }),
		OnGap:    func(_ context.Context, since time.Time) { e.gaps <- since },
		Logger:   logger{e.t},
		Now:      e.clock.Now,
		NodeID:   node,
		Metrics:  &e.counts,
	}, opts)
	require.NoError(e.t, err)
	e.mu.Lock()
	if e.first == nil {
		e.first = m
	}
	e.mu.Unlock()
	return m
}

func (e *env) reconcile(m *subscription.Manager) {
	e.t.Helper()
	require.NoError(e.t, m.Reconcile(context.Background()))
}

func (e *env) state() store.SubscriptionState {
	e.t.Helper()
	st, err := e.store.GetSubscriptionState(context.Background(), subscription.StateName)
	require.NoError(e.t, err)
	return st
}

func (e *env) remote() []string {
	var ids []string
	for _, s := range e.sim.Changes().Subscriptions() {
		ids = append(ids, s.ID)
	}
	return ids
}

// send posts a Teams message and returns the change that reached the inbox for it.
func (e *env) send(text string) inbox.Change {
	e.t.Helper()
	id, err := e.sim.SendMessage(e.chat, graphsim.NewMessage{From: alice, HTML: "<p>" + text + "</p>"})
	require.NoError(e.t, err)
	var got inbox.Change
	require.Eventually(e.t, func() bool {
		items, err := e.store.ClaimInbox(context.Background(), inbox.QueueChanges, 10, time.Now().Add(time.Hour), time.Minute)
		require.NoError(e.t, err)
		for _, it := range items {
			var c inbox.Change
			require.NoError(e.t, json.Unmarshal(it.Payload, &c))
			if c.MessageID == id {
				got = c
				return true
			}
		}
		return false
	}, 20*time.Second, 20*time.Millisecond, "the change notification for message %s never reached the inbox", id)
	return got
}

func (e *env) waitGap() time.Time {
	e.t.Helper()
	select {
	case since := <-e.gaps:
		return since
	default:
		e.t.Fatal("no gap was reported")
		return time.Time{}
	}
}

func (e *env) awaitGap() time.Time {
	e.t.Helper()
	select {
	case since := <-e.gaps:
		return since
	case <-time.After(20 * time.Second):
		e.t.Fatal("no gap was reported")
		return time.Time{}
	}
}

func (e *env) noGap() {
	e.t.Helper()
	select {
	case since := <-e.gaps:
		e.t.Fatalf("unexpected gap since %s", since)
	default:
	}
}

func (e *env) waitLifecycle(event string) {
	e.t.Helper()
	select {
	case got := <-e.life:
		require.Equal(e.t, event, got)
	case <-time.After(20 * time.Second):
		e.t.Fatalf("lifecycle event %s never arrived", event)
	}
}

func lifecycleEvents(subscriptionID string, events ...string) []webhook.LifecycleEvent {
	var out []webhook.LifecycleEvent
	for _, ev := range events {
		out = append(out, webhook.LifecycleEvent{SubscriptionID: subscriptionID, LifecycleEvent: ev, TenantID: tenantID})
	}
	return out
}
