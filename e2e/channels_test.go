package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
	"github.com/teamsnotify/msteams-sync/graphsim"
)

// channelRoles are the application permissions Teams channel notifications need on top of the chat ones.
var channelRoles = []string{"Chat.Read.All", "ChatMember.Read.All", "Presence.Read.All", "User.Read.All", "Files.Read.All",
	"Application.Read.All", "ChannelMessage.Read.All", "Team.ReadBasic.All", "Channel.ReadBasic.All",
	"ChannelMember.Read.All", "TeamMember.Read.All", "TeamworkTag.Read.All"}

// TestChannelNotifications, on a real server with the real bundle: while the "Teams channel notifications"
// setting is off, a channel post that mentions Alice delivers nothing and stores nothing. Once an admin turns it
// on (the app holding ChannelMessage.Read.All), the plugin subscribes to /teams/getAllMessages and:
//   - a personal mention reaches Alice as a DM naming the team and the channel, and an edit follows it;
//   - a guest's message with an image, a file of the channel and a file shared with Bob only reaches Alice and
//     Bob marked "(Guest)", each with the image and the channel's file, and the shared file only for Bob;
//   - a tag mention reaches her only after /msteams channels mentions all; a deleted message marks its DM;
//   - replies in a thread Alice started reach her, continuing one Mattermost thread; the replier gets nothing;
//   - a mention in a private channel Alice is not in tells her nothing;
//   - a message said while Graph had dropped the subscription is caught up once the plugin made a new one.
func TestChannelNotifications(t *testing.T) {
	w := channelWorld(t)
	s, tm := w.Server, w.Teams
	w.alice = w.NewPair(t, "alice", "Alice Adams")
	w.bob = w.NewPair(t, "bob", "Bob Brown")
	w.carol = w.NewPair(t, "carol", "Carol Clark")
	w.oneOnOne = tm.Chat(t, "", w.bob.Teams, w.alice.Teams)
	w.connect(t, w.alice)
	w.connect(t, w.bob)

	sim := tm.Sim
	gus := graphsim.User{ID: "9a9a9a9a-0000-4000-8000-00000000009a", TenantID: harness.TeamsTenantID, DisplayName: "Gus Guest", Guest: true,
		Mail: "gus@fabrikam.test", UserPrincipalName: "gus_fabrikam.test#EXT#@contoso.test"}
	require.NoError(t, sim.AddUser(gus))
	teamID, err := sim.CreateTeam(graphsim.TeamSpec{TenantID: harness.TeamsTenantID, DisplayName: "Rocket Team",
		Members:  []string{w.alice.Teams.ID, w.bob.Teams.ID, w.carol.Teams.ID, gus.ID},
		Channels: []graphsim.ChannelSpec{{DisplayName: "Launch pad"}, {DisplayName: "Board room", MembershipType: "private", Members: []string{w.bob.Teams.ID, w.carol.Teams.ID}}},
		Tags:     []graphsim.TagSpec{{DisplayName: "launchers", Members: []string{w.alice.Teams.ID, w.carol.Teams.ID}}}})
	require.NoError(t, err)
	var launchPad, boardRoom, tagID string
	for _, team := range sim.Teams() {
		if team.ID == teamID && len(team.Tags) > 0 {
			tagID = team.Tags[0].ID
		}
		for _, c := range team.Channels {
			switch c.DisplayName {
			case "Launch pad":
				launchPad = c.ID
			case "Board room":
				boardRoom = c.ID
			}
		}
	}
	require.NotEmpty(t, launchPad)
	require.NotEmpty(t, boardRoom)
	mentionAlice := func(text string) graphsim.NewMessage {
		return graphsim.NewMessage{From: w.bob.Teams.ID, HTML: `<p><at id="0">Alice Adams</at> ` + text + `</p>`,
			Mentions: []graphsim.Mention{{ID: 0, MentionText: "Alice Adams", UserID: w.alice.Teams.ID}}}
	}

	// Off: nothing delivered, nothing stored, and no channel subscription.
	_, err = sim.SendChannelMessage(teamID, launchPad, mentionAlice("before the switch"))
	require.NoError(t, err)
	w.settle(t, w.oneOnOne, w.bob.Teams, w.alice.MM, "chats still flow")
	require.Zero(t, w.botPostsContaining(w.alice.MM, "before the switch"))
	require.Zero(t, channelInboxRows(t, s.DSN), "nothing of a channel is stored while the setting is off")
	require.False(t, hasChannelSubscription(sim))

	s.PatchPluginConfig(map[string]any{"ChannelNotifications": true})
	deadline := time.Now().Add(90 * time.Second)
	for !hasChannelSubscription(sim) {
		require.True(t, time.Now().Before(deadline), "no /teams/getAllMessages subscription 90 s after the setting went on")
		time.Sleep(500 * time.Millisecond)
	}

	// A personal mention, then its edit.
	rootID, err := sim.SendChannelMessage(teamID, launchPad, mentionAlice("please check the fuel numbers"))
	require.NoError(t, err)
	dm := w.waitForPost(t, w.alice.MM, "please check the fuel numbers")
	require.Contains(t, dm.Message, "Rocket Team")
	require.Contains(t, dm.Message, "Launch pad")
	require.NoError(t, sim.EditChannelMessage(teamID, launchPad, rootID, `<p><at id="0">Alice Adams</at> please check the oxygen numbers</p>`))
	w.waitForPost(t, w.alice.MM, "oxygen numbers")

	// A guest's message with files: each recipient gets what their own Microsoft account may open.
	_, err = sim.SendChannelMessage(teamID, launchPad, graphsim.NewMessage{From: gus.ID,
		HTML:     `<p><at id="0">Alice Adams</at> <at id="1">Bob Brown</at> telemetry from the pad</p>`,
		Mentions: []graphsim.Mention{{ID: 0, MentionText: "Alice Adams", UserID: w.alice.Teams.ID}, {ID: 1, MentionText: "Bob Brown", UserID: w.bob.Teams.ID}},
		Hosted:   []graphsim.HostedContent{{ContentType: "image/png", Bytes: pngImage(t)}},
		Files: []graphsim.FileRef{{Name: "pad-readings.txt", ContentType: "text/plain", Bytes: []byte("42 psi\n")},
			{Name: "gus-notes.txt", ContentType: "text/plain", Bytes: []byte("private notes\n"), SharedWith: []string{w.bob.Teams.ID}}}})
	require.NoError(t, err)
	for _, who := range []struct {
		user  *harness.User
		files []string
	}{
		{w.alice.MM, []string{"pad-readings.txt"}},
		{w.bob.MM, []string{"pad-readings.txt", "gus-notes.txt"}},
	} {
		dm := w.waitForPost(t, who.user, "telemetry from the pad")
		require.Contains(t, dm.Message, "**Gus Guest** (Guest) wrote in **Rocket Team**")
		require.NotContains(t, dm.Message, "open it in Teams to see them", "the files follow")
		names := w.attachmentsOf(t, who.user, dm, len(who.files)+1)
		require.Len(t, names, len(who.files)+1, "%s gets the image and %v: %v; the DM channel holds:\n%s", who.user.Username, who.files, names, dump(w.DirectPosts(who.user, w.Bot.Id)))
		for _, f := range who.files {
			require.Contains(t, names, f)
		}
	}
	require.NotContains(t, w.attachmentsOf(t, w.alice.MM, w.waitForPost(t, w.alice.MM, "telemetry from the pad"), 2), "gus-notes.txt",
		"Alice's account may not open the file Gus shared with Bob")
	require.Positive(t, w.botPostsContaining(w.alice.MM, "gus-notes.txt**: shared in Teams, but your Microsoft account has no access to it"))

	// A tag mention reaches Alice only once she chose team, channel and tag mentions.
	tagMessage := func(text string) graphsim.NewMessage {
		return graphsim.NewMessage{From: w.bob.Teams.ID, HTML: `<p><at id="0">launchers</at> ` + text + `</p>`,
			Mentions: []graphsim.Mention{{ID: 0, MentionText: "launchers", TagID: tagID}}}
	}
	_, err = sim.SendChannelMessage(teamID, launchPad, tagMessage("tag before opting in"))
	require.NoError(t, err)
	_, err = sim.SendChannelMessage(teamID, launchPad, mentionAlice("tag marker one"))
	require.NoError(t, err)
	w.waitForPost(t, w.alice.MM, "tag marker one")
	require.Zero(t, w.botPostsContaining(w.alice.MM, "tag before opting in"), "personal mentions only by default")
	require.Contains(t, w.Command(t, w.alice.MM, "/msteams channels mentions all"), "Mentions of a team, channel or tag you are in: **on**")
	_, err = sim.SendChannelMessage(teamID, launchPad, tagMessage("tag after opting in"))
	require.NoError(t, err)
	w.waitForPost(t, w.alice.MM, "tag after opting in")

	// A deleted channel message marks its DM.
	doomed, err := sim.SendChannelMessage(teamID, launchPad, mentionAlice("this will vanish"))
	require.NoError(t, err)
	vanishing := w.waitForPost(t, w.alice.MM, "this will vanish")
	require.NoError(t, sim.DeleteChannelMessage(teamID, launchPad, doomed))
	deadline = time.Now().Add(deliveryWait)
	for {
		p, _, err := w.alice.MM.Client.GetPost(context.Background(), vanishing.Id, "")
		require.NoError(t, err)
		if strings.Contains(p.Message, "deleted in Teams") {
			break
		}
		require.True(t, time.Now().Before(deadline), "the DM of a deleted channel message is not marked: %q", p.Message)
		time.Sleep(300 * time.Millisecond)
	}

	// Replies in Alice's thread: both reach her, in one Mattermost thread; Bob, who replies, gets nothing of his own.
	aliceRoot, err := sim.SendChannelMessage(teamID, launchPad, graphsim.NewMessage{From: w.alice.Teams.ID, HTML: "<p>T-minus plan attached</p>"})
	require.NoError(t, err)
	_, err = sim.ReplyChannelMessage(teamID, launchPad, aliceRoot, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: "<p>looks good to me</p>"})
	require.NoError(t, err)
	first := w.waitForPost(t, w.alice.MM, "looks good to me")
	_, err = sim.ReplyChannelMessage(teamID, launchPad, aliceRoot, graphsim.NewMessage{From: w.carol.Teams.ID, HTML: "<p>agreed, go</p>"})
	require.NoError(t, err)
	second := w.waitForPost(t, w.alice.MM, "agreed, go")
	threadOf := func(id, root string) string {
		if root != "" {
			return root
		}
		return id
	}
	require.Equal(t, threadOf(first.Id, first.RootId), threadOf(second.Id, second.RootId), "replies to one Teams thread continue one Mattermost thread")
	require.Zero(t, w.botPostsContaining(w.bob.MM, "looks good to me"), "the replier is not told of his own reply")

	// A private channel Alice is not in: a mention of her there tells her nothing.
	_, err = sim.SendChannelMessage(teamID, boardRoom, mentionAlice("salary talk"))
	require.NoError(t, err)
	_, err = sim.SendChannelMessage(teamID, launchPad, mentionAlice("public marker"))
	require.NoError(t, err)
	w.waitForPost(t, w.alice.MM, "public marker")
	time.Sleep(2 * time.Second)
	require.Zero(t, w.botPostsContaining(w.alice.MM, "salary talk"), "nobody hears of a channel they cannot read")

	// Graph drops the channel subscription; what is said before the plugin has a new one is caught up.
	subID := channelSubscriptionID(sim)
	require.NoError(t, sim.Changes().FireLifecycle(subID, "subscriptionRemoved"))
	_, err = sim.SendChannelMessage(teamID, launchPad, mentionAlice("said during the gap"))
	require.NoError(t, err)
	w.waitForPost(t, w.alice.MM, "said during the gap")
	require.NotEqual(t, subID, channelSubscriptionID(sim), "the plugin made a new channel subscription")
	logText, err := os.ReadFile(filepath.Join(s.Dir, "logs", "mattermost.log"))
	require.NoError(t, err)
	require.Contains(t, string(logText), "Catching up on Teams channel messages", "the message came through the catch-up")
}

// channelWorld starts the newest server and graphsim with the plugin enabled, the app holding the channel
// permissions from the start (as an admin who consented before installing). The ChannelNotifications setting is
// left off, as it ships.
func channelWorld(t *testing.T) *world {
	t.Helper()
	s := harness.Start(t, newestVersion())
	tm := harness.StartTeams(t, s.URL)
	require.NoError(t, tm.Sim.SetAppRoles(harness.TeamsClientID, channelRoles))
	s.UploadPlugin(harness.BundlePath(t))
	s.PatchPluginConfig(tm.PluginSettings())
	s.EnablePlugin()
	return &world{Stack: &harness.Stack{Server: s, Teams: tm, Bot: s.Bot("msteams")}}
}

func channelSubscriptionID(sim *graphsim.Sim) string {
	for _, sub := range sim.Changes().Subscriptions() {
		if strings.EqualFold(strings.TrimPrefix(sub.Resource, "/"), "teams/getAllMessages") {
			return sub.ID
		}
	}
	return ""
}

func hasChannelSubscription(sim *graphsim.Sim) bool { return channelSubscriptionID(sim) != "" }

// channelInboxRows counts the channel changes stored in the plugin's inbox (queued or parked).
func channelInboxRows(t *testing.T, dsn string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM msteamsnotify_inbox WHERE queue = 'channel_changes'`).Scan(&n))
	return n
}
