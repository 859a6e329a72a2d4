package metrics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/metrics"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

func TestCollectorReportsStoreFiguresAndCachesThem(t *testing.T) {
	ctx := context.Background()
	st := storetest.NewStore(t)
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	clock := now

	for i, id := range []string{"mm-user-1", "mm-user-2"} {
		require.NoError(t, st.SaveConnection(ctx, store.Connection{MMUserID: id, TeamsUserID: []string{aliceID, bobID}[i],
			Token: []byte("sealed"), TokenKeyID: "k1", ConnectedAt: now}))
	}
	require.NoError(t, st.ReplaceWhitelist(ctx, []string{"mm-user-1", "mm-user-2", "mm-user-3"}, now))
	require.NoError(t, st.CreateInvite(ctx, store.Invite{MMUserID: "mm-user-4", InvitedAt: now, LastSentAt: now, ExpiresAt: now.Add(24 * time.Hour)}))
	require.NoError(t, st.EnqueueInbox(ctx, []store.InboxItem{
		{Queue: inbox.QueueChanges, Payload: []byte(`{}`), EnqueuedAt: now.Add(-90 * time.Second)},
		{Queue: inbox.QueueChanges, Payload: []byte(`{}`), EnqueuedAt: now.Add(-30 * time.Second)},
	}))
	prev := store.SubscriptionState{Name: "tenant"}
	next := prev
	next.SubscriptionID, next.ExpiresAt = "sub-1", now.Add(2*time.Hour)
	next.CreatedAt, next.LastRenewedAt = now.Add(-48*time.Hour), now.Add(-time.Hour)
	require.NoError(t, st.SaveSubscriptionState(ctx, prev, next))
	require.NoError(t, st.NoteSubscriptionNotification(ctx, "tenant", now.Add(-time.Minute)))

	m := metrics.New("test")
	c, err := m.NewCollector(metrics.CollectorOptions{
		Stats:  st,
		Limits: func() metrics.Limits { return metrics.Limits{ConnectedUsersAllowed: 50, MaxPendingInvites: 5} },
		Queues: []string{inbox.QueueChanges, inbox.QueueAttachments},
		Now:    func() time.Time { return clock },
	})
	require.NoError(t, err)

	fams := scrape(t, m)
	assert.Equal(t, 2.0, mustValue(t, fams, "msteams_notify_connected_users", nil))
	assert.Equal(t, 50.0, mustValue(t, fams, "msteams_notify_connected_users_limit", nil))
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_pending_invites", nil))
	assert.Equal(t, 5.0, mustValue(t, fams, "msteams_notify_pending_invites_limit", nil))
	assert.Equal(t, 3.0, mustValue(t, fams, "msteams_notify_whitelisted_users", nil))
	assert.Equal(t, 2.0, mustValue(t, fams, "msteams_notify_inbox_depth", map[string]string{"queue": "changes"}))
	assert.Equal(t, 90.0, mustValue(t, fams, "msteams_notify_inbox_oldest_item_age_seconds", map[string]string{"queue": "changes"}))
	assert.Equal(t, 0.0, mustValue(t, fams, "msteams_notify_inbox_depth", map[string]string{"queue": "attachments"}), "known queues are reported at zero")
	assert.Equal(t, float64(now.Add(2*time.Hour).Unix()), mustValue(t, fams, "msteams_notify_subscription_expiry_timestamp_seconds", nil))
	assert.Equal(t, float64(now.Add(-time.Minute).Unix()), mustValue(t, fams, "msteams_notify_subscription_last_notification_timestamp_seconds", nil))
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_subscription_active", nil))
	assert.Equal(t, float64(now.Add(-48*time.Hour).Unix()), mustValue(t, fams, "msteams_notify_subscription_created_timestamp_seconds", nil))
	assert.Equal(t, float64(now.Add(-time.Hour).Unix()), mustValue(t, fams, "msteams_notify_subscription_last_renewed_timestamp_seconds", nil))
	assert.Equal(t, 0.0, mustValue(t, fams, "msteams_notify_subscription_last_error_timestamp_seconds", nil))
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_store_stats_ok", nil))

	// Within the cache TTL a scrape does not query again: a new item is not seen yet.
	require.NoError(t, st.EnqueueInbox(ctx, []store.InboxItem{{Queue: inbox.QueueChanges, Payload: []byte(`{}`), EnqueuedAt: now}}))
	clock = now.Add(5 * time.Second)
	assert.Equal(t, 2.0, mustValue(t, scrape(t, m), "msteams_notify_inbox_depth", map[string]string{"queue": "changes"}))
	clock = now.Add(20 * time.Second)
	assert.Equal(t, 3.0, mustValue(t, scrape(t, m), "msteams_notify_inbox_depth", map[string]string{"queue": "changes"}))

	// An expired subscription is not active; Invalidate forces a fresh read at once.
	clock = now.Add(3 * time.Hour)
	c.Invalidate()
	fams = scrape(t, m)
	assert.Equal(t, 0.0, mustValue(t, fams, "msteams_notify_subscription_active", nil))
	assert.Equal(t, 3*3600.0+90, mustValue(t, fams, "msteams_notify_inbox_oldest_item_age_seconds", map[string]string{"queue": "changes"}))
}

func TestCollectorReportsFailureWithoutFailingTheScrape(t *testing.T) {
	st := storetest.NewStore(t)
	m := metrics.New("test")
	_, err := m.NewCollector(metrics.CollectorOptions{Stats: st})
	require.NoError(t, err)
	st.Close() // every query now fails

	fams := scrape(t, m)
	assert.Equal(t, 0.0, mustValue(t, fams, "msteams_notify_store_stats_ok", nil))
	_, ok := value(fams, "msteams_notify_connected_users", nil)
	assert.False(t, ok, "a figure that could not be read is absent, not zero")
	_, ok = value(fams, "msteams_notify_plugin_info", map[string]string{"version": "test"})
	assert.True(t, ok, "the rest of the plugin's metrics are still served")
}

// parkingHandler parks jobs whose payload is "park" and completes the others.
type parkingHandler struct{ done chan string }

func (h parkingHandler) Process(_ context.Context, job inbox.Job) error {
	defer func() { h.done <- string(job.Payload) }()
	if string(job.Payload) == `"park"` {
		return inbox.Park(errors.New("chat not readable"))
	}
	return nil
}

func TestInboxRunnerReportsProcessedAndParkedJobsAndTheParkedGauge(t *testing.T) {
	ctx := context.Background()
	st := storetest.NewStore(t)
	m := metrics.New("test")
	_, err := m.NewCollector(metrics.CollectorOptions{Stats: st, CacheTTL: time.Nanosecond})
	require.NoError(t, err)

	h := parkingHandler{done: make(chan string, 4)}
	r, err := inbox.NewRunner(st, inbox.Options{
		Queues:  []inbox.QueueOptions{{Name: inbox.QueueChanges, Handler: h, Workers: 1}},
		Metrics: m,
	})
	require.NoError(t, err)
	for _, p := range []string{"ok", "park", "ok"} {
		require.NoError(t, inbox.Enqueue(ctx, r, inbox.QueueChanges, "", p))
	}
	require.NoError(t, r.Start(ctx))
	for range 3 {
		<-h.done
	}
	// The runner records the outcome after the handler returns; wait until it has, then stop.
	require.Eventually(t, func() bool {
		v, _ := value(scrape(t, m), "msteams_notify_inbox_jobs_parked_total", map[string]string{"queue": "changes"})
		p, _ := value(scrape(t, m), "msteams_notify_inbox_jobs_processed_total", map[string]string{"queue": "changes"})
		return v == 1 && p == 2
	}, 10*time.Second, 20*time.Millisecond)
	r.Stop()

	fams := scrape(t, m)
	assert.Equal(t, 2.0, mustValue(t, fams, "msteams_notify_inbox_job_latency_seconds", map[string]string{"queue": "changes"}))
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_inbox_parked_items", map[string]string{"queue": "changes"}))
	assert.Equal(t, 0.0, mustValue(t, fams, "msteams_notify_inbox_depth", map[string]string{"queue": "changes"}))
}

func TestDBTracerNamesQueriesAndCountsOutcomes(t *testing.T) {
	ctx := context.Background()
	m := metrics.New("test")
	cfg, err := pgx.ParseConfig(storetest.NewDatabase(t))
	require.NoError(t, err)
	cfg.Tracer = m.DBTracer()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	defer conn.Close(ctx)

	_, err = conn.Exec(ctx, `CREATE TABLE msteamsnotify_probe (id int)`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `INSERT INTO msteamsnotify_probe (id) VALUES ($1)`, 1)
	require.NoError(t, err)
	var n int
	require.NoError(t, conn.QueryRow(ctx, "-- name: CountProbes\nSELECT count(*) FROM msteamsnotify_probe").Scan(&n))
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM msteamsnotify_probe").Scan(&n))
	_, err = conn.Exec(ctx, `SELECT * FROM msteamsnotify_missing`)
	require.Error(t, err)

	fams := scrape(t, m)
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_db_queries_total", map[string]string{"query": "insert msteamsnotify_probe", "outcome": "ok"}))
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_db_queries_total", map[string]string{"query": "CountProbes", "outcome": "ok"}))
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_db_queries_total", map[string]string{"query": "select msteamsnotify_probe", "outcome": "ok"}))
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_db_queries_total", map[string]string{"query": "select msteamsnotify_missing", "outcome": "error"}))
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_db_query_duration_seconds", map[string]string{"query": "CountProbes"}))
}

func TestQueryNames(t *testing.T) {
	for sql, want := range map[string]string{
		"SELECT pg_advisory_xact_lock($1)":                                          "select pg_advisory_xact_lock",
		"/* ClaimInbox */ UPDATE msteamsnotify_inbox SET x = 1":                     "ClaimInbox",
		"-- why this lock\nWITH due AS (SELECT id FROM msteamsnotify_inbox) DELETE": "with msteamsnotify_inbox",
		"  begin": "begin",
		"":        "other",
		"DELETE FROM MSTEAMSNOTIFY_USERS WHERE mm_user_id = 'abc'": "delete msteamsnotify_users",
	} {
		assert.Equal(t, want, metrics.QueryName(sql), sql)
	}
}
