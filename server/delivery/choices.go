package delivery

import (
	"context"
	"strings"

	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// applyChoices marks the recipients who do not want this message (muted chat, or mentions only and not
// mentioned) with the reason, before presence is asked: they cost no Graph call. Recipients already skipped for
// another reason keep it. One query for all recipients; none when there is nobody left to ask about.
func (p *Processor) applyChoices(ctx context.Context, msg graph.Message, chat graph.Chat, fresh []recipient) error {
	if p.d.Choices == nil {
		return nil
	}
	var ids []string
	for _, r := range fresh {
		if r.reason == "" {
			ids = append(ids, r.user.MMUserID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	choices, err := p.d.Choices.ChatChoices(ctx, msg.ChatID, ids)
	if err != nil {
		return err
	}
	for i := range fresh {
		if fresh[i].reason == "" {
			fresh[i].reason = choiceSkip(choices[fresh[i].user.MMUserID], chat.Type, mentions(msg, fresh[i].user.TeamsUserID))
		}
	}
	return nil
}

// choiceSkip is the rule: the reason a recipient with these choices does not get a message of a chat of this
// type, or "" when they do. A muted chat delivers nothing; mentions-only mode filters group and meeting chats
// (and any chat Graph did not type), never 1:1 chats, where every message is addressed to the user.
func choiceSkip(c store.ChatChoice, chatType string, mentioned bool) string {
	switch {
	case c.Muted:
		return SkipMuted
	case c.Mode == store.ModeMentions && !strings.EqualFold(chatType, "oneOnOne") && !mentioned:
		return SkipNotMentioned
	}
	return ""
}

// mentions reports whether the message mentions the Teams user, or the whole chat (Teams' "@everyone" in a group
// chat is a mention of the conversation).
func mentions(msg graph.Message, teamsUserID string) bool {
	for _, m := range msg.Mentions {
		if m.ConversationID != "" && m.ConversationID == msg.ChatID {
			return true
		}
		if m.UserID != "" && strings.EqualFold(m.UserID, teamsUserID) {
			return true
		}
	}
	return false
}

// withoutMuted leaves out of a catch-up summary the messages of chats the user muted. The mentions-only mode is
// not applied there: the listed messages do not say their chat's type, and a summary only links to them.
func (p *Processor) withoutMuted(ctx context.Context, mmUserID string, msgs []graph.Message) ([]graph.Message, error) {
	if p.d.Choices == nil || len(msgs) == 0 {
		return msgs, nil
	}
	chats, err := p.d.Choices.ListMutedChats(ctx, mmUserID)
	if err != nil || len(chats) == 0 {
		return msgs, err
	}
	muted := make(map[string]bool, len(chats))
	for _, c := range chats {
		muted[c.ChatID] = true
	}
	kept := msgs[:0:0]
	for _, m := range msgs {
		if !muted[m.ChatID] {
			kept = append(kept, m)
		}
	}
	return kept, nil
}
