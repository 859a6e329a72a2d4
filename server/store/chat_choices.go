package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pkg/errors"
)

// MessageMode is which Teams messages a user wants as DMs.
type MessageMode string

const (
	// ModeAll delivers every message of every chat the user has not muted.
	ModeAll MessageMode = "all"
	// ModeMentions delivers, in group and meeting chats, only messages that mention the user; 1:1 chats in full.
	ModeMentions MessageMode = "mentions"
)

// Valid reports whether m is a mode the database accepts.
func (m MessageMode) Valid() bool { return m == ModeAll || m == ModeMentions }

// MutedChat is a Teams chat a user muted.
type MutedChat struct {
	MMUserID string
	ChatID   string
	// Title is what lists show (the chat's topic or its other members), as it was when muted.
	Title   string
	MutedAt time.Time
}

// ChatChoice is what one recipient chose about one chat, as delivery needs it.
type ChatChoice struct {
	Muted bool
	Mode  MessageMode
}

// MuteChat records that the user muted the chat. Muting again refreshes the title and keeps the first time.
func (s *Store) MuteChat(ctx context.Context, c MutedChat) error {
	if c.MMUserID == "" || c.ChatID == "" || c.MutedAt.IsZero() {
		return errors.New("mute chat: user, chat and time are required")
	}
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO msteamsnotify_chat_choices (mm_user_id, chat_id, chat_title, muted_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (mm_user_id, chat_id) DO UPDATE SET chat_title = excluded.chat_title`,
		c.MMUserID, c.ChatID, c.Title, c.MutedAt)
	return errors.Wrap(err, "mute chat")
}

// UnmuteChat forgets that the user muted the chat; false when it was not muted.
func (s *Store) UnmuteChat(ctx context.Context, mmUserID, chatID string) (bool, error) {
	tag, err := s.q(ctx).Exec(ctx, `DELETE FROM msteamsnotify_chat_choices WHERE mm_user_id = $1 AND chat_id = $2`, mmUserID, chatID)
	if err != nil {
		return false, errors.Wrap(err, "unmute chat")
	}
	return tag.RowsAffected() > 0, nil
}

// UnmuteAllChats unmutes every chat of the user and returns how many were muted.
func (s *Store) UnmuteAllChats(ctx context.Context, mmUserID string) (int, error) {
	tag, err := s.q(ctx).Exec(ctx, `DELETE FROM msteamsnotify_chat_choices WHERE mm_user_id = $1`, mmUserID)
	if err != nil {
		return 0, errors.Wrap(err, "unmute all chats")
	}
	return int(tag.RowsAffected()), nil
}

// ListMutedChats returns the user's muted chats, oldest first, so that the numbers a list shows stay put while
// the user mutes more.
func (s *Store) ListMutedChats(ctx context.Context, mmUserID string) ([]MutedChat, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT mm_user_id, chat_id, chat_title, muted_at FROM msteamsnotify_chat_choices
		WHERE mm_user_id = $1 ORDER BY muted_at, chat_id`, mmUserID)
	if err != nil {
		return nil, errors.Wrap(err, "list muted chats")
	}
	chats, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (MutedChat, error) {
		var c MutedChat
		err := r.Scan(&c.MMUserID, &c.ChatID, &c.Title, &c.MutedAt)
		c.MutedAt = c.MutedAt.UTC()
		return c, err
	})
	return chats, errors.Wrap(err, "list muted chats")
}

// SetMessageMode sets which messages the user wants. It returns ErrNotFound for a user who never connected: the
// mode lives with the connection.
func (s *Store) SetMessageMode(ctx context.Context, mmUserID string, mode MessageMode) error {
	if !mode.Valid() {
		return errors.Errorf("set message mode: unknown mode %q", mode)
	}
	tag, err := s.q(ctx).Exec(ctx, `UPDATE msteamsnotify_users SET message_mode = $2 WHERE mm_user_id = $1`, mmUserID, string(mode))
	if err != nil {
		return errors.Wrap(err, "set message mode")
	}
	if tag.RowsAffected() == 0 {
		return errors.Wrap(ErrNotFound, "set message mode")
	}
	return nil
}

// GetMessageMode returns the user's mode; ModeAll for a user who never connected.
func (s *Store) GetMessageMode(ctx context.Context, mmUserID string) (MessageMode, error) {
	var mode string
	err := s.q(ctx).QueryRow(ctx, `SELECT message_mode FROM msteamsnotify_users WHERE mm_user_id = $1`, mmUserID).Scan(&mode)
	if errors.Is(err, pgx.ErrNoRows) {
		return ModeAll, nil
	}
	if err != nil {
		return ModeAll, errors.Wrap(err, "get message mode")
	}
	return MessageMode(mode), nil
}

// ChatChoices returns, in one query, what each of the users chose about the chat: delivery asks once per
// message for all its recipients. Users without a row get the defaults (not muted, all messages) and are
// absent from the map.
func (s *Store) ChatChoices(ctx context.Context, chatID string, mmUserIDs []string) (map[string]ChatChoice, error) {
	out := make(map[string]ChatChoice, len(mmUserIDs))
	if len(mmUserIDs) == 0 {
		return out, nil
	}
	rows, err := s.q(ctx).Query(ctx, `SELECT u.mm_user_id, c.chat_id IS NOT NULL, u.message_mode
		FROM msteamsnotify_users u
		LEFT JOIN msteamsnotify_chat_choices c ON c.mm_user_id = u.mm_user_id AND c.chat_id = $1
		WHERE u.mm_user_id = ANY($2)`, chatID, mmUserIDs)
	if err != nil {
		return nil, errors.Wrap(err, "read chat choices")
	}
	defer rows.Close()
	for rows.Next() {
		var id, mode string
		var c ChatChoice
		if err := rows.Scan(&id, &c.Muted, &mode); err != nil {
			return nil, errors.Wrap(err, "read chat choices")
		}
		c.Mode = MessageMode(mode)
		out[id] = c
	}
	return out, errors.Wrap(rows.Err(), "read chat choices")
}
