package delivery

import (
	"context"
	"net/http"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// DMRecords is the part of exactly-once delivery that reads and marks what the posts map records of one Teams
// message's DMs: it finds the DM an interrupted attempt created, and marks every DM of a deleted message. Chat
// and channel delivery share it; each names the post props that tie its DMs to their Teams message.
type DMRecords struct {
	Store      *store.Store
	Mattermost interface {
		GetPostsSince(channelID string, time int64) (*model.PostList, *model.AppError)
		GetPost(postID string) (*model.Post, *model.AppError)
		UpdatePost(post *model.Post) (*model.Post, *model.AppError)
	}
	Metrics   Metrics
	BotUserID string
	// ChatProp and MessageProp are the props of a DM holding the posts map's chat id and message id.
	ChatProp, MessageProp string
	LockWait              time.Duration
	Now                   func() time.Time
}

// FindPost looks in the row's DM channel for a bot post about the row's message created since the reservation
// (recoveryWindow before it, for clock skew); nil when there is none.
func (r DMRecords) FindPost(row store.DeliveredPost) (*model.Post, error) {
	list, appErr := r.Mattermost.GetPostsSince(row.ChannelID, row.ReservedAt.Add(-recoveryWindow).UnixMilli())
	if appErr != nil {
		return nil, errors.Wrap(appErr, "look for an earlier DM")
	}
	if list == nil {
		return nil, nil
	}
	for _, post := range list.Posts {
		if post.UserId == r.BotUserID && post.DeleteAt == 0 &&
			post.GetProp(r.ChatProp) == row.ChatID && post.GetProp(r.MessageProp) == row.MessageID {
			return post, nil
		}
	}
	return nil, nil
}

// MarkDeleted marks every DM of a message as deleted in Teams and leaves a tombstone, so that a late or
// reordered notification never delivers it. It returns how many DMs the message had; a reservation whose DM was
// never created is settled as skipped.
func (r DMRecords) MarkDeleted(ctx context.Context, chatID, messageID string) (int, error) {
	dms := 0
	err := r.Store.WithMessageLock(ctx, chatID, messageID, r.LockWait, func(ctx context.Context) error {
		rows, err := r.Store.GetMessagePosts(ctx, chatID, messageID)
		if err != nil {
			return err
		}
		if _, err := r.Store.InsertPost(ctx, store.DeliveredPost{
			ChatID: chatID, MessageID: messageID, State: store.PostDeleted, ReservedAt: r.Now(),
		}); err != nil {
			return err
		}
		for _, row := range rows {
			if row.MMUserID == "" {
				continue
			}
			switch row.State {
			case store.PostReserved:
				found, err := r.FindPost(row)
				if err != nil {
					return err
				}
				if found == nil {
					row.State, row.Reason = store.PostSkipped, SkipDeletedBefore
					if err := r.Store.SavePost(ctx, row); err != nil {
						return err
					}
					continue
				}
				row.PostID = found.Id
			case store.PostPosted:
			default:
				continue
			}
			dms++
			if err := r.markPost(row.PostID); err != nil {
				return err
			}
			row.State = store.PostDeleted
			if err := r.Store.SavePost(ctx, row); err != nil {
				return err
			}
		}
		return nil
	})
	return dms, err
}

// markPost puts the deleted note in a DM; a DM its user deleted needs nothing.
func (r DMRecords) markPost(postID string) error {
	post, appErr := r.Mattermost.GetPost(postID)
	switch {
	case appErr != nil && appErr.StatusCode == http.StatusNotFound:
		return nil
	case appErr != nil:
		return errors.Wrap(appErr, "get DM of deleted message")
	}
	post.Message = deletedText(post.Message)
	if _, appErr := r.Mattermost.UpdatePost(post); appErr != nil {
		return errors.Wrap(appErr, "mark DM deleted")
	}
	r.Metrics.Updated("deleted")
	return nil
}

// EditIfNewer rewrites a DM when the message was edited after the version it shows; rewrite gets the DM's text and
// returns the new one. Reactions change lastModifiedDateTime only, so they leave DMs alone, as do stale or
// repeated notifications. A DM its user deleted is not tried again.
func (r DMRecords) EditIfNewer(ctx context.Context, row store.DeliveredPost, msg graph.Message, rewrite func(shown string) string) error {
	if !newerEdit(msg, row) {
		return nil
	}
	post, appErr := r.Mattermost.GetPost(row.PostID)
	switch {
	case appErr != nil && appErr.StatusCode == http.StatusNotFound:
	case appErr != nil:
		return errors.Wrap(appErr, "get DM to edit")
	default:
		post.Message = rewrite(post.Message)
		if _, appErr := r.Mattermost.UpdatePost(post); appErr != nil {
			return errors.Wrap(appErr, "edit DM")
		}
		r.Metrics.Updated("edited")
	}
	row.LastModified, row.LastEdited = msg.LastModifiedAt, msg.LastEditedAt
	return r.Store.SavePost(ctx, row)
}
