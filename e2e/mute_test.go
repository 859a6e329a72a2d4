package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
	"github.com/teamsnotify/msteams-sync/graphsim"
)

// commandInThread runs a slash command in the thread of a post (the reply box of a bot DM, where /msteams mute
// works) and returns the ephemeral answer read from the user's websocket.
func commandInThread(t *testing.T, s *harness.Stack, u *harness.User, root *model.Post, line string) string {
	t.Helper()
	ctx := context.Background()
	ws, err := model.NewWebSocketClient4("ws"+strings.TrimPrefix(s.URL, "http"), u.Client.AuthToken)
	require.NoError(t, err)
	defer ws.Close()
	ws.Listen()
	body, err := json.Marshal(map[string]string{"channel_id": root.ChannelId, "root_id": root.Id, "team_id": s.Team.Id, "command": line})
	require.NoError(t, err)
	resp, err := u.Client.DoAPIPost(ctx, "/commands/execute", string(body))
	require.NoError(t, err, "execute %q in a thread", line)
	_ = resp.Body.Close()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-ws.EventChannel:
			require.True(t, ok, "websocket closed before the answer came")
			if ev.EventType() != model.WebsocketEventEphemeralMessage {
				continue
			}
			var p model.Post
			raw, _ := ev.GetData()["post"].(string)
			require.NoError(t, json.Unmarshal([]byte(raw), &p))
			if p.ChannelId == root.ChannelId {
				return p.Message
			}
		case <-timeout:
			t.Fatalf("no answer to %q within 30 s", line)
		}
	}
}

// TestMuteStopsAChatUntilUnmuted: /msteams mute in the thread of a forwarded group message stops that chat for
// Alice only (Carol still gets it, Alice's 1:1 chat still arrives); /msteams muted lists it; after /msteams unmute
// the chat's next message arrives, the one sent while muted never does.
func TestMuteStopsAChatUntilUnmuted(t *testing.T) {
	w := newWorld(t, newestVersion())
	w.connect(t, w.alice)
	w.connect(t, w.carol)

	w.Teams.Send(t, w.group, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: "kick-off notes"})
	dm := w.waitForPost(t, w.alice.MM, "kick-off notes")
	require.Contains(t, commandInThread(t, w.Stack, w.alice.MM, dm, "/msteams mute"), "Muted the Teams chat Launch plans")
	require.Contains(t, w.Command(t, w.alice.MM, "/msteams mute"), "only in the thread", "outside a thread the command explains itself")
	require.Contains(t, w.Command(t, w.alice.MM, "/msteams muted"), "1. Launch plans")

	w.Teams.Send(t, w.group, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: "said while muted"})
	w.waitForPost(t, w.carol.MM, "said while muted") // the same job decided for Alice
	w.settle(t, w.oneOnOne, w.bob.Teams, w.alice.MM, "1:1 chats are not muted")
	require.Zero(t, w.botPostsContaining(w.alice.MM, "said while muted"))

	require.Contains(t, w.Command(t, w.alice.MM, "/msteams unmute 1"), "Unmuted the Teams chat Launch plans")
	require.Contains(t, w.Command(t, w.alice.MM, "/msteams muted"), "You have not muted any Teams chat")
	w.Teams.Send(t, w.group, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: "back in the loop"})
	w.waitForPost(t, w.alice.MM, "back in the loop")
	require.Zero(t, w.botPostsContaining(w.alice.MM, "said while muted"), "what was skipped while muted stays skipped")
}

// TestMentionsOnlyMode: with /msteams mode mentions Alice gets, from the group chat, only the message that
// mentions her (Carol, in the default mode, gets both); her 1:1 chat still arrives in full.
func TestMentionsOnlyMode(t *testing.T) {
	w := newWorld(t, newestVersion())
	w.connect(t, w.alice)
	w.connect(t, w.carol)
	require.Contains(t, w.Command(t, w.alice.MM, "/msteams mode mentions"), "only messages that mention you")

	w.Teams.Send(t, w.group, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: "general status update"})
	w.waitForPost(t, w.carol.MM, "general status update")
	w.Teams.Send(t, w.group, graphsim.NewMessage{From: w.bob.Teams.ID,
		HTML:     `<p><at id="0">Alice Adams</at> can you review this?</p>`,
		Mentions: []graphsim.Mention{{ID: 0, MentionText: "Alice Adams", UserID: w.alice.Teams.ID}}})
	w.waitForPost(t, w.alice.MM, "can you review this?")
	w.waitForPost(t, w.carol.MM, "can you review this?")
	w.settle(t, w.oneOnOne, w.bob.Teams, w.alice.MM, "just between us")
	require.Zero(t, w.botPostsContaining(w.alice.MM, "general status update"), "not mentioned in a group chat")

	require.Contains(t, w.Command(t, w.alice.MM, "/msteams mode all"), "every message")
	w.settle(t, w.group, w.bob.Teams, w.alice.MM, "everyone again")
}

// TestMuteSettingsInChromium: a connected user who got a forwarded DM opens the plugin in headless Chromium
// (webapp/test/browser/mute_settings.test.mjs): "Mute this Teams chat" on that DM mutes its chat through the
// server; the settings section lists it, the mode changes to mentions only, and Unmute empties the list, each
// checked on the server.
func TestMuteSettingsInChromium(t *testing.T) {
	st := harness.StartStack(t, newestVersion())
	wendy := st.NewPair(t, "wendy", "Wendy Webb")
	bob := st.Teams.AddUser(t, "bob", "Bob Brown")
	carol := st.Teams.AddUser(t, "carol", "Carol Clark")
	st.ConnectUser(t, wendy.MM, wendy.Teams)
	chatID := st.Teams.Chat(t, "Design review", wendy.Teams, bob, carol)
	st.Teams.Send(t, chatID, graphsim.NewMessage{From: bob.ID, HTML: "mockups are up"})
	var dm *model.Post
	deadline := time.Now().Add(deliveryWait)
	for dm == nil {
		for _, p := range st.DirectPosts(wendy.MM, st.Bot.Id) {
			if strings.Contains(p.Message, "mockups are up") {
				dm = p
			}
		}
		if dm == nil && time.Now().After(deadline) {
			t.Fatalf("the forwarded DM did not arrive within %s", deliveryWait)
		}
		time.Sleep(250 * time.Millisecond)
	}

	out := runBrowserTests(t, st.Server, "mute browser tests",
		"node build.mjs && node test/browser/build_host.mjs && node --test --test-concurrency=1 test/browser/mute_settings.test.mjs",
		"E2E_MM_URL="+st.URL,
		"E2E_MUTE_USER_TOKEN="+wendy.MM.Client.AuthToken,
		"E2E_MUTE_POST_ID="+dm.Id,
		"E2E_MUTE_CHAT_TITLE=Design review",
	)
	require.Contains(t, out, "# pass 2", "the browser tests ran rather than being skipped")
}
