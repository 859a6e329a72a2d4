package delivery

import (
	"encoding/json"
	"time"

	"github.com/teamsnotify/msteams-sync/server/graph"
)

// encodeMessage writes a message back as Graph chatMessage JSON, the form inbox.Change.Message carries, so that
// catch-up can queue messages it already holds without a second fetch per message. graph.MessageFromJSON reads
// it back to the same graph.Message.
func encodeMessage(m graph.Message) (json.RawMessage, error) {
	identity := func(id graph.Identity) map[string]any {
		if id.UserID == "" && id.DisplayName == "" {
			return nil
		}
		out := map[string]any{"id": id.UserID, "displayName": id.DisplayName}
		if id.IsApplication {
			out["@odata.type"] = "#microsoft.graph.teamworkApplicationIdentity"
			if id.IdentityType != "" {
				out["applicationIdentityType"] = id.IdentityType
			}
		} else {
			out["@odata.type"] = "#microsoft.graph.teamworkUserIdentity"
			if id.IdentityType != "" {
				out["userIdentityType"] = id.IdentityType
			}
		}
		if id.TenantID != "" {
			out["tenantId"] = id.TenantID
		}
		return out
	}
	var from any
	if ident := identity(m.From); ident != nil {
		if m.From.IsApplication {
			from = map[string]any{"application": ident}
		} else {
			from = map[string]any{"user": ident}
		}
	}
	attachments := []any{}
	for _, a := range m.Attachments {
		attachments = append(attachments, map[string]any{
			"id": a.ID, "contentType": a.ContentType, "contentUrl": nullable(a.ContentURL), "content": nullable(a.Content),
			"name": nullable(a.Name), "thumbnailUrl": nullable(a.ThumbnailURL), "teamsAppId": nullable(a.TeamsAppID),
		})
	}
	mentions := []any{}
	for _, mn := range m.Mentions {
		mentioned := map[string]any{}
		switch {
		case mn.UserID != "":
			mentioned["user"] = map[string]any{"@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": mn.UserID, "displayName": mn.DisplayName}
		case mn.ApplicationID != "":
			mentioned["application"] = map[string]any{"@odata.type": "#microsoft.graph.teamworkApplicationIdentity", "id": mn.ApplicationID, "displayName": mn.DisplayName}
		case mn.ConversationID != "":
			conv := map[string]any{"id": mn.ConversationID, "displayName": mn.DisplayName}
			if mn.ConversationType != "" {
				conv["conversationIdentityType"] = mn.ConversationType
			}
			mentioned["conversation"] = conv
		case mn.TagID != "":
			mentioned["tag"] = map[string]any{"id": mn.TagID, "displayName": mn.DisplayName}
		}
		mentions = append(mentions, map[string]any{"id": mn.ID, "mentionText": mn.Text, "mentioned": mentioned})
	}
	reactions := []any{}
	for _, r := range m.Reactions {
		reactions = append(reactions, map[string]any{
			"reactionType": r.Type, "displayName": nullable(r.DisplayName), "createdDateTime": timeJSON(r.CreatedAt),
			"user": map[string]any{"user": map[string]any{"@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": r.UserID}},
		})
	}
	var eventDetail any
	if m.EventDetailType != "" {
		eventDetail = map[string]any{"@odata.type": m.EventDetailType}
	}
	bodyType := m.BodyType
	if bodyType == "" {
		bodyType = "html"
	}
	var channel any
	if m.TeamID != "" || m.ChannelID != "" {
		channel = map[string]any{"teamId": m.TeamID, "channelId": m.ChannelID}
	}
	out := map[string]any{
		"@odata.type":          "#microsoft.graph.chatMessage",
		"channelIdentity":      channel,
		"id":                   m.ID,
		"chatId":               nullable(m.ChatID),
		"replyToId":            nullable(m.ReplyToID),
		"etag":                 nullable(m.Etag),
		"messageType":          nullable(m.MessageType),
		"createdDateTime":      timeJSON(m.CreatedAt),
		"lastModifiedDateTime": timeJSON(m.LastModifiedAt),
		"lastEditedDateTime":   timeJSON(m.LastEditedAt),
		"deletedDateTime":      timeJSON(m.DeletedAt),
		"subject":              nullable(m.Subject),
		"summary":              nullable(m.Summary),
		"importance":           nullable(m.Importance),
		"locale":               nullable(m.Locale),
		"webUrl":               nullable(m.WebURL),
		"eventDetail":          eventDetail,
		"from":                 from,
		"body":                 map[string]any{"contentType": bodyType, "content": m.BodyHTML},
		"attachments":          attachments,
		"mentions":             mentions,
		"reactions":            reactions,
	}
	data, err := json.Marshal(out)
	return data, err
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func timeJSON(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// EncodeMessage is encodeMessage for other packages' catch-up (Teams channel messages, issue 17), whose
// inbox.ChannelChange.Message has the same form.
func EncodeMessage(m graph.Message) (json.RawMessage, error) { return encodeMessage(m) }
