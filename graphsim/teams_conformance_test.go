package graphsim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/teams"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

// teamRoles are the application permissions the channel feature asks for.
var teamRoles = []string{"ChannelMessage.Read.All", "Team.ReadBasic.All", "TeamMember.Read.All", "Channel.ReadBasic.All", "ChannelMember.Read.All", "TeamworkTag.Read.All"}

type teamEnv struct {
	*env
	team, general, std, private, shared, tag string
}

// newTeamEnv adds a team to newEnv's tenant: Alice owns it, Bob and Carol are members; a standard
// channel, a private channel of Alice and Bob, a shared channel of Alice, and a tag for Bob and Carol.
func newTeamEnv(t *testing.T, roles ...string) *teamEnv {
	t.Helper()
	return withTeam(t, newEnv(t), roles...)
}

func withTeam(t *testing.T, base *env, roles ...string) *teamEnv {
	t.Helper()
	e := &teamEnv{env: base}
	if roles == nil {
		roles = teamRoles
	}
	require.NoError(t, e.sim.SetAppRoles(clientID, append([]string{"Chat.Read.All", "User.Read.All"}, roles...)))
	var err error
	e.team, err = e.sim.CreateTeam(graphsim.TeamSpec{DisplayName: "Contoso", Owners: []string{aliceID}, Members: []string{bobID, carolID}})
	require.NoError(t, err)
	e.general = e.sim.Teams()[0].Channels[0].ID
	e.std, err = e.sim.CreateChannel(e.team, graphsim.ChannelSpec{DisplayName: "Releases"})
	require.NoError(t, err)
	e.private, err = e.sim.CreateChannel(e.team, graphsim.ChannelSpec{DisplayName: "Leads", MembershipType: "private", Owners: []string{aliceID}, Members: []string{bobID}})
	require.NoError(t, err)
	e.shared, err = e.sim.CreateChannel(e.team, graphsim.ChannelSpec{DisplayName: "Partners", MembershipType: "shared", Members: []string{aliceID}})
	require.NoError(t, err)
	e.tag, err = e.sim.CreateTag(e.team, graphsim.TagSpec{DisplayName: "Oncall", Members: []string{bobID, carolID}})
	require.NoError(t, err)
	return e
}

func TestTeamChannelsMembersAndTagsReadThroughTheSDK(t *testing.T) {
	e := newTeamEnv(t)
	c := e.appClient(t)
	ctx := context.Background()
	tb := c.Teams().ByTeamId(e.team)

	team, err := tb.Get(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, "Contoso", *team.GetDisplayName())
	assert.Equal(t, tenantID, *team.GetTenantId())

	members, err := tb.Members().Get(ctx, nil)
	require.NoError(t, err)
	require.Len(t, members.GetValue(), 3)
	owners := 0
	for _, m := range members.GetValue() {
		am, ok := m.(models.AadUserConversationMemberable)
		require.True(t, ok, "team members are aadUserConversationMember, got %T", m)
		assert.NotEqual(t, *am.GetUserId(), *am.GetId(), "membership ids are not user ids")
		if len(am.GetRoles()) == 1 && am.GetRoles()[0] == "owner" {
			owners++
			assert.Equal(t, aliceID, *am.GetUserId())
		}
	}
	assert.Equal(t, 1, owners)

	channels, err := tb.Channels().Get(ctx, nil)
	require.NoError(t, err)
	kinds := map[string]models.ChannelMembershipType{}
	for _, ch := range channels.GetValue() {
		kinds[*ch.GetId()] = *ch.GetMembershipType()
	}
	assert.Equal(t, map[string]models.ChannelMembershipType{
		e.general: models.STANDARD_CHANNELMEMBERSHIPTYPE, e.std: models.STANDARD_CHANNELMEMBERSHIPTYPE,
		e.private: models.PRIVATE_CHANNELMEMBERSHIPTYPE, e.shared: models.SHARED_CHANNELMEMBERSHIPTYPE,
	}, kinds, "an app-only caller lists every channel")

	private, err := tb.Channels().ByChannelId(e.private).Get(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, "Leads", *private.GetDisplayName())

	memberUsers := func(id string) []string {
		t.Helper()
		ms, err := tb.Channels().ByChannelId(id).Members().Get(ctx, nil)
		require.NoError(t, err)
		var out []string
		for _, m := range ms.GetValue() {
			out = append(out, *m.(models.AadUserConversationMemberable).GetUserId())
		}
		return out
	}
	assert.ElementsMatch(t, []string{aliceID, bobID, carolID}, memberUsers(e.std), "a standard channel's members are the team's")
	assert.ElementsMatch(t, []string{aliceID, bobID}, memberUsers(e.private))
	assert.ElementsMatch(t, []string{aliceID}, memberUsers(e.shared))

	tags, err := tb.Tags().Get(ctx, nil)
	require.NoError(t, err)
	require.Len(t, tags.GetValue(), 1)
	assert.Equal(t, "Oncall", *tags.GetValue()[0].GetDisplayName())
	assert.Equal(t, int32(2), *tags.GetValue()[0].GetMemberCount())
	assert.Equal(t, models.STANDARD_TEAMWORKTAGTYPE, *tags.GetValue()[0].GetTagType())
	tagMembers, err := tb.Tags().ByTeamworkTagId(e.tag).Members().Get(ctx, nil)
	require.NoError(t, err)
	var tagged []string
	for _, m := range tagMembers.GetValue() {
		tagged = append(tagged, *m.GetUserId())
		assert.NotEqual(t, *m.GetUserId(), *m.GetId())
	}
	assert.ElementsMatch(t, []string{bobID, carolID}, tagged)
}

func TestChannelMessagesRepliesAndMentionsThroughTheSDK(t *testing.T) {
	e := newTeamEnv(t)
	root, err := e.sim.SendChannelMessage(e.team, e.std, graphsim.NewMessage{
		From: aliceID, Subject: "Release 2.0",
		HTML: `<p><at id="0">Bob Brown</at> <at id="1">Contoso</at> <at id="2">Releases</at> <at id="3">Oncall</at> ship it</p>`,
		Mentions: []graphsim.Mention{
			{ID: 0, MentionText: "Bob Brown", UserID: bobID},
			{ID: 1, MentionText: "Contoso", TeamID: e.team},
			{ID: 2, MentionText: "Releases", ChannelID: e.std},
			{ID: 3, MentionText: "Oncall", TagID: e.tag},
		},
	})
	require.NoError(t, err)
	e.clock.Advance(1e9)
	reply, err := e.sim.ReplyChannelMessage(e.team, e.std, root, graphsim.NewMessage{From: bobID, HTML: "<p>on it</p>"})
	require.NoError(t, err)

	c := e.appClient(t)
	ctx := context.Background()
	mb := c.Teams().ByTeamId(e.team).Channels().ByChannelId(e.std).Messages()
	msg, err := mb.ByChatMessageId(root).Get(ctx, nil)
	require.NoError(t, err)
	assert.Nil(t, msg.GetChatId())
	assert.Nil(t, msg.GetReplyToId())
	assert.Equal(t, "Release 2.0", *msg.GetSubject())
	require.NotNil(t, msg.GetChannelIdentity())
	assert.Equal(t, e.team, *msg.GetChannelIdentity().GetTeamId())
	assert.Equal(t, e.std, *msg.GetChannelIdentity().GetChannelId())
	assert.Contains(t, *msg.GetWebUrl(), "parentMessageId="+root)
	require.Len(t, msg.GetMentions(), 4)
	assert.Equal(t, bobID, *msg.GetMentions()[0].GetMentioned().GetUser().GetId())
	team := msg.GetMentions()[1].GetMentioned().GetConversation()
	require.NotNil(t, team)
	assert.Equal(t, e.team, *team.GetId())
	assert.Equal(t, models.TEAM_TEAMWORKCONVERSATIONIDENTITYTYPE, *team.GetConversationIdentityType())
	ch := msg.GetMentions()[2].GetMentioned().GetConversation()
	require.NotNil(t, ch)
	assert.Equal(t, e.std, *ch.GetId())
	assert.Equal(t, models.CHANNEL_TEAMWORKCONVERSATIONIDENTITYTYPE, *ch.GetConversationIdentityType())
	// v1.0's chatMessageMentionedIdentitySet has no typed tag property: the SDK keeps it as additional data.
	assert.NotNil(t, msg.GetMentions()[3].GetMentioned().GetAdditionalData()["tag"])

	var raw struct {
		Mentions []struct {
			Mentioned struct {
				Tag *struct {
					ODataType   string `json:"@odata.type"`
					ID          string `json:"id"`
					DisplayName string `json:"displayName"`
				} `json:"tag"`
			} `json:"mentioned"`
		} `json:"mentions"`
	}
	b, ok := e.sim.ChannelMessageJSON(e.team, e.std, "", root)
	require.True(t, ok)
	require.NoError(t, json.Unmarshal(b, &raw))
	require.NotNil(t, raw.Mentions[3].Mentioned.Tag)
	assert.Equal(t, "#microsoft.graph.teamworkTagIdentity", raw.Mentions[3].Mentioned.Tag.ODataType)
	assert.Equal(t, e.tag, raw.Mentions[3].Mentioned.Tag.ID)
	assert.Equal(t, "Oncall", raw.Mentions[3].Mentioned.Tag.DisplayName)

	replies, err := mb.ByChatMessageId(root).Replies().Get(ctx, nil)
	require.NoError(t, err)
	require.Len(t, replies.GetValue(), 1)
	assert.Equal(t, root, *replies.GetValue()[0].GetReplyToId())
	got, err := mb.ByChatMessageId(root).Replies().ByChatMessageId1(reply).Get(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, reply, *got.GetId())
	assert.Equal(t, root, *got.GetReplyToId())
	assert.Equal(t, bobID, *got.GetFrom().GetUser().GetId())

	list, err := mb.Get(ctx, nil)
	require.NoError(t, err)
	require.Len(t, list.GetValue(), 1, "the message list has thread roots only")

	_, err = mb.ByChatMessageId(reply).Get(ctx, nil)
	status, _, _ := odataErr(t, err)
	assert.Equal(t, http.StatusNotFound, status, "a reply is not a root message")

	require.NoError(t, e.sim.EditChannelMessage(e.team, e.std, reply, "<p>done</p>"))
	got, err = mb.ByChatMessageId(root).Replies().ByChatMessageId1(reply).Get(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, "<p>done</p>", *got.GetBody().GetContent())
	assert.NotNil(t, got.GetLastEditedDateTime())
	require.NoError(t, e.sim.DeleteChannelMessage(e.team, e.std, root))
	msg, err = mb.ByChatMessageId(root).Get(ctx, nil)
	require.NoError(t, err)
	assert.NotNil(t, msg.GetDeletedDateTime())
	assert.Empty(t, msg.GetMentions())
}

func TestChannelReadsPagingAndRefusals(t *testing.T) {
	t.Run("large team members page with nextLink", func(t *testing.T) {
		e := newTeamEnv(t)
		for i := 0; i < 150; i++ {
			id := fmt.Sprintf("0000%04d-0000-4000-8000-000000000000", i)
			require.NoError(t, e.sim.AddUser(graphsim.User{ID: id, TenantID: tenantID, DisplayName: fmt.Sprintf("User %d", i)}))
			require.NoError(t, e.sim.AddTeamMember(e.team, id, false))
		}
		mb := e.appClient(t).Teams().ByTeamId(e.team).Members()
		page, err := mb.Get(context.Background(), nil)
		require.NoError(t, err)
		seen := len(page.GetValue())
		require.NotNil(t, page.GetOdataNextLink())
		next, err := mb.WithUrl(*page.GetOdataNextLink()).Get(context.Background(), nil)
		require.NoError(t, err)
		seen += len(next.GetValue())
		assert.Nil(t, next.GetOdataNextLink())
		assert.Equal(t, 153, seen)
	})
	t.Run("replies page with $top", func(t *testing.T) {
		e := newTeamEnv(t)
		root, err := e.sim.SendChannelMessage(e.team, e.general, graphsim.NewMessage{From: aliceID, HTML: "root"})
		require.NoError(t, err)
		for i := 0; i < 3; i++ {
			_, err := e.sim.ReplyChannelMessage(e.team, e.general, root, graphsim.NewMessage{From: bobID, HTML: fmt.Sprint(i)})
			require.NoError(t, err)
		}
		rb := e.appClient(t).Teams().ByTeamId(e.team).Channels().ByChannelId(e.general).Messages().ByChatMessageId(root).Replies()
		page, err := rb.Get(context.Background(), &teams.ItemChannelsItemMessagesItemRepliesRequestBuilderGetRequestConfiguration{
			QueryParameters: &teams.ItemChannelsItemMessagesItemRepliesRequestBuilderGetQueryParameters{Top: ptr(int32(2))},
		})
		require.NoError(t, err)
		require.Len(t, page.GetValue(), 2)
		require.NotNil(t, page.GetOdataNextLink())
		next, err := rb.WithUrl(*page.GetOdataNextLink()).Get(context.Background(), nil)
		require.NoError(t, err)
		assert.Len(t, next.GetValue(), 1)
	})

	tests := []struct {
		name  string
		roles []string
		call  func(t *testing.T, e *teamEnv) error
	}{
		{"team without Team.ReadBasic.All", []string{"ChannelMessage.Read.All"}, func(t *testing.T, e *teamEnv) error {
			_, err := e.appClient(t).Teams().ByTeamId(e.team).Get(context.Background(), nil)
			return err
		}},
		{"members without TeamMember.Read.All", []string{"Team.ReadBasic.All"}, func(t *testing.T, e *teamEnv) error {
			_, err := e.appClient(t).Teams().ByTeamId(e.team).Members().Get(context.Background(), nil)
			return err
		}},
		{"channels without Channel.ReadBasic.All", []string{"TeamMember.Read.All"}, func(t *testing.T, e *teamEnv) error {
			_, err := e.appClient(t).Teams().ByTeamId(e.team).Channels().Get(context.Background(), nil)
			return err
		}},
		{"channel members without ChannelMember.Read.All", []string{"Channel.ReadBasic.All"}, func(t *testing.T, e *teamEnv) error {
			_, err := e.appClient(t).Teams().ByTeamId(e.team).Channels().ByChannelId(e.private).Members().Get(context.Background(), nil)
			return err
		}},
		{"tags without TeamworkTag.Read.All", []string{"TeamMember.Read.All"}, func(t *testing.T, e *teamEnv) error {
			_, err := e.appClient(t).Teams().ByTeamId(e.team).Tags().Get(context.Background(), nil)
			return err
		}},
		{"channel message without ChannelMessage.Read.All", []string{"Chat.Read.All"}, func(t *testing.T, e *teamEnv) error {
			_, err := e.appClient(t).Teams().ByTeamId(e.team).Channels().ByChannelId(e.std).Messages().ByChatMessageId("1").Get(context.Background(), nil)
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTeamEnv(t, tc.roles...)
			status, code, oe := odataErr(t, tc.call(t, e))
			assert.Equal(t, http.StatusForbidden, status)
			assert.Equal(t, "Forbidden", code)
			assert.Contains(t, *oe.GetErrorEscaped().GetMessage(), "Missing roles permissions on the request")
		})
	}

	t.Run("delegated member sees standard channels and the private ones they are in", func(t *testing.T) {
		e := newTeamEnv(t)
		require.NoError(t, e.sim.SetDelegatedScopes(clientID, append(graphsim.DefaultDelegatedScopes, "Channel.ReadBasic.All", "ChannelMessage.Read.All")))
		c := e.delegatedClient(t, carolID)
		list, err := c.Teams().ByTeamId(e.team).Channels().Get(context.Background(), nil)
		require.NoError(t, err)
		var ids []string
		for _, ch := range list.GetValue() {
			ids = append(ids, *ch.GetId())
		}
		assert.ElementsMatch(t, []string{e.general, e.std}, ids)
		_, err = c.Teams().ByTeamId(e.team).Channels().ByChannelId(e.private).Get(context.Background(), nil)
		status, _, _ := odataErr(t, err)
		assert.Equal(t, http.StatusForbidden, status)
	})
	t.Run("unknown team, channel and message are 404", func(t *testing.T) {
		e := newTeamEnv(t)
		c := e.appClient(t)
		_, err := c.Teams().ByTeamId("00000000-0000-4000-8000-00000000dead").Get(context.Background(), nil)
		status, code, _ := odataErr(t, err)
		assert.Equal(t, http.StatusNotFound, status)
		assert.Equal(t, "NotFound", code)
		_, err = c.Teams().ByTeamId(e.team).Channels().ByChannelId("19:nope@thread.tacv2").Get(context.Background(), nil)
		status, _, _ = odataErr(t, err)
		assert.Equal(t, http.StatusNotFound, status)
		_, err = c.Teams().ByTeamId(e.team).Channels().ByChannelId(e.std).Messages().ByChatMessageId("42").Get(context.Background(), nil)
		status, _, _ = odataErr(t, err)
		assert.Equal(t, http.StatusNotFound, status)
	})
}

func TestTeamGetAllMessagesCoversChannelsAndReplies(t *testing.T) {
	e := newTeamEnv(t)
	var want []string
	for _, ch := range []string{e.general, e.private} {
		root, err := e.sim.SendChannelMessage(e.team, ch, graphsim.NewMessage{From: aliceID, HTML: "root"})
		require.NoError(t, err)
		e.clock.Advance(1e9)
		reply, err := e.sim.ReplyChannelMessage(e.team, ch, root, graphsim.NewMessage{From: bobID, HTML: "reply"})
		require.NoError(t, err)
		e.clock.Advance(1e9)
		want = append(want, root, reply)
	}
	_, err := e.sim.SendChannelMessage(e.team, e.shared, graphsim.NewMessage{From: aliceID, HTML: "shared"})
	require.NoError(t, err)

	gb := e.appClient(t).Teams().ByTeamId(e.team).Channels().GetAllMessages()
	page, err := gb.GetAsGetAllMessagesGetResponse(context.Background(), &teams.ItemChannelsGetAllMessagesRequestBuilderGetRequestConfiguration{
		QueryParameters: &teams.ItemChannelsGetAllMessagesRequestBuilderGetQueryParameters{Top: ptr(int32(3)), Model: ptr("B")},
	})
	require.NoError(t, err)
	var got []string
	for _, m := range page.GetValue() {
		got = append(got, *m.GetId())
	}
	require.NotNil(t, page.GetOdataNextLink())
	next, err := gb.WithUrl(*page.GetOdataNextLink()).GetAsGetAllMessagesGetResponse(context.Background(), nil)
	require.NoError(t, err)
	for _, m := range next.GetValue() {
		got = append(got, *m.GetId())
	}
	assert.Nil(t, next.GetOdataNextLink())
	assert.Equal(t, want, got, "roots and replies of the standard and private channels, oldest first")

	filter := "lastModifiedDateTime gt " + e.clock.Now().Add(-2500e6).UTC().Format("2006-01-02T15:04:05.000Z")
	page, err = gb.GetAsGetAllMessagesGetResponse(context.Background(), &teams.ItemChannelsGetAllMessagesRequestBuilderGetRequestConfiguration{
		QueryParameters: &teams.ItemChannelsGetAllMessagesRequestBuilderGetQueryParameters{Filter: &filter},
	})
	require.NoError(t, err)
	require.Len(t, page.GetValue(), 2)
	assert.Equal(t, want[2:], []string{*page.GetValue()[0].GetId(), *page.GetValue()[1].GetId()})
}

func TestChannelImagesAreHostedUnderTheChannelPath(t *testing.T) {
	e := newTeamEnv(t)
	png := []byte("\x89PNG\r\n\x1a\nchannel")
	root, err := e.sim.SendChannelMessage(e.team, e.std, graphsim.NewMessage{From: aliceID, HTML: `<p><img src="{{hosted:img1}}"></p>`,
		Hosted: []graphsim.HostedContent{{ID: "img1", ContentType: "image/png", Bytes: png}}})
	require.NoError(t, err)
	reply, err := e.sim.ReplyChannelMessage(e.team, e.std, root, graphsim.NewMessage{From: bobID, HTML: `<p><img src="{{hosted:img2}}"></p>`,
		Hosted: []graphsim.HostedContent{{ID: "img2", ContentType: "image/png", Bytes: png}}})
	require.NoError(t, err)

	ctx := context.Background()
	mb := e.appClient(t).Teams().ByTeamId(e.team).Channels().ByChannelId(e.std).Messages().ByChatMessageId(root)
	msg, err := mb.Get(ctx, nil)
	require.NoError(t, err)
	assert.Contains(t, *msg.GetBody().GetContent(), e.sim.GraphURL()+"/teams/"+e.team+"/channels/"+e.std+"/messages/"+root+"/hostedContents/img1/$value")
	b, err := mb.HostedContents().ByChatMessageHostedContentId("img1").Content().Get(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, png, b)

	rmsg, err := mb.Replies().ByChatMessageId1(reply).Get(ctx, nil)
	require.NoError(t, err)
	assert.Contains(t, *rmsg.GetBody().GetContent(), "/messages/"+root+"/replies/"+reply+"/hostedContents/img2/$value")
	b, err = mb.Replies().ByChatMessageId1(reply).HostedContents().ByChatMessageHostedContentId("img2").Content().Get(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, png, b)
}

// A file uploaded to a channel message lives in the team's site, as in Teams, and is readable with a delegated
// token by whoever can see the channel at the time of the read; a file linked from the sender's OneDrive keeps
// its own sharing. Guests carry the "guest" role on team members.
func TestChannelFilesFollowTheChannelAndGuestsAreMarked(t *testing.T) {
	e := newTeamEnv(t)
	ctx := context.Background()
	id, err := e.sim.SendChannelMessage(e.team, e.private, graphsim.NewMessage{From: aliceID, HTML: "<p>files</p>",
		Files: []graphsim.FileRef{{Name: "leads.xlsx", Bytes: []byte("channel")}, {Name: "mine.docx", Bytes: []byte("own"), SharedWith: []string{carolID}}}})
	require.NoError(t, err)
	msg, err := e.appClient(t).Teams().ByTeamId(e.team).Channels().ByChannelId(e.private).Messages().ByChatMessageId(id).Get(ctx, nil)
	require.NoError(t, err)
	urls := map[string]string{}
	for _, a := range msg.GetAttachments() {
		urls[*a.GetName()] = *a.GetContentUrl()
	}
	assert.Contains(t, urls["leads.xlsx"], "/sites/Contoso-Leads/Shared%20Documents/Leads/", "the private channel's own site")
	assert.Contains(t, urls["mine.docx"], "/personal/", "a link to the sender's OneDrive")

	canRead := func(user, name string) bool {
		_, err := e.delegatedClient(t, user).Shares().BySharedDriveItemId(graphsim.ShareID(urls[name])).DriveItem().Get(ctx, nil)
		if err == nil {
			return true
		}
		status, code, _ := odataErr(t, err)
		require.Equal(t, http.StatusForbidden, status, "%v", err)
		require.Equal(t, "accessDenied", code)
		return false
	}
	assert.True(t, canRead(bobID, "leads.xlsx"), "a channel member")
	assert.False(t, canRead(carolID, "leads.xlsx"), "a team member outside the private channel")
	assert.False(t, canRead(bobID, "mine.docx"), "not shared with bob")
	assert.True(t, canRead(carolID, "mine.docx"), "shared with carol")
	require.NoError(t, e.sim.RemoveChannelMember(e.team, e.private, bobID))
	assert.False(t, canRead(bobID, "leads.xlsx"), "access ends with the membership")

	const guestID = "99999999-0000-4000-8000-000000000009"
	require.NoError(t, e.sim.AddUser(graphsim.User{ID: guestID, TenantID: tenantID, DisplayName: "Gus", Guest: true, Mail: "gus@fabrikam.test", UserPrincipalName: "gus_fabrikam.test#EXT#@contoso.test"}))
	require.NoError(t, e.sim.AddTeamMember(e.team, guestID, false))
	members, err := e.appClient(t).Teams().ByTeamId(e.team).Members().Get(ctx, nil)
	require.NoError(t, err)
	roles := map[string][]string{}
	for _, m := range members.GetValue() {
		if u, ok := m.(interface{ GetUserId() *string }); ok {
			roles[*u.GetUserId()] = m.GetRoles()
		}
	}
	assert.Equal(t, []string{"guest"}, roles[guestID])
	assert.NotContains(t, roles[bobID], "guest")
	team, err := e.appClient(t).Teams().ByTeamId(e.team).Get(ctx, nil)
	require.NoError(t, err)
	assert.EqualValues(t, 1, *team.GetSummary().GetGuestsCount())
}
