package command

import (
	"context"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/connect"
	"github.com/teamsnotify/msteams-sync/server/connect/connectenv"
)

// TestCommandsOnTheRealService runs the user's whole journey against the real connection service.
func TestCommandsOnTheRealService(t *testing.T) {
	env := connectenv.New(t)
	h := New(env.Service, env.MM, &logger{})
	run := func(line string) string {
		h.Execute(context.Background(), &model.CommandArgs{UserId: "u1", ChannelId: "town-square", Command: line})
		var last string
		for _, p := range env.MM.Ephemerals("u1") {
			last = p
		}
		return last
	}
	env.MM.AddUser("u1", "ada@contoso.com")
	env.AddAccount("ms-u1", "ada@contoso.com")

	assert.Contains(t, run("/msteams status"), "not connected")
	assert.Contains(t, run("/msteams connect"), connectenv.PluginURL+"/connect")
	assert.Contains(t, run("/msteams notifications on"), "not connected")

	target, err := env.Service.Begin(context.Background(), "u1")
	require.NoError(t, err)
	_, err = env.Service.Complete(context.Background(), "u1", env.Authorize(target, "ms-u1").Query())
	require.NoError(t, err)

	assert.Contains(t, run("/msteams status"), "ada@contoso.com")
	assert.Contains(t, run("/msteams connect"), "already connected")
	assert.Contains(t, run("/msteams notifications status"), "Notifications are on")
	assert.Contains(t, run("/msteams notifications off"), "Notifications are off")
	v, found, err := env.MM.GetPreference("u1", connect.PreferenceCategory, connect.PreferenceNotifications)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "off", v, "stored where the official plugin keeps it")
	assert.Contains(t, run("/msteams disconnect"), "disconnected")
	assert.Contains(t, run("/msteams status"), "not connected")
}
