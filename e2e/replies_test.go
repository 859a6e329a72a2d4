package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
	"github.com/teamsnotify/msteams-sync/graphsim"
)

// ephemerals collects the ephemeral posts the plugin shows a user, from the user's websocket (the only place
// they travel), until stopped.
type ephemerals struct {
	ws   *model.WebSocketClient
	got  chan *model.Post
	done chan struct{}
}

func listenEphemerals(t *testing.T, s *harness.Server, u *harness.User) *ephemerals {
	t.Helper()
	ws, err := model.NewWebSocketClient4("ws"+strings.TrimPrefix(s.URL, "http"), u.Client.AuthToken)
	require.NoError(t, err)
	ws.Listen()
	e := &ephemerals{ws: ws, got: make(chan *model.Post, 100), done: make(chan struct{})}
	go func() {
		for ev := range ws.EventChannel {
			if ev.EventType() != model.WebsocketEventEphemeralMessage {
				continue
			}
			var p model.Post
			raw, _ := ev.GetData()["post"].(string)
			if json.Unmarshal([]byte(raw), &p) == nil {
				e.got <- &p
			}
		}
	}()
	t.Cleanup(ws.Close)
	return e
}

// wait returns the first ephemeral message containing text.
func (e *ephemerals) wait(t *testing.T, text string) string {
	t.Helper()
	timeout := time.After(deliveryWait)
	var seen []string
	for {
		select {
		case p := <-e.got:
			if strings.Contains(p.Message, text) {
				return p.Message
			}
			seen = append(seen, p.Message)
		case <-timeout:
			t.Fatalf("no ephemeral message containing %q within %s; seen: %q", text, deliveryWait, seen)
		}
	}
}

// replyTo posts a reply as u in the thread of the bot DM root.
func replyTo(t *testing.T, u *harness.User, root *model.Post, text string) *model.Post {
	t.Helper()
	p, _, err := u.Client.CreatePost(context.Background(), &model.Post{ChannelId: root.ChannelId, RootId: root.Id, Message: text})
	require.NoError(t, err)
	return p
}

// teamsMessage is the part of a graphsim chatMessage the tests read.
type teamsMessage struct {
	From struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"from"`
	Body struct {
		ContentType string `json:"contentType"`
		Content     string `json:"content"`
	} `json:"body"`
	Mentions []struct {
		ID        int `json:"id"`
		Mentioned struct {
			User struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"mentioned"`
	} `json:"mentions"`
	Reactions []struct {
		ReactionType string `json:"reactionType"`
		User         struct {
			User struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"user"`
	} `json:"reactions"`
}

func (w *world) teamsMessage(t *testing.T, chatID, msgID string) teamsMessage {
	t.Helper()
	raw, ok := w.Teams.Sim.MessageJSON(chatID, msgID)
	require.True(t, ok, "graphsim has message %s", msgID)
	var m teamsMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

// eventually polls cond until it holds or deliveryWait passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(deliveryWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %s", what, deliveryWait)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestReplies: two connected users (Alice, Bob) in a 1:1 and a group chat with Carol (not connected). A reply
// from a bot DM thread reaches Teams as the user's message with its HTML and mention, the other connected member
// gets it as a DM and the replier does not, later messages continue the replier's thread, a reaction
// round-trips, and the failures are explained: no permission, a revoked sign-in.
func TestReplies(t *testing.T) {
	w := newWorld(t, newestVersion())
	w.connect(t, w.alice)
	w.connect(t, w.bob)
	aliceSees := listenEphemerals(t, w.Server, w.alice.MM)

	// Bob writes in the group chat; Alice gets the DM and answers in its thread, mentioning Bob.
	askID := w.Teams.Send(t, w.group, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: "<p>Ship it today?</p>"})
	ask := w.waitForPost(t, w.alice.MM, "Ship it today?")
	require.Equal(t, askID, ask.GetProp("msteams_message_id"))
	mine := replyTo(t, w.alice.MM, ask, "Yes **today**, @bob")

	// The other connected member gets Alice's reply as a DM; it names the Teams message Alice sent.
	echo := w.waitForPost(t, w.bob.MM, "Yes **today**")
	require.Contains(t, echo.Message, "Alice Adams")
	replyID, _ := echo.GetProp("msteams_message_id").(string)
	require.NotEmpty(t, replyID)
	sent := w.teamsMessage(t, w.group, replyID)
	assert.Equal(t, w.alice.Teams.ID, sent.From.User.ID, "sent as Alice")
	assert.Equal(t, "html", sent.Body.ContentType)
	assert.Contains(t, sent.Body.Content, "<strong>today</strong>")
	assert.Contains(t, sent.Body.Content, `<at id="0">Bob Brown</at>`)
	require.Len(t, sent.Mentions, 1)
	assert.Equal(t, w.bob.Teams.ID, sent.Mentions[0].Mentioned.User.ID)

	// Alice's post gets the bot's "sent" marker.
	eventually(t, "the sent marker on Alice's reply", func() bool {
		rs, _, err := w.alice.MM.Client.GetReactions(context.Background(), mine.Id)
		require.NoError(t, err)
		for _, r := range rs {
			if r.UserId == w.Bot.Id && r.EmojiName == "white_check_mark" {
				return true
			}
		}
		return false
	})

	// Bob answers in Teams: Alice's DM continues her thread; her own reply never came back to her.
	w.Teams.Send(t, w.group, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: "<p>Great, shipping</p>"})
	next := w.waitForPost(t, w.alice.MM, "Great, shipping")
	assert.Equal(t, ask.Id, next.RootId, "the later DM is in Alice's thread")
	for _, p := range w.DirectPosts(w.alice.MM, w.Bot.Id) {
		if p.UserId == w.Bot.Id {
			assert.NotContains(t, p.Message, "Yes **today**", "no echo of Alice's own reply")
		}
	}

	// In the 1:1 chat the same: Bob gets Alice's answer.
	w.Teams.Send(t, w.oneOnOne, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: "<p>Lunch?</p>"})
	lunch := w.waitForPost(t, w.alice.MM, "Lunch?")
	replyTo(t, w.alice.MM, lunch, "Sure, noon")
	w.waitForPost(t, w.bob.MM, "Sure, noon")

	// A pasted picture goes with the reply as hosted content (Bob's DM of it gets the image); a PDF is not sent.
	ctx := context.Background()
	up, _, err := w.alice.MM.Client.UploadFile(ctx, pngImage(t), lunch.ChannelId, "chart.png")
	require.NoError(t, err)
	pdf, _, err := w.alice.MM.Client.UploadFile(ctx, []byte("%PDF-1.4 not really"), lunch.ChannelId, "plan.pdf")
	require.NoError(t, err)
	_, _, err = w.alice.MM.Client.CreatePost(ctx, &model.Post{ChannelId: lunch.ChannelId, RootId: lunch.Id, Message: "Here is the chart",
		FileIds: []string{up.FileInfos[0].Id, pdf.FileInfos[0].Id}})
	require.NoError(t, err)
	chart := w.waitForPost(t, w.bob.MM, "Here is the chart")
	names := w.attachmentsOf(t, w.bob.MM, chart, 1)
	require.Len(t, names, 1, "the picture reaches Bob: %v", names)
	aliceSees.wait(t, "plan.pdf")

	// A reaction on the DM round-trips to the Teams message, as Alice.
	_, _, err = w.alice.MM.Client.SaveReaction(ctx, &model.Reaction{UserId: w.alice.MM.Id, PostId: ask.Id, EmojiName: "+1"})
	require.NoError(t, err)
	eventually(t, "Alice's 👍 in Teams", func() bool {
		for _, r := range w.teamsMessage(t, w.group, askID).Reactions {
			if r.ReactionType == "👍" && r.User.User.ID == w.alice.Teams.ID {
				return true
			}
		}
		return false
	})
	_, err = w.alice.MM.Client.DeleteReaction(ctx, &model.Reaction{UserId: w.alice.MM.Id, PostId: ask.Id, EmojiName: "+1"})
	require.NoError(t, err)
	eventually(t, "Alice's 👍 removed in Teams", func() bool { return len(w.teamsMessage(t, w.group, askID).Reactions) == 0 })

	// A message outside a thread stays in Mattermost, with a hint.
	ch := ask.ChannelId
	_, _, err = w.alice.MM.Client.CreatePost(ctx, &model.Post{ChannelId: ch, Message: "hello bot"})
	require.NoError(t, err)
	aliceSees.wait(t, "reply in the thread")

	// Without the tenant's consent to ChatMessage.Send, a user who connects gets the explanation.
	var withoutSend []string
	for _, s := range graphsim.DefaultDelegatedScopes {
		if s != "ChatMessage.Send" {
			withoutSend = append(withoutSend, s)
		}
	}
	require.NoError(t, w.Teams.Sim.SetDelegatedScopes(harness.TeamsClientID, withoutSend))
	dave := w.NewPair(t, "dave", "Dave Doe")
	daveChat := w.Teams.Chat(t, "", w.bob.Teams, dave.Teams)
	w.connect(t, dave)
	daveSees := listenEphemerals(t, w.Server, dave.MM)
	w.Teams.Send(t, daveChat, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: "<p>Hi Dave</p>"})
	hi := w.waitForPost(t, dave.MM, "Hi Dave")
	replyTo(t, dave.MM, hi, "Hi Bob")
	msg := daveSees.wait(t, "ChatMessage.Send")
	assert.Contains(t, msg, "has not granted")
	require.NoError(t, w.Teams.Sim.SetDelegatedScopes(harness.TeamsClientID, graphsim.DefaultDelegatedScopes))
	// Granted now, but Dave's sign-in predates it: he is told to sign in again, with the renewal link.
	replyTo(t, dave.MM, hi, "Hi Bob, again")
	msg = daveSees.wait(t, "Sign in to Microsoft again")
	assert.Contains(t, msg, "/connect?renew=1")
	// Dave follows the link: still connected, and now his reply goes to Teams.
	w.RenewSignIn(t, dave.MM, dave.Teams)
	replyTo(t, dave.MM, hi, "Hi Bob, third time")
	w.waitForPost(t, w.bob.MM, "Hi Bob, third time")

	// The admin status says replies are available and who can reply (Alice and Bob; Dave renewed).
	admin := w.NewUser("replyadmin")
	_, err = w.Admin.UpdateUserRoles(ctx, admin.Id, model.SystemUserRoleId+" "+model.SystemAdminRoleId)
	require.NoError(t, err)
	status := w.Command(t, admin, "/msteams admin status")
	require.Contains(t, status, "Replies to Teams")
	require.Contains(t, status, "Available: the app registration has ChatMessage.Send. Connected users who can reply: 3 of 3")

	// A revoked sign-in: the reply is not sent, Alice is told, and gets the usual reconnect DM.
	w.Teams.Sim.RevokeGrant(w.alice.Teams.ID, "", 50173)
	w.Teams.Sim.ExpireTokens()
	replyTo(t, w.alice.MM, ask, "one more thing")
	aliceSees.wait(t, "/msteams connect")
	w.waitForPost(t, w.alice.MM, "connection to Microsoft Teams was lost")
}

// TestRepliesSurviveAnOutageAndARestart: Alice answers while Teams refuses to post (503): her reply waits in the
// plugin's inbox, survives the plugin being stopped and started again meanwhile, and reaches Teams once, with
// the bot's sent marker, as soon as Teams takes messages again.
func TestRepliesSurviveAnOutageAndARestart(t *testing.T) {
	w := newWorld(t, newestVersion())
	w.connect(t, w.alice)
	w.connect(t, w.bob)
	sim := w.Teams.Sim

	w.Teams.Send(t, w.group, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: "<p>Status of the launch?</p>"})
	ask := w.waitForPost(t, w.alice.MM, "Status of the launch?")
	sim.ResetCalls()
	sim.InjectFault(graphsim.Fault{Route: "POST /chats/{id}/messages", Status: 503, RetryAfter: 1, Count: 100000})
	mine := replyTo(t, w.alice.MM, ask, "Go for launch")
	eventually(t, "a first attempt to send the reply", func() bool { return sim.CallCount("POST /chats/{id}/messages") > 0 })

	w.DisablePlugin()
	sim.ClearFaults()
	require.Empty(t, sim.MessagesFrom(w.group, w.alice.Teams.ID), "nothing reached Teams during the outage")
	w.EnablePlugin()

	w.waitForPost(t, w.bob.MM, "Go for launch")
	eventually(t, "the sent marker on Alice's reply", func() bool {
		rs, _, err := w.alice.MM.Client.GetReactions(context.Background(), mine.Id)
		require.NoError(t, err)
		for _, r := range rs {
			if r.UserId == w.Bot.Id && r.EmojiName == "white_check_mark" {
				return true
			}
		}
		return false
	})
	w.settle(t, w.group, w.bob.Teams, w.alice.MM, "settle marker")
	require.Len(t, sim.MessagesFrom(w.group, w.alice.Teams.ID), 1, "sent once")
}
