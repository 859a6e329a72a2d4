package reply

import (
	"context"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/teamsnotify/msteams-sync/server/teamsreaction"
)

// ReactionChanged mirrors a user's reaction on a Teams DM onto the Teams message, as the user: added sets it,
// removed unsets it. The bot's own reactions (the "sent" marker) and reactions on other posts are ignored.
func (s *Service) ReactionChanged(ctx context.Context, r *model.Reaction, added bool) {
	if r == nil || r.UserId == "" || r.UserId == s.o.BotUserID {
		return
	}
	// The hook sees every reaction of the server: the channel (its kind is remembered) rules out most of them
	// before any post is read.
	if r.ChannelId != "" {
		if owner, err := s.botDMOwner(r.ChannelId); err != nil || owner != r.UserId {
			return
		}
	}
	post, appErr := s.d.Mattermost.GetPost(r.PostId)
	if appErr != nil || post.UserId != s.o.BotUserID {
		return
	}
	chatID, _ := post.GetProp(PropChatID).(string)
	messageID, _ := post.GetProp(PropMessageID).(string)
	if chatID == "" || messageID == "" {
		return
	}
	owner, err := s.botDMOwner(post.ChannelId)
	if err != nil || owner != r.UserId {
		return
	}
	ids := []any{"user_id", r.UserId, "post_id", post.Id, "chat_id", chatID, "message_id", messageID}
	reactionType, notice, ok := teamsreaction.ToTeams(r.EmojiName)
	if !ok {
		if added {
			s.ephemeral(r.UserId, post.ChannelId, "", notice)
		}
		return
	}
	if msg, ok := s.mayWrite(ctx, r.UserId, "reaction"); !ok {
		if added {
			s.ephemeral(r.UserId, post.ChannelId, "", msg)
		}
		return
	}
	err = s.d.Users.CallGraph(ctx, r.UserId, func(ctx context.Context, g UserGraph) error {
		return s.throttled(ctx, func() error {
			if added {
				return g.SetReaction(ctx, chatID, messageID, reactionType)
			}
			return g.UnsetReaction(ctx, chatID, messageID, reactionType)
		})
	})
	if err != nil {
		s.d.Logger.LogWarn("A reaction could not be mirrored to Teams", append(ids, "added", added, "error", err.Error())...)
		s.ephemeral(r.UserId, post.ChannelId, "", s.failure(err, "reaction"))
		return
	}
	s.d.Logger.LogDebug("Reaction mirrored to Teams", append(ids, "added", added)...)
}
