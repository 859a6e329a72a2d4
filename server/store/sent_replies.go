package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pkg/errors"
)

// States of a reply sent to Teams.
const (
	ReplySending = "sending" // reserved before the POST: Teams may or may not have it
	ReplySent    = "sent"    // Teams answered with the message's id
)

// SentReply is the record of one Mattermost post sent to a Teams chat as its author.
type SentReply struct {
	PostID         string
	ChatID         string
	MMUserID       string
	State          string
	TeamsMessageID string
	ReservedAt     time.Time
}

// ReserveReply records, before the POST, that r.PostID is being sent. When an earlier attempt reserved it
// already, that record is returned with fresh false, and nothing changes.
func (s *Store) ReserveReply(ctx context.Context, r SentReply) (SentReply, bool, error) {
	tag, err := s.q(ctx).Exec(ctx, `
		INSERT INTO msteamsnotify_sent_replies (post_id, chat_id, mm_user_id, state, reserved_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (post_id) DO NOTHING`,
		r.PostID, r.ChatID, r.MMUserID, ReplySending, r.ReservedAt)
	if err != nil {
		return SentReply{}, false, errors.Wrap(err, "reserve reply")
	}
	if tag.RowsAffected() == 1 {
		r.State, r.TeamsMessageID = ReplySending, ""
		return r, true, nil
	}
	var got SentReply
	err = s.q(ctx).QueryRow(ctx, `
		SELECT post_id, chat_id, mm_user_id, state, teams_message_id, reserved_at
		FROM msteamsnotify_sent_replies WHERE post_id = $1`, r.PostID).
		Scan(&got.PostID, &got.ChatID, &got.MMUserID, &got.State, &got.TeamsMessageID, &got.ReservedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return SentReply{}, false, errors.New("reserve reply: the record vanished; try again")
	}
	return got, false, errors.Wrap(err, "read reply record")
}

// MarkReplySent records that Teams has the reply, as teamsMessageID ("" when it was found in the chat without
// its id being known).
func (s *Store) MarkReplySent(ctx context.Context, postID, teamsMessageID string, at time.Time) error {
	_, err := s.q(ctx).Exec(ctx, `
		UPDATE msteamsnotify_sent_replies SET state = $2, teams_message_id = $3, sent_at = $4 WHERE post_id = $1`,
		postID, ReplySent, teamsMessageID, at)
	return errors.Wrap(err, "mark reply sent")
}

// ForgetReply drops the record of a reply Teams refused for good, so that nothing claims it was sent.
func (s *Store) ForgetReply(ctx context.Context, postID string) error {
	_, err := s.q(ctx).Exec(ctx, `DELETE FROM msteamsnotify_sent_replies WHERE post_id = $1`, postID)
	return errors.Wrap(err, "forget reply")
}

// DeleteSentRepliesBefore removes the records of replies reserved before the given time; their jobs ended long
// ago.
func (s *Store) DeleteSentRepliesBefore(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.q(ctx).Exec(ctx, `DELETE FROM msteamsnotify_sent_replies WHERE reserved_at < $1`, before)
	if err != nil {
		return 0, errors.Wrap(err, "delete old reply records")
	}
	return tag.RowsAffected(), nil
}
