package graph

import (
	"context"

	"github.com/microsoftgraph/msgraph-sdk-go/applicationswithappid"
	"github.com/microsoftgraph/msgraph-sdk-go/chats"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/pkg/errors"
)

// The write side, for replies from Mattermost: delegated clients only (Graph lets an app post into chats only in
// migration mode).

// SendScope is the delegated permission that lets a user's token post chat messages and set reactions.
// Chat.ReadWrite allows the same; the plugin never asks for it, but a tenant may have granted it.
const SendScope = "ChatMessage.Send"

// sendScopeID is the published id of the delegated ChatMessage.Send permission of Microsoft Graph, as an app
// registration's requiredResourceAccess lists it.
const sendScopeID = "116b7235-7cc6-461e-b163-8e55691d839e"

// graphResourceAppID is Microsoft Graph's appId in requiredResourceAccess.
const graphResourceAppID = "00000003-0000-0000-c000-000000000000"

// OutgoingMessage is a chat message to post as the signed-in user.
type OutgoingMessage struct {
	// HTML is the body (contentType html); each Mentions[i] must appear in it as <at id="i">DisplayName</at>,
	// each Hosted[j] as <img src="../hostedContents/{TempID}/$value">.
	HTML     string
	Mentions []OutgoingMention
	Hosted   []OutgoingHostedContent
}

// OutgoingMention is entry ID of a message's mentions array: a Teams user.
type OutgoingMention struct {
	ID          int
	TeamsUserID string
	DisplayName string
}

// OutgoingHostedContent is an inline image sent with the message.
type OutgoingHostedContent struct {
	TempID      string
	ContentType string
	Bytes       []byte
}

// SendChatMessage posts a message into a chat as the signed-in user (POST /chats/{id}/messages) and returns the
// id Teams gave it.
func (c *Client) SendChatMessage(ctx context.Context, chatID string, m OutgoingMessage) (string, error) {
	body := models.NewItemBody()
	html := models.HTML_BODYTYPE
	body.SetContentType(&html)
	body.SetContent(&m.HTML)
	msg := models.NewChatMessage()
	msg.SetBody(body)
	if len(m.Mentions) > 0 {
		mentions := make([]models.ChatMessageMentionable, 0, len(m.Mentions))
		for _, mn := range m.Mentions {
			id := int32(mn.ID)
			text, userID, name := mn.DisplayName, mn.TeamsUserID, mn.DisplayName
			user := models.NewIdentity()
			user.SetId(&userID)
			user.SetDisplayName(&name)
			user.SetAdditionalData(map[string]any{"userIdentityType": "aadUser"})
			who := models.NewChatMessageMentionedIdentitySet()
			who.SetUser(user)
			entry := models.NewChatMessageMention()
			entry.SetId(&id)
			entry.SetMentionText(&text)
			entry.SetMentioned(who)
			mentions = append(mentions, entry)
		}
		msg.SetMentions(mentions)
	}
	if len(m.Hosted) > 0 {
		hosted := make([]models.ChatMessageHostedContentable, 0, len(m.Hosted))
		for _, h := range m.Hosted {
			ct := h.ContentType
			hc := models.NewChatMessageHostedContent()
			hc.SetContentBytes(h.Bytes)
			hc.SetContentType(&ct)
			hc.SetAdditionalData(map[string]any{"@microsoft.graph.temporaryId": h.TempID})
			hosted = append(hosted, hc)
		}
		msg.SetHostedContents(hosted)
	}
	out, err := c.chats().ByChatId(chatID).Messages().Post(ctx, msg, nil)
	if err != nil {
		return "", wrapErr(err, "send chat message")
	}
	return deref(out.GetId()), nil
}

// SetReaction sets the signed-in user's reaction (a Unicode emoji) on a chat message.
func (c *Client) SetReaction(ctx context.Context, chatID, messageID, reactionType string) error {
	body := chats.NewItemMessagesItemSetReactionPostRequestBody()
	body.SetReactionType(&reactionType)
	err := c.chats().ByChatId(chatID).Messages().ByChatMessageId(messageID).SetReaction().Post(ctx, body, nil)
	return wrapErr(err, "set reaction")
}

// UnsetReaction removes the signed-in user's reaction of that type from a chat message.
func (c *Client) UnsetReaction(ctx context.Context, chatID, messageID, reactionType string) error {
	body := chats.NewItemMessagesItemUnsetReactionPostRequestBody()
	body.SetReactionType(&reactionType)
	err := c.chats().ByChatId(chatID).Messages().ByChatMessageId(messageID).UnsetReaction().Post(ctx, body, nil)
	return wrapErr(err, "unset reaction")
}

// RegistrationAllowsSend reports whether this app's registration lists the delegated ChatMessage.Send
// permission of Graph among its configured permissions (app-only client, needs Application.Read.All). Whether
// the tenant consented to it shows only in users' tokens.
func (c *Client) RegistrationAllowsSend(ctx context.Context) (bool, error) {
	if c.clientID == "" {
		return false, errors.New("app registration permissions: not an app-only client")
	}
	appID := c.clientID
	app, err := applicationswithappid.NewApplicationsWithAppIdRequestBuilderInternal(c.pathParams, c.adapter, &appID).Get(ctx, &applicationswithappid.ApplicationsWithAppIdRequestBuilderGetRequestConfiguration{
		QueryParameters: &applicationswithappid.ApplicationsWithAppIdRequestBuilderGetQueryParameters{
			Select: []string{"id", "appId", "requiredResourceAccess"},
		},
	})
	if err != nil {
		return false, wrapErr(err, "get app registration")
	}
	for _, r := range app.GetRequiredResourceAccess() {
		if deref(r.GetResourceAppId()) != graphResourceAppID {
			continue
		}
		for _, a := range r.GetResourceAccess() {
			if a.GetId() != nil && a.GetId().String() == sendScopeID && deref(a.GetTypeEscaped()) == "Scope" {
				return true, nil
			}
		}
	}
	return false, nil
}
