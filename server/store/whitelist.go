package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pkg/errors"
)

// ReplaceWhitelist makes ids the whole whitelist, in one transaction, so no reader ever sees a
// half-replaced list. Duplicates in ids are ignored.
func (s *Store) ReplaceWhitelist(ctx context.Context, mmUserIDs []string, at time.Time) error {
	err := pgx.BeginFunc(ctx, s.primary, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM msteamsnotify_whitelist`); err != nil {
			return err
		}
		if len(mmUserIDs) == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO msteamsnotify_whitelist (mm_user_id, added_at)
			SELECT DISTINCT id, $2::timestamptz FROM unnest($1::text[]) AS id`, mmUserIDs, at)
		return err
	})
	return errors.Wrap(err, "replace whitelist")
}

// RemoveFromWhitelist drops one user from the whitelist; absent users are not an error.
func (s *Store) RemoveFromWhitelist(ctx context.Context, mmUserID string) error {
	_, err := s.primary.Exec(ctx, `DELETE FROM msteamsnotify_whitelist WHERE mm_user_id = $1`, mmUserID)
	return errors.Wrap(err, "remove from whitelist")
}

// ListWhitelist returns every whitelisted Mattermost user ID, sorted. It may read a replica.
func (s *Store) ListWhitelist(ctx context.Context) ([]string, error) {
	rows, err := s.reader().Query(ctx, `SELECT mm_user_id FROM msteamsnotify_whitelist ORDER BY mm_user_id`)
	if err != nil {
		return nil, errors.Wrap(err, "list whitelist")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, errors.Wrap(err, "list whitelist")
}

// WhitelistContains reports whether the user is whitelisted. It reads the primary because it
// gates a connection right after an admin edit.
func (s *Store) WhitelistContains(ctx context.Context, mmUserID string) (bool, error) {
	var ok bool
	err := s.primary.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM msteamsnotify_whitelist WHERE mm_user_id = $1)`, mmUserID).Scan(&ok)
	return ok, errors.Wrap(err, "check whitelist")
}

// CountWhitelist returns the number of whitelisted users. It reads the primary, as seat
// accounting depends on it.
func (s *Store) CountWhitelist(ctx context.Context) (int, error) {
	var n int
	err := s.primary.QueryRow(ctx, `SELECT count(*) FROM msteamsnotify_whitelist`).Scan(&n)
	return n, errors.Wrap(err, "count whitelist")
}
