package graph

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

// The channel reads channel notifications need, with the app's token, against graphsim: the message and its
// mentions, the thread's participants, the members behind a team, channel or tag mention, and the channel's
// membership type (who may read it).
func TestAgainstGraphsimChannels(t *testing.T) {
	e := newSimEnv(t, Options{MaxRetries: -1})
	require.NoError(t, e.sim.SetAppRoles(simClient, []string{"Chat.Read.All", "Presence.Read.All", "ChannelMessage.Read.All",
		"Channel.ReadBasic.All", "ChannelMember.Read.All", "TeamMember.Read.All", "Team.ReadBasic.All", "TeamworkTag.Read.All"}))
	app := e.factory.App()
	ctx := context.Background()

	teamID, err := e.sim.CreateTeam(graphsim.TeamSpec{TenantID: simTenant, DisplayName: "Launch crew", Members: []string{aliceID, bobID, carolID},
		Tags: []graphsim.TagSpec{{DisplayName: "oncall", Members: []string{bobID, carolID}}}})
	require.NoError(t, err)
	privID, err := e.sim.CreateChannel(teamID, graphsim.ChannelSpec{DisplayName: "Secret", MembershipType: "private", Members: []string{aliceID, bobID}})
	require.NoError(t, err)
	var tagID, generalID string
	for _, tm := range e.sim.Teams() {
		if tm.ID != teamID {
			continue
		}
		tagID = tm.Tags[0].ID
		for _, c := range tm.Channels {
			if c.DisplayName == "General" {
				generalID = c.ID
			}
		}
	}
	require.NotEmpty(t, tagID)

	team, err := app.GetTeam(ctx, teamID)
	require.NoError(t, err)
	assert.Equal(t, "Launch crew", team.DisplayName)
	ch, err := app.GetChannel(ctx, teamID, privID)
	require.NoError(t, err)
	assert.Equal(t, Channel{ID: privID, TeamID: teamID, DisplayName: "Secret", MembershipType: "private", WebURL: ch.WebURL}, ch)

	rootID, err := e.sim.SendChannelMessage(teamID, privID, graphsim.NewMessage{From: aliceID, HTML: `<p>Ship it?</p>`})
	require.NoError(t, err)
	replyID, err := e.sim.ReplyChannelMessage(teamID, privID, rootID, graphsim.NewMessage{From: bobID,
		HTML:     `<p><at id="0">Alice</at> <at id="1">Secret</at> <at id="2">oncall</at></p>`,
		Mentions: []graphsim.Mention{{ID: 0, MentionText: "Alice", UserID: aliceID}, {ID: 1, MentionText: "Secret", ChannelID: privID}, {ID: 2, MentionText: "oncall", TagID: tagID}}})
	require.NoError(t, err)

	reply, err := app.GetChannelMessage(ctx, teamID, privID, rootID, replyID)
	require.NoError(t, err)
	assert.Equal(t, teamID, reply.TeamID)
	assert.Equal(t, privID, reply.ChannelID)
	assert.Equal(t, rootID, reply.ReplyToID)
	require.Len(t, reply.Mentions, 3)
	assert.Equal(t, aliceID, reply.Mentions[0].UserID)
	assert.Equal(t, "channel", reply.Mentions[1].ConversationType)
	assert.Equal(t, privID, reply.Mentions[1].ConversationID)
	assert.Equal(t, tagID, reply.Mentions[2].TagID)

	people, err := app.ThreadParticipants(ctx, teamID, privID, rootID)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{aliceID, bobID}, people)

	sorted := func(ids []string, err error) []string {
		require.NoError(t, err)
		sort.Strings(ids)
		return ids
	}
	ids := func(ms []TeamMember, err error) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.UserID)
		}
		return sorted(out, err)
	}
	assert.Equal(t, []string{aliceID, bobID, carolID}, ids(app.TeamMembers(ctx, teamID)))
	assert.Equal(t, []string{aliceID, bobID}, ids(app.ChannelMembers(ctx, teamID, privID)), "a private channel's own members")
	assert.Equal(t, []string{aliceID, bobID, carolID}, ids(app.ChannelMembers(ctx, teamID, generalID)), "a standard channel's members are the team's")
	assert.Equal(t, []string{bobID, carolID}, sorted(app.TagMembers(ctx, teamID, tagID)))
}

// Without the channel permissions (the default of an app registered for chats only) the reads are refused as
// Graph refuses them, and the error says so.
func TestAgainstGraphsimChannelsWithoutPermission(t *testing.T) {
	e := newSimEnv(t, Options{MaxRetries: -1})
	teamID, err := e.sim.CreateTeam(graphsim.TeamSpec{TenantID: simTenant, DisplayName: "Launch crew", Members: []string{aliceID, bobID}})
	require.NoError(t, err)
	_, err = e.factory.App().TeamMembers(context.Background(), teamID)
	require.Error(t, err)
	assert.True(t, IsForbidden(err), "%v", err)
}

// Catch-up lists a team's channel messages and replies changed after a time, across pages, and says when pages
// were left at the limit.
func TestAgainstGraphsimChannelMessagesSince(t *testing.T) {
	e := newSimEnv(t, Options{MaxRetries: -1})
	require.NoError(t, e.sim.SetAppRoles(simClient, []string{"Chat.Read.All", "ChannelMessage.Read.All"}))
	app := e.factory.App()
	ctx := context.Background()
	teamID, err := e.sim.CreateTeam(graphsim.TeamSpec{TenantID: simTenant, DisplayName: "Launch crew", Members: []string{aliceID, bobID}})
	require.NoError(t, err)
	chID, err := e.sim.CreateChannel(teamID, graphsim.ChannelSpec{DisplayName: "Ops"})
	require.NoError(t, err)
	old, err := e.sim.SendChannelMessage(teamID, chID, graphsim.NewMessage{From: aliceID, HTML: "<p>before</p>"})
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond)
	since := time.Now()
	time.Sleep(20 * time.Millisecond)

	want := map[string]bool{}
	var root string
	for i := 0; i < 55; i++ {
		id, err := e.sim.SendChannelMessage(teamID, chID, graphsim.NewMessage{From: aliceID, HTML: "<p>after</p>"})
		require.NoError(t, err)
		want[id], root = true, id
	}
	reply, err := e.sim.ReplyChannelMessage(teamID, chID, root, graphsim.NewMessage{From: bobID, HTML: "<p>re</p>"})
	require.NoError(t, err)
	want[reply] = true

	msgs, more, err := app.ChannelMessagesSince(ctx, teamID, since, 10)
	require.NoError(t, err)
	assert.False(t, more)
	got := map[string]bool{}
	for _, m := range msgs {
		got[m.ID] = true
		assert.Equal(t, teamID, m.TeamID)
		assert.Equal(t, chID, m.ChannelID)
		if m.ID == reply {
			assert.Equal(t, root, m.ReplyToID)
		}
	}
	assert.Equal(t, want, got)
	assert.False(t, got[old], "changed before since: left out")

	msgs, more, err = app.ChannelMessagesSince(ctx, teamID, since, 1)
	require.NoError(t, err)
	assert.True(t, more, "pages left at the limit are reported")
	assert.Len(t, msgs, 50)
}

// A team's guests are marked as Teams marks them, with the "guest" role, and a channel message's inline image is
// read from the message, or from the reply, that carries it.
func TestAgainstGraphsimChannelGuestsAndImages(t *testing.T) {
	e := newSimEnv(t, Options{MaxRetries: -1})
	require.NoError(t, e.sim.SetAppRoles(simClient, []string{"ChannelMessage.Read.All", "ChannelMember.Read.All", "TeamMember.Read.All"}))
	const guestID = "d4d4d4d4-0000-4000-8000-000000000004"
	require.NoError(t, e.sim.AddUser(graphsim.User{ID: guestID, TenantID: simTenant, DisplayName: "Gus Guest", Guest: true,
		Mail: "gus@fabrikam.test", UserPrincipalName: "gus_fabrikam.test#EXT#@contoso.test"}))
	teamID, err := e.sim.CreateTeam(graphsim.TeamSpec{TenantID: simTenant, DisplayName: "Launch crew", Members: []string{aliceID, guestID}})
	require.NoError(t, err)
	privID, err := e.sim.CreateChannel(teamID, graphsim.ChannelSpec{DisplayName: "Secret", MembershipType: "private", Members: []string{aliceID, guestID}})
	require.NoError(t, err)
	app := e.factory.App()
	ctx := context.Background()

	for name, list := range map[string]func() ([]TeamMember, error){
		"team":            func() ([]TeamMember, error) { return app.TeamMembers(ctx, teamID) },
		"private channel": func() ([]TeamMember, error) { return app.ChannelMembers(ctx, teamID, privID) },
	} {
		members, err := list()
		require.NoError(t, err, name)
		assert.ElementsMatch(t, []TeamMember{{UserID: aliceID}, {UserID: guestID, Guest: true}}, members, name)
	}

	png := []byte("\x89PNG\r\n\x1a\nroot")
	rootID, err := e.sim.SendChannelMessage(teamID, privID, graphsim.NewMessage{From: guestID, HTML: `<p>look</p>`,
		Hosted: []graphsim.HostedContent{{ID: "img1", ContentType: "image/png", Bytes: png}}})
	require.NoError(t, err)
	replyID, err := e.sim.ReplyChannelMessage(teamID, privID, rootID, graphsim.NewMessage{From: aliceID, HTML: `<p>and this</p>`,
		Hosted: []graphsim.HostedContent{{ID: "img2", ContentType: "image/png", Bytes: []byte("\x89PNG\r\n\x1a\nreply")}}})
	require.NoError(t, err)

	hc, err := app.GetChannelHostedContent(ctx, teamID, privID, "", rootID, "img1", 1<<20)
	require.NoError(t, err)
	assert.Equal(t, png, hc.Data)
	assert.Equal(t, "image/png", hc.ContentType)
	hc, err = app.GetChannelHostedContent(ctx, teamID, privID, rootID, replyID, "img2", 1<<20)
	require.NoError(t, err)
	assert.Equal(t, []byte("\x89PNG\r\n\x1a\nreply"), hc.Data)
	_, err = app.GetChannelHostedContent(ctx, teamID, privID, rootID, replyID, "img1", 1<<20)
	assert.True(t, IsNotFound(err), "the root's image is not the reply's: %v", err)
}
