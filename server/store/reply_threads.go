package store

import (
	"context"
	"time"

	"github.com/pkg/errors"
)

// SaveReplyThread records that the user answered the chat from the thread of the DM rootPostID, so that later
// DMs from the chat continue that thread. A newer answer in another thread of the same chat replaces it.
func (s *Store) SaveReplyThread(ctx context.Context, chatID, mmUserID, rootPostID string, at time.Time) error {
	_, err := s.q(ctx).Exec(ctx, `
		INSERT INTO msteamsnotify_reply_threads (chat_id, mm_user_id, root_post_id, updated_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (chat_id, mm_user_id) DO UPDATE SET root_post_id = excluded.root_post_id, updated_at = excluded.updated_at`,
		chatID, mmUserID, rootPostID, at)
	return errors.Wrap(err, "save reply thread")
}

// ReplyThreads returns, for those of mmUserIDs who answered the chat from Mattermost, the root post of their
// thread, by Mattermost user id. One query for all recipients of a message.
func (s *Store) ReplyThreads(ctx context.Context, chatID string, mmUserIDs []string) (map[string]string, error) {
	out := map[string]string{}
	if len(mmUserIDs) == 0 {
		return out, nil
	}
	rows, err := s.q(ctx).Query(ctx, `
		SELECT mm_user_id, root_post_id FROM msteamsnotify_reply_threads
		WHERE chat_id = $1 AND mm_user_id = ANY($2)`, chatID, mmUserIDs)
	if err != nil {
		return nil, errors.Wrap(err, "read reply threads")
	}
	defer rows.Close()
	for rows.Next() {
		var user, root string
		if err := rows.Scan(&user, &root); err != nil {
			return nil, errors.Wrap(err, "read reply threads")
		}
		out[user] = root
	}
	return out, errors.Wrap(rows.Err(), "read reply threads")
}

// ForgetReplyThread drops the user's thread of the chat when it still is rootPostID (its root post is gone).
func (s *Store) ForgetReplyThread(ctx context.Context, chatID, mmUserID, rootPostID string) error {
	_, err := s.q(ctx).Exec(ctx, `
		DELETE FROM msteamsnotify_reply_threads WHERE chat_id = $1 AND mm_user_id = $2 AND root_post_id = $3`,
		chatID, mmUserID, rootPostID)
	return errors.Wrap(err, "forget reply thread")
}

// DeleteReplyThreadsBefore removes threads nobody answered in since before; DMs from those chats start new
// threads again.
func (s *Store) DeleteReplyThreadsBefore(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.q(ctx).Exec(ctx, `DELETE FROM msteamsnotify_reply_threads WHERE updated_at < $1`, before)
	if err != nil {
		return 0, errors.Wrap(err, "delete old reply threads")
	}
	return tag.RowsAffected(), nil
}

// MarkReplyConsentAsked records that the user is being asked to reconnect to enable replies. It reports false
// when they were asked before (or are not a connected user), so each user is asked once.
func (s *Store) MarkReplyConsentAsked(ctx context.Context, mmUserID string, at time.Time) (bool, error) {
	tag, err := s.q(ctx).Exec(ctx, `
		UPDATE msteamsnotify_users SET reply_consent_asked_at = $2
		WHERE mm_user_id = $1 AND reply_consent_asked_at IS NULL`, mmUserID, at)
	if err != nil {
		return false, errors.Wrap(err, "record the reply consent question")
	}
	return tag.RowsAffected() == 1, nil
}

// ReplyConsentAsked reports whether the user was asked to reconnect to enable replies.
func (s *Store) ReplyConsentAsked(ctx context.Context, mmUserID string) (bool, error) {
	var asked bool
	err := s.q(ctx).QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM msteamsnotify_users WHERE mm_user_id = $1 AND reply_consent_asked_at IS NOT NULL)`,
		mmUserID).Scan(&asked)
	return asked, errors.Wrap(err, "read the reply consent question")
}
