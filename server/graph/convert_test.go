package graph

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A chatMessage as Graph returns it (and as a rich notification decrypts to): 7-digit fractions, an offset,
// typed identities, a file, a quoted reply, mentions of a user and of the whole chat, and a reaction.
const richMessageJSON = `{
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#chats('19%3A1')/messages/$entity",
  "id": "1700000000000",
  "replyToId": null,
  "etag": "1700000000001",
  "messageType": "message",
  "createdDateTime": "2026-11-27T09:15:00.1234567Z",
  "lastModifiedDateTime": "2026-11-27T10:15:00.1234567+01:00",
  "lastEditedDateTime": "2026-11-27T09:16:00Z",
  "deletedDateTime": null,
  "subject": null,
  "summary": null,
  "chatId": "19:aaa_bbb@unq.gbl.spaces",
  "importance": "high",
  "locale": "en-us",
  "webUrl": null,
  "channelIdentity": null,
  "policyViolation": null,
  "eventDetail": null,
  "from": {
    "application": null,
    "device": null,
    "user": {
      "@odata.type": "#microsoft.graph.teamworkUserIdentity",
      "id": "8ea0e38b-efb3-4757-924a-5f94061cf8c2",
      "displayName": "Robin Kline",
      "userIdentityType": "aadUser",
      "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"
    }
  },
  "body": {
    "contentType": "html",
    "content": "<p>Hi <at id=\"0\">Jane</at> and <at id=\"1\">everyone</at></p><attachment id=\"f1\"></attachment>"
  },
  "attachments": [
    {
      "id": "f1",
      "contentType": "reference",
      "contentUrl": "https://contoso.sharepoint.com/sites/x/Shared Documents/report.docx",
      "content": null,
      "name": "report.docx",
      "thumbnailUrl": null,
      "teamsAppId": null
    },
    {
      "id": "1699999999999",
      "contentType": "messageReference",
      "contentUrl": null,
      "content": "{\"messageId\":\"1699999999999\",\"messagePreview\":\"earlier\",\"messageSender\":{\"user\":{\"id\":\"u-9\"}}}",
      "name": null
    }
  ],
  "mentions": [
    {
      "id": 0,
      "mentionText": "Jane",
      "mentioned": {
        "application": null, "device": null, "conversation": null,
        "user": {"@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": "u-jane", "displayName": "Jane Doe", "userIdentityType": "aadUser"}
      }
    },
    {
      "id": 1,
      "mentionText": "everyone",
      "mentioned": {
        "user": null,
        "conversation": {"@odata.type": "#microsoft.graph.teamworkConversationIdentity", "id": "19:aaa_bbb@unq.gbl.spaces", "displayName": "Chat", "conversationIdentityType": "chat"}
      }
    }
  ],
  "reactions": [
    {
      "reactionType": "👍",
      "displayName": "Like",
      "reactionContentUrl": null,
      "createdDateTime": "2026-11-27T09:20:00Z",
      "user": {"application": null, "device": null, "user": {"@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": "u-jane", "displayName": null, "userIdentityType": "aadUser"}}
    }
  ]
}`

func TestMessageFromJSON(t *testing.T) {
	msg, err := MessageFromJSON([]byte(richMessageJSON))
	require.NoError(t, err)
	assert.Equal(t, Message{
		ID:     "1700000000000",
		ChatID: "19:aaa_bbb@unq.gbl.spaces",
		Etag:   "1700000000001",
		From: Identity{
			UserID: "8ea0e38b-efb3-4757-924a-5f94061cf8c2", DisplayName: "Robin Kline",
			IdentityType: "aadUser", TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47",
		},
		BodyHTML:       `<p>Hi <at id="0">Jane</at> and <at id="1">everyone</at></p><attachment id="f1"></attachment>`,
		BodyType:       "html",
		Importance:     "high",
		MessageType:    "message",
		Locale:         "en-us",
		CreatedAt:      time.Date(2026, 11, 27, 9, 15, 0, 123456700, time.UTC),
		LastModifiedAt: time.Date(2026, 11, 27, 9, 15, 0, 123456700, time.UTC),
		LastEditedAt:   time.Date(2026, 11, 27, 9, 16, 0, 0, time.UTC),
		Attachments: []Attachment{
			{ID: "f1", ContentType: "reference", ContentURL: "https://contoso.sharepoint.com/sites/x/Shared Documents/report.docx", Name: "report.docx"},
			{ID: "1699999999999", ContentType: "messageReference", Content: `{"messageId":"1699999999999","messagePreview":"earlier","messageSender":{"user":{"id":"u-9"}}}`},
		},
		Mentions: []Mention{
			{ID: 0, Text: "Jane", UserID: "u-jane", DisplayName: "Jane Doe"},
			{ID: 1, Text: "everyone", ConversationID: "19:aaa_bbb@unq.gbl.spaces", ConversationType: "chat", DisplayName: "Chat"},
		},
		Reactions: []Reaction{{Type: "👍", DisplayName: "Like", UserID: "u-jane", CreatedAt: time.Date(2026, 11, 27, 9, 20, 0, 0, time.UTC)}},
	}, msg)
}

func TestMessageFromJSONVariants(t *testing.T) {
	t.Run("bot sender", func(t *testing.T) {
		msg, err := MessageFromJSON([]byte(`{"id":"1","messageType":"message","from":{"user":null,"application":{"@odata.type":"#microsoft.graph.teamworkApplicationIdentity","id":"app-1","displayName":"Build bot","applicationIdentityType":"bot"}},"body":{"contentType":"text","content":"done"}}`))
		require.NoError(t, err)
		assert.Equal(t, Identity{UserID: "app-1", DisplayName: "Build bot", IsApplication: true, IdentityType: "bot"}, msg.From)
		assert.Equal(t, "text", msg.BodyType)
	})
	t.Run("identity without odata type keeps its type", func(t *testing.T) {
		msg, err := MessageFromJSON([]byte(`{"id":"1","from":{"user":{"id":"u-1","displayName":"A","userIdentityType":"federatedUser","tenantId":"t-2"}}}`))
		require.NoError(t, err)
		assert.Equal(t, Identity{UserID: "u-1", DisplayName: "A", IdentityType: "federatedUser", TenantID: "t-2"}, msg.From)
	})
	t.Run("deleted message", func(t *testing.T) {
		msg, err := MessageFromJSON([]byte(`{"id":"1","chatId":"19:x@thread.v2","deletedDateTime":"2026-11-27T10:00:00Z","body":{"contentType":"html","content":""},"from":null}`))
		require.NoError(t, err)
		assert.Equal(t, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), msg.DeletedAt)
		assert.Equal(t, Identity{}, msg.From)
	})
	t.Run("system event", func(t *testing.T) {
		msg, err := MessageFromJSON([]byte(`{"id":"1","messageType":"systemEventMessage","eventDetail":{"@odata.type":"#microsoft.graph.membersAddedEventMessageDetail","visibleHistoryStartDateTime":"0001-01-01T00:00:00Z"}}`))
		require.NoError(t, err)
		assert.Equal(t, "systemEventMessage", msg.MessageType)
		assert.Equal(t, "#microsoft.graph.membersAddedEventMessageDetail", msg.EventDetailType)
	})
	t.Run("not JSON", func(t *testing.T) {
		_, err := MessageFromJSON([]byte(`<html>`))
		assert.Error(t, err)
	})
}

// A channel reply as Graph sends it: the channel's identity instead of a chat id, and mentions of a user, the
// channel, the team and a tag.
func TestMessageFromJSONChannelReply(t *testing.T) {
	msg, err := MessageFromJSON([]byte(`{"id":"1700000000200","replyToId":"1700000000100","chatId":null,
		"channelIdentity":{"teamId":"team-1","channelId":"19:general@thread.tacv2"},
		"body":{"contentType":"html","content":"<at id=\"0\">Jane</at> <at id=\"1\">General</at> <at id=\"2\">Sales</at> <at id=\"3\">oncall</at>"},
		"mentions":[
			{"id":0,"mentionText":"Jane","mentioned":{"user":{"id":"u-jane","displayName":"Jane Doe","userIdentityType":"aadUser"}}},
			{"id":1,"mentionText":"General","mentioned":{"conversation":{"id":"19:general@thread.tacv2","displayName":"General","conversationIdentityType":"channel"}}},
			{"id":2,"mentionText":"Sales","mentioned":{"conversation":{"id":"team-1","displayName":"Sales","conversationIdentityType":"team"}}},
			{"id":3,"mentionText":"oncall","mentioned":{"tag":{"id":"tag-7","displayName":"oncall"}}}]}`))
	require.NoError(t, err)
	assert.Equal(t, "team-1", msg.TeamID)
	assert.Equal(t, "19:general@thread.tacv2", msg.ChannelID)
	assert.Empty(t, msg.ChatID)
	assert.Equal(t, "1700000000100", msg.ReplyToID)
	assert.Equal(t, []Mention{
		{ID: 0, Text: "Jane", UserID: "u-jane", DisplayName: "Jane Doe"},
		{ID: 1, Text: "General", ConversationID: "19:general@thread.tacv2", ConversationType: "channel", DisplayName: "General"},
		{ID: 2, Text: "Sales", ConversationID: "team-1", ConversationType: "team", DisplayName: "Sales"},
		{ID: 3, Text: "oncall", TagID: "tag-7", DisplayName: "oncall"},
	}, msg.Mentions)
}
