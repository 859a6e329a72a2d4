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

func TestInvites(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	week := 7 * 24 * time.Hour

	require.NoError(t, s.CreateInvite(ctx, store.Invite{MMUserID: "alice", InvitedAt: now, ExpiresAt: now.Add(week)}))
	got, err := s.GetInvite(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, store.Invite{MMUserID: "alice", InvitedAt: now, LastSentAt: now, ExpiresAt: now.Add(week)}, got,
		"LastSentAt defaults to InvitedAt")

	// Sending again keeps the first invitation time.
	later := now.Add(2 * 24 * time.Hour)
	require.NoError(t, s.CreateInvite(ctx, store.Invite{MMUserID: "alice", InvitedAt: later, LastSentAt: later, ExpiresAt: later.Add(week)}))
	got, err = s.GetInvite(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, store.Invite{MMUserID: "alice", InvitedAt: now, LastSentAt: later, ExpiresAt: later.Add(week)}, got)

	_, err = s.GetInvite(ctx, "nobody")
	assert.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, s.DeleteInvite(ctx, "alice"))
	_, err = s.GetInvite(ctx, "alice")
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.NoError(t, s.DeleteInvite(ctx, "alice"), "deleting a missing invite is fine")

	assert.Error(t, s.CreateInvite(ctx, store.Invite{MMUserID: "bob", InvitedAt: now}), "expiry required")
}

func TestPendingAndExpiredInvites(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	for id, expires := range map[string]time.Time{
		"a": now.Add(-time.Hour), "b": now, "c": now.Add(time.Hour), "d": now.Add(2 * time.Hour),
	} {
		require.NoError(t, s.CreateInvite(ctx, store.Invite{MMUserID: id, InvitedAt: expires.Add(-24 * time.Hour), ExpiresAt: expires}))
	}

	n, err := s.CountPendingInvites(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "an invite expiring exactly now no longer counts")

	pending, err := s.ListPendingInvites(ctx, now)
	require.NoError(t, err)
	require.Len(t, pending, 2)
	assert.Equal(t, "c", pending[0].MMUserID)
	assert.Equal(t, "d", pending[1].MMUserID)

	purged, err := s.PurgeExpiredInvites(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, int64(2), purged)
	_, err = s.GetInvite(ctx, "a")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetInvite(ctx, "c")
	assert.NoError(t, err)
}
