package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pkg/errors"
)

// ChatMembersChanged records that a chat's members changed, so that every node drops its cached copy of them
// before the chat's next message. It returns the chat's new membership version.
func (s *Store) ChatMembersChanged(ctx context.Context, chatID string) (int64, error) {
	var version int64
	err := s.q(ctx).QueryRow(ctx, `
		INSERT INTO msteamsnotify_chat_members (chat_id, version, changed_at)
		VALUES ($1, nextval('msteamsnotify_chat_members_seq'), now())
		ON CONFLICT (chat_id) DO UPDATE SET version = excluded.version, changed_at = excluded.changed_at
		RETURNING version`, chatID).Scan(&version)
	return version, errors.Wrap(err, "record chat membership change")
}

// ChatMembersVersion returns the chat's membership version: 0 when no change was recorded (or its record
// expired). Members read while the version was v are current as long as it still is v. It reads the primary: a
// replica's lag would hide the change it exists to announce.
func (s *Store) ChatMembersVersion(ctx context.Context, chatID string) (int64, error) {
	var version int64
	err := s.q(ctx).QueryRow(ctx, `SELECT version FROM msteamsnotify_chat_members WHERE chat_id = $1`, chatID).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return version, errors.Wrap(err, "read chat membership version")
}

// DeleteChatMembersBefore removes membership records older than before. Pass a time well beyond any node's
// member cache lifetime: a node holding members read under a removed record's version then sees 0 and reads
// them again, which is safe, only one Graph call more.
func (s *Store) DeleteChatMembersBefore(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.q(ctx).Exec(ctx, `DELETE FROM msteamsnotify_chat_members WHERE changed_at < $1`, before)
	if err != nil {
		return 0, errors.Wrap(err, "delete old chat membership records")
	}
	return tag.RowsAffected(), nil
}
