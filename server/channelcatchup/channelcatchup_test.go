package channelcatchup_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/channelcatchup"
	"github.com/teamsnotify/msteams-sync/server/config"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

const (
	tenantID = "11111111-2222-3333-4444-555555555555"
	clientID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	alice    = "a1a1a1a1-0000-4000-8000-000000000001"
	bob      = "b2b2b2b2-0000-4000-8000-000000000002"
)

func TestCatchUpQueuesChannelMessagesChangedSinceTheGap(t *testing.T) {
	sim, err := graphsim.New(graphsim.Options{DisableThrottling: true})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	require.NoError(t, sim.AddApp(graphsim.AppRegistration{TenantID: tenantID, ClientID: clientID, ClientSecret: "client-secret",
		AppRoles: []string{"Chat.Read.All", "ChannelMessage.Read.All"}}))
	for _, u := range []graphsim.User{{ID: alice, TenantID: tenantID, DisplayName: "Alice"}, {ID: bob, TenantID: tenantID, DisplayName: "Bob"}} {
		require.NoError(t, sim.AddUser(u))
	}
	cfg := config.Defaults()
	cfg.TenantID, cfg.ClientID, cfg.ClientSecret = tenantID, clientID, "client-secret"
	cfg.Cloud, cfg.CustomAuthorityURL, cfg.CustomGraphURL, cfg.CustomCACertificate = config.CloudCustom, sim.AuthorityURL(), sim.GraphURL(), string(sim.CACertPEM())
	f, err := graph.NewFactory(cfg, graph.Options{MaxRetries: -1})
	require.NoError(t, err)
	st := storetest.NewStore(t)

	team, err := sim.CreateTeam(graphsim.TeamSpec{TenantID: tenantID, DisplayName: "Team", Members: []string{alice, bob}})
	require.NoError(t, err)
	channel, err := sim.CreateChannel(team, graphsim.ChannelSpec{DisplayName: "Ops"})
	require.NoError(t, err)
	untouched, err := sim.SendChannelMessage(team, channel, graphsim.NewMessage{From: alice, HTML: "<p>old</p>"})
	require.NoError(t, err)
	edited, err := sim.SendChannelMessage(team, channel, graphsim.NewMessage{From: alice, HTML: "<p>old, edited later</p>"})
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond)
	since := time.Now()
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, sim.EditChannelMessage(team, channel, edited, "<p>edited</p>"))
	root, err := sim.SendChannelMessage(team, channel, graphsim.NewMessage{From: alice, HTML: "<p>new</p>"})
	require.NoError(t, err)
	reply, err := sim.ReplyChannelMessage(team, channel, root, graphsim.NewMessage{From: bob, HTML: "<p>re</p>"})
	require.NoError(t, err)

	res, err := channelcatchup.Run(context.Background(), channelcatchup.Deps{
		Graph:    func() channelcatchup.Graph { return f.App() },
		Teams:    func(context.Context) ([]string, error) { return []string{team}, nil },
		Enqueuer: st,
	}, since)
	require.NoError(t, err)
	assert.Equal(t, channelcatchup.Result{Teams: 1, Queued: 3}, res)

	items, err := st.ClaimInbox(context.Background(), inbox.QueueChannelChanges, 10, time.Now().Add(time.Hour), time.Minute)
	require.NoError(t, err)
	got := map[string]inbox.ChannelChange{}
	for _, it := range items {
		var c inbox.ChannelChange
		require.NoError(t, json.Unmarshal(it.Payload, &c))
		assert.Equal(t, c.DedupeKey(), it.DedupeKey)
		assert.Equal(t, inbox.SourceCatchup, c.Source)
		assert.Equal(t, team, c.TeamID)
		assert.Equal(t, channel, c.ChannelID)
		m, err := graph.MessageFromJSON(c.Message)
		require.NoError(t, err, "the message travels with the change")
		assert.Equal(t, c.MessageID, m.ID)
		got[c.MessageID] = c
	}
	require.Len(t, got, 3)
	assert.NotContains(t, got, untouched, "unchanged since the gap")
	assert.Equal(t, "updated", got[edited].ChangeType)
	assert.Equal(t, "created", got[root].ChangeType)
	assert.Empty(t, got[root].RootID)
	assert.Equal(t, "created", got[reply].ChangeType)
	assert.Equal(t, root, got[reply].RootID)

	// Without the permission the run fails and says why.
	require.NoError(t, sim.SetAppRoles(clientID, []string{"Chat.Read.All"}))
	f2, err := graph.NewFactory(cfg, graph.Options{MaxRetries: -1})
	require.NoError(t, err)
	_, err = channelcatchup.Run(context.Background(), channelcatchup.Deps{
		Graph:    func() channelcatchup.Graph { return f2.App() },
		Teams:    func(context.Context) ([]string, error) { return []string{team}, nil },
		Enqueuer: st,
	}, since)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ChannelMessage.Read.All")
}
