package mute_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/command"
	"github.com/teamsnotify/msteams-sync/server/config"
	"github.com/teamsnotify/msteams-sync/server/delivery"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/mute"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

const (
	tenant = "11111111-2222-3333-4444-555555555555"
	client = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	secret = "client-secret-value"
	botID  = "botuserid000000000000000000"
)

var now = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// env is the service on a real database, reading chats from a real graphsim with the app's token.
type env struct {
	t     *testing.T
	sim   *graphsim.Sim
	store *store.Store
	svc   *mute.Service
	cmds  *command.Handler
	posts posts
	n     int
}

// posts is the fake plugin API's posts: only what the commands read.
type posts map[string]*model.Post

func (p posts) GetPost(id string) (*model.Post, *model.AppError) {
	if post, ok := p[id]; ok {
		return post, nil
	}
	return nil, model.NewAppError("GetPost", "not_found", nil, "", 404)
}

type responder struct{}

func (responder) SendEphemeral(string, string, string, string) {}

type logger struct{ t *testing.T }

func (l logger) LogError(msg string, kv ...any) { l.t.Errorf("%s %v", msg, kv) }

func newEnv(t *testing.T) *env {
	sim, err := graphsim.New(graphsim.Options{DisableThrottling: true})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	require.NoError(t, sim.AddApp(graphsim.AppRegistration{TenantID: tenant, ClientID: client, ClientSecret: secret,
		DisplayName: "MS Teams for Mattermost", AppRoles: []string{"Chat.Read.All"}}))
	cfg := config.Defaults()
	cfg.TenantID, cfg.ClientID, cfg.ClientSecret = tenant, client, secret
	cfg.Cloud, cfg.CustomAuthorityURL, cfg.CustomGraphURL, cfg.CustomCACertificate = config.CloudCustom, sim.AuthorityURL(), sim.GraphURL(), string(sim.CACertPEM())
	factory, err := graph.NewFactory(cfg, graph.Options{})
	require.NoError(t, err)

	e := &env{t: t, sim: sim, store: storetest.NewStore(t), posts: posts{}}
	e.svc = mute.New(e.store, func() mute.Graph { return factory.App() }, func() time.Time { return now })
	e.cmds = command.New(nil, responder{}, logger{t})
	for _, s := range mute.NewCommands(e.svc, e.posts, botID).Subcommands() {
		e.cmds.Register(s)
	}
	return e
}

// person adds a Teams user and, unless told otherwise, connects a Mattermost user "mm-<name>" to it.
func (e *env) person(name string, connected bool) string {
	e.n++
	id := fmt.Sprintf("0000%04d-1111-4111-8111-%012d", e.n, e.n)
	require.NoError(e.t, e.sim.AddUser(graphsim.User{ID: id, TenantID: tenant, DisplayName: name, Mail: strings.ToLower(name) + "@contoso.test"}))
	if connected {
		require.NoError(e.t, e.store.SaveConnection(context.Background(), store.Connection{
			MMUserID: "mm-" + name, TeamsUserID: id, Token: []byte("sealed"), TokenKeyID: "k", ConnectedAt: now}))
	}
	return id
}

func (e *env) chat(chatType, topic string, members ...string) string {
	id, err := e.sim.CreateChat(graphsim.ChatSpec{TenantID: tenant, ChatType: chatType, Topic: topic, Members: members})
	require.NoError(e.t, err)
	return id
}

// dm is a forwarded message of chatID in the user's DM channel with the bot.
func (e *env) dm(postID, chatID string) {
	p := &model.Post{Id: postID, UserId: botID, ChannelId: "dm-channel"}
	p.AddProp(delivery.PropChatID, chatID)
	e.posts[postID] = p
}

func (e *env) run(user, rootID, line string) string {
	return e.cmds.Answer(context.Background(), command.Call{UserID: user, ChannelID: "dm-channel", RootID: rootID}, line)
}

func TestMuteFromAThreadListAndUnmute(t *testing.T) {
	e := newEnv(t)
	ada, bob, cy := e.person("Ada", true), e.person("Bob Brown", true), e.person("Cy", false)
	direct := e.chat("oneOnOne", "", ada, bob)
	group := e.chat("group", "Launch *plan*", ada, bob, cy)
	e.dm("p-direct", direct)
	e.dm("p-group", group)

	assert.Contains(t, e.run("mm-Ada", "", "/msteams mute"), "only in the thread of a Teams message")
	assert.Contains(t, e.run("mm-Ada", "", "/msteams muted"), "You have not muted any Teams chat")

	assert.Contains(t, e.run("mm-Ada", "p-direct", "/msteams mute"), "Muted the Teams chat Bob Brown:")
	assert.Contains(t, e.run("mm-Ada", "p-group", "/msteams mute"), `Muted the Teams chat Launch \*plan\*:`, "the title shows as text")

	list := e.run("mm-Ada", "", "/msteams muted")
	assert.Contains(t, list, "1. Bob Brown (since 2026-03-02)\n2. Launch \\*plan\\* (since 2026-03-02)")
	assert.Contains(t, list, "/msteams unmute 1")
	choices, err := e.store.ChatChoices(context.Background(), direct, []string{"mm-Ada", "mm-Bob Brown"})
	require.NoError(t, err)
	assert.True(t, choices["mm-Ada"].Muted)
	assert.False(t, choices["mm-Bob Brown"].Muted, "only for the user who muted it")

	assert.Contains(t, e.run("mm-Ada", "", "/msteams unmute 3"), "no muted chat number 3")
	assert.Contains(t, e.run("mm-Ada", "", "/msteams unmute x"), "/msteams unmute all")
	assert.Contains(t, e.run("mm-Ada", "", "/msteams unmute 1"), "Unmuted the Teams chat Bob Brown")
	assert.Contains(t, e.run("mm-Ada", "p-group", "/msteams unmute"), "Unmuted this Teams chat")
	assert.Contains(t, e.run("mm-Ada", "p-group", "/msteams unmute"), "not muted")
	assert.Contains(t, e.run("mm-Ada", "", "/msteams unmute"), "/msteams muted")

	e.run("mm-Ada", "p-direct", "/msteams mute")
	e.run("mm-Ada", "p-group", "/msteams mute")
	assert.Contains(t, e.run("mm-Ada", "", "/msteams unmute all"), "Unmuted 2 Teams chats")
	assert.Contains(t, e.run("mm-Ada", "", "/msteams unmute all"), "You have not muted any Teams chat")
}

func TestMuteRefusals(t *testing.T) {
	e := newEnv(t)
	ada, bob, eve := e.person("Ada", true), e.person("Bob", true), e.person("Eve", true)
	direct := e.chat("oneOnOne", "", ada, bob)
	e.dm("p-direct", direct)
	e.dm("p-gone", "19:gone@unq.gbl.spaces")
	other := &model.Post{Id: "p-other", UserId: "someone-else", ChannelId: "dm-channel"}
	other.AddProp(delivery.PropChatID, direct)
	e.posts["p-other"] = other

	assert.Contains(t, e.run("mm-Eve", "p-direct", "/msteams mute"), "not a member of that Teams chat", "a chat id proves nothing")
	assert.Contains(t, e.run("mm-Ada", "p-gone", "/msteams mute"), "not a member")
	assert.Contains(t, e.run("mm-Ada", "p-other", "/msteams mute"), "only in the thread of a Teams message", "only the bot's DMs count")
	assert.Contains(t, e.run("mm-Nobody", "p-direct", "/msteams mute"), "/msteams connect")
	chats, err := e.svc.Muted(context.Background(), "mm-Eve")
	require.NoError(t, err)
	assert.Empty(t, chats)
	_ = eve

	_, err = mute.New(e.store, func() mute.Graph { return nil }, nil).Mute(context.Background(), "mm-Ada", direct)
	assert.ErrorIs(t, err, mute.ErrUnavailable, "no Graph while the plugin is not configured")
	answer, ok := mute.Explain(err)
	assert.True(t, ok)
	assert.Contains(t, answer, "try again")
}

func TestMode(t *testing.T) {
	e := newEnv(t)
	e.person("Ada", true)

	assert.Contains(t, e.run("mm-Ada", "", "/msteams mode"), "every message")
	assert.Contains(t, e.run("mm-Ada", "", "/msteams mode mentions"), "only messages that mention you")
	assert.Contains(t, e.run("mm-Ada", "", "/msteams mode"), "Run `/msteams mode all`")
	mode, err := e.store.GetMessageMode(context.Background(), "mm-Ada")
	require.NoError(t, err)
	assert.Equal(t, store.ModeMentions, mode)
	assert.Contains(t, e.run("mm-Ada", "", "/msteams mode some"), "Use `/msteams mode all`")
	assert.Contains(t, e.run("mm-Ada", "", "/msteams mode ALL"), "every message")
	assert.Contains(t, e.run("mm-Nobody", "", "/msteams mode mentions"), "/msteams connect")

	help := e.run("mm-Ada", "", "/msteams help")
	for _, usage := range []string{"`/msteams mute`", "`/msteams unmute [number|all]`", "`/msteams muted`", "`/msteams mode all|mentions`"} {
		assert.Contains(t, help, usage)
	}
}

func TestTitle(t *testing.T) {
	m := func(id, name string) graph.ChatMember { return graph.ChatMember{UserID: id, DisplayName: name} }
	tests := []struct {
		chat graph.Chat
		want string
	}{
		{graph.Chat{Topic: "  Launch  ", Members: []graph.ChatMember{m("me", "Me"), m("b", "Bob")}}, "Launch"},
		{graph.Chat{Members: []graph.ChatMember{m("ME", "Me"), m("b", "Bob")}}, "Bob"},
		{graph.Chat{Members: []graph.ChatMember{m("me", "Me"), m("c", "Cy"), m("b", "Bob")}}, "Bob and Cy"},
		{graph.Chat{Members: []graph.ChatMember{m("me", "Me"), m("c", "Cy"), m("b", "Bob"), m("d", "Di")}}, "Bob, Cy and Di"},
		{graph.Chat{Members: []graph.ChatMember{m("me", "Me"), m("c", "Cy"), m("b", "Bob"), m("d", "Di"), m("e", "Ed")}}, "Bob, Cy and 2 others"},
		{graph.Chat{Members: []graph.ChatMember{m("me", "Me")}}, "a Teams chat"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, mute.Title(tt.chat, "me"))
	}
}
