package reply_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/connect"
	"github.com/teamsnotify/msteams-sync/server/connect/connectenv"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/internal/mmfake"
	"github.com/teamsnotify/msteams-sync/server/reply"
	"github.com/teamsnotify/msteams-sync/server/store"
)

const botID = "botbotbotbotbotbotbotbotbo"

// scopesWithoutSend is a consent without ChatMessage.Send.
var scopesWithoutSend = []string{"User.Read", "User.ReadBasic.All", "Chat.Read", "ChatMessage.Read", "Presence.Read.All", "Files.Read.All", "offline_access", "openid", "profile"}

// env: graphsim, PostgreSQL and the real connection service (connectenv), an in-memory Mattermost, and the
// reply service under test. alice, bob and carol are Mattermost users connected to ms-alice, ms-bob, ms-carol.
type env struct {
	*connectenv.Env
	t     *testing.T
	mm    *mmfake.Mattermost
	queue *jobQueue
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
	e := &env{Env: ce, t: t, mm: mmfake.New(), queue: &jobQueue{}, dm: map[string]string{}}
	for _, u := range []string{"alice", "bob", "carol"} {
		e.mm.PutUser(&model.User{Id: u, Username: u, FirstName: strings.ToUpper(u[:1]) + u[1:]})
		ch := &model.Channel{Id: "dm-" + u, Type: model.ChannelTypeDirect, Name: model.GetDMNameFromIds(botID, u)}
		e.mm.PutChannel(ch)
		e.dm[u] = ch.Id
	}
	if len(connectUsers) == 0 {
		connectUsers = []string{"alice", "bob", "carol"}
	}
	for _, u := range connectUsers {
		e.Connect(u, u+"@contoso.test")
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		if !contains(connectUsers, u) {
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
		Queue:      e.queue,
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
	return id, e.mm.PutPost(p)
}

// jobQueue keeps the reply jobs Accept stores; the tests run them as the inbox would.
type jobQueue struct {
	mu    sync.Mutex
	items []store.InboxItem
}

func (q *jobQueue) EnqueueInbox(_ context.Context, items []store.InboxItem) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, items...)
	return nil
}

// take returns the jobs queued since the last take.
func (q *jobQueue) take() []inbox.Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []inbox.Job
	for i, it := range q.items {
		out = append(out, inbox.Job{ID: int64(i + 1), Queue: it.Queue, Payload: it.Payload, EnqueuedAt: it.EnqueuedAt})
	}
	q.items = nil
	return out
}

// reply writes a post in the user's bot DM, as the post hook hands it over, and runs the job it queued once.
func (e *env) reply(user, rootID, text string, files ...string) *model.Post {
	e.t.Helper()
	p, jobs := e.write(user, rootID, text, files...)
	for _, j := range jobs {
		require.NoError(e.t, e.process(j, 1))
	}
	return p
}

// write posts in the user's bot DM and hands the post to the hook; it returns the jobs queued, not run.
func (e *env) write(user, rootID, text string, files ...string) (*model.Post, []inbox.Job) {
	p := e.mm.PutPost(&model.Post{UserId: user, ChannelId: e.dm[user], RootId: rootID, Message: text, FileIds: files, CreateAt: model.GetMillis()})
	e.svc.Accept(context.Background(), p)
	return p, e.queue.take()
}

// process runs a reply job as the inbox's attempt-th try.
func (e *env) process(j inbox.Job, attempt int) error {
	j.Attempts = attempt
	return e.svc.Process(context.Background(), j)
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

	assert.Equal(t, []string{botID + ":" + reply.SentEmoji}, e.mm.Reactions(mine.Id), "the bot marks the reply as sent")
	assert.Empty(t, e.mm.Ephemerals("alice"))

	threads, err := e.Store.ReplyThreads(context.Background(), e.group, []string{"alice", "bob"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"alice": dm.Id}, threads, "later DMs of the chat continue alice's thread")
}

func TestPostsThatAreNotRepliesAreNotSent(t *testing.T) {
	e := newEnv(t)
	_, dm := e.delivered(e.oneOn, "ms-bob", "alice", "<p>hi</p>")

	// A top-level message in the bot DM: a hint, nothing sent.
	e.reply("alice", "", "hello?")
	assert.Len(t, e.mm.Ephemerals("alice"), 1)
	assert.Contains(t, e.mm.Ephemerals("alice")[0], "reply in the thread")

	// The bot's own posts (its DMs, its answers) never go anywhere: no loop.
	bot := e.mm.PutPost(&model.Post{UserId: botID, ChannelId: e.dm["alice"], RootId: dm.Id, Message: "from the bot"})
	e.svc.Accept(context.Background(), bot)
	// System posts and posts in other channels are ignored.
	e.mm.PutChannel(&model.Channel{Id: "town", Type: model.ChannelTypeOpen, Name: "town-square"})
	e.svc.Accept(context.Background(), e.mm.PutPost(&model.Post{UserId: "alice", ChannelId: "town", RootId: dm.Id, Message: "x"}))
	e.svc.Accept(context.Background(), e.mm.PutPost(&model.Post{UserId: "alice", ChannelId: e.dm["alice"], RootId: dm.Id, Type: model.PostTypeJoinChannel}))
	// A reply in the thread of a bot post that is not a Teams message: a hint.
	welcome := e.mm.PutPost(&model.Post{UserId: botID, ChannelId: e.dm["alice"], Message: "Welcome"})
	e.reply("alice", welcome.Id, "thanks")

	assert.Empty(t, e.messagesFrom(e.oneOn, "ms-alice"))
	texts := e.mm.Ephemerals("alice")
	require.Len(t, texts, 2)
	assert.Contains(t, texts[1], "did not come from Microsoft Teams")
	assert.Equal(t, 2, e.mm.Calls("GetChannel"), "one lookup per channel: its kind is remembered")
}

func TestPastedImageGoesAsHostedContentOtherFilesAreNamed(t *testing.T) {
	e := newEnv(t)
	_, dm := e.delivered(e.oneOn, "ms-bob", "alice", "<p>screenshot?</p>")
	e.mm.PutFile(&model.FileInfo{Id: "img1", Name: "shot.png", MimeType: "image/png", Size: 9}, []byte("\x89PNG fake"))
	e.mm.PutFile(&model.FileInfo{Id: "doc1", Name: "plan.pdf", MimeType: "application/pdf", Size: 3}, []byte("pdf"))

	e.reply("alice", dm.Id, "here", "img1", "doc1")

	sent := e.messagesFrom(e.oneOn, "ms-alice")
	require.Len(t, sent, 1)
	assert.Contains(t, sent[0].BodyHTML, "hostedContents", "the image is part of the message")
	texts := e.mm.Ephemerals("alice")
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
	texts := e.mm.Ephemerals("alice")
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
	texts = e.mm.Ephemerals("alice")
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
	texts := e.mm.Ephemerals("alice")
	require.Len(t, texts, 1)
	assert.Contains(t, texts[0], "/connect?renew=1")

	n, err := e.svc.AskToSignInAgain(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n, "bob only")
	require.Len(t, e.mm.Created(e.dm["bob"]), 1)
	assert.Contains(t, e.mm.Created(e.dm["bob"])[0], "/connect?renew=1")
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

	// Throttled beyond the in-process retries: the job waits as long as Teams asks, and only the last attempt
	// gives up and explains.
	e.Sim.InjectFault(graphsim.Fault{Route: "POST /chats/{id}/messages", Status: 429, RetryAfter: 2, Count: 100})
	_, jobs := e.write("alice", dm.Id, "one")
	require.Len(t, jobs, 1)
	for attempt := 1; attempt < 6; attempt++ {
		err := e.process(jobs[0], attempt)
		wait, ok := inbox.RetryAfterOf(err)
		require.True(t, ok, "attempt %d: %v", attempt, err)
		assert.Equal(t, 2*time.Second, wait)
		assert.Empty(t, e.mm.Ephemerals("alice"), "nothing to tell while it may still go")
	}
	require.NoError(t, e.process(jobs[0], 6))
	e.Sim.ClearFaults()
	// Throttled once: the in-process retry sends it.
	e.Sim.InjectFault(graphsim.Fault{Route: "POST /chats/{id}/messages", Status: 429, RetryAfter: 1, Count: 1})
	e.reply("alice", dm.Id, "two")
	assert.Len(t, e.messagesFrom(e.group, "ms-alice"), 1)

	// alice left the chat: refused at once, explained at once.
	_, err := e.Sim.RemoveMember(e.group, "ms-alice")
	require.NoError(t, err)
	e.reply("alice", dm.Id, "three")

	texts := e.mm.Ephemerals("alice")
	require.Len(t, texts, 2)
	assert.Contains(t, texts[0], "limiting requests")
	assert.Contains(t, texts[1], "no longer in this chat")
}

// A reply caught by a Teams outage (or a plugin stop) stays queued and goes once Teams answers again, as
// edited meanwhile; a reply deleted before it could go is not sent.
func TestAReplyWaitsOutAnOutageAndGoesAsItIsThen(t *testing.T) {
	e := newEnv(t)
	_, dm := e.delivered(e.oneOn, "ms-bob", "alice", "<p>there?</p>")
	e.Sim.InjectFault(graphsim.Fault{Route: "POST /chats/{id}/messages", Status: 503, Count: 100})
	p, jobs := e.write("alice", dm.Id, "yes, here")
	require.Len(t, jobs, 1)
	err := e.process(jobs[0], 1)
	require.Error(t, err, "the inbox retries it")
	assert.Empty(t, e.mm.Ephemerals("alice"))
	assert.Empty(t, e.messagesFrom(e.oneOn, "ms-alice"))

	e.Sim.ClearFaults()
	p.Message = "yes, here (edited)"
	e.mm.PutPost(p)
	require.NoError(t, e.process(jobs[0], 2))
	sent := e.messagesFrom(e.oneOn, "ms-alice")
	require.Len(t, sent, 1)
	assert.Contains(t, sent[0].BodyHTML, "yes, here (edited)")
	assert.Equal(t, []string{botID + ":" + reply.SentEmoji}, e.mm.Reactions(p.Id))

	// Deleted before it could go.
	gone, jobs := e.write("alice", dm.Id, "never mind")
	e.mm.DeletePost(gone.Id)
	require.NoError(t, e.process(jobs[0], 1))
	assert.Len(t, e.messagesFrom(e.oneOn, "ms-alice"), 1)
	assert.Empty(t, e.mm.Ephemerals("alice"))
}

// A job can run again after its attempt reached Teams but before that was recorded (the plugin was killed in
// between, or Teams answered too late): the chat is checked first, so the reply is never posted twice. A
// reservation whose message is not in the chat is sent.
func TestAnInterruptedReplyIsNeverSentTwice(t *testing.T) {
	e := newEnv(t)
	_, dm := e.delivered(e.oneOn, "ms-bob", "alice", "<p>ready?</p>")
	ctx := context.Background()

	p, jobs := e.write("alice", dm.Id, "ready")
	_, fresh, err := e.Store.ReserveReply(ctx, store.SentReply{PostID: p.Id, ChatID: e.oneOn, MMUserID: "alice", ReservedAt: time.Now()})
	require.NoError(t, err)
	require.True(t, fresh)
	// The interrupted attempt's POST reached Teams (which may rewrite the markup).
	_, err = e.Sim.SendMessage(e.oneOn, graphsim.NewMessage{From: "ms-alice", HTML: "<div><p>ready</p></div>"})
	require.NoError(t, err)
	require.NoError(t, e.process(jobs[0], 2))
	assert.Len(t, e.messagesFrom(e.oneOn, "ms-alice"), 1, "found in the chat, not sent again")
	assert.Equal(t, []string{botID + ":" + reply.SentEmoji}, e.mm.Reactions(p.Id))
	require.NoError(t, e.process(jobs[0], 3))
	assert.Len(t, e.messagesFrom(e.oneOn, "ms-alice"), 1, "a sent reply stays sent")

	// This time the interrupted attempt never reached Teams.
	q, jobs := e.write("alice", dm.Id, "steady")
	_, _, err = e.Store.ReserveReply(ctx, store.SentReply{PostID: q.Id, ChatID: e.oneOn, MMUserID: "alice", ReservedAt: time.Now()})
	require.NoError(t, err)
	require.NoError(t, e.process(jobs[0], 2))
	sent := e.messagesFrom(e.oneOn, "ms-alice")
	require.Len(t, sent, 2)
	assert.Contains(t, sent[1].BodyHTML, "steady")
}

// A reply that could not go for over an hour is not sent: its author is told to answer again.
func TestAReplyTooLateIsNotSent(t *testing.T) {
	e := newEnv(t)
	_, dm := e.delivered(e.oneOn, "ms-bob", "alice", "<p>lunch?</p>")
	p, jobs := e.write("alice", dm.Id, "sure")
	p.CreateAt = model.GetMillis() - (2 * time.Hour).Milliseconds()
	e.mm.PutPost(p)

	require.NoError(t, e.process(jobs[0], 4))
	assert.Empty(t, e.messagesFrom(e.oneOn, "ms-alice"))
	texts := e.mm.Ephemerals("alice")
	require.Len(t, texts, 1)
	assert.Contains(t, texts[0], "over an hour")
}

func TestARevokedSignInGetsTheReconnectMessage(t *testing.T) {
	e := newEnv(t)
	_, dm := e.delivered(e.oneOn, "ms-bob", "alice", "<p>hi</p>")
	e.Sim.RevokeGrant("ms-alice", "", 50173)
	e.Sim.ExpireTokens()

	e.reply("alice", dm.Id, "hello")

	assert.Empty(t, e.messagesFrom(e.oneOn, "ms-alice"))
	texts := e.mm.Ephemerals("alice")
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
	e.mm.PutChannel(&model.Channel{Id: "town", Type: model.ChannelTypeOpen, Name: "town-square"})
	reads := e.mm.Calls("GetPost")
	e.svc.ReactionChanged(ctx, &model.Reaction{UserId: "alice", PostId: "elsewhere", ChannelId: "town", EmojiName: "+1"}, true)
	assert.Equal(t, reads, e.mm.Calls("GetPost"))

	// A custom emoji has no Teams reaction: the user is told which ones Teams has.
	e.svc.ReactionChanged(ctx, &model.Reaction{UserId: "alice", PostId: dm.Id, EmojiName: "partyparrot"}, true)
	assert.Empty(t, reactions())
	texts := e.mm.Ephemerals("alice")
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
	e.mm.PutChannel(&model.Channel{Id: "town-square", Name: "town-square", Type: model.ChannelTypeOpen})
	elsewhere := &model.Post{UserId: "alice", ChannelId: "town-square", Message: "hi"}
	assert.True(t, e.svc.Relevant(elsewhere), "an unknown channel must be looked at once")
	e.svc.Accept(context.Background(), elsewhere)
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
	texts := e.mm.Ephemerals("alice")
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
	e.mm.PutFile(&model.FileInfo{Id: "img1", Name: "cat.jpg", MimeType: "image/jpeg", Size: 4}, []byte("\xff\xd8\xff\xe0"))
	e.mm.PutFile(&model.FileInfo{Id: "big", Name: "huge.png", MimeType: "image/png", Size: 3 << 20}, make([]byte, 3<<20))

	e.reply("alice", dm.Id, "", "img1", "big")

	sent := e.messagesFrom(e.oneOn, "ms-alice")
	require.Len(t, sent, 1, "a reply of only a picture is sent")
	assert.Contains(t, sent[0].BodyHTML, "hostedContents")
	texts := e.mm.Ephemerals("alice")
	require.Len(t, texts, 1)
	assert.Contains(t, texts[0], "huge.png")

	// Only files Teams cannot take: nothing is sent, the user is told.
	e.reply("alice", dm.Id, "", "big")
	assert.Len(t, e.messagesFrom(e.oneOn, "ms-alice"), 1)
	assert.Len(t, e.mm.Ephemerals("alice"), 2)
}
