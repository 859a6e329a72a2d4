package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

func TestReplyThreadsOneRowPerChatAndUserNewestWins(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	const chat, other = "19:chat@thread.v2", "19:other@thread.v2"

	got, err := s.ReplyThreads(ctx, chat, []string{"alice", "bob"})
	require.NoError(t, err)
	assert.Empty(t, got)

	require.NoError(t, s.SaveReplyThread(ctx, chat, "alice", "root-1", now))
	require.NoError(t, s.SaveReplyThread(ctx, chat, "alice", "root-2", now.Add(time.Minute)))
	require.NoError(t, s.SaveReplyThread(ctx, chat, "bob", "root-b", now))
	require.NoError(t, s.SaveReplyThread(ctx, other, "carol", "root-c", now))

	got, err = s.ReplyThreads(ctx, chat, []string{"alice", "bob", "carol"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"alice": "root-2", "bob": "root-b"}, got, "carol answered another chat")

	got, err = s.ReplyThreads(ctx, chat, nil)
	require.NoError(t, err)
	assert.Empty(t, got)

	// Forgetting a thread that was replaced meanwhile keeps the newer one.
	require.NoError(t, s.ForgetReplyThread(ctx, chat, "alice", "root-1"))
	require.NoError(t, s.ForgetReplyThread(ctx, chat, "bob", "root-b"))
	got, err = s.ReplyThreads(ctx, chat, []string{"alice", "bob"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"alice": "root-2"}, got)

	n, err := s.DeleteReplyThreadsBefore(ctx, now.Add(30*time.Second))
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "carol's thread is older")
	got, err = s.ReplyThreads(ctx, other, []string{"carol"})
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestReplyConsentIsAskedOnceEvenAcrossReconnects(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()

	first, err := s.MarkReplyConsentAsked(ctx, "alice", now)
	require.NoError(t, err)
	assert.False(t, first, "not a connected user")

	require.NoError(t, s.SaveConnection(ctx, connection("alice", "teams-alice")))
	asked, err := s.ReplyConsentAsked(ctx, "alice")
	require.NoError(t, err)
	assert.False(t, asked)

	first, err = s.MarkReplyConsentAsked(ctx, "alice", now)
	require.NoError(t, err)
	assert.True(t, first)
	first, err = s.MarkReplyConsentAsked(ctx, "alice", now.Add(time.Hour))
	require.NoError(t, err)
	assert.False(t, first, "asked once")

	require.NoError(t, s.SaveConnection(ctx, connection("alice", "teams-alice")))
	asked, err = s.ReplyConsentAsked(ctx, "alice")
	require.NoError(t, err)
	assert.True(t, asked, "a reconnect keeps the record")
}
