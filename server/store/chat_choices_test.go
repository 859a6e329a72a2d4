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

func TestMutedChats(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()

	chats, err := s.ListMutedChats(ctx, "ada")
	require.NoError(t, err)
	assert.Empty(t, chats)

	require.NoError(t, s.MuteChat(ctx, store.MutedChat{MMUserID: "ada", ChatID: "c2", Title: "Project", MutedAt: now.Add(time.Minute)}))
	require.NoError(t, s.MuteChat(ctx, store.MutedChat{MMUserID: "ada", ChatID: "c1", Title: "Bob", MutedAt: now}))
	require.NoError(t, s.MuteChat(ctx, store.MutedChat{MMUserID: "bob", ChatID: "c1", Title: "Ada", MutedAt: now}))
	// Muting again renames and keeps the first time, so the list's order holds.
	require.NoError(t, s.MuteChat(ctx, store.MutedChat{MMUserID: "ada", ChatID: "c1", Title: "Bob Brown", MutedAt: now.Add(time.Hour)}))
	require.Error(t, s.MuteChat(ctx, store.MutedChat{MMUserID: "ada", MutedAt: now}), "a chat is required")

	chats, err = s.ListMutedChats(ctx, "ada")
	require.NoError(t, err)
	assert.Equal(t, []store.MutedChat{
		{MMUserID: "ada", ChatID: "c1", Title: "Bob Brown", MutedAt: now},
		{MMUserID: "ada", ChatID: "c2", Title: "Project", MutedAt: now.Add(time.Minute)},
	}, chats, "oldest first")

	ok, err := s.UnmuteChat(ctx, "ada", "c1")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = s.UnmuteChat(ctx, "ada", "c1")
	require.NoError(t, err)
	assert.False(t, ok, "not muted any more")

	n, err := s.UnmuteAllChats(ctx, "ada")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	chats, err = s.ListMutedChats(ctx, "ada")
	require.NoError(t, err)
	assert.Empty(t, chats)
	chats, err = s.ListMutedChats(ctx, "bob")
	require.NoError(t, err)
	assert.Len(t, chats, 1, "other users' choices stay")
}

func TestMessageMode(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()

	mode, err := s.GetMessageMode(ctx, "ada")
	require.NoError(t, err)
	assert.Equal(t, store.ModeAll, mode, "a user who never connected")
	require.ErrorIs(t, s.SetMessageMode(ctx, "ada", store.ModeMentions), store.ErrNotFound)

	require.NoError(t, s.SaveConnection(ctx, connection("ada", "t-ada")))
	mode, err = s.GetMessageMode(ctx, "ada")
	require.NoError(t, err)
	assert.Equal(t, store.ModeAll, mode, "the default")
	require.NoError(t, s.SetMessageMode(ctx, "ada", store.ModeMentions))
	mode, err = s.GetMessageMode(ctx, "ada")
	require.NoError(t, err)
	assert.Equal(t, store.ModeMentions, mode)
	require.Error(t, s.SetMessageMode(ctx, "ada", "some"), "unknown modes are refused")

	// Reconnecting keeps the choice.
	require.NoError(t, s.DisconnectUser(ctx, "ada", now))
	require.NoError(t, s.SaveConnection(ctx, connection("ada", "t-ada")))
	mode, err = s.GetMessageMode(ctx, "ada")
	require.NoError(t, err)
	assert.Equal(t, store.ModeMentions, mode)
}

func TestChatChoices(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	for _, u := range []string{"ada", "bob", "cy"} {
		require.NoError(t, s.SaveConnection(ctx, connection(u, "t-"+u)))
	}
	require.NoError(t, s.SetMessageMode(ctx, "bob", store.ModeMentions))
	require.NoError(t, s.MuteChat(ctx, store.MutedChat{MMUserID: "ada", ChatID: "c1", MutedAt: now}))
	require.NoError(t, s.MuteChat(ctx, store.MutedChat{MMUserID: "cy", ChatID: "c2", MutedAt: now}))

	got, err := s.ChatChoices(ctx, "c1", []string{"ada", "bob", "cy", "nobody"})
	require.NoError(t, err)
	assert.Equal(t, map[string]store.ChatChoice{
		"ada": {Muted: true, Mode: store.ModeAll},
		"bob": {Muted: false, Mode: store.ModeMentions},
		"cy":  {Muted: false, Mode: store.ModeAll},
	}, got, "muting another chat does not count; unknown users are absent")

	got, err = s.ChatChoices(ctx, "c1", nil)
	require.NoError(t, err)
	assert.Empty(t, got)
}
