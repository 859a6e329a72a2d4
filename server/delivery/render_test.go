package delivery

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/connect"
	"github.com/teamsnotify/msteams-sync/server/format"
	"github.com/teamsnotify/msteams-sync/server/graph"
)

func TestPreferenceMatchesTheConnectPackage(t *testing.T) {
	assert.Equal(t, connect.PreferenceCategory, preferenceCategory)
	assert.Equal(t, connect.PreferenceNotifications, preferenceNotifications)
	assert.Equal(t, connect.PreferenceOn, preferenceOn)
}

func TestTeamsLinkFallsBackToTheDeepLink(t *testing.T) {
	msg := graph.Message{ID: "1700000000000", ChatID: "19:abc_def@unq.gbl.spaces"}
	assert.Equal(t, "https://teams.microsoft.com/l/message/19:abc_def@unq.gbl.spaces/1700000000000?context=%7B%22contextType%22%3A%22chat%22%7D", teamsLink(msg))
	msg.WebURL = "https://teams.microsoft.com/l/message/x/1"
	assert.Equal(t, msg.WebURL, teamsLink(msg))
	msg.WebURL = "javascript:alert(1)"
	assert.True(t, strings.HasPrefix(teamsLink(msg), "https://teams.microsoft.com/l/message/19:"), "only https links are taken from Graph")
}

func TestHeaderNamesTheChat(t *testing.T) {
	msg := graph.Message{ID: "1", ChatID: "c", WebURL: "https://teams.example/m", From: graph.Identity{DisplayName: "Ann"}}
	members := []graph.ChatMember{{UserID: "a"}, {UserID: "b"}, {UserID: "c"}}
	tests := []struct {
		chat graph.Chat
		want string
	}{
		{graph.Chat{Type: "oneOnOne", Members: members[:2]}, "**Ann** sent you a message in a Teams chat · [Open in Teams](https://teams.example/m)"},
		{graph.Chat{Type: "group", Topic: "Q3 *plans*", Members: members}, `**Ann** wrote in the Teams group chat **Q3 \*plans\*** (3 members) · [Open in Teams](https://teams.example/m)`},
		{graph.Chat{Type: "group", Members: members}, "**Ann** wrote in the Teams group chat (3 members) · [Open in Teams](https://teams.example/m)"},
		{graph.Chat{Type: "meeting", Topic: "Standup", Members: members}, "**Ann** wrote in the Teams meeting chat **Standup** (3 members) · [Open in Teams](https://teams.example/m)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, header(msg, tt.chat, "", ""))
	}
	assert.True(t, strings.HasPrefix(header(msg, tests[0].chat, "Ann\nSmith", ""), "**Ann Smith** "), "one line whatever the name")
}

func TestMessageTextAndDeletedText(t *testing.T) {
	head := "**Ann** sent you a message in a Teams chat · [Open in Teams](https://teams.example/m)"
	assert.Equal(t, head+"\n\nhi", messageText(head, format.Result{Markdown: "hi"}, false))
	assert.Equal(t, head+"\n\nhi\n\n*(edited)*", messageText(head, format.Result{Markdown: "hi"}, true))
	assert.Equal(t, head+"\n\n"+emptyNote, messageText(head, format.Result{}, false))

	long := messageText(head, format.Result{Markdown: strings.Repeat("x", format.MaxMessageRunes)}, true)
	assert.LessOrEqual(t, utf8.RuneCountInString(long), format.MaxMessageRunes, "header plus body still fits a post")
	assert.True(t, strings.HasPrefix(long, head+"\n\n"))

	assert.Equal(t, head+"\n\n"+deletedNote, deletedText(head+"\n\nsecret text\n\nmore"))
	assert.Equal(t, head+"\n\n"+deletedNote, deletedText(head+"\n\n"+deletedNote), "deleting twice is stable")
}

func TestActiveInTeams(t *testing.T) {
	tests := []struct {
		availability, activity string
		active                 bool
	}{
		{"Available", "Available", true},
		{"Busy", "InACall", true},
		{"DoNotDisturb", "Presenting", true},
		{"Available", "Away", false},
		{"Busy", "OffWork", false},
		{"Available", "Inactive", false},
		{"Away", "Away", false},
		{"BeRightBack", "BeRightBack", false},
		{"Offline", "Offline", false},
		{"AvailableIdle", "Available", false},
		{"PresenceUnknown", "PresenceUnknown", false},
		{"", "", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.active, activeInTeams(graph.Presence{Availability: tt.availability, Activity: tt.activity}), "%s/%s", tt.availability, tt.activity)
	}
}

func TestEncodeMessageRoundTripsThroughGraphParsing(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 123456700, time.UTC)
	in := graph.Message{
		ID: "1700000000000", ChatID: "19:c@thread.v2", Etag: "1", MessageType: "message", Importance: "high",
		Subject: "s", Locale: "en-us", WebURL: "https://teams.microsoft.com/l/message/x/1",
		From:     graph.Identity{UserID: "u1", DisplayName: "Ann", IdentityType: "aadUser", TenantID: "t"},
		BodyHTML: `<p><at id="0">Bob</at> hi</p>`, BodyType: "html",
		CreatedAt: at, LastModifiedAt: at.Add(time.Minute), LastEditedAt: at.Add(time.Minute),
		Attachments: []graph.Attachment{{ID: "a1", ContentType: "reference", ContentURL: "https://x/f.pdf", Name: "f.pdf"}},
		Mentions:    []graph.Mention{{ID: 0, Text: "Bob", UserID: "u2", DisplayName: "Bob"}},
		Reactions:   []graph.Reaction{{Type: "like", DisplayName: "Like", UserID: "u2", CreatedAt: at}},
	}
	raw, err := encodeMessage(in)
	require.NoError(t, err)
	out, err := graph.MessageFromJSON(raw)
	require.NoError(t, err)
	assert.Equal(t, in, out)

	bot := graph.Message{ID: "2", From: graph.Identity{UserID: "app", DisplayName: "Bot", IsApplication: true, IdentityType: "bot"}, MessageType: "message"}
	raw, err = encodeMessage(bot)
	require.NoError(t, err)
	out, err = graph.MessageFromJSON(raw)
	require.NoError(t, err)
	assert.True(t, out.From.IsApplication)
	assert.Equal(t, "app", out.From.UserID)

	reply := graph.Message{
		ID: "3", TeamID: "team-1", ChannelID: "19:general@thread.tacv2", ReplyToID: "1", MessageType: "message",
		BodyType: "html", BodyHTML: "x",
		Mentions: []graph.Mention{
			{ID: 0, Text: "General", ConversationID: "19:general@thread.tacv2", ConversationType: "channel", DisplayName: "General"},
			{ID: 1, Text: "oncall", TagID: "tag-7", DisplayName: "oncall"},
		},
	}
	raw, err = encodeMessage(reply)
	require.NoError(t, err)
	out, err = graph.MessageFromJSON(raw)
	require.NoError(t, err)
	assert.Equal(t, reply, out, "a channel reply keeps its channel and its channel and tag mentions")
}

func TestTTLCacheExpiresAndEvicts(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newTTLCache[int](2, time.Minute)
	c.put("a", 1, now)
	c.put("b", 2, now)
	_, ok := c.get("a", now) // a is now the most recently used
	require.True(t, ok)
	c.put("c", 3, now)
	_, ok = c.get("b", now)
	assert.False(t, ok, "the least recently used entry goes when the cache is full")
	v, ok := c.get("a", now.Add(59*time.Second))
	assert.True(t, ok)
	assert.Equal(t, 1, v)
	_, ok = c.get("a", now.Add(time.Minute))
	assert.False(t, ok, "entries expire after the TTL")
	c.remove("c")
	_, ok = c.get("c", now)
	assert.False(t, ok)
}

func TestHeaderMarksExternalAndGuestSenders(t *testing.T) {
	const home, other = "11111111-aaaa-4aaa-8aaa-000000000001", "22222222-bbbb-4bbb-8bbb-000000000002"
	me := graph.ChatMember{UserID: "me", TenantID: home, Roles: []string{"owner"}}
	tests := []struct {
		name      string
		ourTenant string
		from      graph.Identity
		sender    graph.ChatMember
		others    []graph.ChatMember // besides me
		want      string
	}{
		{"colleague", home, graph.Identity{UserID: "s", DisplayName: "Ann", IdentityType: "aadUser", TenantID: home},
			graph.ChatMember{UserID: "s", TenantID: home, Roles: []string{"owner"}}, nil, "**Ann** sent"},
		{"colleague, tenant id in another case", strings.ToUpper(home), graph.Identity{UserID: "s", DisplayName: "Ann", IdentityType: "aadUser", TenantID: home},
			graph.ChatMember{UserID: "s", TenantID: home}, nil, "**Ann** sent"},
		{"guest in our tenant", home, graph.Identity{UserID: "s", DisplayName: "Ann", IdentityType: "aadUser", TenantID: home},
			graph.ChatMember{UserID: "s", TenantID: home, Roles: []string{"owner", "guest"}}, nil, "**Ann** (Guest) sent"},
		{"user of another tenant", home, graph.Identity{UserID: "s", DisplayName: "Ann", IdentityType: "aadUser", TenantID: other},
			graph.ChatMember{UserID: "s", TenantID: other, Roles: []string{"owner"}}, nil, "**Ann** (External) sent"},
		{"user of another tenant, tenant from the membership only", home, graph.Identity{UserID: "s", DisplayName: "Ann", IdentityType: "aadUser"},
			graph.ChatMember{UserID: "s", TenantID: other}, nil, "**Ann** (External) sent"},
		// The chat's other members do not decide: only our configured tenant does.
		{"another tenant's user in a chat full of that tenant", home, graph.Identity{UserID: "s", DisplayName: "Ann", IdentityType: "aadUser", TenantID: other},
			graph.ChatMember{UserID: "s", TenantID: other}, []graph.ChatMember{{UserID: "o1", TenantID: other}, {UserID: "o2", TenantID: other}}, "**Ann** (External) sent"},
		{"colleague in a chat of only external people", home, graph.Identity{UserID: "s", DisplayName: "Ann", IdentityType: "aadUser", TenantID: home},
			graph.ChatMember{UserID: "s", TenantID: home}, []graph.ChatMember{{UserID: "o1", TenantID: other}}, "**Ann** sent"},
		{"tenant unknown", home, graph.Identity{UserID: "s", DisplayName: "Ann", IdentityType: "aadUser"},
			graph.ChatMember{UserID: "s"}, nil, "**Ann** sent"},
		{"no tenant configured", "", graph.Identity{UserID: "s", DisplayName: "Ann", IdentityType: "aadUser", TenantID: other},
			graph.ChatMember{UserID: "s", TenantID: other}, nil, "**Ann** sent"},
		{"federated user", home, graph.Identity{UserID: "s", DisplayName: "Ann", IdentityType: "federatedUser"},
			graph.ChatMember{UserID: "s"}, nil, "**Ann** (External) sent"},
		{"personal account", home, graph.Identity{UserID: "s", DisplayName: "Ann", IdentityType: "personalMicrosoftAccountUser"},
			graph.ChatMember{UserID: "s"}, nil, "**Ann** (External) sent"},
		{"bot", home, graph.Identity{UserID: "app", DisplayName: "Bot", IsApplication: true, IdentityType: "bot", TenantID: other},
			graph.ChatMember{UserID: "x", TenantID: home}, nil, "**Bot** sent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := graph.Message{ID: "1", ChatID: "c", WebURL: "https://teams.example/m", From: tt.from}
			chat := graph.Chat{Type: "oneOnOne", Members: append([]graph.ChatMember{tt.sender, me}, tt.others...)}
			got := header(msg, chat, "", tt.ourTenant)
			assert.True(t, strings.HasPrefix(got, tt.want+" you a message"), got)
		})
	}
}

// Names and topics read as typed, in the post and in push notifications and e-mail (which show the Markdown
// source): only what Markdown would read inside the header's bold text is escaped.
func TestInlineTextEscapesOnlyWhatMarkdownNeeds(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Ann O'Neil-Smith (Sales). Hi!", "Ann O'Neil-Smith (Sales). Hi!"},
		{"1. # + - > | {x} :-)", "1. # + - > | {x} :-)"},
		{"Launch <plan> & Q3", "Launch <plan> & Q3"},
		{"a*b_c~d `e` \\ f", "a\\*b\\_c\\~d \\`e\\` \\\\ f"},
		{"[click](http://x)", "\\[click\\](http://x)"},
		{"![img](http://x/p.png)", "!\\[img\\](http://x/p.png)"},
		{"<http://evil.example> <a@b.example>", "\\<http://evil.example> \\<a@b.example>"},
		{"@all and @here", "@\u2060all and @\u2060here"},
		{"&#64;channel", "&\u2060#64;channel"},
		{"  two\n lines\t", "two lines"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, inlineText(tt.in), "%q", tt.in)
	}
}

// Through graphsim: a guest of our tenant and a user of another tenant are marked in the DM header, a
// colleague is not.
func TestDMHeaderMarksGuestAndExternalSendersFromGraph(t *testing.T) {
	e := newEnv(t)
	me := e.addPerson("reader")
	colleague := e.addPerson("colleague")
	guest := person{name: "guest", teamsID: "9a9a9a9a-0000-4000-8000-00000000a001"}
	require.NoError(t, e.sim.AddUser(graphsim.User{ID: guest.teamsID, TenantID: testTenant, DisplayName: "Gina Guest", Guest: true}))
	external := person{name: "external", teamsID: "9a9a9a9a-0000-4000-8000-00000000a002"}
	require.NoError(t, e.sim.AddUser(graphsim.User{ID: external.teamsID, TenantID: "f0f0f0f0-0000-4000-8000-0000000000ff",
		DisplayName: "Eve Outside", IdentityType: "federatedUser"}))
	const partnerTenant = "f0f0f0f0-0000-4000-8000-0000000000ee"
	partner := person{name: "partner", teamsID: "9a9a9a9a-0000-4000-8000-00000000a003"}
	partnerColleague := person{name: "partner2", teamsID: "9a9a9a9a-0000-4000-8000-00000000a004"}
	require.NoError(t, e.sim.AddUser(graphsim.User{ID: partner.teamsID, TenantID: partnerTenant, DisplayName: "Pat Partner"}))
	require.NoError(t, e.sim.AddUser(graphsim.User{ID: partnerColleague.teamsID, TenantID: partnerTenant, DisplayName: "Quinn Partner"}))
	chatID := e.chat("group", "Vendors", me, colleague, guest, external, partner, partnerColleague)

	for _, tc := range []struct {
		from person
		want string
	}{
		{colleague, "**colleague Example** wrote"},
		{guest, "**Gina Guest** (Guest) wrote"},
		{external, "**Eve Outside** (External) wrote"},
		// An Entra user of another tenant, in a chat with a colleague of theirs: their tenant is not ours.
		{partner, "**Pat Partner** (External) wrote"},
	} {
		msgID := e.send(chatID, tc.from, "<p>hello</p>")
		require.NoError(t, e.notify("created", chatID, msgID))
		dms := e.dms(me)
		require.NotEmpty(t, dms)
		assert.True(t, strings.HasPrefix(dms[len(dms)-1].Message, tc.want), dms[len(dms)-1].Message)
	}
}
