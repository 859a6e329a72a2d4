package graph

import (
	"time"

	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/pkg/errors"
)

// MessageFromJSON parses a chatMessage as a GET returns it or a rich notification decrypts to. It uses the SDK's
// own JSON parse node, so it yields exactly what a Client call would for the same payload.
func MessageFromJSON(data []byte) (Message, error) {
	node, err := jsonserialization.NewJsonParseNode(data)
	if err != nil {
		return Message{}, errors.Wrap(err, "parse chatMessage JSON")
	}
	value, err := node.GetObjectValue(models.CreateChatMessageFromDiscriminatorValue)
	if err != nil {
		return Message{}, errors.Wrap(err, "decode chatMessage")
	}
	msg, ok := value.(models.ChatMessageable)
	if !ok || msg == nil {
		return Message{}, errors.New("decode chatMessage: not a chatMessage object")
	}
	return messageFromModel(msg), nil
}

func messageFromModel(m models.ChatMessageable) Message {
	out := Message{
		ID:             deref(m.GetId()),
		ChatID:         deref(m.GetChatId()),
		ReplyToID:      deref(m.GetReplyToId()),
		Etag:           deref(m.GetEtag()),
		Subject:        deref(m.GetSubject()),
		Summary:        deref(m.GetSummary()),
		Locale:         deref(m.GetLocale()),
		WebURL:         deref(m.GetWebUrl()),
		CreatedAt:      timeOf(m.GetCreatedDateTime()),
		LastModifiedAt: timeOf(m.GetLastModifiedDateTime()),
		LastEditedAt:   timeOf(m.GetLastEditedDateTime()),
		DeletedAt:      timeOf(m.GetDeletedDateTime()),
	}
	if ch := m.GetChannelIdentity(); ch != nil {
		out.TeamID, out.ChannelID = deref(ch.GetTeamId()), deref(ch.GetChannelId())
	}
	if v := m.GetImportance(); v != nil {
		out.Importance = v.String()
	}
	if v := m.GetMessageType(); v != nil {
		out.MessageType = v.String()
	}
	if body := m.GetBody(); body != nil {
		out.BodyHTML = deref(body.GetContent())
		if ct := body.GetContentType(); ct != nil {
			out.BodyType = ct.String()
		}
	}
	if detail := m.GetEventDetail(); detail != nil {
		out.EventDetailType = deref(detail.GetOdataType())
	}
	if from := m.GetFrom(); from != nil {
		if u := from.GetUser(); u != nil {
			out.From = identityFrom(u, false)
		} else if app := from.GetApplication(); app != nil {
			out.From = identityFrom(app, true)
		}
	}
	for _, a := range m.GetAttachments() {
		if a == nil {
			continue
		}
		out.Attachments = append(out.Attachments, Attachment{
			ID:           deref(a.GetId()),
			ContentType:  deref(a.GetContentType()),
			ContentURL:   deref(a.GetContentUrl()),
			Content:      deref(a.GetContent()),
			Name:         deref(a.GetName()),
			ThumbnailURL: deref(a.GetThumbnailUrl()),
			TeamsAppID:   deref(a.GetTeamsAppId()),
		})
	}
	for _, mention := range m.GetMentions() {
		if mention == nil {
			continue
		}
		mm := Mention{ID: int(deref(mention.GetId())), Text: deref(mention.GetMentionText())}
		if who := mention.GetMentioned(); who != nil {
			if u := who.GetUser(); u != nil {
				mm.UserID = deref(u.GetId())
				mm.DisplayName = deref(u.GetDisplayName())
			}
			if app := who.GetApplication(); app != nil {
				mm.ApplicationID = deref(app.GetId())
				mm.DisplayName = deref(app.GetDisplayName())
			}
			if conv := who.GetConversation(); conv != nil {
				mm.ConversationID = deref(conv.GetId())
				if t := conv.GetConversationIdentityType(); t != nil {
					mm.ConversationType = t.String()
				}
				if mm.DisplayName == "" {
					mm.DisplayName = deref(conv.GetDisplayName())
				}
			}
			// The SDK's model has no "tag" (a teamworkTagIdentity, documented for channel messages): it arrives
			// as additional data.
			if tag, ok := who.GetAdditionalData()["tag"].(map[string]any); ok {
				if id, ok := tag["id"].(*string); ok && id != nil {
					mm.TagID = *id
				}
				if name, ok := tag["displayName"].(*string); ok && name != nil && mm.DisplayName == "" {
					mm.DisplayName = *name
				}
			}
		}
		out.Mentions = append(out.Mentions, mm)
	}
	for _, r := range m.GetReactions() {
		if r == nil {
			continue
		}
		rr := Reaction{Type: deref(r.GetReactionType()), DisplayName: deref(r.GetDisplayName()), CreatedAt: timeOf(r.GetCreatedDateTime())}
		if who := r.GetUser(); who != nil && who.GetUser() != nil {
			rr.UserID = deref(who.GetUser().GetId())
		}
		out.Reactions = append(out.Reactions, rr)
	}
	return out
}

func identityFrom(id models.Identityable, isApp bool) Identity {
	out := Identity{UserID: deref(id.GetId()), DisplayName: deref(id.GetDisplayName()), IsApplication: isApp}
	switch v := id.(type) {
	case models.TeamworkUserIdentityable:
		if t := v.GetUserIdentityType(); t != nil {
			out.IdentityType = t.String()
		}
	case models.TeamworkApplicationIdentityable:
		if t := v.GetApplicationIdentityType(); t != nil {
			out.IdentityType = t.String()
		}
	}
	// Without an @odata.type the SDK builds a plain identity and keeps the typed fields as additional data.
	extra := id.GetAdditionalData()
	if out.IdentityType == "" {
		if s, ok := stringFrom(extra, "userIdentityType", "applicationIdentityType"); ok {
			out.IdentityType = s
		}
	}
	if s, ok := stringFrom(extra, "tenantId"); ok {
		out.TenantID = s
	}
	return out
}

func stringFrom(m map[string]any, keys ...string) (string, bool) {
	for _, k := range keys {
		switch v := m[k].(type) {
		case *string:
			if v != nil {
				return *v, true
			}
		case string:
			return v, true
		}
	}
	return "", false
}

func chatFromModel(c models.Chatable) Chat {
	out := Chat{ID: deref(c.GetId()), Topic: deref(c.GetTopic()), WebURL: deref(c.GetWebUrl())}
	if t := c.GetChatType(); t != nil {
		out.Type = t.String()
	}
	for _, member := range c.GetMembers() {
		out.Members = append(out.Members, memberFromModel(member))
	}
	return out
}

func memberFromModel(m models.ConversationMemberable) ChatMember {
	out := ChatMember{DisplayName: deref(m.GetDisplayName()), Roles: m.GetRoles()}
	if aad, ok := m.(models.AadUserConversationMemberable); ok {
		out.UserID = deref(aad.GetUserId())
		out.Email = deref(aad.GetEmail())
		out.TenantID = deref(aad.GetTenantId())
		return out
	}
	// A member without @odata.type loses its derived fields to additional data; keep them anyway.
	extra := m.GetAdditionalData()
	out.UserID, _ = stringFrom(extra, "userId")
	out.Email, _ = stringFrom(extra, "email")
	out.TenantID, _ = stringFrom(extra, "tenantId")
	return out
}

func userFromModel(u models.Userable) User {
	return User{
		ID:                deref(u.GetId()),
		DisplayName:       deref(u.GetDisplayName()),
		Mail:              deref(u.GetMail()),
		UserPrincipalName: deref(u.GetUserPrincipalName()),
		ProxyAddresses:    u.GetProxyAddresses(),
	}
}

func subscriptionFromModel(s models.Subscriptionable) Subscription {
	return Subscription{
		ID:                       deref(s.GetId()),
		Resource:                 deref(s.GetResource()),
		ChangeType:               deref(s.GetChangeType()),
		NotificationURL:          deref(s.GetNotificationUrl()),
		LifecycleNotificationURL: deref(s.GetLifecycleNotificationUrl()),
		ExpiresAt:                timeOf(s.GetExpirationDateTime()),
		IncludeResourceData:      deref(s.GetIncludeResourceData()),
		EncryptionCertificateID:  deref(s.GetEncryptionCertificateId()),
		ApplicationID:            deref(s.GetApplicationId()),
		CreatorID:                deref(s.GetCreatorId()),
	}
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
