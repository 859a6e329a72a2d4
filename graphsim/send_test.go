package graphsim_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/microsoftgraph/msgraph-sdk-go/chats"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/subscriptions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/graphsim/changes"
)

// recordChanges makes the env keep every change event graphsim publishes.
func recordChanges(evs *[]changes.Event, mu *sync.Mutex) envOpt {
	return func(o *graphsim.Options) {
		o.OnChange = func(ev changes.Event) { mu.Lock(); *evs = append(*evs, ev); mu.Unlock() }
	}
}

// sdkMessage builds the chatMessage of the issue: html, a mention of Bob and
// an inline image referenced by its temporary id.
func sdkMessage(png []byte) models.ChatMessageable {
	body := models.NewItemBody()
	body.SetContentType(ptr(models.HTML_BODYTYPE))
	body.SetContent(ptr(`<p>Thanks <at id="0">Bob Brown</at> <img src="../hostedContents/1/$value"></p>`))
	user := models.NewTeamworkUserIdentity()
	user.SetId(ptr(bobID))
	user.SetDisplayName(ptr("Bob Brown"))
	user.SetUserIdentityType(ptr(models.AADUSER_TEAMWORKUSERIDENTITYTYPE))
	mentioned := models.NewChatMessageMentionedIdentitySet()
	mentioned.SetUser(user)
	mention := models.NewChatMessageMention()
	mention.SetId(ptr(int32(0)))
	mention.SetMentionText(ptr("Bob Brown"))
	mention.SetMentioned(mentioned)
	hc := models.NewChatMessageHostedContent()
	hc.SetContentBytes(png)
	hc.SetContentType(ptr("image/png"))
	hc.SetAdditionalData(map[string]any{"@microsoft.graph.temporaryId": "1"})
	m := models.NewChatMessage()
	m.SetBody(body)
	m.SetMentions([]models.ChatMessageMentionable{mention})
	m.SetHostedContents([]models.ChatMessageHostedContentable{hc})
	return m
}

func TestUserSendsAMessageWithMentionAndInlineImage(t *testing.T) {
	var mu sync.Mutex
	var evs []changes.Event
	e := newEnv(t, recordChanges(&evs, &mu))
	png := []byte("\x89PNG\r\n\x1a\nreply")

	sent, err := e.delegatedClient(t, aliceID).Chats().ByChatId(e.group).Messages().Post(context.Background(), sdkMessage(png), nil)
	require.NoError(t, err)
	id := *sent.GetId()
	assert.Equal(t, aliceID, *sent.GetFrom().GetUser().GetId(), "the sender is the signed-in user")
	assert.Equal(t, "Alice Adams", *sent.GetFrom().GetUser().GetDisplayName())
	assert.Equal(t, e.group, *sent.GetChatId())
	assert.Equal(t, models.HTML_BODYTYPE, *sent.GetBody().GetContentType())
	require.Len(t, sent.GetMentions(), 1)
	assert.Equal(t, bobID, *sent.GetMentions()[0].GetMentioned().GetUser().GetId())
	content := *sent.GetBody().GetContent()
	assert.Contains(t, content, `<at id="0">Bob Brown</at>`)
	assert.NotContains(t, content, "../hostedContents/1/$value", "the temporary id is replaced by the real hosted content URL")
	prefix := e.sim.GraphURL() + "/chats/" + e.group + "/messages/" + id + "/hostedContents/"
	require.Contains(t, content, prefix)
	hcID := strings.SplitN(strings.SplitN(content, prefix, 2)[1], "/$value", 2)[0]
	assert.NotEqual(t, "1", hcID)

	// Stored like any message: the app reads it, its hosted image and sees it in getAllMessages.
	app := e.appClient(t)
	got, err := app.Chats().ByChatId(e.group).Messages().ByChatMessageId(id).Get(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, content, *got.GetBody().GetContent())
	raw, err := app.Chats().ByChatId(e.group).Messages().ByChatMessageId(id).HostedContents().ByChatMessageHostedContentId(hcID).Content().Get(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, png, raw)
	all, err := app.Users().ByUserId(bobID).Chats().GetAllMessages().GetAsGetAllMessagesGetResponse(context.Background(), nil)
	require.NoError(t, err)
	var ids []string
	for _, m := range all.GetValue() {
		ids = append(ids, *m.GetId())
	}
	assert.Contains(t, ids, id)

	mu.Lock()
	require.Len(t, evs, 1)
	assert.Equal(t, "created", evs[0].ChangeType)
	assert.Equal(t, id, evs[0].MessageID)
	assert.Equal(t, aliceID, evs[0].SenderUserID)
	mu.Unlock()

	// /me/chats/{id}/messages is the same collection; another user's chats are not.
	bob := e.delegatedClient(t, bobID)
	viaMe, err := bob.Me().Chats().ByChatId(e.dm).Messages().Post(context.Background(), plainMessage("<p>via me</p>"), nil)
	require.NoError(t, err)
	assert.Equal(t, bobID, *viaMe.GetFrom().GetUser().GetId())
	_, err = bob.Users().ByUserId(aliceID).Chats().ByChatId(e.dm).Messages().Post(context.Background(), plainMessage("<p>as alice</p>"), nil)
	status, _, _ := odataErr(t, err)
	assert.Equal(t, http.StatusForbidden, status)
}

// A webhook subscribed to the tenant's messages hears about a message a user
// sent through Graph, exactly as about one Teams itself delivered.
func TestSentMessageReachesSubscribers(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var got []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.URL.Query().Get("validationToken"); tok != "" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, tok)
			return
		}
		var n struct {
			Value []struct {
				ChangeType string `json:"changeType"`
				Resource   string `json:"resource"`
			} `json:"value"`
		}
		_ = json.NewDecoder(r.Body).Decode(&n)
		mu.Lock()
		for _, v := range n.Value {
			got = append(got, v.ChangeType+" "+v.Resource)
		}
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer hook.Close()
	sub := models.NewSubscription()
	sub.SetResource(ptr("/chats/getAllMessages"))
	sub.SetChangeType(ptr("created,updated"))
	sub.SetNotificationUrl(ptr(hook.URL))
	sub.SetExpirationDateTime(ptr(e.clock.Now().Add(50 * time.Minute)))
	_, err := e.appClient(t).Subscriptions().Post(context.Background(), sub, &subscriptions.SubscriptionsRequestBuilderPostRequestConfiguration{})
	require.NoError(t, err)

	alice := e.delegatedClient(t, aliceID)
	sent, err := alice.Chats().ByChatId(e.dm).Messages().Post(context.Background(), plainMessage("<p>on my way</p>"), nil)
	require.NoError(t, err)
	body := chats.NewItemMessagesItemSetReactionPostRequestBody()
	body.SetReactionType(ptr("💖"))
	require.NoError(t, alice.Chats().ByChatId(e.dm).Messages().ByChatMessageId(*sent.GetId()).SetReaction().Post(context.Background(), body, nil))

	resource := "chats('" + e.dm + "')/messages('" + *sent.GetId() + "')"
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	}, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, []string{"created " + resource, "updated " + resource}, got)
}

func plainMessage(html string) models.ChatMessageable {
	body := models.NewItemBody()
	body.SetContentType(ptr(models.HTML_BODYTYPE))
	body.SetContent(ptr(html))
	m := models.NewChatMessage()
	m.SetBody(body)
	return m
}

func TestSetAndUnsetReactionAsTheSignedInUser(t *testing.T) {
	var mu sync.Mutex
	var evs []changes.Event
	e := newEnv(t, recordChanges(&evs, &mu))
	id, err := e.sim.SendMessage(e.dm, graphsim.NewMessage{From: bobID, HTML: "<p>shipped</p>"})
	require.NoError(t, err)
	msg := e.delegatedClient(t, aliceID).Chats().ByChatId(e.dm).Messages().ByChatMessageId(id)
	set := func(rt string) {
		b := chats.NewItemMessagesItemSetReactionPostRequestBody()
		b.SetReactionType(ptr(rt))
		require.NoError(t, msg.SetReaction().Post(context.Background(), b, nil))
	}
	unset := func(rt string) {
		b := chats.NewItemMessagesItemUnsetReactionPostRequestBody()
		b.SetReactionType(ptr(rt))
		require.NoError(t, msg.UnsetReaction().Post(context.Background(), b, nil))
	}
	reactions := func() []string {
		m, err := e.appClient(t).Chats().ByChatId(e.dm).Messages().ByChatMessageId(id).Get(context.Background(), nil)
		require.NoError(t, err)
		var out []string
		for _, r := range m.GetReactions() {
			out = append(out, *r.GetUser().GetUser().GetId()+" "+*r.GetReactionType())
		}
		return out
	}
	updates := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, ev := range evs {
			if ev.ChangeType == "updated" && ev.MessageID == id {
				n++
			}
		}
		return n
	}
	require.NoError(t, e.sim.React(e.dm, id, bobID, "like"))
	base := updates()

	set("💖")
	assert.Equal(t, []string{bobID + " like", aliceID + " 💖"}, reactions())
	assert.Equal(t, base+1, updates())

	// Graph keeps one reaction per user: a new one replaces the old.
	e.clock.Advance(time.Second)
	set("👍")
	assert.Equal(t, []string{bobID + " like", aliceID + " 👍"}, reactions())
	assert.Equal(t, base+2, updates())

	// Setting the same reaction again, or removing one the user has not set, changes nothing.
	set("👍")
	unset("💖")
	assert.Equal(t, base+2, updates())

	unset("👍")
	assert.Equal(t, []string{bobID + " like"}, reactions())
	assert.Equal(t, base+3, updates())
}

// delegatedToken signs user in and returns the raw access token.
func (e *env) delegatedToken(t *testing.T, user string) string {
	t.Helper()
	_, tok := e.signIn(t, user)
	return tok.AccessToken
}

// appToken returns a raw app-only token.
func (e *env) appToken(t *testing.T) string {
	t.Helper()
	cred := e.credential(t, clientSecret)
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: graphScope})
	require.NoError(t, err)
	return tok.Token
}

// graphCall posts body to a Graph path and returns status and the OData error.
func (e *env) graphCall(t *testing.T, token, path, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.sim.GraphURL()+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.sim.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out.Error.Code, out.Error.Message
}

func TestSendAndReactErrorAnswers(t *testing.T) {
	e := newEnv(t)
	alice := e.delegatedToken(t, aliceID)
	msgs := "/chats/" + url.PathEscape(e.group) + "/messages"
	png := base64.StdEncoding.EncodeToString([]byte("\x89PNG"))
	cases := []struct {
		name, token, path, body string
		status                  int
		code, msg               string
	}{
		{"not JSON", alice, msgs, `{`, 400, "BadRequest", "Unable to read JSON request payload"},
		{"no body", alice, msgs, `{"subject":"x"}`, 400, "BadRequest", "Message body cannot be empty."},
		{"empty content", alice, msgs, `{"body":{"contentType":"html","content":""}}`, 400, "BadRequest", "Message body cannot be empty."},
		{"mention without marker", alice, msgs,
			`{"body":{"contentType":"html","content":"hi Bob"},"mentions":[{"id":0,"mentionText":"Bob Brown","mentioned":{"user":{"id":"` + bobID + `"}}}]}`,
			400, "BadRequest", `Neither Body nor adaptive card content contains marker for mention with Id '0'. Add '<at id="0">Bob Brown</at>' to the body or an adaptive card.`},
		{"mention text differs from marker", alice, msgs,
			`{"body":{"contentType":"html","content":"hi <at id=\"0\">Bob</at>"},"mentions":[{"id":0,"mentionText":"Bob Brown","mentioned":{"user":{"id":"` + bobID + `"}}}]}`,
			400, "BadRequest", "marker for mention with Id '0'"},
		{"hosted content not referenced", alice, msgs,
			`{"body":{"contentType":"html","content":"<p>x</p>"},"hostedContents":[{"@microsoft.graph.temporaryId":"1","contentBytes":"` + png + `","contentType":"image/png"}]}`,
			400, "BadRequest", "Invalid request body was sent."},
		{"hosted content not base64", alice, msgs,
			`{"body":{"contentType":"html","content":"<img src=\"../hostedContents/1/$value\">"},"hostedContents":[{"@microsoft.graph.temporaryId":"1","contentBytes":"%%%","contentType":"image/png"}]}`,
			400, "BadRequest", "Invalid request body was sent."},
		{"body refers to a missing hosted content", alice, msgs,
			`{"body":{"contentType":"html","content":"<img src=\"../hostedContents/2/$value\">"}}`,
			400, "BadRequest", "Invalid request body was sent."},
		{"not a member", alice, "/chats/" + url.PathEscape(e.solo) + "/messages", `{"body":{"content":"hi"}}`, 403, "Forbidden", "not a member"},
		{"unknown chat", alice, "/chats/19:nope@thread.v2/messages", `{"body":{"content":"hi"}}`, 404, "NotFound", ""},
		{"app-only token", e.appToken(t), msgs, `{"body":{"content":"hi"}}`, 403, "Forbidden", "API requires one of 'Teamwork.Migrate.All'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, code, msg := e.graphCall(t, tc.token, tc.path, tc.body)
			assert.Equal(t, tc.status, status)
			assert.Equal(t, tc.code, code)
			assert.Contains(t, msg, tc.msg)
		})
	}
	// Nothing above created a message.
	list, err := e.appClient(t).Chats().ByChatId(e.group).Messages().Get(context.Background(), nil)
	require.NoError(t, err)
	assert.Empty(t, list.GetValue())

	id, err := e.sim.SendMessage(e.group, graphsim.NewMessage{From: bobID, HTML: "<p>x</p>"})
	require.NoError(t, err)
	react := msgs + "/" + id + "/setReaction"
	for _, tc := range []struct {
		name, path, body string
		status           int
	}{
		{"unsupported reaction name", react, `{"reactionType":"thumbsup"}`, 400},
		{"empty reaction", react, `{"reactionType":""}`, 400},
		{"unknown message", msgs + "/1/setReaction", `{"reactionType":"💖"}`, 404},
		{"not a member", "/chats/" + url.PathEscape(e.solo) + "/messages/1/unsetReaction", `{"reactionType":"💖"}`, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, _ := e.graphCall(t, alice, tc.path, tc.body)
			assert.Equal(t, tc.status, status)
		})
	}
	status, code, msg := e.graphCall(t, e.appToken(t), react, `{"reactionType":"💖"}`)
	assert.Equal(t, 403, status)
	assert.Equal(t, "Forbidden", code)
	assert.Equal(t, "This API is not supported for this token type.", msg)
}

// A tenant that has not consented to ChatMessage.Send gets tokens without it,
// and Graph refuses to send or react with them.
func TestTenantWithoutChatMessageSendIsRefused(t *testing.T) {
	e := newEnv(t)
	readOnly := []string{"User.Read", "Chat.Read", "ChatMessage.Read", "offline_access", "openid", "profile"}
	require.NoError(t, e.sim.SetDelegatedScopes(clientID, readOnly))
	id, err := e.sim.SendMessage(e.dm, graphsim.NewMessage{From: bobID, HTML: "<p>x</p>"})
	require.NoError(t, err)

	c := e.delegatedClient(t, aliceID)
	_, err = c.Chats().ByChatId(e.dm).Messages().Post(context.Background(), plainMessage("<p>hi</p>"), nil)
	status, code, oe := odataErr(t, err)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, "Forbidden", code)
	assert.Contains(t, *oe.GetErrorEscaped().GetMessage(), "API requires one of 'ChatMessage.Send, Chat.ReadWrite, Group.ReadWrite.All'")
	b := chats.NewItemMessagesItemSetReactionPostRequestBody()
	b.SetReactionType(ptr("💖"))
	err = c.Chats().ByChatId(e.dm).Messages().ByChatMessageId(id).SetReaction().Post(context.Background(), b, nil)
	status, _, _ = odataErr(t, err)
	assert.Equal(t, http.StatusForbidden, status)

	// Reading still works: only the send permission is missing.
	_, err = c.Chats().ByChatId(e.dm).Messages().ByChatMessageId(id).Get(context.Background(), nil)
	require.NoError(t, err)
}

// Withdrawing the grant later takes effect at the next token refresh, and
// granting it again restores sending.
func TestWithdrawnSendPermissionDropsOutAtRefresh(t *testing.T) {
	e := newEnv(t)
	conf, tok := e.signIn(t, aliceID)
	path := "/chats/" + url.PathEscape(e.dm) + "/messages"
	status, _, _ := e.graphCall(t, tok.AccessToken, path, `{"body":{"content":"first"}}`)
	require.Equal(t, http.StatusCreated, status)

	require.NoError(t, e.sim.SetDelegatedScopes(clientID, []string{"User.Read", "Chat.Read", "ChatMessage.Read"}))
	refresh := func() string {
		old := *tok
		old.Expiry = time.Now().Add(-time.Minute)
		nt, err := conf.TokenSource(e.ctx(), &old).Token()
		require.NoError(t, err)
		return nt.AccessToken
	}
	status, _, msg := e.graphCall(t, refresh(), path, `{"body":{"content":"second"}}`)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Contains(t, msg, "scopes on the request 'User.Read Chat.Read ChatMessage.Read'")

	require.NoError(t, e.sim.SetDelegatedScopes(clientID, graphsim.DefaultDelegatedScopes))
	status, _, _ = e.graphCall(t, refresh(), path, `{"body":{"content":"third"}}`)
	assert.Equal(t, http.StatusCreated, status)

	// The control API does the same for other processes.
	resp, err := e.sim.HTTPClient().Do(mustRequest(t, http.MethodPut, e.sim.BaseURL()+"/_sim/apps/"+clientID+"/delegated-scopes", `{"scopes":["User.Read"]}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	status, _, _ = e.graphCall(t, refresh(), path, `{"body":{"content":"fourth"}}`)
	assert.Equal(t, http.StatusForbidden, status)
}

func mustRequest(t *testing.T, method, u, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewBufferString(body))
	require.NoError(t, err)
	return req
}

// MessagesFrom finds what a user wrote in a chat (the tests' and the bench's way to learn the id of a message the
// plugin posted for a user), and nothing of others or of deleted messages.
func TestMessagesFrom(t *testing.T) {
	e := newEnv(t)
	id1, err := e.sim.SendMessage(e.dm, graphsim.NewMessage{From: aliceID, HTML: "<p>one</p>"})
	require.NoError(t, err)
	_, err = e.sim.SendMessage(e.dm, graphsim.NewMessage{From: bobID, HTML: "<p>bob's</p>"})
	require.NoError(t, err)
	id3, err := e.sim.SendMessage(e.dm, graphsim.NewMessage{From: aliceID, HTML: "<p>three</p>"})
	require.NoError(t, err)
	require.NoError(t, e.sim.DeleteMessage(e.dm, id1))

	got := e.sim.MessagesFrom(e.dm, aliceID)
	require.Len(t, got, 1)
	assert.Equal(t, id3, got[0].ID)
	assert.Equal(t, "<p>three</p>", got[0].HTML)
	assert.Empty(t, e.sim.MessagesFrom("19:nope@thread.v2", aliceID))
}
