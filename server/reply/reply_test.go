package reply_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/connect"
	"github.com/teamsnotify/msteams-sync/server/connect/connectenv"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/reply"
)

const botID = "botbotbotbotbotbotbotbotbo"

// scopesWithoutSend is a consent without ChatMessage.Send.
var scopesWithoutSend = []string{"User.Read", "User.ReadBasic.All", "Chat.Read", "ChatMessage.Read", "Presence.Read.All", "Files.Read.All", "offline_access", "openid", "profile"}

// env: graphsim, PostgreSQL and the real connection service (connectenv), an in-memory Mattermost, and the
// reply service under test. alice, bob and carol are Mattermost users connected to ms-alice, ms-bob, ms-carol.
type env struct {
	*connectenv.Env
	t     *testing.T
	mm    *fakeMM
	svc   *reply.Service
	group string // ms-alice, ms-bob, ms-carol
	oneOn string // ms-alice, ms-bob
	dm    map[string]string
	slept []time.Duration
}

func newEnv(t *testing.T, connectUsers ...string) *env {
	t.Helper()
	ce := connectenv.New(t)
	// The app needs to read chats (members for mentions, messages for the assertions) and its registration.
	require.NoError(t, ce.Sim.AddApp(graphsim.AppRegistration{
		TenantID: connectenv.TenantID, ClientID: connectenv.ClientID, ClientSecret: connectenv.Secret, DisplayName: "MS Teams for Mattermost",
		RedirectURIs: []string{connectenv.PluginURL + "/oauth-redirect"}, AppRoles: []string{"Chat.Read.All", "Application.Read.All"},
	}))
	e := &env{Env: ce, t: t, mm: newFakeMM(), dm: map[string]string{}}
	for _, u := range []string{"alice", "bob", "carol"} {
		e.mm.users[u] = &model.User{Id: u, Username: u, FirstName: strings.ToUpper(u[:1]) + u[1:]}
		ch := &model.Channel{Id: "dm-" + u, Type: model.ChannelTypeDirect, Name: model.GetDMNameFromIds(botID, u)}
		e.mm.addChannel(ch)
		e.dm[u] = ch.Id
	}
	if len(connectUsers) == 0 {
		connectUsers = []string{"alice", "bob", "carol"}
	}
	for _, u := range connectUsers {
		e.Connect(u, u+"@contoso.test")
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		if _, ok := e.mm.users[u]; ok && !contains(connectUsers, u) {
			e.AddAccount("ms-"+u, u+"@contoso.test")
		}
	}
	var err error
	e.group, err = ce.Sim.CreateChat(graphsim.ChatSpec{ChatType: "group", Topic: "Launch", Members: []string{"ms-alice", "ms-bob", "ms-carol"}})
	require.NoError(t, err)
	e.oneOn, err = ce.Sim.CreateChat(graphsim.ChatSpec{ChatType: "oneOnOne", Members: []string{"ms-alice", "ms-bob"}})
	require.NoError(t, err)
	e.svc, err = reply.New(reply.Deps{
		Mattermost: e.mm,
		Store:      ce.Store,
		Users:      reply.ConnectUsers{Service: ce.Service, Factory: func() connect.GraphFactory { return ce.Graph }},
		App:        func() reply.AppGraph { return ce.Graph.App() },
	}, reply.Options{
		BotUserID:  botID,
		ConnectURL: func() string { return connectenv.PluginURL + "/connect?renew=1" },
		Sleep:      func(_ context.Context, d time.Duration) error { e.slept = append(e.slept, d); return nil },
	})
	require.NoError(t, err)
	return e
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// delivered puts a Teams message from sender into chat and the bot's DM of it into user's DM channel, as
// delivery would.
func (e *env) delivered(chat, sender, user, html string) (teamsID string, dm *model.Post) {
	e.t.Helper()
	id, err := e.Sim.SendMessage(chat, graphsim.NewMessage{From: sender, HTML: html})
	require.NoError(e.t, err)
	p := &model.Post{UserId: botID, ChannelId: e.dm[user], Message: "**" + sender + "** wrote"}
	p.AddProp(reply.PropChatID, chat)
	p.AddProp(reply.PropMessageID, id)
	return id, e.mm.addPost(p)
}

func (e *env) reply(user, rootID, text string, files ...string) *model.Post {
	p := e.mm.addPost(&model.Post{UserId: user, ChannelId: e.dm[user], RootId: rootID, Message: text, FileIds: files})
	e.svc.MessagePosted(context.Background(), p)
	return p
}

// messagesFrom lists the chat's messages sent by a Teams user, oldest first.
func (e *env) messagesFrom(chat, teamsUser string) []graph.Message {
	e.t.Helper()
	all, err := e.Graph.App().ListMessagesSince(context.Background(), chat, time.Now().Add(-time.Hour))
	require.NoError(e.t, err)
	var out []graph.Message
	for _, m := range all {
		if m.From.UserID == teamsUser {
			out = append(out, m)
		}
	}
	return out
}

func TestReplyInADMThreadIsSentToTheChatAsTheUserWithMentions(t *testing.T) {
	e := newEnv(t)
	_, dm := e.delivered(e.group, "ms-bob", "alice", "<p>Ship it?</p>")

	mine := e.reply("alice", dm.Id, "Yes **today**, @bob and @nobody.")

	sent := e.messagesFrom(e.group, "ms-alice")
	require.Len(t, sent, 1)
	assert.Equal(t, "html", sent[0].BodyType)
	assert.Contains(t, sent[0].BodyHTML, "<strong>today</strong>")
	assert.Contains(t, sent[0].BodyHTML, `<at id="0">ms-bob</at>`, "bob is a connected member: a Teams mention")
	assert.Contains(t, sent[0].BodyHTML, "@nobody", "an unknown name stays text")
	require.Len(t, sent[0].Mentions, 1)
	assert.Equal(t, "ms-bob", sent[0].Mentions[0].UserID)

	assert.Equal(t, []string{botID + ":" + reply.SentEmoji}, e.mm.reactionsOn(mine.Id), "the bot marks the reply as sent")
	assert.Empty(t, e.mm.ephemeralTexts("alice"))

	threads, err := e.Store.ReplyThreads(context.Background(), e.group, []string{"alice", "bob"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"alice": dm.Id}, threads, "later DMs of the chat continue alice's thread")
}

func TestPostsThatAreNotRepliesAreNotSent(t *testing.T) {
	e := newEnv(t)
	_, dm := e.delivered(e.oneOn, "ms-bob", "alice", "<p>hi</p>")

	// A top-level message in the bot DM: a hint, nothing sent.
	e.reply("alice", "", "hello?")
	assert.Len(t, e.mm.ephemeralTexts("alice"), 1)
	assert.Contains(t, e.mm.ephemeralTexts("alice")[0], "reply in the thread")

	// The bot's own posts (its DMs, its answers) never go anywhere: no loop.
	bot := e.mm.addPost(&model.Post{UserId: botID, ChannelId: e.dm["alice"], RootId: dm.Id, Message: "from the bot"})
	e.svc.MessagePosted(context.Background(), bot)
	// System posts and posts in other channels are ignored.
	e.mm.addChannel(&model.Channel{Id: "town", Type: model.ChannelTypeOpen, Name: "town-square"})
	e.svc.MessagePosted(context.Background(), e.mm.addPost(&model.Post{UserId: "alice", ChannelId: "town", RootId: dm.Id, Message: "x"}))
	e.svc.MessagePosted(context.Background(), e.mm.addPost(&model.Post{UserId: "alice", ChannelId: e.dm["alice"], RootId: dm.Id, Type: model.PostTypeJoinChannel}))
	// A reply in the thread of a bot post that is not a Teams message: a hint.
	welcome := e.mm.addPost(&model.Post{UserId: botID, ChannelId: e.dm["alice"], Message: "Welcome"})
	e.reply("alice", welcome.Id, "thanks")

	assert.Empty(t, e.messagesFrom(e.oneOn, "ms-alice"))
	texts := e.mm.ephemeralTexts("alice")
	require.Len(t, texts, 2)
	assert.Contains(t, texts[1], "did not come from Microsoft Teams")
	assert.Equal(t, 2, e.mm.calls["GetChannel"], "one lookup per channel: its kind is remembered")
}

func TestPastedImageGoesAsHostedContentOtherFilesAreNamed(t *testing.T) {
	e := newEnv(t)
	_, dm := e.delivered(e.oneOn, "ms-bob", "alice", "<p>screenshot?</p>")
	e.mm.addFile(&model.FileInfo{Id: "img1", Name: "shot.png", MimeType: "image/png", Size: 9}, []byte("\x89PNG fake"))
	e.mm.addFile(&model.FileInfo{Id: "doc1", Name: "plan.pdf", MimeType: "application/pdf", Size: 3}, []byte("pdf"))

	e.reply("alice", dm.Id, "here", "img1", "doc1")

	sent := e.messagesFrom(e.oneOn, "ms-alice")
	require.Len(t, sent, 1)
	assert.Contains(t, sent[0].BodyHTML, "hostedContents", "the image is part of the message")
	texts := e.mm.ephemeralTexts("alice")
	require.Len(t, texts, 1)
	assert.Contains(t, texts[0], "plan.pdf")
	assert.Contains(t, texts[0], "open Teams to share files")
}

func TestWithoutTheTenantsConsentReplyingIsExplained(t *testing.T) {
	e := newEnv(t, "bob")
	require.NoError(t, e.Sim.SetDelegatedScopes(connectenv.ClientID, scopesWithoutSend))
	e.Connect("alice", "alice@contoso.test")
	_, dm := e.delivered(e.oneOn, "ms-bob", "alice", "<p>hi</p>")

	e.reply("alice", dm.Id, "hello")

	assert.Empty(t, e.messagesFrom(e.oneOn, "ms-alice"))
	texts := e.mm.ephemeralTexts("alice")
	require.Len(t, texts, 1)
	assert.Contains(t, texts[0], "has not granted")
	assert.Contains(t, texts[0], "ChatMessage.Send")

	// Nobody is asked to sign in again while the registration lacks it.
	n, err := e.svc.AskToSignInAgain(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n)

	st, err := e.svc.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, reply.Status{RegistrationKnown: true, RegistrationAllows: false, Connected: 2, CanReply: 1}, st)

	// The admin adds the permission: alice's next try already says to sign in again (nothing cached).
	require.NoError(t, e.Sim.SetDelegatedScopes(connectenv.ClientID, graphsim.DefaultDelegatedScopes))
	e.reply("alice", dm.Id, "hello?")
	texts = e.mm.ephemeralTexts("alice")
	require.Len(t, texts, 2)
	assert.Contains(t, texts[1], "Sign in to Microsoft again")
}

func TestUsersWhoseSignInPredatesThePermissionAreAskedOnceToSignInAgain(t *testing.T) {
	e := newEnv(t, "carol")
	require.NoError(t, e.Sim.SetDelegatedScopes(connectenv.ClientID, scopesWithoutSend))
	e.Connect("alice", "alice@contoso.test")
	e.Connect("bob", "bob@contoso.test")
	require.NoError(t, e.Sim.SetDelegatedScopes(connectenv.ClientID, graphsim.DefaultDelegatedScopes))

	// alice tries first: told at once, with the renewal link, and not asked again later.
	_, dm := e.delivered(e.oneOn, "ms-bob", "alice", "<p>hi</p>")
	e.reply("alice", dm.Id, "hello")
	texts := e.mm.ephemeralTexts("alice")
	require.Len(t, texts, 1)
	assert.Contains(t, texts[0], "/connect?renew=1")

	n, err := e.svc.AskToSignInAgain(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n, "bob only")
	require.Len(t, e.mm.createdIn(e.dm["bob"]), 1)
	assert.Contains(t, e.mm.createdIn(e.dm["bob"])[0], "/connect?renew=1")
	n, err = e.svc.AskToSignInAgain(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n, "asked once")

	st, err := e.svc.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, reply.Status{RegistrationKnown: true, RegistrationAllows: true, Connected: 3, CanReply: 1}, st)

	// After signing in again alice's reply goes through.
	target, err := e.Service.BeginRenewal(context.Background(), "alice")
	require.NoError(t, err)
	_, err = e.Service.Complete(context.Background(), "alice", e.Authorize(target, "ms-alice").Query())
	require.NoError(t, err)
	e.reply("alice", dm.Id, "hello again")
	assert.Len(t, e.messagesFrom(e.oneOn, "ms-alice"), 1)
}

func TestFailuresAreExplained(t *testing.T) {
	e := newEnv(t)
	_, dm := e.delivered(e.group, "ms-bob", "alice", "<p>hi</p>")

	// Throttled beyond the retries.
	e.Sim.InjectFault(graphsim.Fault{Route: "POST /chats/{id}/messages", Status: 429, RetryAfter: 2, Count: 3})
	e.reply("alice", dm.Id, "one")
	assert.Equal(t, []time.Duration{2 * time.Second, 2 * time.Second}, e.slept)
	// Throttled once: the retry sends it.
	e.Sim.InjectFault(graphsim.Fault{Route: "POST /chats/{id}/messages", Status: 429, RetryAfter: 1, Count: 1})
	e.reply("alice", dm.Id, "two")
	assert.Len(t, e.messagesFrom(e.group, "ms-alice"), 1)

	// alice left the chat.
	_, err := e.Sim.RemoveMember(e.group, "ms-alice")
	require.NoError(t, err)
	e.reply("alice", dm.Id, "three")

	texts := e.mm.ephemeralTexts("alice")
	require.Len(t, texts, 2)
	assert.Contains(t, texts[0], "limiting requests")
	assert.Contains(t, texts[1], "no longer in this chat")
}

func TestARevokedSignInGetsTheReconnectMessage(t *testing.T) {
	e := newEnv(t)
	_, dm := e.delivered(e.oneOn, "ms-bob", "alice", "<p>hi</p>")
	e.Sim.RevokeGrant("ms-alice", "", 50173)
	e.Sim.ExpireTokens()

	e.reply("alice", dm.Id, "hello")

	assert.Empty(t, e.messagesFrom(e.oneOn, "ms-alice"))
	texts := e.mm.ephemeralTexts("alice")
	require.Len(t, texts, 1)
	assert.Contains(t, texts[0], "/msteams connect")
	dms := e.MM.DMs("alice")
	require.NotEmpty(t, dms)
	assert.Contains(t, dms[len(dms)-1], "connection to Microsoft Teams was lost", "the usual revoked-connection DM")
}

func TestReactionsRoundTripToTeams(t *testing.T) {
	e := newEnv(t)
	teamsID, dm := e.delivered(e.oneOn, "ms-bob", "alice", "<p>lunch?</p>")
	ctx := context.Background()
	reactions := func() []graph.Reaction {
		m, err := e.Graph.App().GetMessage(ctx, e.oneOn, teamsID)
		require.NoError(t, err)
		return m.Reactions
	}

	e.svc.ReactionChanged(ctx, &model.Reaction{UserId: "alice", PostId: dm.Id, EmojiName: "+1"}, true)
	got := reactions()
	require.Len(t, got, 1)
	assert.Equal(t, "👍", got[0].Type)
	assert.Equal(t, "ms-alice", got[0].UserID)

	// The bot's own reactions and reactions by someone else on alice's DM are ignored.
	e.svc.ReactionChanged(ctx, &model.Reaction{UserId: botID, PostId: dm.Id, EmojiName: "heart"}, true)
	e.svc.ReactionChanged(ctx, &model.Reaction{UserId: "bob", PostId: dm.Id, EmojiName: "heart"}, true)
	assert.Len(t, reactions(), 1)

	e.svc.ReactionChanged(ctx, &model.Reaction{UserId: "alice", PostId: dm.Id, EmojiName: "+1"}, false)
	assert.Empty(t, reactions())

	// Reactions elsewhere on the server cost no post read.
	e.mm.addChannel(&model.Channel{Id: "town", Type: model.ChannelTypeOpen, Name: "town-square"})
	reads := e.mm.calls["GetPost"]
	e.svc.ReactionChanged(ctx, &model.Reaction{UserId: "alice", PostId: "elsewhere", ChannelId: "town", EmojiName: "+1"}, true)
	assert.Equal(t, reads, e.mm.calls["GetPost"])

	// A custom emoji has no Teams reaction: the user is told which ones Teams has.
	e.svc.ReactionChanged(ctx, &model.Reaction{UserId: "alice", PostId: dm.Id, EmojiName: "partyparrot"}, true)
	assert.Empty(t, reactions())
	texts := e.mm.ephemeralTexts("alice")
	require.Len(t, texts, 1)
	assert.Contains(t, texts[0], ":partyparrot:")
	assert.Contains(t, texts[0], ":+1:")
}

func TestTokenScopes(t *testing.T) {
	for _, tc := range []struct {
		token string
		want  []string
		known bool
	}{
		{"eyJhbGciOiJub25lIn0.eyJzY3AiOiJDaGF0LlJlYWQgQ2hhdE1lc3NhZ2UuU2VuZCJ9.sig", []string{"Chat.Read", "ChatMessage.Send"}, true},
		{"eyJhbGciOiJub25lIn0.eyJyb2xlcyI6WyJ4Il19.sig", nil, false}, // an app token: no scp
		{"EwBwA8l6BAAU-opaque", nil, false},
		{"a.!!!.c", nil, false},
	} {
		got, known := reply.TokenScopes(tc.token)
		assert.Equal(t, tc.want, got, tc.token)
		assert.Equal(t, tc.known, known, tc.token)
	}
	assert.True(t, reply.CanSend([]string{"User.Read", "chatmessage.send"}))
	assert.True(t, reply.CanSend([]string{"Chat.ReadWrite"}))
	assert.False(t, reply.CanSend([]string{"Chat.Read", "ChatMessage.Read"}))
}

func TestOnlyPlainUserPostsAreCandidates(t *testing.T) {
	e := newEnv(t, "alice")
	user := &model.Post{UserId: "alice", ChannelId: e.dm["alice"], Message: "hi"}
	assert.True(t, e.svc.Relevant(user))
	for name, p := range map[string]*model.Post{
		"the bot":         {UserId: botID, ChannelId: e.dm["alice"], Message: "hi"},
		"a system post":   {UserId: "alice", ChannelId: e.dm["alice"], Type: model.PostTypeAddToChannel},
		"a webhook post":  {UserId: "alice", ChannelId: e.dm["alice"], Message: "hi", Props: model.StringInterface{"from_webhook": "true"}},
		"a plugin post":   {UserId: "alice", ChannelId: e.dm["alice"], Message: "hi", Props: model.StringInterface{"from_plugin": true}},
		"a bot's post":    {UserId: "alice", ChannelId: e.dm["alice"], Message: "hi", Props: model.StringInterface{"from_bot": "true"}},
		"no author":       {ChannelId: e.dm["alice"], Message: "hi"},
		"a shared remote": {UserId: "alice", ChannelId: e.dm["alice"], Message: "hi", RemoteId: model.NewPointer("remote")},
	} {
		assert.False(t, e.svc.Relevant(p), name)
	}

	// Once a channel is known not to be the author's DM with the bot, its posts start no work at all.
	e.mm.addChannel(&model.Channel{Id: "town-square", Name: "town-square", Type: model.ChannelTypeOpen})
	elsewhere := &model.Post{UserId: "alice", ChannelId: "town-square", Message: "hi"}
	assert.True(t, e.svc.Relevant(elsewhere), "an unknown channel must be looked at once")
	e.svc.MessagePosted(context.Background(), elsewhere)
	assert.False(t, e.svc.Relevant(elsewhere), "then it is known not to be a bot DM")
	assert.True(t, e.svc.Relevant(user), "the bot DM itself stays relevant")
}

func TestADisconnectedUserIsToldToConnect(t *testing.T) {
	e := newEnv(t)
	_, dm := e.delivered(e.oneOn, "ms-bob", "alice", "<p>hi</p>")
	require.NoError(t, e.Service.Disconnect(context.Background(), "alice"))

	e.reply("alice", dm.Id, "hello")
	e.svc.ReactionChanged(context.Background(), &model.Reaction{UserId: "alice", PostId: dm.Id, EmojiName: "+1"}, true)

	assert.Empty(t, e.messagesFrom(e.oneOn, "ms-alice"))
	texts := e.mm.ephemeralTexts("alice")
	require.Len(t, texts, 2)
	assert.Contains(t, texts[0], "Your reply was not sent")
	assert.Contains(t, texts[0], "/msteams connect")
	assert.Contains(t, texts[1], "Your reaction was not sent")
}

// Graph calls per reply: one delegated POST; reading the chat's members (app-only) only when the reply names
// someone; nothing for the consent check while the user's token carries ChatMessage.Send.
func TestGraphCallsPerReply(t *testing.T) {
	e := newEnv(t)
	_, dm := e.delivered(e.group, "ms-bob", "alice", "<p>hi</p>")

	e.Sim.ResetCalls()
	e.reply("alice", dm.Id, "plain answer")
	assert.Equal(t, 1, e.Sim.GraphCalls("delegated"))
	assert.Zero(t, e.Sim.GraphCalls("app"))

	e.Sim.ResetCalls()
	e.reply("alice", dm.Id, "thanks @bob and @carol")
	assert.Equal(t, 1, e.Sim.GraphCalls("delegated"))
	assert.Equal(t, 1, e.Sim.GraphCalls("app"), "the chat's members, read once for both mentions")

	e.Sim.ResetCalls()
	e.svc.ReactionChanged(context.Background(), &model.Reaction{UserId: "alice", PostId: dm.Id, EmojiName: "heart"}, true)
	assert.Equal(t, 1, e.Sim.GraphCalls("delegated"))
	assert.Zero(t, e.Sim.GraphCalls("app"))
}

func TestAPictureAloneIsSentAndOversizedOnesAreNamed(t *testing.T) {
	e := newEnv(t)
	_, dm := e.delivered(e.oneOn, "ms-bob", "alice", "<p>photo?</p>")
	e.mm.addFile(&model.FileInfo{Id: "img1", Name: "cat.jpg", MimeType: "image/jpeg", Size: 4}, []byte("\xff\xd8\xff\xe0"))
	e.mm.addFile(&model.FileInfo{Id: "big", Name: "huge.png", MimeType: "image/png", Size: 3 << 20}, make([]byte, 3<<20))

	e.reply("alice", dm.Id, "", "img1", "big")

	sent := e.messagesFrom(e.oneOn, "ms-alice")
	require.Len(t, sent, 1, "a reply of only a picture is sent")
	assert.Contains(t, sent[0].BodyHTML, "hostedContents")
	texts := e.mm.ephemeralTexts("alice")
	require.Len(t, texts, 1)
	assert.Contains(t, texts[0], "huge.png")

	// Only files Teams cannot take: nothing is sent, the user is told.
	e.reply("alice", dm.Id, "", "big")
	assert.Len(t, e.messagesFrom(e.oneOn, "ms-alice"), 1)
	assert.Len(t, e.mm.ephemeralTexts("alice"), 2)
}
