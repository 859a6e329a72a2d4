package graphsim_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
	abs "github.com/microsoft/kiota-abstractions-go"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	kauth "github.com/microsoft/kiota-authentication-azure-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	msgraphauth "github.com/microsoftgraph/msgraph-sdk-go-core/authentication"
	"github.com/microsoftgraph/msgraph-sdk-go/chats"
	"github.com/microsoftgraph/msgraph-sdk-go/communications"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

func ptr[T any](v T) *T { return &v }

// odataErr unwraps the SDK's ODataError and returns status and code.
func odataErr(t *testing.T, err error) (int, string, *odataerrors.ODataError) {
	t.Helper()
	require.Error(t, err)
	var oe *odataerrors.ODataError
	require.True(t, errors.As(err, &oe), "want ODataError, got %T: %v", err, err)
	code := ""
	if oe.GetErrorEscaped() != nil && oe.GetErrorEscaped().GetCode() != nil {
		code = *oe.GetErrorEscaped().GetCode()
	}
	return oe.ResponseStatusCode, code, oe
}

func TestChatWithMembersIsTypedAndMembershipIDsDifferFromUserIDs(t *testing.T) {
	e := newEnv(t)
	c := e.appClient(t)
	chat, err := c.Chats().ByChatId(e.dm).Get(context.Background(), &chats.ChatItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &chats.ChatItemRequestBuilderGetQueryParameters{Expand: []string{"members"}},
	})
	require.NoError(t, err)
	assert.Equal(t, e.dm, *chat.GetId())
	assert.Equal(t, models.ONEONONE_CHATTYPE, *chat.GetChatType())
	assert.True(t, strings.HasSuffix(e.dm, "@unq.gbl.spaces"))
	require.Len(t, chat.GetMembers(), 2)
	for _, m := range chat.GetMembers() {
		am, ok := m.(models.AadUserConversationMemberable)
		require.True(t, ok, "member must deserialize as aadUserConversationMember, got %T", m)
		assert.NotEqual(t, *am.GetUserId(), *am.GetId())
		assert.Contains(t, []string{aliceID, bobID}, *am.GetUserId())
		assert.Contains(t, *am.GetEmail(), "@contoso.test")
	}

	group, err := c.Chats().ByChatId(e.group).Get(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, models.GROUP_CHATTYPE, *group.GetChatType())
	assert.Equal(t, "Launch", *group.GetTopic())
	assert.True(t, strings.HasSuffix(e.group, "@thread.v2"))

	members, err := c.Chats().ByChatId(e.group).Members().Get(context.Background(), nil)
	require.NoError(t, err)
	require.Len(t, members.GetValue(), 3)
	_, ok := members.GetValue()[0].(models.AadUserConversationMemberable)
	assert.True(t, ok)
}

func TestMessageCarriesMentionsHostedContentFilesQuotesAndCards(t *testing.T) {
	e := newEnv(t)
	first, err := e.sim.SendMessage(e.group, graphsim.NewMessage{From: bobID, HTML: "<p>original</p>"})
	require.NoError(t, err)
	e.clock.Advance(time.Second)
	png := []byte("\x89PNG\r\n\x1a\nfake")
	id, err := e.sim.SendMessage(e.group, graphsim.NewMessage{
		From:     aliceID,
		HTML:     `<p>Hi <at id="0">Bob Brown</at> 🎉 <img src="{{hosted:img1}}"></p>`,
		Mentions: []graphsim.Mention{{ID: 0, MentionText: "Bob Brown", UserID: bobID}},
		Hosted:   []graphsim.HostedContent{{ID: "img1", ContentType: "image/png", Bytes: png}},
		Files:    []graphsim.FileRef{{Name: "plan.pdf", ContentType: "application/pdf", Bytes: []byte("%PDF-1.7")}},
		ReplyTo:  first,
		Attachments: []graphsim.Attachment{{ID: "card1", ContentType: "application/vnd.microsoft.card.adaptive",
			Content: `{"type":"AdaptiveCard","version":"1.4","body":[{"type":"TextBlock","text":"hi"}]}`}},
	})
	require.NoError(t, err)

	c := e.appClient(t)
	msg, err := c.Chats().ByChatId(e.group).Messages().ByChatMessageId(id).Get(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, id, *msg.GetId())
	assert.Equal(t, e.group, *msg.GetChatId())
	assert.Equal(t, models.MESSAGE_CHATMESSAGETYPE, *msg.GetMessageType())
	assert.Equal(t, aliceID, *msg.GetFrom().GetUser().GetId())
	assert.Equal(t, models.HTML_BODYTYPE, *msg.GetBody().GetContentType())
	assert.NotNil(t, msg.GetWebUrl())
	require.Len(t, msg.GetMentions(), 1)
	assert.Equal(t, bobID, *msg.GetMentions()[0].GetMentioned().GetUser().GetId())

	content := *msg.GetBody().GetContent()
	hostedURL := e.sim.GraphURL() + "/chats/" + e.group + "/messages/" + id + "/hostedContents/img1/$value"
	assert.Contains(t, content, hostedURL)

	kinds := map[string]models.ChatMessageAttachmentable{}
	for _, a := range msg.GetAttachments() {
		kinds[*a.GetContentType()] = a
	}
	require.Contains(t, kinds, "reference")
	require.Contains(t, kinds, "messageReference")
	require.Contains(t, kinds, "application/vnd.microsoft.card.adaptive")
	assert.Equal(t, first, *kinds["messageReference"].GetId())
	assert.Contains(t, *kinds["messageReference"].GetContent(), `"messageId":"`+first+`"`)
	assert.Equal(t, "plan.pdf", *kinds["reference"].GetName())

	// The hosted image comes back as raw bytes with its own content type.
	raw, err := c.Chats().ByChatId(e.group).Messages().ByChatMessageId(id).HostedContents().ByChatMessageHostedContentId("img1").Content().Get(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, png, raw)

	// The file reference resolves through /shares/u!{base64url}.
	fileURL := *kinds["reference"].GetContentUrl()
	share := c.Shares().BySharedDriveItemId(graphsim.ShareID(fileURL))
	item, err := share.DriveItem().Get(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, "plan.pdf", *item.GetName())
	assert.EqualValues(t, 8, *item.GetSize())
	assert.Contains(t, item.GetAdditionalData(), "@microsoft.graph.downloadUrl")
	body, err := share.DriveItem().Content().Get(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, []byte("%PDF-1.7"), body)
}

func TestEditReactDeleteChangeTheDocumentedFields(t *testing.T) {
	e := newEnv(t)
	c := e.appClient(t)
	id, err := e.sim.SendMessage(e.dm, graphsim.NewMessage{From: aliceID, HTML: "<p>v1</p>"})
	require.NoError(t, err)
	get := func() models.ChatMessageable {
		m, err := c.Chats().ByChatId(e.dm).Messages().ByChatMessageId(id).Get(context.Background(), nil)
		require.NoError(t, err)
		return m
	}
	created := get()
	assert.Nil(t, created.GetLastEditedDateTime())
	assert.Nil(t, created.GetDeletedDateTime())

	e.clock.Advance(time.Minute)
	require.NoError(t, e.sim.React(e.dm, id, bobID, "like"))
	reacted := get()
	assert.True(t, reacted.GetLastModifiedDateTime().After(*created.GetLastModifiedDateTime()))
	assert.Nil(t, reacted.GetLastEditedDateTime(), "reactions do not set lastEditedDateTime")
	assert.NotEqual(t, *created.GetEtag(), *reacted.GetEtag())
	require.Len(t, reacted.GetReactions(), 1)
	assert.Equal(t, "like", *reacted.GetReactions()[0].GetReactionType())

	e.clock.Advance(time.Minute)
	require.NoError(t, e.sim.EditMessage(e.dm, id, "<p>v2</p>"))
	edited := get()
	require.NotNil(t, edited.GetLastEditedDateTime())
	assert.Equal(t, *edited.GetLastEditedDateTime(), *edited.GetLastModifiedDateTime())
	assert.Equal(t, "<p>v2</p>", *edited.GetBody().GetContent())

	e.clock.Advance(time.Minute)
	require.NoError(t, e.sim.DeleteMessage(e.dm, id))
	deleted := get()
	require.NotNil(t, deleted.GetDeletedDateTime())
	assert.Equal(t, "", *deleted.GetBody().GetContent())
}

func TestMessageListPagingOrderingAndFilter(t *testing.T) {
	e := newEnv(t)
	c := e.appClient(t)
	var ids []string
	for i := 0; i < 7; i++ {
		id, err := e.sim.SendMessage(e.dm, graphsim.NewMessage{From: aliceID, HTML: "m"})
		require.NoError(t, err)
		ids = append(ids, id)
		e.clock.Advance(time.Second)
	}
	// Editing the oldest moves it first in the default lastModifiedDateTime order.
	require.NoError(t, e.sim.EditMessage(e.dm, ids[0], "edited"))

	page, err := c.Chats().ByChatId(e.dm).Messages().Get(context.Background(), &chats.ItemMessagesRequestBuilderGetRequestConfiguration{
		QueryParameters: &chats.ItemMessagesRequestBuilderGetQueryParameters{Top: ptr[int32](3)},
	})
	require.NoError(t, err)
	require.NotNil(t, page.GetOdataNextLink())
	assert.True(t, strings.HasPrefix(*page.GetOdataNextLink(), e.sim.GraphURL()+"/chats/"), "nextLink must be absolute on the emulator host")
	it, err := msgraphcore.NewPageIterator[models.ChatMessageable](page, c.GetAdapter(), models.CreateChatMessageCollectionResponseFromDiscriminatorValue)
	require.NoError(t, err)
	var got []string
	require.NoError(t, it.Iterate(context.Background(), func(m models.ChatMessageable) bool { got = append(got, *m.GetId()); return true }))
	want := []string{ids[0], ids[6], ids[5], ids[4], ids[3], ids[2], ids[1]}
	assert.Equal(t, want, got)

	// createdDateTime desc with a matching gt filter.
	cut := time.Date(2026, 3, 1, 9, 0, 3, 500_000_000, time.UTC).Format(time.RFC3339Nano)
	byCreated, err := c.Chats().ByChatId(e.dm).Messages().Get(context.Background(), &chats.ItemMessagesRequestBuilderGetRequestConfiguration{
		QueryParameters: &chats.ItemMessagesRequestBuilderGetQueryParameters{
			Orderby: []string{"createdDateTime desc"}, Filter: ptr("createdDateTime gt " + cut),
		},
	})
	require.NoError(t, err)
	got = nil
	for _, m := range byCreated.GetValue() {
		got = append(got, *m.GetId())
	}
	assert.Equal(t, []string{ids[6], ids[5], ids[4]}, got)

	// A $filter on another property than the $orderby one is ignored.
	ignored, err := c.Chats().ByChatId(e.dm).Messages().Get(context.Background(), &chats.ItemMessagesRequestBuilderGetRequestConfiguration{
		QueryParameters: &chats.ItemMessagesRequestBuilderGetQueryParameters{
			Orderby: []string{"createdDateTime desc"}, Filter: ptr("lastModifiedDateTime gt " + cut),
		},
	})
	require.NoError(t, err)
	assert.Len(t, ignored.GetValue(), 7)

	// $top above 50 is refused.
	_, err = c.Chats().ByChatId(e.dm).Messages().Get(context.Background(), &chats.ItemMessagesRequestBuilderGetRequestConfiguration{
		QueryParameters: &chats.ItemMessagesRequestBuilderGetQueryParameters{Top: ptr[int32](51)},
	})
	status, _, _ := odataErr(t, err)
	assert.Equal(t, http.StatusBadRequest, status)
}

func TestSystemEventMessagesNeedThePreferHeader(t *testing.T) {
	e := newEnv(t)
	c := e.appClient(t)
	id, err := e.sim.SendMessage(e.group, graphsim.NewMessage{MessageType: "systemEventMessage", HTML: "<systemEventMessage/>",
		EventDetail: map[string]any{"@odata.type": "#microsoft.graph.membersAddedEventMessageDetail"}})
	require.NoError(t, err)
	msg, err := c.Chats().ByChatId(e.group).Messages().ByChatMessageId(id).Get(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, models.UNKNOWNFUTUREVALUE_CHATMESSAGETYPE, *msg.GetMessageType())

	h := abs.NewRequestHeaders()
	h.Add("Prefer", "include-unknown-enum-members")
	msg, err = c.Chats().ByChatId(e.group).Messages().ByChatMessageId(id).Get(context.Background(), &chats.ItemMessagesChatMessageItemRequestBuilderGetRequestConfiguration{Headers: h})
	require.NoError(t, err)
	assert.Equal(t, models.SYSTEMEVENTMESSAGE_CHATMESSAGETYPE, *msg.GetMessageType())
	assert.Nil(t, msg.GetFrom())

	// Bots send as an application; from.user is null.
	botID, err := e.sim.SendMessage(e.group, graphsim.NewMessage{FromBot: &graphsim.Bot{ID: "28:helper", DisplayName: "Helper"}, HTML: "beep"})
	require.NoError(t, err)
	msg, err = c.Chats().ByChatId(e.group).Messages().ByChatMessageId(botID).Get(context.Background(), nil)
	require.NoError(t, err)
	assert.Nil(t, msg.GetFrom().GetUser())
	assert.Equal(t, "28:helper", *msg.GetFrom().GetApplication().GetId())
}

func TestGetAllMessagesAndDeltaUseOpaqueAbsoluteLinks(t *testing.T) {
	e := newEnv(t)
	c := e.appClient(t)
	for i := 0; i < 3; i++ {
		_, err := e.sim.SendMessage(e.dm, graphsim.NewMessage{From: aliceID, HTML: "dm"})
		require.NoError(t, err)
		_, err = e.sim.SendMessage(e.solo, graphsim.NewMessage{From: carolID, HTML: "not alice's"})
		require.NoError(t, err)
		e.clock.Advance(time.Second)
	}
	all, err := c.Users().ByUserId(aliceID).Chats().GetAllMessages().GetAsGetAllMessagesGetResponse(context.Background(), &users.ItemChatsGetAllMessagesRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemChatsGetAllMessagesRequestBuilderGetQueryParameters{Top: ptr[int32](2)},
	})
	require.NoError(t, err)
	assert.Len(t, all.GetValue(), 2)
	require.NotNil(t, all.GetOdataNextLink())
	assert.True(t, strings.HasPrefix(*all.GetOdataNextLink(), e.sim.GraphURL()))
	next, err := c.Users().ByUserId(aliceID).Chats().GetAllMessages().WithUrl(*all.GetOdataNextLink()).GetAsGetAllMessagesGetResponse(context.Background(), nil)
	require.NoError(t, err)
	assert.Len(t, next.GetValue(), 1)
	assert.Equal(t, e.dm, *next.GetValue()[0].GetChatId())

	// Delta: the first round returns everything, paged, and ends in a deltaLink.
	deltaURL := e.sim.GraphURL() + "/users/" + aliceID + "/chats/getAllMessages/delta?$top=2"
	var seen int
	var deltaLink string
	for u := deltaURL; u != ""; {
		resp, err := c.Users().ByUserId(aliceID).Chats().GetAllMessages().WithUrl(u).GetAsGetAllMessagesGetResponse(context.Background(), nil)
		require.NoError(t, err)
		seen += len(resp.GetValue())
		u = ""
		if resp.GetOdataNextLink() != nil {
			u = *resp.GetOdataNextLink()
			assert.Contains(t, u, "$skiptoken=")
		} else {
			dl, ok := resp.GetAdditionalData()["@odata.deltaLink"].(*string)
			require.True(t, ok, "last page carries @odata.deltaLink")
			deltaLink = *dl
		}
	}
	assert.Equal(t, 3, seen)
	assert.True(t, strings.HasPrefix(deltaLink, e.sim.GraphURL()) && strings.Contains(deltaLink, "$deltatoken="))

	// The next round returns only what changed since.
	fresh, err := e.sim.SendMessage(e.group, graphsim.NewMessage{From: bobID, HTML: "new"})
	require.NoError(t, err)
	resp, err := c.Users().ByUserId(aliceID).Chats().GetAllMessages().WithUrl(deltaLink).GetAsGetAllMessagesGetResponse(context.Background(), nil)
	require.NoError(t, err)
	require.Len(t, resp.GetValue(), 1)
	assert.Equal(t, fresh, *resp.GetValue()[0].GetId())

	// Delegated callers cannot use the delta.
	_, err = e.delegatedClient(t, aliceID).Users().ByUserId(aliceID).Chats().GetAllMessages().WithUrl(deltaURL).GetAsGetAllMessagesGetResponse(context.Background(), nil)
	status, _, _ := odataErr(t, err)
	assert.Equal(t, http.StatusPreconditionFailed, status)
}

func TestUsersMeAndPresence(t *testing.T) {
	e := newEnv(t)
	c := e.appClient(t)
	u, err := c.Users().ByUserId(aliceID).Get(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, "Alice Adams", *u.GetDisplayName())
	assert.Equal(t, "alice@contoso.test", *u.GetMail())
	assert.Equal(t, "alice@contoso.test", *u.GetUserPrincipalName())
	byUPN, err := c.Users().ByUserId("bob@contoso.test").Get(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, bobID, *byUPN.GetId())
	withProxy, err := c.Users().ByUserId(aliceID).Get(context.Background(), &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: []string{"id", "proxyAddresses"}},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"SMTP:alice@contoso.test"}, withProxy.GetProxyAddresses())

	require.NoError(t, e.sim.SetPresence(bobID, graphsim.Presence{Availability: "Busy", Activity: "InACall"}))
	p, err := c.Communications().Presences().ByPresenceId(bobID).Get(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, "Busy", *p.GetAvailability())
	assert.Equal(t, "InACall", *p.GetActivity())

	// getPresencesByUserId is a POST; the SDK gzips its body.
	body := communications.NewGetPresencesByUserIdPostRequestBody()
	body.SetIds([]string{aliceID, bobID, carolID})
	ps, err := c.Communications().GetPresencesByUserId().PostAsGetPresencesByUserIdPostResponse(context.Background(), body, nil)
	require.NoError(t, err)
	require.Len(t, ps.GetValue(), 3)
	assert.Equal(t, "Offline", *ps.GetValue()[0].GetAvailability())

	tooMany := make([]string, 651)
	for i := range tooMany {
		tooMany[i] = aliceID
	}
	body.SetIds(tooMany)
	_, err = c.Communications().GetPresencesByUserId().PostAsGetPresencesByUserIdPostResponse(context.Background(), body, nil)
	status, _, _ := odataErr(t, err)
	assert.Equal(t, http.StatusBadRequest, status)

	me := e.delegatedClient(t, "alice@contoso.test")
	self, err := me.Me().Get(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, aliceID, *self.GetId())
	mine, err := me.Me().Chats().Get(context.Background(), nil)
	require.NoError(t, err)
	var ids []string
	for _, c := range mine.GetValue() {
		ids = append(ids, *c.GetId())
	}
	assert.ElementsMatch(t, []string{e.dm, e.group}, ids, "a user lists only the chats they are in")
}

func TestApplicationSecretExpiry(t *testing.T) {
	e := newEnv(t)
	c := e.appClient(t)
	app, err := c.ApplicationsWithAppId(ptr(clientID)).Get(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, clientID, *app.GetAppId())
	require.Len(t, app.GetPasswordCredentials(), 1)
	assert.Equal(t, time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC), app.GetPasswordCredentials()[0].GetEndDateTime().UTC())
}

func TestBatchRunsInnerRequestsWithTheirOwnStatuses(t *testing.T) {
	e := newEnv(t)
	c := e.appClient(t)
	id, err := e.sim.SendMessage(e.dm, graphsim.NewMessage{From: aliceID, HTML: "batched"})
	require.NoError(t, err)
	e.sim.InjectFault(graphsim.Fault{Route: "GET /users/{id}", Status: http.StatusTooManyRequests, RetryAfter: 7, Count: 1})

	batch := msgraphcore.NewBatchRequest(c.GetAdapter())
	msgReq, err := c.Chats().ByChatId(e.dm).Messages().ByChatMessageId(id).ToGetRequestInformation(context.Background(), nil)
	require.NoError(t, err)
	userReq, err := c.Users().ByUserId(bobID).ToGetRequestInformation(context.Background(), nil)
	require.NoError(t, err)
	missingReq, err := c.Chats().ByChatId("19:nope@thread.v2").ToGetRequestInformation(context.Background(), nil)
	require.NoError(t, err)
	msgItem, err := batch.AddBatchRequestStep(*msgReq)
	require.NoError(t, err)
	userItem, err := batch.AddBatchRequestStep(*userReq)
	require.NoError(t, err)
	missingItem, err := batch.AddBatchRequestStep(*missingReq)
	require.NoError(t, err)
	resp, err := batch.Send(context.Background(), c.GetAdapter())
	require.NoError(t, err)

	status := resp.GetStatusCodes()
	assert.EqualValues(t, 200, status[*msgItem.GetId()])
	assert.EqualValues(t, 429, status[*userItem.GetId()], "inner 429s surface inside a 200 batch")
	assert.EqualValues(t, 404, status[*missingItem.GetId()])
	assert.Equal(t, "7", resp.GetResponseById(*userItem.GetId()).GetHeaders()["Retry-After"])
	got, err := msgraphcore.GetBatchResponseById[models.ChatMessageable](resp, *msgItem.GetId(), models.CreateChatMessageFromDiscriminatorValue)
	require.NoError(t, err)
	assert.Equal(t, id, *got.GetId())
	assert.Equal(t, 1, e.sim.CallCount("POST /$batch"))
	assert.Equal(t, 1, e.sim.CallCount("GET /chats/{id}/messages/{id}", "app"))
}

func TestFailureAnswers(t *testing.T) {
	e := newEnv(t)
	_, err := e.sim.SendMessage(e.solo, graphsim.NewMessage{From: bobID, HTML: "private"})
	require.NoError(t, err)

	t.Run("missing bearer is 401 InvalidAuthenticationToken", func(t *testing.T) {
		// The default allow-list omits graphsim's host, so the provider silently sends no token.
		auth, err := msgraphauth.NewAzureIdentityAuthenticationProvider(e.credential(t, clientSecret))
		require.NoError(t, err)
		_, err = e.graphClient(t, auth).Chats().ByChatId(e.dm).Get(context.Background(), nil)
		status, code, _ := odataErr(t, err)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Equal(t, "InvalidAuthenticationToken", code)
	})
	t.Run("token signed by another key is 401", func(t *testing.T) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		forged := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"aud": "https://graph.microsoft.com", "tid": tenantID, "azp": clientID,
			"idtyp": "app", "roles": []string{"Chat.Read.All"}, "exp": e.clock.Now().Add(time.Hour).Unix()})
		raw, err := forged.SignedString(key)
		require.NoError(t, err)
		hosts, err := absauth.NewAllowedHostsValidatorErrorCheck([]string{e.host()})
		require.NoError(t, err)
		c := e.graphClient(t, absauth.NewBaseBearerTokenAuthenticationProvider(&tokenSourceProvider{ts: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: raw}), hosts: hosts}))
		_, err = c.Chats().ByChatId(e.dm).Get(context.Background(), nil)
		status, code, _ := odataErr(t, err)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Equal(t, "InvalidAuthenticationToken", code)
	})
	t.Run("expired token is 401", func(t *testing.T) {
		c := e.appClient(t)
		_, err := c.Chats().ByChatId(e.dm).Get(context.Background(), nil)
		require.NoError(t, err)
		e.sim.ExpireTokens()
		_, err = c.Chats().ByChatId(e.dm).Get(context.Background(), nil)
		status, code, oe := odataErr(t, err)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Equal(t, "InvalidAuthenticationToken", code)
		assert.Contains(t, *oe.GetErrorEscaped().GetMessage(), "expired")
	})
	t.Run("app token without the role is 403", func(t *testing.T) {
		require.NoError(t, e.sim.AddApp(graphsim.AppRegistration{TenantID: tenantID, ClientID: "11111111-2222-4333-8444-555555555555", ClientSecret: "s3cret"}))
		cred, err := azidentity.NewClientSecretCredential(tenantID, "11111111-2222-4333-8444-555555555555", "s3cret", &azidentity.ClientSecretCredentialOptions{
			ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: e.sim.AuthorityURL()}, Transport: e.sim.HTTPClient()},
			DisableInstanceDiscovery: true,
		})
		require.NoError(t, err)
		auth, err := kauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, graphScope, []string{e.host()})
		require.NoError(t, err)
		_, err = e.graphClient(t, auth).Chats().ByChatId(e.dm).Messages().Get(context.Background(), nil)
		status, code, _ := odataErr(t, err)
		assert.Equal(t, http.StatusForbidden, status)
		assert.Equal(t, "Forbidden", code)
	})
	t.Run("delegated user outside the chat is 403", func(t *testing.T) {
		c := e.delegatedClient(t, aliceID)
		_, err := c.Chats().ByChatId(e.dm).Messages().Get(context.Background(), nil)
		require.NoError(t, err)
		_, err = c.Chats().ByChatId(e.solo).Messages().Get(context.Background(), nil)
		status, _, _ := odataErr(t, err)
		assert.Equal(t, http.StatusForbidden, status)
		_, err = c.Users().ByUserId(bobID).Chats().ByChatId(e.dm).Get(context.Background(), nil)
		status, _, _ = odataErr(t, err)
		assert.Equal(t, http.StatusForbidden, status, "another user's chat path, even for a shared chat")
		_, err = c.Me().Chats().ByChatId(e.dm).Messages().Get(context.Background(), nil)
		require.NoError(t, err)
	})
	t.Run("unknown chat and message are 404", func(t *testing.T) {
		c := e.appClient(t)
		_, err := c.Chats().ByChatId("19:missing@thread.v2").Get(context.Background(), nil)
		status, _, _ := odataErr(t, err)
		assert.Equal(t, http.StatusNotFound, status)
		_, err = c.Chats().ByChatId(e.dm).Messages().ByChatMessageId("1").Get(context.Background(), nil)
		status, _, _ = odataErr(t, err)
		assert.Equal(t, http.StatusNotFound, status)
	})
}

func TestASharedFileIsReadableOnlyByThoseItIsSharedWith(t *testing.T) {
	e := newEnv(t)
	id, err := e.sim.SendMessage(e.group, graphsim.NewMessage{
		From: aliceID, HTML: "<p>for bob only</p>",
		Files: []graphsim.FileRef{{Name: "salaries.xlsx", Bytes: []byte("x"), SharedWith: []string{bobID}}},
	})
	require.NoError(t, err)
	msg, err := e.appClient(t).Chats().ByChatId(e.group).Messages().ByChatMessageId(id).Get(context.Background(), nil)
	require.NoError(t, err)
	var fileURL string
	for _, a := range msg.GetAttachments() {
		if *a.GetContentType() == "reference" {
			fileURL = *a.GetContentUrl()
		}
	}
	require.NotEmpty(t, fileURL)
	get := func(c *msgraphsdk.GraphServiceClient) (models.DriveItemable, error) {
		return c.Shares().BySharedDriveItemId(graphsim.ShareID(fileURL)).DriveItem().Get(context.Background(), nil)
	}

	for _, reader := range []string{aliceID, bobID} {
		item, err := get(e.delegatedClient(t, reader))
		require.NoError(t, err, "the sender and the people it is shared with read it")
		assert.Equal(t, "salaries.xlsx", *item.GetName())
	}
	_, err = get(e.delegatedClient(t, carolID))
	var odata *odataerrors.ODataError
	require.ErrorAs(t, err, &odata, "a chat member it is not shared with is refused")
	assert.Equal(t, 403, odata.ResponseStatusCode)
	assert.Equal(t, "accessDenied", *odata.GetErrorEscaped().GetCode())
	_, err = get(e.appClient(t))
	assert.NoError(t, err, "an app-only token with Files.Read.All reads every file")
}
