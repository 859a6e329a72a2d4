package graphsim

import "github.com/pkg/errors"

// RemoveMember takes a user out of a chat the way Teams does: the membership goes at once (the chat's members
// no longer list the user) and a systemEventMessage with a membersDeletedEventMessageDetail is posted in the
// chat, notified like any message. It returns that system message's id.
func (s *Sim) RemoveMember(chatID, userID string) (string, error) {
	s.mu.Lock()
	c, ok := s.chats[chatID]
	if !ok {
		s.mu.Unlock()
		return "", errors.Errorf("unknown chat %q", chatID)
	}
	kept := c.members[:0:0]
	for _, m := range c.members {
		if m.userID != userID {
			kept = append(kept, m)
		}
	}
	if len(kept) == len(c.members) {
		s.mu.Unlock()
		return "", errors.Errorf("user %q is not a member of chat %s", userID, chatID)
	}
	c.members = kept
	tenantID := ""
	if u, ok := s.users[userID]; ok {
		tenantID = u.TenantID
	}
	s.mu.Unlock()
	return s.SendMessage(chatID, NewMessage{MessageType: "systemEventMessage", EventDetail: map[string]any{
		"@odata.type": "#microsoft.graph.membersDeletedEventMessageDetail",
		"members":     []any{map[string]any{"id": userID, "displayName": nil, "userIdentityType": "aadUser", "tenantId": tenantID}},
		"initiator":   nil,
	}})
}
