package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pkg/errors"
)

// Invite is an invitation to connect. It holds a seat until ExpiresAt.
type Invite struct {
	MMUserID   string
	InvitedAt  time.Time // first sent
	LastSentAt time.Time
	ExpiresAt  time.Time
}

// CreateInvite records that an invitation was sent. Sending again to an invited user keeps the
// first InvitedAt and moves LastSentAt and ExpiresAt.
func (s *Store) CreateInvite(ctx context.Context, inv Invite) error {
	if inv.MMUserID == "" || inv.InvitedAt.IsZero() || inv.ExpiresAt.IsZero() {
		return errors.New("create invite: user ID, invitation and expiry times are required")
	}
	if inv.LastSentAt.IsZero() {
		inv.LastSentAt = inv.InvitedAt
	}
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO msteamsnotify_invites (mm_user_id, invited_at, last_sent_at, expires_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (mm_user_id) DO UPDATE SET last_sent_at = excluded.last_sent_at, expires_at = excluded.expires_at`,
		inv.MMUserID, inv.InvitedAt, inv.LastSentAt, inv.ExpiresAt)
	return errors.Wrap(err, "create invite")
}

// GetInvite returns the user's invitation, expired or not, or ErrNotFound.
func (s *Store) GetInvite(ctx context.Context, mmUserID string) (Invite, error) {
	inv := Invite{MMUserID: mmUserID}
	err := s.q(ctx).QueryRow(ctx, `SELECT invited_at, last_sent_at, expires_at FROM msteamsnotify_invites
		WHERE mm_user_id = $1`, mmUserID).Scan(&inv.InvitedAt, &inv.LastSentAt, &inv.ExpiresAt)
	if err != nil {
		return Invite{}, notFound(err, "get invite")
	}
	inv.InvitedAt, inv.LastSentAt, inv.ExpiresAt = inv.InvitedAt.UTC(), inv.LastSentAt.UTC(), inv.ExpiresAt.UTC()
	return inv, nil
}

// DeleteInvite removes the user's invitation; a missing one is not an error (connecting
// removes it whether or not there was one).
func (s *Store) DeleteInvite(ctx context.Context, mmUserID string) error {
	_, err := s.q(ctx).Exec(ctx, `DELETE FROM msteamsnotify_invites WHERE mm_user_id = $1`, mmUserID)
	return errors.Wrap(err, "delete invite")
}

// CountPendingInvites counts invitations not yet expired at now. It reads the primary: seats
// depend on it.
func (s *Store) CountPendingInvites(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.q(ctx).QueryRow(ctx, `SELECT count(*) FROM msteamsnotify_invites WHERE expires_at > $1`, now).Scan(&n)
	return n, errors.Wrap(err, "count pending invites")
}

// ListPendingInvites returns invitations not yet expired at now, oldest first. It may read a replica.
func (s *Store) ListPendingInvites(ctx context.Context, now time.Time) ([]Invite, error) {
	rows, err := s.reader().Query(ctx, `SELECT mm_user_id, invited_at, last_sent_at, expires_at
		FROM msteamsnotify_invites WHERE expires_at > $1 ORDER BY invited_at, mm_user_id`, now)
	if err != nil {
		return nil, errors.Wrap(err, "list pending invites")
	}
	invites, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invite, error) {
		var inv Invite
		err := r.Scan(&inv.MMUserID, &inv.InvitedAt, &inv.LastSentAt, &inv.ExpiresAt)
		inv.InvitedAt, inv.LastSentAt, inv.ExpiresAt = inv.InvitedAt.UTC(), inv.LastSentAt.UTC(), inv.ExpiresAt.UTC()
		return inv, err
	})
	return invites, errors.Wrap(err, "list pending invites")
}

// PurgeExpiredInvites deletes invitations expired at now and returns how many.
func (s *Store) PurgeExpiredInvites(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.q(ctx).Exec(ctx, `DELETE FROM msteamsnotify_invites WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, errors.Wrap(err, "purge expired invites")
	}
	return tag.RowsAffected(), nil
}
