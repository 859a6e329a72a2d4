package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

func connection(mm, teams string) store.Connection {
	return store.Connection{
		MMUserID:    mm,
		TeamsUserID: teams,
		TeamsEmail:  mm + "@example.com",
		Token:       []byte("sealed-" + mm),
		TokenKeyID:  "key1",
		TokenExpiry: now.Add(time.Hour),
		ConnectedAt: now,
	}
}

func TestSaveConnectionAndGetUser(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()

	require.NoError(t, s.SaveConnection(ctx, connection("alice", "teams-alice")))

	want := store.User{
		MMUserID: "alice", TeamsUserID: "teams-alice", TeamsEmail: "alice@example.com",
		Token: []byte("sealed-alice"), TokenKeyID: "key1", TokenExpiry: now.Add(time.Hour), ConnectedAt: now,
	}
	got, err := s.GetUser(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.True(t, got.Connected())

	got, err = s.GetUserByTeamsID(ctx, "teams-alice")
	require.NoError(t, err)
	assert.Equal(t, want, got)

	_, err = s.GetUser(ctx, "nobody")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetUserByTeamsID(ctx, "nobody")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestSaveConnectionValidates(t *testing.T) {
	s := storetest.NewStore(t)
	for name, mutate := range map[string]func(*store.Connection){
		"no mm user":      func(c *store.Connection) { c.MMUserID = "" },
		"no teams user":   func(c *store.Connection) { c.TeamsUserID = "" },
		"no token":        func(c *store.Connection) { c.Token = nil },
		"no key id":       func(c *store.Connection) { c.TokenKeyID = "" },
		"no connect time": func(c *store.Connection) { c.ConnectedAt = time.Time{} },
	} {
		c := connection("alice", "teams-alice")
		mutate(&c)
		assert.Error(t, s.SaveConnection(context.Background(), c), name)
	}
}

func TestAMicrosoftAccountLinksToOneMattermostUser(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	require.NoError(t, s.SaveConnection(ctx, connection("alice", "teams-x")))

	err := s.SaveConnection(ctx, connection("bob", "teams-x"))
	assert.ErrorIs(t, err, store.ErrTeamsUserLinked)

	// Still linked while disconnected: the mapping outlives the token.
	require.NoError(t, s.DisconnectUser(ctx, "alice", now))
	assert.ErrorIs(t, s.SaveConnection(ctx, connection("bob", "teams-x")), store.ErrTeamsUserLinked)

	// Deleting the row frees the account.
	require.NoError(t, s.DeleteUser(ctx, "alice"))
	assert.NoError(t, s.SaveConnection(ctx, connection("bob", "teams-x")))
}

func TestReconnectRenewsTheConnectionAndKeepsDeliveryProgress(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	require.NoError(t, s.SaveConnection(ctx, connection("alice", "teams-a")))
	require.NoError(t, s.SetLastDeliveredAt(ctx, "alice", now.Add(time.Minute)))
	require.NoError(t, s.DisconnectUser(ctx, "alice", now.Add(2*time.Minute)))

	c := connection("alice", "teams-a2") // a different Microsoft account this time
	c.Token, c.TokenKeyID, c.ConnectedAt = []byte("new"), "key2", now.Add(3*time.Minute)
	require.NoError(t, s.SaveConnection(ctx, c))

	got, err := s.GetUser(ctx, "alice")
	require.NoError(t, err)
	assert.True(t, got.Connected())
	assert.Equal(t, "teams-a2", got.TeamsUserID)
	assert.Equal(t, []byte("new"), got.Token)
	assert.Equal(t, "key2", got.TokenKeyID)
	assert.Equal(t, now.Add(3*time.Minute), got.ConnectedAt)
	assert.True(t, got.DisconnectedAt.IsZero())
	assert.Equal(t, now.Add(time.Minute), got.LastDeliveredAt)
}

func TestDisconnectUser(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	require.NoError(t, s.SaveConnection(ctx, connection("alice", "teams-a")))

	require.NoError(t, s.DisconnectUser(ctx, "alice", now.Add(time.Hour)))
	require.NoError(t, s.DisconnectUser(ctx, "alice", now.Add(2*time.Hour)))
	got, err := s.GetUser(ctx, "alice")
	require.NoError(t, err)
	assert.False(t, got.Connected())
	assert.Nil(t, got.Token)
	assert.Empty(t, got.TokenKeyID)
	assert.True(t, got.TokenExpiry.IsZero())
	assert.Equal(t, now.Add(time.Hour), got.DisconnectedAt, "the first disconnection time is kept")
	assert.Equal(t, "teams-a", got.TeamsUserID)

	assert.ErrorIs(t, s.DisconnectUser(ctx, "nobody", now), store.ErrNotFound)
}

func TestDeleteUser(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	require.NoError(t, s.SaveConnection(ctx, connection("alice", "teams-a")))
	require.NoError(t, s.DeleteUser(ctx, "alice"))
	_, err := s.GetUser(ctx, "alice")
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.ErrorIs(t, s.DeleteUser(ctx, "alice"), store.ErrNotFound)
}

func TestUpdateUserToken(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	require.NoError(t, s.SaveConnection(ctx, connection("alice", "teams-a")))

	require.NoError(t, s.UpdateUserToken(ctx, "alice", []byte("refreshed"), "key2", now.Add(2*time.Hour)))
	got, err := s.GetUser(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, []byte("refreshed"), got.Token)
	assert.Equal(t, "key2", got.TokenKeyID)
	assert.Equal(t, now.Add(2*time.Hour), got.TokenExpiry)

	require.NoError(t, s.UpdateUserToken(ctx, "alice", []byte("no-expiry"), "key2", time.Time{}))
	got, err = s.GetUser(ctx, "alice")
	require.NoError(t, err)
	assert.True(t, got.TokenExpiry.IsZero())

	assert.Error(t, s.UpdateUserToken(ctx, "alice", nil, "key2", now))
	assert.ErrorIs(t, s.UpdateUserToken(ctx, "nobody", []byte("t"), "key2", now), store.ErrNotFound)

	// A refresh finishing after the user disconnected must not reconnect them.
	require.NoError(t, s.DisconnectUser(ctx, "alice", now))
	assert.ErrorIs(t, s.UpdateUserToken(ctx, "alice", []byte("late"), "key2", now), store.ErrNotFound)
	got, err = s.GetUser(ctx, "alice")
	require.NoError(t, err)
	assert.False(t, got.Connected())
}

func TestSetLastDeliveredAtNeverMovesBackwards(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	require.NoError(t, s.SaveConnection(ctx, connection("alice", "teams-a")))

	require.NoError(t, s.SetLastDeliveredAt(ctx, "alice", now.Add(time.Hour)))
	require.NoError(t, s.SetLastDeliveredAt(ctx, "alice", now))
	got, err := s.GetUser(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, now.Add(time.Hour), got.LastDeliveredAt)

	require.NoError(t, s.SetLastDeliveredAt(ctx, "alice", now.Add(2*time.Hour)))
	got, err = s.GetUser(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, now.Add(2*time.Hour), got.LastDeliveredAt)

	assert.ErrorIs(t, s.SetLastDeliveredAt(ctx, "nobody", now), store.ErrNotFound)
}

func TestListAndCountConnectedUsers(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	for i := range 7 {
		require.NoError(t, s.SaveConnection(ctx, connection(fmt.Sprintf("user%d", i), fmt.Sprintf("teams%d", i))))
	}
	require.NoError(t, s.DisconnectUser(ctx, "user3", now))

	n, err := s.CountConnectedUsers(ctx)
	require.NoError(t, err)
	assert.Equal(t, 6, n)

	var pages [][]string
	after := ""
	for {
		page, err := s.ListConnectedUsers(ctx, after, 4)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		var ids []string
		for _, u := range page {
			assert.True(t, u.Connected())
			ids = append(ids, u.MMUserID)
		}
		pages = append(pages, ids)
		after = page[len(page)-1].MMUserID
	}
	assert.Equal(t, [][]string{{"user0", "user1", "user2", "user4"}, {"user5", "user6"}}, pages)

	_, err = s.ListConnectedUsers(ctx, "", 0)
	assert.Error(t, err)
}

func TestGetUsersByTeamsIDs(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	require.NoError(t, s.SaveConnection(ctx, connection("alice", "teams-a")))
	require.NoError(t, s.SaveConnection(ctx, connection("bob", "teams-b")))
	require.NoError(t, s.DisconnectUser(ctx, "bob", now))

	got, err := s.GetUsersByTeamsIDs(ctx, []string{"teams-a", "teams-b", "teams-unknown"})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "alice", got["teams-a"].MMUserID)
	assert.True(t, got["teams-a"].Connected())
	assert.Equal(t, "bob", got["teams-b"].MMUserID)
	assert.False(t, got["teams-b"].Connected(), "disconnected users are mapped but not connected")

	got, err = s.GetUsersByTeamsIDs(ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestAdvanceLastDeliveredAtMovesManyUsersForwardOnly(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	require.NoError(t, s.SaveConnection(ctx, connection("alice", "teams-a")))
	require.NoError(t, s.SaveConnection(ctx, connection("bob", "teams-b")))
	require.NoError(t, s.SetLastDeliveredAt(ctx, "alice", now.Add(time.Hour)))

	require.NoError(t, s.AdvanceLastDeliveredAt(ctx, map[string]time.Time{
		"alice":  now,                    // older than what is stored: kept as is
		"bob":    now.Add(time.Minute),   // first time
		"nobody": now.Add(2 * time.Hour), // no such user: ignored
	}))

	alice, err := s.GetUser(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, now.Add(time.Hour), alice.LastDeliveredAt)
	bob, err := s.GetUser(ctx, "bob")
	require.NoError(t, err)
	assert.Equal(t, now.Add(time.Minute), bob.LastDeliveredAt)
	require.NoError(t, s.AdvanceLastDeliveredAt(ctx, nil))
}
