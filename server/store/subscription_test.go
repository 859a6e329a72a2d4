package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

func TestSubscriptionStateRoundTripAndFlags(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	_, err := s.GetSubscriptionState(ctx, "tenant")
	assert.ErrorIs(t, err, store.ErrNotFound)

	ok, err := s.RecordSubscriptionEvent(ctx, "tenant", "sub-1", store.SubscriptionEventRemoved, now)
	require.NoError(t, err)
	assert.False(t, ok, "no row yet")

	first := store.SubscriptionState{Name: "tenant", SubscriptionID: "sub-1", ExpiresAt: now.Add(72 * time.Hour), Fingerprint: "fp",
		CertificateID: "cert-1", CreatedAt: now, LastRenewedAt: now, LastGoodAt: now}
	require.NoError(t, s.SaveSubscriptionState(ctx, store.SubscriptionState{Name: "tenant"}, first))
	got, err := s.GetSubscriptionState(ctx, "tenant")
	require.NoError(t, err)
	got.UpdatedAt = time.Time{}
	assert.Equal(t, first, got)

	// Another node records events while the leader works from what it read before.
	read := got
	ok, err = s.RecordSubscriptionEvent(ctx, "tenant", "sub-1", store.SubscriptionEventReauthorizationRequired, now.Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = s.RecordSubscriptionEvent(ctx, "tenant", "sub-old", store.SubscriptionEventRemoved, now.Add(time.Minute))
	require.NoError(t, err)
	assert.False(t, ok, "events about another subscription are stale")
	ok, err = s.RecordSubscriptionEvent(ctx, "tenant", "sub-1", store.SubscriptionEventMissed, now.Add(2*time.Minute))
	require.NoError(t, err)
	assert.True(t, ok)
	_, err = s.RecordSubscriptionEvent(ctx, "tenant", "sub-1", "bogus", now)
	assert.Error(t, err)

	next := read
	next.LastRenewedAt = now.Add(3 * time.Minute)
	require.NoError(t, s.SaveSubscriptionState(ctx, read, next))
	got, err = s.GetSubscriptionState(ctx, "tenant")
	require.NoError(t, err)
	assert.Equal(t, now.Add(3*time.Minute), got.LastRenewedAt)
	assert.Equal(t, now.Add(time.Minute), got.ReauthorizeRequestedAt, "a flag set after the leader read survives its save")
	assert.Equal(t, now, got.GapSince, "a missed event opens the gap at the last good time")

	// The leader clears the flags it saw.
	cleared := got
	cleared.ReauthorizeRequestedAt, cleared.GapSince = time.Time{}, time.Time{}
	require.NoError(t, s.SaveSubscriptionState(ctx, got, cleared))
	require.NoError(t, s.RequestSubscriptionRecreate(ctx, "tenant", "admin asked"))
	got, err = s.GetSubscriptionState(ctx, "tenant")
	require.NoError(t, err)
	assert.True(t, got.ReauthorizeRequestedAt.IsZero())
	assert.True(t, got.GapSince.IsZero())
	assert.Equal(t, "admin asked", got.RecreateReason)
	assert.Equal(t, "sub-1", got.SubscriptionID)

	require.NoError(t, s.NoteSubscriptionNotification(ctx, "tenant", now.Add(time.Hour)))
	require.NoError(t, s.NoteSubscriptionNotification(ctx, "tenant", now.Add(time.Minute)), "an older time from a slower node")
	require.NoError(t, s.SaveSubscriptionState(ctx, got, got), "the leader saves what it read before")
	got, err = s.GetSubscriptionState(ctx, "tenant")
	require.NoError(t, err)
	assert.Equal(t, now.Add(time.Hour), got.LastNotificationAt, "only moves forward, and leader saves leave it")

	// An event about the subscription arrives while the leader is replacing it: it dies with the old one.
	read = got
	ok, err = s.RecordSubscriptionEvent(ctx, "tenant", "sub-1", store.SubscriptionEventRemoved, now.Add(4*time.Minute))
	require.NoError(t, err)
	require.True(t, ok)
	replaced := read
	replaced.SubscriptionID = "sub-2"
	require.NoError(t, s.SaveSubscriptionState(ctx, read, replaced))
	got, err = s.GetSubscriptionState(ctx, "tenant")
	require.NoError(t, err)
	assert.Equal(t, "sub-2", got.SubscriptionID)
	assert.True(t, got.RemovedAt.IsZero())
}

func TestLeases(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	ok, err := s.AcquireLease(ctx, "subscription", "node-a", now, time.Minute)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = s.AcquireLease(ctx, "subscription", "node-b", now.Add(30*time.Second), time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "held by node-a")
	ok, err = s.AcquireLease(ctx, "subscription", "node-a", now.Add(30*time.Second), time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "the holder extends it")
	l, err := s.GetLease(ctx, "subscription")
	require.NoError(t, err)
	assert.Equal(t, store.Lease{Name: "subscription", Holder: "node-a", ExpiresAt: now.Add(90 * time.Second)}, l)

	ok, err = s.AcquireLease(ctx, "subscription", "node-b", now.Add(90*time.Second), time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "taken over once expired")

	require.NoError(t, s.ReleaseLease(ctx, "subscription", "node-a"), "releasing someone else's lease does nothing")
	ok, err = s.AcquireLease(ctx, "subscription", "node-a", now.Add(100*time.Second), time.Minute)
	require.NoError(t, err)
	assert.False(t, ok)
	require.NoError(t, s.ReleaseLease(ctx, "subscription", "node-b"))
	ok, err = s.AcquireLease(ctx, "subscription", "node-a", now.Add(100*time.Second), time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "released leases are free at once")
}

func TestRichKeys(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	key := func(id string, created, notAfter time.Time) store.RichKey {
		return store.RichKey{ID: id, Thumbprint: "TP-" + id, Certificate: []byte("der-" + id), PrivateKey: []byte("sealed-" + id),
			KeyID: "k1", NotAfter: notAfter, CreatedAt: created}
	}
	require.NoError(t, s.SaveRichKey(ctx, key("old", now, now.Add(time.Hour))))
	require.NoError(t, s.SaveRichKey(ctx, key("new", now.Add(time.Minute), now.Add(2*time.Hour))))
	assert.Error(t, s.SaveRichKey(ctx, key("new", now, now)), "ids are unique")
	assert.Error(t, s.SaveRichKey(ctx, store.RichKey{ID: "x"}), "fields required")

	keys, err := s.ListRichKeys(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	assert.Equal(t, key("new", now.Add(time.Minute), now.Add(2*time.Hour)), keys[0], "newest first")

	removed, err := s.DeleteRichKeysExpiredBefore(ctx, now.Add(3*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, []string{"old"}, removed, "the newest key is always kept")
	keys, err = s.ListRichKeys(ctx)
	require.NoError(t, err)
	assert.Len(t, keys, 1)
}
