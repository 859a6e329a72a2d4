package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pkg/errors"
)

// AccountLink allows a Mattermost user to connect one Microsoft account whose e-mail differs from theirs.
type AccountLink struct {
	MMUserID string
	// MicrosoftAccount is an Entra object id or a userPrincipalName, lower-cased.
	MicrosoftAccount string
	AddedAt          time.Time
}

// ReplaceAccountLinks makes links the whole set, in one transaction. A link whose user and account are
// unchanged keeps its date.
func (s *Store) ReplaceAccountLinks(ctx context.Context, links []AccountLink, at time.Time) error {
	users := make([]string, len(links))
	accounts := make([]string, len(links))
	for i, l := range links {
		users[i], accounts[i] = l.MMUserID, l.MicrosoftAccount
	}
	err := pgx.BeginFunc(ctx, s.primary, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM msteamsnotify_account_links l
			WHERE NOT EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[]) AS n(u, a)
				WHERE n.u = l.mm_user_id AND n.a = l.microsoft_account)`, users, accounts); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO msteamsnotify_account_links (mm_user_id, microsoft_account, added_at)
			SELECT u, a, $3 FROM unnest($1::text[], $2::text[]) AS n(u, a)
			ON CONFLICT (mm_user_id) DO NOTHING`, users, accounts, at)
		return err
	})
	return errors.Wrap(err, "replace account links")
}

// ListAccountLinks returns every link, by Mattermost user id.
func (s *Store) ListAccountLinks(ctx context.Context) ([]AccountLink, error) {
	rows, err := s.primary.Query(ctx, `SELECT mm_user_id, microsoft_account, added_at FROM msteamsnotify_account_links ORDER BY mm_user_id`)
	if err != nil {
		return nil, errors.Wrap(err, "list account links")
	}
	links, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AccountLink, error) {
		var l AccountLink
		err := row.Scan(&l.MMUserID, &l.MicrosoftAccount, &l.AddedAt)
		l.AddedAt = l.AddedAt.UTC()
		return l, err
	})
	return links, errors.Wrap(err, "list account links")
}

// GetAccountLink returns the user's link or ErrNotFound.
func (s *Store) GetAccountLink(ctx context.Context, mmUserID string) (AccountLink, error) {
	l := AccountLink{MMUserID: mmUserID}
	err := s.primary.QueryRow(ctx, `SELECT microsoft_account, added_at FROM msteamsnotify_account_links WHERE mm_user_id = $1`,
		mmUserID).Scan(&l.MicrosoftAccount, &l.AddedAt)
	l.AddedAt = l.AddedAt.UTC()
	return l, notFound(err, "get account link")
}

// DeleteAccountLink removes the user's link and reports whether there was one.
func (s *Store) DeleteAccountLink(ctx context.Context, mmUserID string) (bool, error) {
	tag, err := s.primary.Exec(ctx, `DELETE FROM msteamsnotify_account_links WHERE mm_user_id = $1`, mmUserID)
	return tag.RowsAffected() > 0, errors.Wrap(err, "delete account link")
}
