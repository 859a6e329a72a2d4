package channeldelivery

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/command"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

func TestChannelsCommand(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := context.Background()
	require.NoError(t, st.SaveConnection(ctx, store.Connection{MMUserID: "ada", TeamsUserID: "t-ada", Token: []byte("sealed"), TokenKeyID: "k", ConnectedAt: time.Now()}))
	subs := Subcommands(st)
	require.Len(t, subs, 1)
	require.Equal(t, "channels", subs[0].Name)
	run := func(user string, args ...string) string {
		out, err := subs[0].Run(ctx, command.Call{UserID: user, Args: args})
		require.NoError(t, err)
		return out
	}

	out := run("ada")
	assert.Contains(t, out, "tag you are in: **off**")
	assert.Contains(t, out, "replied in: **on**")

	out = run("ada", "mentions", "all")
	assert.Contains(t, out, "tag you are in: **on**")
	out = run("ada", "Replies", "OFF")
	assert.Contains(t, out, "replied in: **off**")
	c, err := st.GetChannelChoice(ctx, "ada")
	require.NoError(t, err)
	assert.Equal(t, store.ChannelChoice{GroupMentions: true}, c)

	run("ada", "mentions", "personal")
	c, err = st.GetChannelChoice(ctx, "ada")
	require.NoError(t, err)
	assert.False(t, c.GroupMentions)

	assert.Contains(t, run("ada", "mentions", "some"), "Use `/msteams channels")
	assert.Contains(t, run("ada", "replies"), "Use `/msteams channels")
	assert.Contains(t, run("nobody", "replies", "on"), "/msteams connect")
}
