package store

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/pkg/errors"
)

// ChannelChoice is what a user chose to hear of Teams channel messages besides personal mentions.
type ChannelChoice struct {
	// GroupMentions: mentions of a team, channel or tag the user belongs to (default off).
	GroupMentions bool
	// ThreadReplies: replies in threads the user started or replied in (default on).
	ThreadReplies bool
}

// DefaultChannelChoice is the choice of a user who never changed it.
var DefaultChannelChoice = ChannelChoice{ThreadReplies: true}

// ChannelListener is a connected user with their channel choices.
type ChannelListener struct {
	MMUserID    string
	TeamsUserID string
	ChannelChoice
}

// GetChannelChoice returns the user's choice; the defaults for a user who never connected.
func (s *Store) GetChannelChoice(ctx context.Context, mmUserID string) (ChannelChoice, error) {
	var c ChannelChoice
	err := s.q(ctx).QueryRow(ctx, `SELECT channel_group_mentions, channel_thread_replies FROM msteamsnotify_users
		WHERE mm_user_id = $1`, mmUserID).Scan(&c.GroupMentions, &c.ThreadReplies)
	if errors.Is(err, pgx.ErrNoRows) {
		return DefaultChannelChoice, nil
	}
	if err != nil {
		return DefaultChannelChoice, errors.Wrap(err, "get channel choice")
	}
	return c, nil
}

// SetChannelGroupMentions turns team, channel and tag mentions on or off for the user. ErrNotFound for a user
// who never connected: the choice lives with the connection.
func (s *Store) SetChannelGroupMentions(ctx context.Context, mmUserID string, on bool) error {
	return s.setChannelChoice(ctx, `UPDATE msteamsnotify_users SET channel_group_mentions = $2 WHERE mm_user_id = $1`, mmUserID, on)
}

// SetChannelThreadReplies turns thread replies on or off for the user; ErrNotFound as SetChannelGroupMentions.
func (s *Store) SetChannelThreadReplies(ctx context.Context, mmUserID string, on bool) error {
	return s.setChannelChoice(ctx, `UPDATE msteamsnotify_users SET channel_thread_replies = $2 WHERE mm_user_id = $1`, mmUserID, on)
}

func (s *Store) setChannelChoice(ctx context.Context, sql, mmUserID string, on bool) error {
	tag, err := s.q(ctx).Exec(ctx, sql, mmUserID, on)
	if err != nil {
		return errors.Wrap(err, "set channel choice")
	}
	if tag.RowsAffected() == 0 {
		return errors.Wrap(ErrNotFound, "set channel choice")
	}
	return nil
}

// connectedListener is the condition of User.Connected in SQL.
const connectedListener = `token IS NOT NULL AND length(token) > 0 AND disconnected_at IS NULL`

// ChannelListeners returns the connected users among teamsUserIDs with their choices, by Teams user id, in one
// query (the people a channel message names).
func (s *Store) ChannelListeners(ctx context.Context, teamsUserIDs []string) (map[string]ChannelListener, error) {
	out := map[string]ChannelListener{}
	if len(teamsUserIDs) == 0 {
		return out, nil
	}
	list, err := s.listeners(ctx, `teams_user_id = ANY($1) AND `+connectedListener, teamsUserIDs)
	for _, l := range list {
		out[l.TeamsUserID] = l
	}
	return out, err
}

// ChannelGroupListeners returns the connected users who chose to hear of team, channel and tag mentions.
func (s *Store) ChannelGroupListeners(ctx context.Context) ([]ChannelListener, error) {
	return s.listeners(ctx, `channel_group_mentions AND `+connectedListener)
}

func (s *Store) listeners(ctx context.Context, where string, args ...any) ([]ChannelListener, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT mm_user_id, teams_user_id, channel_group_mentions, channel_thread_replies
		FROM msteamsnotify_users WHERE `+where+` ORDER BY teams_user_id`, args...)
	if err != nil {
		return nil, errors.Wrap(err, "read channel listeners")
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ChannelListener, error) {
		var l ChannelListener
		err := r.Scan(&l.MMUserID, &l.TeamsUserID, &l.GroupMentions, &l.ThreadReplies)
		return l, err
	})
	return list, errors.Wrap(err, "read channel listeners")
}
