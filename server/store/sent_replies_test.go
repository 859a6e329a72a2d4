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

// A reply is reserved once: a second attempt learns what the first recorded, and a sent reply stays sent.
func TestReplyIsReservedOnceAndMarkedSent(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	r := store.SentReply{PostID: "post1", ChatID: "19:chat@thread.v2", MMUserID: "alice", ReservedAt: now}

	got, fresh, err := s.ReserveReply(ctx, r)
	require.NoError(t, err)
	assert.True(t, fresh)
	assert.Equal(t, store.ReplySending, got.State)

	again, fresh, err := s.ReserveReply(ctx, store.SentReply{PostID: "post1", ChatID: r.ChatID, MMUserID: "alice", ReservedAt: now.Add(time.Minute)})
	require.NoError(t, err)
	assert.False(t, fresh, "an earlier attempt reserved it")
	assert.Equal(t, store.ReplySending, again.State)
	assert.True(t, again.ReservedAt.Equal(now), "the first reservation's time is kept")

	require.NoError(t, s.MarkReplySent(ctx, "post1", "1700000000000", now.Add(time.Second)))
	again, fresh, err = s.ReserveReply(ctx, r)
	require.NoError(t, err)
	assert.False(t, fresh)
	assert.Equal(t, store.ReplySent, again.State)
	assert.Equal(t, "1700000000000", again.TeamsMessageID)

	require.NoError(t, s.ForgetReply(ctx, "post1"))
	_, fresh, err = s.ReserveReply(ctx, r)
	require.NoError(t, err)
	assert.True(t, fresh, "a forgotten reply can be reserved again")

	_, _, err = s.ReserveReply(ctx, store.SentReply{PostID: "old", ChatID: r.ChatID, MMUserID: "bob", ReservedAt: now.Add(-40 * 24 * time.Hour)})
	require.NoError(t, err)
	n, err := s.DeleteSentRepliesBefore(ctx, now.Add(-30*24*time.Hour))
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "only the old record goes")
}
