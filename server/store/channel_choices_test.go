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

func TestChannelChoices(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	connect := func(mm, teams string) {
		require.NoError(t, s.SaveConnection(ctx, store.Connection{MMUserID: mm, TeamsUserID: teams, Token: []byte("sealed"), TokenKeyID: "k", ConnectedAt: now}))
	}
	connect("ada", "t-ada")
	connect("bob", "t-bob")
	connect("cy", "t-cy")

	c, err := s.GetChannelChoice(ctx, "ada")
	require.NoError(t, err)
	assert.Equal(t, store.DefaultChannelChoice, c, "personal mentions and thread replies by default")
	c, err = s.GetChannelChoice(ctx, "nobody")
	require.NoError(t, err)
	assert.Equal(t, store.DefaultChannelChoice, c)

	require.NoError(t, s.SetChannelGroupMentions(ctx, "ada", true))
	require.NoError(t, s.SetChannelThreadReplies(ctx, "ada", false))
	require.NoError(t, s.SetChannelGroupMentions(ctx, "cy", true))
	require.ErrorIs(t, s.SetChannelGroupMentions(ctx, "nobody", true), store.ErrNotFound)
	require.ErrorIs(t, s.SetChannelThreadReplies(ctx, "nobody", true), store.ErrNotFound)
	c, err = s.GetChannelChoice(ctx, "ada")
	require.NoError(t, err)
	assert.Equal(t, store.ChannelChoice{GroupMentions: true}, c)

	// A disconnected user hears nothing, whatever they chose.
	require.NoError(t, s.DisconnectUser(ctx, "cy", now.Add(time.Hour)))

	got, err := s.ChannelListeners(ctx, []string{"t-ada", "t-bob", "t-cy", "t-unknown"})
	require.NoError(t, err)
	assert.Equal(t, map[string]store.ChannelListener{
		"t-ada": {MMUserID: "ada", TeamsUserID: "t-ada", ChannelChoice: store.ChannelChoice{GroupMentions: true}},
		"t-bob": {MMUserID: "bob", TeamsUserID: "t-bob", ChannelChoice: store.DefaultChannelChoice},
	}, got)
	got, err = s.ChannelListeners(ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, got)

	group, err := s.ChannelGroupListeners(ctx)
	require.NoError(t, err)
	assert.Equal(t, []store.ChannelListener{{MMUserID: "ada", TeamsUserID: "t-ada", ChannelChoice: store.ChannelChoice{GroupMentions: true}}}, group)
}
