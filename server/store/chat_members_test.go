package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

func TestChatMembersVersionChangesWithEveryMembershipChangeAndIsNeverReused(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	const chat, other = "19:chat@thread.v2", "19:other@thread.v2"

	v, err := s.ChatMembersVersion(ctx, chat)
	require.NoError(t, err)
	assert.Zero(t, v, "no change recorded yet")

	first, err := s.ChatMembersChanged(ctx, chat)
	require.NoError(t, err)
	v, err = s.ChatMembersVersion(ctx, chat)
	require.NoError(t, err)
	assert.Equal(t, first, v)
	assert.NotZero(t, v)

	second, err := s.ChatMembersChanged(ctx, chat)
	require.NoError(t, err)
	assert.NotEqual(t, first, second)
	v, err = s.ChatMembersVersion(ctx, other)
	require.NoError(t, err)
	assert.Zero(t, v, "other chats are not affected")

	n, err := s.DeleteChatMembersBefore(ctx, time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	v, err = s.ChatMembersVersion(ctx, chat)
	require.NoError(t, err)
	assert.Zero(t, v)
	third, err := s.ChatMembersChanged(ctx, chat)
	require.NoError(t, err)
	assert.NotContains(t, []int64{0, first, second}, third, "a version is never handed out twice")
}
