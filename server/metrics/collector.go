package metrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/teamsnotify/msteams-sync/server/store"
)

// Stats is the store access the Collector needs; *store.Store satisfies it.
type Stats interface {
	CountConnectedUsers(ctx context.Context) (int, error)
	CountPendingInvites(ctx context.Context, now time.Time) (int, error)
	CountWhitelist(ctx context.Context) (int, error)
	InboxStats(ctx context.Context) ([]store.InboxQueueStats, error)
	GetSubscriptionState(ctx context.Context, name string) (store.SubscriptionState, error)
}

// Limits are the seat settings exported next to the counts they bound.
type Limits struct {
	ConnectedUsersAllowed int // 0 = unlimited
	MaxPendingInvites     int
}

// CollectorOptions configure a Collector. Only Stats is required.
type CollectorOptions struct {
	Stats Stats
	// Limits returns the live seat settings; optional.
	Limits func() Limits
	// Subscription names the subscription state row (subscription.StateName, "tenant").
	Subscription string
	// Queues are always reported, at zero when empty, so "depth == 0" is a value and not a missing series.
	Queues []string
	// CacheTTL is how long one round of queries serves scrapes (default 15 s): several Prometheus servers or a
	// short scrape interval then cost the database nothing extra.
	CacheTTL time.Duration
	// Timeout bounds one round of queries (default 5 s).
	Timeout time.Duration
	Now     func() time.Time
	// SecretExpiry reads when the client secret expires (graph.Client.GetApplicationSecretExpiry of the current
	// app client); optional. It is called in the background at most every SecretExpiryTTL (default 6 h), never
	// inside a scrape, since it is a Graph call.
	SecretExpiry    func(ctx context.Context) (time.Time, error)
	SecretExpiryTTL time.Duration
}

// Collector reads the plugin's state from the database when Prometheus scrapes. Every node reports the same
// cluster-wide figures (the state is shared), so dashboards should use max() across instances, not sum().
type Collector struct {
	opts CollectorOptions
	m    *Metrics

	connected, limit, invites, invitesLimit, whitelist *prometheus.Desc
	depth, oldestAge, parked                           *prometheus.Desc
	subExpiry, subLastNotification, subActive          *prometheus.Desc
	subLastError, subCreated, subRenewed, statsOK      *prometheus.Desc

	mu      sync.Mutex
	at      time.Time
	metrics []prometheus.Metric

	secretMu       sync.Mutex
	secretAt       time.Time
	secretInFlight bool
	secretKnown    bool
}

// NewCollector builds the collector and registers it with m's registry.
func (m *Metrics) NewCollector(opts CollectorOptions) (*Collector, error) {
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 15 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SecretExpiryTTL <= 0 {
		opts.SecretExpiryTTL = 6 * time.Hour
	}
	if opts.Subscription == "" {
		opts.Subscription = "tenant"
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
	}
	c := &Collector{
		opts:                opts,
		m:                   m,
		connected:           d("connected_users", "Mattermost users with a connected Microsoft account."),
		limit:               d("connected_users_limit", "Seat limit for connected users (0 = unlimited)."),
		invites:             d("pending_invites", "Invitations to connect not yet expired."),
		invitesLimit:        d("pending_invites_limit", "Maximum pending invitations (0 = invitations off)."),
		whitelist:           d("whitelisted_users", "Users on the connection whitelist."),
		depth:               d("inbox_depth", "Inbox items waiting or in progress (not parked), by queue.", "queue"),
		oldestAge:           d("inbox_oldest_item_age_seconds", "Age of the oldest waiting inbox item, by queue (0 when empty).", "queue"),
		parked:              d("inbox_parked_items", "Inbox items parked for an administrator, by queue.", "queue"),
		subExpiry:           d("subscription_expiry_timestamp_seconds", "When the Graph subscription expires (Unix time); 0 when there is none."),
		subLastNotification: d("subscription_last_notification_timestamp_seconds", "When change notifications last arrived on any node (Unix time); 0 when never."),
		subActive:           d("subscription_active", "1 while a Graph subscription exists and has not expired, else 0."),
		subLastError:        d("subscription_last_error_timestamp_seconds", "When managing the subscription last failed (Unix time); 0 when never."),
		subCreated:          d("subscription_created_timestamp_seconds", "When the current Graph subscription was created (Unix time); 0 when there is none."),
		subRenewed:          d("subscription_last_renewed_timestamp_seconds", "When the Graph subscription was last renewed (Unix time); 0 when never."),
		statsOK:             d("store_stats_ok", "1 when the last read of these figures from the database succeeded, else 0."),
	}
	if err := m.reg.Register(c); err != nil {
		return nil, err
	}
	return c, nil
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.connected, c.limit, c.invites, c.invitesLimit, c.whitelist, c.depth,
		c.oldestAge, c.parked, c.subExpiry, c.subLastNotification, c.subActive, c.subLastError, c.subCreated, c.subRenewed, c.statsOK} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it serves the cached round or runs a new one.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	now := c.opts.Now()
	if c.metrics == nil || now.Sub(c.at) >= c.opts.CacheTTL {
		c.metrics = c.read(now)
		c.at = now
	}
	ms := c.metrics
	c.mu.Unlock()
	for _, m := range ms {
		ch <- m
	}
	c.maybeRefreshSecretExpiry(now)
}

// maybeRefreshSecretExpiry starts a background read of the secret's expiry when the last one is stale. A failed
// read keeps the last known expiry (a Graph hiccup must not silence the expiry alert); only when it was never
// known is it reported unknown (typically Application.Read.All is not granted).
func (c *Collector) maybeRefreshSecretExpiry(now time.Time) {
	if c.opts.SecretExpiry == nil {
		return
	}
	c.secretMu.Lock()
	defer c.secretMu.Unlock()
	if c.secretInFlight || (!c.secretAt.IsZero() && now.Sub(c.secretAt) < c.opts.SecretExpiryTTL) {
		return
	}
	c.secretInFlight = true
	c.secretAt = now
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		t, err := c.opts.SecretExpiry(ctx)
		c.secretMu.Lock()
		defer c.secretMu.Unlock()
		c.secretInFlight = false
		switch {
		case err == nil && !t.IsZero():
			c.secretKnown = true
			c.m.SetClientSecretExpiry(t)
		case !c.secretKnown:
			c.m.SetClientSecretExpiry(time.Time{})
		}
	}()
}

// Invalidate makes the next scrape query the database again (after an admin requeued items, say).
func (c *Collector) Invalidate() {
	c.mu.Lock()
	c.metrics = nil
	c.mu.Unlock()
}

func (c *Collector) read(now time.Time) []prometheus.Metric {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	var out []prometheus.Metric
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}
	ts := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return float64(t.Unix())
	}
	ok := true
	s := c.opts.Stats

	if n, err := s.CountConnectedUsers(ctx); err == nil {
		gauge(c.connected, float64(n))
	} else {
		ok = false
	}
	if n, err := s.CountPendingInvites(ctx, now); err == nil {
		gauge(c.invites, float64(n))
	} else {
		ok = false
	}
	if n, err := s.CountWhitelist(ctx); err == nil {
		gauge(c.whitelist, float64(n))
	} else {
		ok = false
	}
	if c.opts.Limits != nil {
		l := c.opts.Limits()
		gauge(c.limit, float64(l.ConnectedUsersAllowed))
		gauge(c.invitesLimit, float64(l.MaxPendingInvites))
	}

	if stats, err := s.InboxStats(ctx); err == nil {
		seen := map[string]bool{}
		for _, q := range stats {
			seen[q.Queue] = true
			age := 0.0
			if q.Depth > 0 && !q.OldestEnqueuedAt.IsZero() {
				age = max(now.Sub(q.OldestEnqueuedAt).Seconds(), 0)
			}
			gauge(c.depth, float64(q.Depth), q.Queue)
			gauge(c.oldestAge, age, q.Queue)
			gauge(c.parked, float64(q.Parked), q.Queue)
		}
		for _, q := range c.opts.Queues {
			if !seen[q] {
				gauge(c.depth, 0, q)
				gauge(c.oldestAge, 0, q)
				gauge(c.parked, 0, q)
			}
		}
	} else {
		ok = false
	}

	st, err := s.GetSubscriptionState(ctx, c.opts.Subscription)
	switch {
	case err == nil || errors.Is(err, store.ErrNotFound):
		active := 0.0
		if st.SubscriptionID != "" && st.ExpiresAt.After(now) {
			active = 1
		}
		gauge(c.subExpiry, ts(st.ExpiresAt))
		gauge(c.subLastNotification, ts(st.LastNotificationAt))
		gauge(c.subActive, active)
		gauge(c.subLastError, ts(st.LastErrorAt))
		gauge(c.subCreated, ts(st.CreatedAt))
		gauge(c.subRenewed, ts(st.LastRenewedAt))
	default:
		ok = false
	}

	if ok {
		gauge(c.statsOK, 1)
	} else {
		gauge(c.statsOK, 0)
	}
	return out
}
