package graphsim_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	"github.com/microsoftgraph/msgraph-sdk-go/teams"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

func TestChannelMessageReadsAreThrottledLikeChats(t *testing.T) {
	e := withTeam(t, newEnv(t, withThrottling))
	root, err := e.sim.SendChannelMessage(e.team, e.std, graphsim.NewMessage{From: aliceID, HTML: "hi"})
	require.NoError(t, err)
	noRetry := &teams.ItemChannelsItemMessagesChatMessageItemRequestBuilderGetRequestConfiguration{Options: []abs.RequestOption{
		&khttp.RetryHandlerOptions{ShouldRetry: func(time.Duration, int, *http.Request, *http.Response) bool { return false }},
	}}
	mb := e.appClient(t).Teams().ByTeamId(e.team).Channels().ByChannelId(e.std).Messages().ByChatMessageId(root)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		_, err := mb.Get(ctx, noRetry)
		require.NoError(t, err, "a burst of two reads of one message passes")
	}
	_, err = mb.Get(ctx, noRetry)
	status, ra := retryAfter(t, err)
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.Equal(t, []string{"1"}, ra)
	e.clock.Advance(time.Second)
	_, err = mb.Get(ctx, noRetry)
	require.NoError(t, err)
	assert.Positive(t, e.sim.CallCount("GET /teams/{id}/channels/{id}/messages/{id}"), "channel routes have their own counter label")
}

func TestChannelStateRules(t *testing.T) {
	e := newTeamEnv(t)
	tests := []struct {
		name    string
		post    func() (string, error)
		wantErr string
	}{
		{"member posts in a standard channel", func() (string, error) {
			return e.sim.SendChannelMessage(e.team, e.std, graphsim.NewMessage{From: carolID, HTML: "x"})
		}, ""},
		{"team member outside a private channel cannot post", func() (string, error) {
			return e.sim.SendChannelMessage(e.team, e.private, graphsim.NewMessage{From: carolID, HTML: "x"})
		}, "not a member of channel"},
		{"mention of another team", func() (string, error) {
			return e.sim.SendChannelMessage(e.team, e.std, graphsim.NewMessage{From: aliceID, HTML: `<at id="0">X</at>`,
				Mentions: []graphsim.Mention{{ID: 0, MentionText: "X", TeamID: "other"}}})
		}, "only its own team"},
		{"mention of an unknown tag", func() (string, error) {
			return e.sim.SendChannelMessage(e.team, e.std, graphsim.NewMessage{From: aliceID, HTML: `<at id="0">X</at>`,
				Mentions: []graphsim.Mention{{ID: 0, MentionText: "X", TagID: "nope"}}})
		}, "unknown tag"},
		{"mention naming two things", func() (string, error) {
			return e.sim.SendChannelMessage(e.team, e.std, graphsim.NewMessage{From: aliceID, HTML: `<at id="0">X</at>`,
				Mentions: []graphsim.Mention{{ID: 0, MentionText: "X", UserID: bobID, TagID: e.tag}}})
		}, "exactly one"},
		{"reply to an unknown thread", func() (string, error) {
			return e.sim.ReplyChannelMessage(e.team, e.std, "123", graphsim.NewMessage{From: aliceID, HTML: "x"})
		}, "thread root"},
		{"a quote is for chats", func() (string, error) {
			return e.sim.SendChannelMessage(e.team, e.std, graphsim.NewMessage{From: aliceID, HTML: "x", ReplyTo: "1"})
		}, "replyTo"},
		{"unknown channel", func() (string, error) {
			return e.sim.SendChannelMessage(e.team, "19:nope@thread.tacv2", graphsim.NewMessage{From: aliceID, HTML: "x"})
		}, "unknown channel"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.post()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}

	t.Run("replies to replies are refused", func(t *testing.T) {
		root, err := e.sim.SendChannelMessage(e.team, e.std, graphsim.NewMessage{From: aliceID, HTML: "root"})
		require.NoError(t, err)
		reply, err := e.sim.ReplyChannelMessage(e.team, e.std, root, graphsim.NewMessage{From: bobID, HTML: "r"})
		require.NoError(t, err)
		_, err = e.sim.ReplyChannelMessage(e.team, e.std, reply, graphsim.NewMessage{From: bobID, HTML: "rr"})
		require.Error(t, err)
	})
	t.Run("removing a team member removes their private channel and tag memberships", func(t *testing.T) {
		require.NoError(t, e.sim.RemoveTeamMember(e.team, bobID))
		info := e.sim.Teams()[0]
		assert.NotContains(t, info.Members, bobID)
		for _, c := range info.Channels {
			assert.NotContains(t, c.Members, bobID, c.DisplayName)
		}
		assert.NotContains(t, info.Tags[0].Members, bobID)
	})
	t.Run("standard channels take no members", func(t *testing.T) {
		_, err := e.sim.CreateChannel(e.team, graphsim.ChannelSpec{DisplayName: "x", Members: []string{aliceID}})
		require.Error(t, err)
		require.Error(t, e.sim.AddChannelMember(e.team, e.std, carolID, false))
	})
}

func TestChannelEventsCarryTeamChannelAndThread(t *testing.T) {
	sim, events := plainSim(t)
	require.NoError(t, sim.LoadSeed(graphsim.DemoSeed()))
	root, err := sim.SendChannelMessage(graphsim.DemoTeamID, graphsim.DemoPrivateChannelID, graphsim.NewMessage{From: graphsim.DemoAliceID, HTML: "p"})
	require.NoError(t, err)
	reply, err := sim.ReplyChannelMessage(graphsim.DemoTeamID, graphsim.DemoPrivateChannelID, root, graphsim.NewMessage{From: graphsim.DemoBobID, HTML: "r"})
	require.NoError(t, err)
	evs := events()
	require.Len(t, evs, 2)
	assert.Equal(t, graphsim.DemoTeamID, evs[0].TeamID)
	assert.Equal(t, graphsim.DemoPrivateChannelID, evs[0].ChannelID)
	assert.Empty(t, evs[0].ChatID)
	assert.Empty(t, evs[0].ReplyToID)
	assert.ElementsMatch(t, []string{graphsim.DemoAliceID, graphsim.DemoBobID}, evs[0].MemberUserIDs, "a private channel's audience is its members")
	assert.Equal(t, reply, evs[1].MessageID)
	assert.Equal(t, root, evs[1].ReplyToID)
}

func TestTeamControlRoutes(t *testing.T) {
	sim, events := plainSim(t)
	require.NoError(t, sim.LoadSeed(graphsim.DemoSeed()))
	base := sim.BaseURL() + "/_sim/teams"
	var team struct{ ID, GeneralChannelID string }
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, base, map[string]any{
		"displayName": "Ops", "owners": []string{graphsim.DemoAliceID}, "members": []string{graphsim.DemoBobID},
	}, &team))
	require.NotEmpty(t, team.ID)
	require.True(t, strings.HasSuffix(team.GeneralChannelID, "@thread.tacv2"), team.GeneralChannelID)
	tb := base + "/" + url.PathEscape(team.ID)

	var ch, tag struct{ ID string }
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, tb+"/channels", map[string]any{"displayName": "Secret", "membershipType": "private", "members": []string{graphsim.DemoAliceID}}, &ch))
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, tb+"/members", map[string]any{"userId": graphsim.DemoCarolID}, nil))
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, tb+"/channels/"+url.PathEscape(ch.ID)+"/members", map[string]any{"userId": graphsim.DemoCarolID}, nil))
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, tb+"/tags", map[string]any{"displayName": "Leads", "members": []string{graphsim.DemoBobID}}, &tag))
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, tb+"/tags/"+url.PathEscape(tag.ID)+"/members", map[string]any{"userId": graphsim.DemoCarolID}, nil))
	require.Equal(t, http.StatusOK, call(t, http.MethodDelete, tb+"/tags/"+url.PathEscape(tag.ID)+"/members/"+graphsim.DemoBobID, nil, nil))
	require.Equal(t, http.StatusBadRequest, call(t, http.MethodPost, tb+"/tags/"+url.PathEscape(tag.ID)+"/members", map[string]any{"userId": "nobody"}, nil))

	msgs := tb + "/channels/" + url.PathEscape(ch.ID) + "/messages"
	var root, reply struct{ ID string }
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, msgs, map[string]any{
		"from": graphsim.DemoAliceID, "html": `<at id="0">Leads</at> hi`, "subject": "Plan",
		"mentions": []map[string]any{{"id": 0, "mentionText": "Leads", "tagId": tag.ID}},
	}, &root))
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, msgs+"/"+root.ID+"/replies", map[string]any{"from": graphsim.DemoCarolID, "html": "ok"}, &reply))
	var got struct {
		ReplyToID string `json:"replyToId"`
		Body      struct{ Content string }
	}
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, msgs+"/"+root.ID+"/replies/"+reply.ID, nil, &got))
	assert.Equal(t, root.ID, got.ReplyToID)
	require.Equal(t, http.StatusOK, call(t, http.MethodPatch, msgs+"/"+root.ID+"/replies/"+reply.ID, map[string]any{"html": "edited"}, nil))
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, msgs+"/"+root.ID+"/replies/"+reply.ID, nil, &got))
	assert.Equal(t, "edited", got.Body.Content)
	require.Equal(t, http.StatusOK, call(t, http.MethodDelete, msgs+"/"+root.ID, nil, nil))
	require.Equal(t, http.StatusNotFound, call(t, http.MethodGet, msgs+"/"+reply.ID+"/replies/"+root.ID, nil, nil))

	var kinds []string
	for _, ev := range events() {
		kinds = append(kinds, ev.ChangeType)
	}
	assert.Equal(t, []string{"created", "created", "updated", "deleted"}, kinds)

	var list []graphsim.TeamInfo
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, base, nil, &list))
	require.Len(t, list, 2)

	var roles struct{ Roles []string }
	require.Equal(t, http.StatusOK, call(t, http.MethodPut, sim.BaseURL()+"/_sim/apps/"+graphsim.DemoClientID+"/app-roles", map[string]any{"roles": []string{"ChannelMessage.Read.All"}}, &roles))
	assert.Equal(t, []string{"ChannelMessage.Read.All"}, roles.Roles)
	require.Equal(t, http.StatusNotFound, call(t, http.MethodPut, sim.BaseURL()+"/_sim/apps/nope/app-roles", map[string]any{"roles": []string{}}, nil))
}

func TestChatsRefuseTeamChannelAndTagMentions(t *testing.T) {
	e := newTeamEnv(t)
	_, err := e.sim.SendMessage(e.group, graphsim.NewMessage{From: aliceID, HTML: `<at id="0">Oncall</at>`,
		Mentions: []graphsim.Mention{{ID: 0, MentionText: "Oncall", TagID: e.tag}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "channel messages")
}

func TestBulkTeamMembers(t *testing.T) {
	sim, _ := plainSim(t)
	require.NoError(t, sim.LoadSeed(graphsim.DemoSeed()))
	team, err := sim.CreateTeam(graphsim.TeamSpec{DisplayName: "Big", Owners: []string{graphsim.DemoAliceID}})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, sim.BaseURL()+"/_sim/teams/"+team+"/members",
		map[string]any{"userIds": []string{graphsim.DemoBobID, graphsim.DemoCarolID}}, nil))
	for _, ti := range sim.Teams() {
		if ti.ID == team {
			assert.ElementsMatch(t, []string{graphsim.DemoAliceID, graphsim.DemoBobID, graphsim.DemoCarolID}, ti.Members)
		}
	}
	require.Equal(t, http.StatusBadRequest, call(t, http.MethodPost, sim.BaseURL()+"/_sim/teams/"+team+"/members",
		map[string]any{"userIds": []string{graphsim.DemoBobID}}, nil), "already a member")
}

func TestParseGraphMessageReadsChannelMentions(t *testing.T) {
	m, err := graphsim.ParseGraphMessage([]byte(`{"body":{"contentType":"html","content":"<at id=\"0\">A</at><at id=\"1\">T</at><at id=\"2\">C</at><at id=\"3\">G</at>"},
	  "mentions":[{"id":0,"mentionText":"A","mentioned":{"user":{"id":"u1"}}},
	    {"id":1,"mentionText":"T","mentioned":{"conversation":{"id":"team1","conversationIdentityType":"team"}}},
	    {"id":2,"mentionText":"C","mentioned":{"conversation":{"id":"19:c@thread.tacv2","conversationIdentityType":"channel"}}},
	    {"id":3,"mentionText":"G","mentioned":{"tag":{"id":"tag1"}}}]}`))
	require.NoError(t, err)
	assert.Equal(t, []graphsim.Mention{
		{ID: 0, MentionText: "A", UserID: "u1"}, {ID: 1, MentionText: "T", TeamID: "team1"},
		{ID: 2, MentionText: "C", ChannelID: "19:c@thread.tacv2"}, {ID: 3, MentionText: "G", TagID: "tag1"},
	}, m.Mentions)
	_, err = graphsim.ParseGraphMessage([]byte(`{"mentions":[{"id":0,"mentionText":"x","mentioned":{"application":{"id":"b"}}}]}`))
	require.Error(t, err)
}
