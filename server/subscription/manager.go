// Package subscription keeps the plugin's one tenant-wide Microsoft Graph change-notification subscription
// (/chats/getAllMessages) alive: it creates it, renews it well before it expires, recreates it when Graph
// removes it, when it expired, or when the settings it was made with change, answers lifecycle events, and
// rotates the RSA keys of rich notifications. One node manages it at a time (a lease in PostgreSQL); its
// state lives in the database, where every node can read it and record lifecycle events for the leader.
//
// When notifications may have been lost (the subscription was removed, expired or replaced, or no node
// managed it for a long time) it calls a gap callback with the last time the subscription was known to be
// live, so that catch-up can fetch what was missed.
//
// The same machinery keeps the optional channel message subscription (/teams/getAllMessages, issue 17): a second
// Manager with ChannelTarget, its own state row and lease, the chat subscription's URLs, secret and key.
package subscription

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/richnotify"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// What the subscription asks Graph for.
const (
	Resource   = "/chats/getAllMessages"
	ChangeType = "created,updated,deleted"
	// StateName is the row of the managed subscription in the state table, and the name of the leader lease.
	StateName = "tenant"
	leaseName = "subscription-manager"
)

// Defaults for Options.
const (
	// MaxLifetime is Graph's limit for chat message subscriptions.
	MaxLifetime            = 4320 * time.Minute
	DefaultLifetime        = MaxLifetime - 15*time.Minute // margin for clock skew between us and Graph
	DefaultInterval        = time.Minute
	DefaultGapThreshold    = time.Hour
	DefaultKeyRetention    = 7 * 24 * time.Hour
	DefaultNoteInterval    = 2 * time.Second
	defaultLeaseIntervals  = 3
	graphCallTimeout       = 60 * time.Second
	notificationPathChange = "/changes"
	notificationPathLife   = "/lifecycle"
)

// Graph is the part of the Graph client the manager uses; *graph.Client implements it.
type Graph interface {
	CreateSubscription(ctx context.Context, r graph.SubscriptionRequest) (graph.Subscription, error)
	RenewSubscription(ctx context.Context, id string, expiresAt time.Time) (graph.Subscription, error)
	DeleteSubscription(ctx context.Context, id string) error
	GetSubscription(ctx context.Context, id string) (graph.Subscription, error)
	ListSubscriptions(ctx context.Context) ([]graph.Subscription, error)
}

// CertificateUpdater is optional on Graph: PATCH a subscription's encryptionCertificate and
// encryptionCertificateId. Without it a key rotation recreates the subscription instead (and reports a gap).
type CertificateUpdater interface {
	UpdateSubscriptionCertificate(ctx context.Context, id, certificate, certificateID string) (graph.Subscription, error)
}

// Store is the database the manager needs; *store.Store implements it.
type Store interface {
	KeyStore
	GetSubscriptionState(ctx context.Context, name string) (store.SubscriptionState, error)
	SaveSubscriptionState(ctx context.Context, prev, next store.SubscriptionState) error
	RecordSubscriptionEvent(ctx context.Context, name, subscriptionID, event string, at time.Time) (bool, error)
	RequestSubscriptionRecreate(ctx context.Context, name, reason string) error
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
	GetLease(ctx context.Context, name string) (store.Lease, error)
	NoteSubscriptionNotification(ctx context.Context, name string, at time.Time) error
}

// Settings are the configuration the subscription depends on. Any change of the fingerprinted ones (the
// notification URLs, the secret, rich notifications on or off, the Graph endpoint) recreates it.
type Settings struct {
	// PluginURL is <SiteURL>/plugins/com.mattermost.msteams-sync; notifications go to /changes and /lifecycle under it.
	PluginURL string
	// WebhookSecret is the clientState Graph echoes on every notification.
	WebhookSecret string
	// RichNotifications asks Graph to include the message, encrypted to our certificate.
	RichNotifications bool
	// GraphURL is the Graph endpoint of the configured cloud (a subscription belongs to one).
	GraphURL string
}

// NotificationURL is where change notifications are sent.
func (s Settings) NotificationURL() string {
	return strings.TrimRight(s.PluginURL, "/") + notificationPathChange
}

// LifecycleURL is where lifecycle notifications are sent.
func (s Settings) LifecycleURL() string {
	return strings.TrimRight(s.PluginURL, "/") + notificationPathLife
}

func (s Settings) configured() bool { return s.PluginURL != "" && s.WebhookSecret != "" }

// Fingerprint identifies the settings a subscription was created with. The secret enters only as a hash.
func (s Settings) Fingerprint() string {
	secret := sha256.Sum256([]byte(s.WebhookSecret))
	rich := "plain"
	if s.RichNotifications {
		rich = "rich"
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{s.NotificationURL(), s.LifecycleURL(), hex.EncodeToString(secret[:]), rich,
		strings.TrimRight(s.GraphURL, "/")}, "\n")))
	return hex.EncodeToString(sum[:16])
}

// Logger is the part of the Mattermost plugin logger the manager uses. It never logs the secret.
type Logger interface {
	LogDebug(msg string, keyValuePairs ...any)
	LogInfo(msg string, keyValuePairs ...any)
	LogWarn(msg string, keyValuePairs ...any)
	LogError(msg string, keyValuePairs ...any)
}

// Target is what one Manager subscribes to. The zero value is the chat subscription (Resource, StateName);
// the channel subscription of issue 17 is a second Manager with ChannelTarget, so both share one machinery.
type Target struct {
	Resource   string // Resource when empty
	StateName  string // the state row; StateName when empty
	LeaseName  string // the leader lease; the chat manager's when empty
	Label      string // what the logs say is subscribed to; "Teams chat messages" when empty
	Permission string // the application permission a 403 asks for; Chat.Read.All when empty
	// Enabled, when set and false, makes the leader delete the subscription (if any) and do nothing else.
	Enabled func() bool
	// SharedKey uses the rich notification key another Manager keeps (Keys.Current) instead of creating,
	// rotating and pruning keys itself: two managers rotating one key table would race.
	SharedKey bool
	// Keep spares subscriptions another Manager owns when stale ones are deleted (they share the notification URL).
	Keep func(graph.Subscription) bool
	// ForbiddenRetry, when positive, makes a 403 on creation (permission not granted) wait that long before
	// the next attempt instead of retrying at every check; Status reports PermissionMissing meanwhile.
	ForbiddenRetry time.Duration
}

// ChannelResource is the tenant-wide channel message subscription's resource (issue 17).
const ChannelResource = "/teams/getAllMessages"

// ChannelTarget is the Target of the channel message subscription; enabled says whether the admin setting is on.
// Its stale-subscription sweep spares every other resource (the chat manager sweeps its own).
func ChannelTarget(enabled func() bool) Target {
	return Target{
		Resource:       ChannelResource,
		StateName:      ChannelStateName,
		LeaseName:      "channel-subscription-manager",
		Label:          "Teams channel messages",
		Permission:     ChannelPermission,
		Enabled:        enabled,
		SharedKey:      true,
		Keep:           func(s graph.Subscription) bool { return !strings.EqualFold(s.Resource, ChannelResource) },
		ForbiddenRetry: DefaultForbiddenRetry,
	}
}

// ChatTarget is the chat subscription's Target beside a channel one: while channelOn, the chat manager spares the
// channel subscription when it deletes stale ones at the shared notification URL. With channelOn false it behaves
// exactly as the zero Target, so nothing changes for installations without channel notifications.
func ChatTarget(channelOn func() bool) Target {
	return Target{Keep: func(s graph.Subscription) bool {
		return channelOn() && strings.EqualFold(s.Resource, ChannelResource)
	}}
}

// Channel subscription names.
const (
	ChannelStateName      = "channel"
	ChannelPermission     = "ChannelMessage.Read.All"
	DefaultForbiddenRetry = 15 * time.Minute
)

// PermissionMissingPrefix starts the recorded error of a 403 on creation for a Target with ForbiddenRetry.
const PermissionMissingPrefix = "permission missing: "

func (t *Target) complete() {
	if t.Resource == "" {
		t.Resource = Resource
	}
	if t.StateName == "" {
		t.StateName = StateName
	}
	if t.LeaseName == "" {
		t.LeaseName = leaseName
	}
	if t.Label == "" {
		t.Label = "Teams chat messages"
	}
	if t.Permission == "" {
		t.Permission = "Chat.Read.All"
	}
}

// Deps are the manager's collaborators.
type Deps struct {
	// Target is what to subscribe to; the zero value is the chat subscription.
	Target Target
	Store  Store
	// Graph returns the app-only client of the current configuration, or nil while Graph is not configured.
	Graph    func() Graph
	Settings func() Settings
	Keys     *Keys
	// OnGap is called on the leader, once the subscription is live again, when notifications since `since`
	// may have been lost. Optional. It should be quick (enqueue catch-up work).
	OnGap  func(ctx context.Context, since time.Time)
	Logger Logger
	Now    func() time.Time // time.Now when nil
	// NodeID names this node in the leader lease; random when empty.
	NodeID string
	// Metrics counts renewals and creations; optional.
	Metrics Metrics
}

// Metrics observes what the leader does to the subscription.
type Metrics interface {
	SubscriptionRenewed()
	// SubscriptionRecreated counts a subscription created, with why ("no subscription yet", a settings change,
	// Graph removed it...).
	SubscriptionRecreated(reason string)
}

type nopMetrics struct{}

func (nopMetrics) SubscriptionRenewed()         {}
func (nopMetrics) SubscriptionRecreated(string) {}

// Options tune the manager; zero values take the defaults.
type Options struct {
	Interval     time.Duration // how often the leader checks the subscription
	Lifetime     time.Duration // requested lifetime; renewed when less than a third remains
	LeaderLease  time.Duration // how long leadership lasts without renewal (3 intervals)
	GapThreshold time.Duration // no leader for longer than this: report a gap from the last good time
	// KeyValidity and KeyRotationWindow shape rich-notification certificates (richnotify defaults: 90 days,
	// rotated 14 days before expiry); KeyRetention keeps a retired key that long after its certificate expired.
	KeyValidity       time.Duration
	KeyRotationWindow time.Duration
	KeyRetention      time.Duration
	// NoteInterval is how often a node writes when it last accepted notifications, if that changed: other
	// nodes' admin status lags by at most this, and a busy webhook costs one small UPDATE per interval
	// instead of one per POST.
	NoteInterval time.Duration
}

// Manager keeps the subscription. Create it on every node; Start it on every node (only the leader acts).
type Manager struct {
	deps Deps
	opts Options

	tickMu    sync.Mutex // one reconciliation at a time on this node
	wasLeader bool

	// Latest notification this node accepted (unix ns) and the latest one written to the database.
	notified, notifiedSaved atomic.Int64

	// owned remembers our subscription ids for OwnsSubscription.
	owned owned

	runMu sync.Mutex
	stop  chan struct{}
	done  chan struct{}
	wake  chan struct{}
}

// New checks deps and fills in defaults.
func New(deps Deps, opts Options) (*Manager, error) {
	if deps.Store == nil || deps.Graph == nil || deps.Settings == nil || deps.Keys == nil || deps.Logger == nil {
		return nil, errors.New("subscription manager: store, graph, settings, keys and logger are required")
	}
	deps.Target.complete()
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Metrics == nil {
		deps.Metrics = nopMetrics{}
	}
	if deps.NodeID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		deps.NodeID = hex.EncodeToString(b[:])
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Lifetime <= 0 || opts.Lifetime > MaxLifetime {
		opts.Lifetime = DefaultLifetime
	}
	if opts.LeaderLease <= 0 {
		opts.LeaderLease = defaultLeaseIntervals * opts.Interval
	}
	if opts.GapThreshold <= 0 {
		opts.GapThreshold = DefaultGapThreshold
	}
	if opts.KeyValidity <= 0 {
		opts.KeyValidity = richnotify.DefaultValidity
	}
	if opts.KeyRotationWindow <= 0 {
		opts.KeyRotationWindow = richnotify.DefaultRotationWindow
	}
	if opts.KeyRetention <= 0 {
		opts.KeyRetention = DefaultKeyRetention
	}
	if opts.NoteInterval <= 0 {
		opts.NoteInterval = DefaultNoteInterval
	}
	return &Manager{deps: deps, opts: opts, wake: make(chan struct{}, 1)}, nil
}

// NodeID is this node's name in the leader lease.
func (m *Manager) NodeID() string { return m.deps.NodeID }

// Start reconciles now and then every Interval (or at once when woken) until Stop.
func (m *Manager) Start(ctx context.Context) {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	if m.stop != nil {
		return
	}
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	stop, done := m.stop, m.done
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); m.loop(ctx, stop) }()
		// Separate from the checks, which can wait a minute on Graph: the note must not wait with them.
		go func() { defer wg.Done(); m.noteLoop(ctx, stop) }()
		wg.Wait()
	}()
}

// Stop ends the loop and gives up leadership so that another node takes over at once. The subscription
// itself stays: notifications keep arriving for the other nodes, or queue up at Graph until a restart.
func (m *Manager) Stop() {
	m.runMu.Lock()
	stop, done := m.stop, m.done
	m.stop, m.done = nil, nil
	m.runMu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.tickMu.Lock()
	defer m.tickMu.Unlock()
	if m.wasLeader {
		if err := m.deps.Store.ReleaseLease(ctx, m.deps.Target.LeaseName, m.deps.NodeID); err != nil {
			m.deps.Logger.LogWarn("Could not release subscription leadership; another node takes over when it expires", "error", err.Error())
		}
		m.wasLeader = false
	}
}

func (m *Manager) loop(ctx context.Context, stop chan struct{}) {
	ticker := time.NewTicker(m.opts.Interval)
	defer ticker.Stop()
	for {
		if err := m.Reconcile(ctx); err != nil && ctx.Err() == nil {
			m.deps.Logger.LogWarn("Subscription check failed; will retry at the next check", "error", err.Error())
		}
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-m.wake:
		}
	}
}

// noteLoop writes the latest notification time every NoteInterval when it changed, and once more at Stop.
func (m *Manager) noteLoop(ctx context.Context, stop chan struct{}) {
	ticker := time.NewTicker(m.opts.NoteInterval)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			m.saveNotificationTime(fctx)
			cancel()
			return
		case <-ctx.Done():
			return
		case <-ticker.C:
			m.saveNotificationTime(ctx)
		}
	}
}

// NotificationReceived records that this node accepted change notifications at `at` (inbox.Sink.OnAccepted).
// It only touches memory, so a busy webhook costs no write per POST: Status reads it on this node at once,
// and a running manager writes it to the database within NoteInterval for the other nodes.
func (m *Manager) NotificationReceived(at time.Time) {
	ns := at.UnixNano()
	for {
		old := m.notified.Load()
		if ns <= old || m.notified.CompareAndSwap(old, ns) {
			return
		}
	}
}

// lastNotificationHere is the latest time this node accepted notifications (zero when none since start).
func (m *Manager) lastNotificationHere() time.Time {
	if ns := m.notified.Load(); ns != 0 {
		return time.Unix(0, ns).UTC()
	}
	return time.Time{}
}

func (m *Manager) saveNotificationTime(ctx context.Context) {
	ns := m.notified.Load()
	if ns == 0 || ns == m.notifiedSaved.Load() {
		return
	}
	if err := m.deps.Store.NoteSubscriptionNotification(ctx, m.deps.Target.StateName, time.Unix(0, ns).UTC()); err != nil {
		m.deps.Logger.LogDebug("Could not record when notifications last arrived", "error", err.Error())
		return
	}
	m.notifiedSaved.Store(ns)
}

// Wake asks the loop to reconcile now.
func (m *Manager) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Recreate asks the leader (whichever node it is) to replace the subscription, e.g. for an admin command.
// Configuration changes need no call: the fingerprint notices them; calling Reconcile makes it prompt.
func (m *Manager) Recreate(ctx context.Context, reason string) error {
	if err := m.deps.Store.RequestSubscriptionRecreate(ctx, m.deps.Target.StateName, reason); err != nil {
		return err
	}
	m.Wake()
	return nil
}

// Reconcile makes one check now: take or keep leadership and, as leader, make the subscription match the
// settings and keep it alive. On other nodes it does nothing. Failures are recorded in the state (for the
// admin status), logged with what to do, and retried at the next check.
func (m *Manager) Reconcile(ctx context.Context) error {
	m.tickMu.Lock()
	defer m.tickMu.Unlock()
	now := m.deps.Now().UTC()
	if idle, err := m.disabledAndClean(ctx); err != nil || idle {
		return err
	}
	leader, err := m.deps.Store.AcquireLease(ctx, m.deps.Target.LeaseName, m.deps.NodeID, now, m.opts.LeaderLease)
	if err != nil {
		return err
	}
	if !leader {
		if m.wasLeader {
			m.deps.Logger.LogInfo("Another node now manages the Microsoft Graph subscription", "node", m.deps.NodeID)
		}
		m.wasLeader = false
		return nil
	}
	tookOver := !m.wasLeader
	m.wasLeader = true

	settings := m.deps.Settings()
	if !settings.configured() {
		m.deps.Logger.LogDebug("Not subscribing to " + m.deps.Target.Label + ": Site URL or webhook secret is not set")
		return nil
	}
	g := m.deps.Graph()
	if g == nil {
		m.deps.Logger.LogDebug("Not subscribing to " + m.deps.Target.Label + ": Microsoft Graph is not configured")
		return nil
	}

	prev, err := m.deps.Store.GetSubscriptionState(ctx, m.deps.Target.StateName)
	if errors.Is(err, store.ErrNotFound) {
		prev, err = store.SubscriptionState{Name: m.deps.Target.StateName}, nil
	}
	if err != nil {
		return err
	}
	if t := m.deps.Target; t.Enabled != nil && !t.Enabled() {
		return m.disable(ctx, g, prev)
	}
	if m.waitingForPermission(prev, now) {
		return nil
	}
	r := &reconciler{m: m, g: g, settings: settings, now: now, st: prev}
	runErr := r.run(ctx, tookOver)
	if runErr != nil {
		r.st.LastError, r.st.LastErrorAt = runErr.Error(), now
		if r.permissionMissing {
			r.st.LastError = PermissionMissingPrefix + runErr.Error()
		}
	} else {
		r.st.LastError, r.st.LastErrorAt = "", time.Time{}
	}
	if err := m.deps.Store.SaveSubscriptionState(ctx, prev, r.st); err != nil {
		return err
	}
	return runErr
}

// reconciler is one leader pass over the state.
type reconciler struct {
	m        *Manager
	g        Graph
	settings Settings
	now      time.Time
	st       store.SubscriptionState
	key      *richnotify.KeyPair
	// permissionMissing: creation failed with 403 for a Target with ForbiddenRetry.
	permissionMissing bool
}

func (r *reconciler) run(ctx context.Context, tookOver bool) error {
	st, log := &r.st, r.m.deps.Logger
	if tookOver && !st.LastGoodAt.IsZero() && r.now.Sub(st.LastGoodAt) > r.m.opts.GapThreshold {
		// Nobody watched the subscription for a long time: Graph may have given up on notifications.
		r.openGap()
	}
	if r.settings.RichNotifications {
		ensure := r.ensureKey
		if r.m.deps.Target.SharedKey {
			ensure = r.sharedKey
		}
		if err := ensure(ctx); err != nil {
			return err
		}
	}
	reason := ""
	switch {
	case st.SubscriptionID == "":
		reason = "no subscription yet"
	case st.RecreateReason != "":
		reason = st.RecreateReason
	case st.Fingerprint != r.settings.Fingerprint():
		reason = "settings changed (Site URL, webhook secret, rich notifications or cloud)"
	case !st.RemovedAt.IsZero():
		reason = "Microsoft Graph removed it"
		r.openGap()
	case !st.ExpiresAt.IsZero() && !r.now.Before(st.ExpiresAt):
		reason = "it expired"
		r.openGap()
	}
	if reason == "" {
		var err error
		if reason, err = r.maintain(ctx); err != nil {
			return err
		}
	}
	if reason != "" {
		if err := r.recreate(ctx, reason); err != nil {
			return err
		}
	}
	if tookOver && st.SubscriptionID != "" {
		// Only once ours is live: a subscription left behind, e.g. the official plugin's when this plugin replaced
		// it, keeps delivering (to the same URL, with the same secret) until then.
		r.deleteStale(ctx)
	}
	if !st.GapSince.IsZero() && st.SubscriptionID != "" {
		since := st.GapSince
		st.GapSince = time.Time{}
		if r.m.deps.OnGap != nil {
			log.LogInfo("Teams notifications may have been missed; catching up", "since", since.Format(time.RFC3339))
			r.m.deps.OnGap(ctx, since)
		}
	}
	if r.key != nil && !r.m.deps.Target.SharedKey {
		if removed, err := r.m.deps.Keys.Prune(ctx, r.now.Add(-r.m.opts.KeyRetention)); err != nil {
			log.LogWarn("Could not delete expired rich notification keys", "error", err.Error())
		} else if len(removed) > 0 {
			log.LogInfo("Deleted expired rich notification keys", "ids", strings.Join(removed, ","))
		}
	}
	return nil
}

// openGap records that notifications since the last good time may be lost (the earliest such time wins).
func (r *reconciler) openGap() {
	since := r.st.LastGoodAt
	if since.IsZero() {
		since = r.now
	}
	r.openGapAt(since)
}

// ensureKey makes r.key a usable key pair, creating one when there is none or the current one is due for
// rotation.
func (r *reconciler) ensureKey(ctx context.Context) error {
	keys, log := r.m.deps.Keys, r.m.deps.Logger
	kp, err := keys.Current(ctx)
	if err != nil {
		log.LogWarn("Could not load the rich notification key; creating a new one", "error", err.Error())
	}
	if kp == nil || !r.now.Add(r.m.opts.KeyRotationWindow).Before(kp.NotAfter()) {
		next, err := keys.Create(ctx, r.now, richnotify.KeyOptions{Validity: r.m.opts.KeyValidity})
		if err != nil {
			return errors.Wrap(err, "create rich notification key (check the plugin's encryption key setting)")
		}
		if kp != nil {
			log.LogInfo("Rotated the rich notification key", "old", kp.ID(), "new", next.ID())
		}
		kp = next
	}
	r.key = kp
	return nil
}

// maintain keeps a live subscription: rotate its certificate, renew it (also answering reauthorizationRequired)
// or just check it exists. It returns a reason to recreate it instead, if Graph no longer knows it.
func (r *reconciler) maintain(ctx context.Context) (string, error) {
	st, log := &r.st, r.m.deps.Logger
	ctx, cancel := context.WithTimeout(ctx, graphCallTimeout)
	defer cancel()

	if r.key != nil && st.CertificateID != r.key.ID() {
		up, ok := r.g.(CertificateUpdater)
		if !ok {
			r.openGap()
			return "encryption certificate rotated", nil
		}
		sub, err := up.UpdateSubscriptionCertificate(ctx, st.SubscriptionID, r.key.EncryptionCertificate(), r.key.ID())
		if graph.IsNotFound(err) {
			r.openGap()
			return "Microsoft Graph no longer knows it", nil
		}
		if err != nil {
			return "", r.explain(err, "update the subscription's encryption certificate")
		}
		st.CertificateID = r.key.ID()
		r.live(sub)
		log.LogInfo("Moved the subscription to the new rich notification certificate", "certificate_id", r.key.ID())
	}

	remaining := st.ExpiresAt.Sub(r.now)
	reauth := !st.ReauthorizeRequestedAt.IsZero()
	if reauth || remaining < r.m.opts.Lifetime/3 {
		sub, err := r.g.RenewSubscription(ctx, st.SubscriptionID, r.now.Add(r.m.opts.Lifetime))
		if graph.IsNotFound(err) {
			r.openGap()
			return "Microsoft Graph no longer knows it", nil
		}
		if err != nil {
			return "", r.explain(err, "renew the subscription")
		}
		st.ReauthorizeRequestedAt = time.Time{}
		st.LastRenewedAt = r.now
		r.live(sub)
		r.m.deps.Metrics.SubscriptionRenewed()
		log.LogDebug("Renewed the Microsoft Graph subscription", "subscription_id", st.SubscriptionID,
			"expires", st.ExpiresAt.Format(time.RFC3339), "reauthorization", reauth)
		return "", nil
	}

	sub, err := r.g.GetSubscription(ctx, st.SubscriptionID)
	if graph.IsNotFound(err) {
		r.openGap()
		return "Microsoft Graph no longer knows it", nil
	}
	if err != nil {
		return "", r.explain(err, "check the subscription")
	}
	r.live(sub)
	return "", nil
}

// live records that Graph just confirmed the subscription.
func (r *reconciler) live(sub graph.Subscription) {
	if !sub.ExpiresAt.IsZero() {
		r.st.ExpiresAt = sub.ExpiresAt.UTC()
	}
	r.st.LastGoodAt = r.now
}

// recreate deletes the current subscription (if any) and creates a new one. Graph allows one subscription per
// app, resource and change types, so the old one must go first.
func (r *reconciler) recreate(ctx context.Context, reason string) error {
	st, log := &r.st, r.m.deps.Logger
	ctx, cancel := context.WithTimeout(ctx, graphCallTimeout)
	defer cancel()
	if st.SubscriptionID != "" {
		r.openGap() // notifications between the delete and the create are lost
		if err := r.g.DeleteSubscription(ctx, st.SubscriptionID); err != nil && !graph.IsNotFound(err) {
			return r.explain(err, "delete the old subscription")
		}
		log.LogInfo("Deleted the Microsoft Graph subscription to replace it", "subscription_id", st.SubscriptionID, "reason", reason)
		st.SubscriptionID, st.ExpiresAt, st.Fingerprint, st.CertificateID = "", time.Time{}, "", ""
	}
	req := graph.SubscriptionRequest{
		Resource:                 r.m.deps.Target.Resource,
		ChangeType:               ChangeType,
		NotificationURL:          r.settings.NotificationURL(),
		LifecycleNotificationURL: r.settings.LifecycleURL(),
		ClientState:              r.settings.WebhookSecret,
		ExpiresAt:                r.now.Add(r.m.opts.Lifetime),
	}
	if r.key != nil {
		req.IncludeResourceData = true
		req.EncryptionCertificate = r.key.EncryptionCertificate()
		req.EncryptionCertificateID = r.key.ID()
	}
	sub, err := r.g.CreateSubscription(ctx, req)
	if graph.StatusOf(err) == 409 {
		// A subscription of ours that we do not track (the state was lost, or an older node made it).
		r.deleteStale(ctx)
		sub, err = r.g.CreateSubscription(ctx, req)
	}
	if err != nil {
		r.permissionMissing = graph.IsForbidden(err) && r.m.deps.Target.ForbiddenRetry > 0
		return r.explain(err, "create the subscription")
	}
	// Remembered before the state is saved: Graph may deliver the first items before the save commits.
	r.m.owned.add(sub.ID)
	st.SubscriptionID = sub.ID
	st.Fingerprint = r.settings.Fingerprint()
	st.CertificateID = req.EncryptionCertificateID
	st.CreatedAt, st.LastRenewedAt = r.now, r.now
	st.RemovedAt, st.ReauthorizeRequestedAt, st.RecreateReason = time.Time{}, time.Time{}, ""
	st.ExpiresAt = req.ExpiresAt
	r.live(sub)
	r.m.deps.Metrics.SubscriptionRecreated(reason)
	log.LogInfo("Subscribed to "+r.m.deps.Target.Label, "subscription_id", sub.ID, "reason", reason,
		"expires", st.ExpiresAt.Format(time.RFC3339), "rich", req.IncludeResourceData)
	return nil
}

// deleteStale removes subscriptions of this app that point at our notification URL but are not the one we
// track, left by a lost state or a crash between create and save. Failures are only logged.
func (r *reconciler) deleteStale(ctx context.Context) {
	log := r.m.deps.Logger
	subs, err := r.g.ListSubscriptions(ctx)
	if err != nil {
		log.LogWarn("Could not list Microsoft Graph subscriptions to remove stale ones", "error", err.Error())
		return
	}
	for _, s := range subs {
		if s.ID == r.st.SubscriptionID || s.NotificationURL != r.settings.NotificationURL() {
			continue
		}
		if keep := r.m.deps.Target.Keep; keep != nil && keep(s) {
			continue
		}
		if err := r.g.DeleteSubscription(ctx, s.ID); err != nil {
			log.LogWarn("Could not delete a stale Microsoft Graph subscription", "subscription_id", s.ID, "error", err.Error())
			continue
		}
		log.LogInfo("Deleted a stale Microsoft Graph subscription of this plugin", "subscription_id", s.ID, "resource", s.Resource)
		// It may have been delivering (the official plugin's, taken over with its settings, or one of ours whose
		// state was lost): what it had not yet notified is caught up once the replacement is live.
		r.openGapAt(r.now.Add(-staleSubscriptionLag))
	}
}

// staleSubscriptionLag is how far before its deletion a stale subscription's notifications may still have been
// on their way: Graph delivers within seconds normally and retries slow endpoints for minutes.
const staleSubscriptionLag = 10 * time.Minute

// openGapAt records that notifications since t may be lost (the earliest such time wins).
func (r *reconciler) openGapAt(t time.Time) {
	if r.st.GapSince.IsZero() || t.Before(r.st.GapSince) {
		r.st.GapSince = t
	}
}

// explain adds what the admin can do about a Graph failure, naming this target's permission.
func (r *reconciler) explain(err error, what string) error {
	t := r.m.deps.Target
	if t.Resource == Resource {
		return explain(err, what) // the chat subscription's wording, unchanged
	}
	hint := ""
	switch {
	case graph.IsThrottled(err):
		hint = "Microsoft Graph is throttling or unavailable; the plugin retries at the next check"
	case graph.IsUnauthorized(err):
		hint = "check the tenant ID, client ID and client secret in the plugin settings"
	case graph.IsForbidden(err):
		hint = "in Microsoft Entra ID, add the Microsoft Graph application permission " + t.Permission +
			" to the app registration and grant admin consent (or the tenant's subscription quota is used up)"
	case graph.StatusOf(err) == 400:
		hint = "Microsoft Graph must reach the notification URL over public https: check the Site URL and that the plugin is enabled"
	case graph.StatusOf(err) == 409:
		hint = "another subscription of this app for " + t.Label + " exists with a different notification URL; delete it or use a separate app registration"
	}
	err = errors.Wrap(err, what)
	if hint != "" {
		err = errors.Wrap(err, hint)
	}
	return err
}

// explain adds what the admin can do about a Graph failure.
func explain(err error, what string) error {
	hint := ""
	switch {
	case graph.IsThrottled(err):
		hint = "Microsoft Graph is throttling or unavailable; the plugin retries at the next check"
	case graph.IsUnauthorized(err):
		hint = "check the tenant ID, client ID and client secret in the plugin settings"
	case graph.IsForbidden(err):
		hint = "grant the app the Chat.Read.All application permission with admin consent, or the tenant's subscription quota is used up"
	case graph.StatusOf(err) == 400:
		hint = "Microsoft Graph must reach the notification URL over public https: check the Site URL and that the plugin is enabled"
	case graph.StatusOf(err) == 409:
		hint = "another subscription of this app for Teams chat messages exists with a different notification URL; delete it or use a separate app registration"
	}
	err = errors.Wrap(err, what)
	if hint != "" {
		err = errors.Wrap(err, hint)
	}
	return err
}

// sharedKey makes r.key the key another Manager keeps; while there is none yet, creation waits for it.
func (r *reconciler) sharedKey(ctx context.Context) error {
	kp, err := r.m.deps.Keys.Current(ctx)
	if err != nil {
		return errors.Wrap(err, "load the rich notification key")
	}
	if kp == nil {
		return errors.New("waiting for the chat subscription to create the rich notification key")
	}
	r.key = kp
	return nil
}

// disabledAndClean says whether this Target is switched off with nothing left to undo: then no node needs to
// lead, and no lease or state is written, so an installation that never turns it on sees no change at all.
func (m *Manager) disabledAndClean(ctx context.Context) (bool, error) {
	if t := m.deps.Target; t.Enabled == nil || t.Enabled() {
		return false, nil
	}
	st, err := m.deps.Store.GetSubscriptionState(ctx, m.deps.Target.StateName)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return nothingToUndo(st), nil
}

func nothingToUndo(st store.SubscriptionState) bool {
	return st.SubscriptionID == "" && st.LastError == "" && st.GapSince.IsZero()
}

// disable deletes the subscription of a Target whose setting is off and forgets it, including when it was last
// good: turning the setting on later starts afresh, without catching up on the time it was off.
func (m *Manager) disable(ctx context.Context, g Graph, prev store.SubscriptionState) error {
	if nothingToUndo(prev) {
		return nil
	}
	if prev.SubscriptionID != "" {
		cctx, cancel := context.WithTimeout(ctx, graphCallTimeout)
		err := g.DeleteSubscription(cctx, prev.SubscriptionID)
		cancel()
		if err != nil && !graph.IsNotFound(err) {
			return errors.Wrap(err, "delete the "+m.deps.Target.Label+" subscription after the setting was turned off")
		}
		m.deps.Logger.LogInfo("Deleted the subscription to "+m.deps.Target.Label+": the setting is off", "subscription_id", prev.SubscriptionID)
	}
	return m.deps.Store.SaveSubscriptionState(ctx, prev, store.SubscriptionState{Name: prev.Name})
}

// waitingForPermission says whether a recent 403 on creation still holds back the next attempt. A changed
// An admin's recreate request tries at once.
func (m *Manager) waitingForPermission(st store.SubscriptionState, now time.Time) bool {
	retry := m.deps.Target.ForbiddenRetry
	if retry <= 0 || st.SubscriptionID != "" || st.RecreateReason != "" || !strings.HasPrefix(st.LastError, PermissionMissingPrefix) {
		return false
	}
	return now.Sub(st.LastErrorAt) < retry
}
