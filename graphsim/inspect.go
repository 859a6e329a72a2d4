package graphsim

import "time"

// PostedMessage is a chat message as a test or the bench sees it in the emulator's state.
type PostedMessage struct {
	ID      string
	From    string // the sender's user id ("" for a bot or a system message)
	Created time.Time
	HTML    string
}

// MessagesFrom lists the messages a user wrote in a chat, oldest first: how a test finds what the plugin sent to
// Teams on a user's behalf (a reply from Mattermost), whose id it does not learn otherwise.
func (s *Sim) MessagesFrom(chatID, userID string) []PostedMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[chatID]
	if !ok {
		return nil
	}
	var out []PostedMessage
	for _, m := range c.messages {
		if m.from == userID && m.deleted.IsZero() {
			out = append(out, PostedMessage{ID: m.id, From: m.from, Created: m.created, HTML: m.html})
		}
	}
	return out
}
