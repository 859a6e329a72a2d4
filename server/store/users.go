package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pkg/errors"
)

// User is a Mattermost user who has connected a Microsoft account, now or in the past.
type User struct {
	MMUserID    string
	TeamsUserID string
	TeamsEmail  string
	// Token is the encrypted OAuth token (see package secrets); nil once disconnected.
	Token []byte
	// TokenKeyID names the key that encrypted Token.
	TokenKeyID  string
	TokenExpiry time.Time // zero if unknown
	ConnectedAt time.Time
	// DisconnectedAt is zero while connected.
	DisconnectedAt time.Time
	// LastDeliveredAt is zero until the first delivered message.
	LastDeliveredAt time.Time
}

// Connected reports whether the user currently holds a token.
func (u User) Connected() bool { return u.DisconnectedAt.IsZero() && len(u.Token) > 0 }

// Connection is what a successful sign-in stores.
type Connection struct {
	MMUserID    string
	TeamsUserID string
	TeamsEmail  string
	Token       []byte // encrypted
	TokenKeyID  string
	TokenExpiry time.Time // zero if unknown
	ConnectedAt time.Time
}

const userColumns = `mm_user_id, teams_user_id, teams_email, token, coalesce(token_key_id, ''),
	token_expiry, connected_at, disconnected_at, last_delivered_at`

const usersTeamsUserIDKey = "msteamsnotify_users_teams_user_id_key"

func scanUser(row pgx.Row) (User, error) {
	var u User
	var expiry, disconnected, delivered *time.Time
	err := row.Scan(&u.MMUserID, &u.TeamsUserID, &u.TeamsEmail, &u.Token, &u.TokenKeyID,
		&expiry, &u.ConnectedAt, &disconnected, &delivered)
	u.TokenExpiry, u.DisconnectedAt, u.LastDeliveredAt = deref(expiry), deref(disconnected), deref(delivered)
	u.ConnectedAt = u.ConnectedAt.UTC()
	return u, err
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// SaveConnection records a new or renewed connection. A reconnecting user keeps their
// LastDeliveredAt. It returns ErrTeamsUserLinked when the Microsoft account already belongs to
// another Mattermost user (connected or not: the mapping outlives disconnection, see DeleteUser).
func (s *Store) SaveConnection(ctx context.Context, c Connection) error {
	switch {
	case c.MMUserID == "" || c.TeamsUserID == "":
		return errors.New("save connection: both user IDs are required")
	case len(c.Token) == 0 || c.TokenKeyID == "":
		return errors.New("save connection: an encrypted token and its key ID are required")
	case c.ConnectedAt.IsZero():
		return errors.New("save connection: connection time is required")
	}
	_, err := s.q(ctx).Exec(ctx, `
		INSERT INTO msteamsnotify_users
			(mm_user_id, teams_user_id, teams_email, token, token_key_id, token_expiry, connected_at, disconnected_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)
		ON CONFLICT (mm_user_id) DO UPDATE SET
			teams_user_id = excluded.teams_user_id, teams_email = excluded.teams_email,
			token = excluded.token, token_key_id = excluded.token_key_id, token_expiry = excluded.token_expiry,
			connected_at = excluded.connected_at, disconnected_at = NULL`,
		c.MMUserID, c.TeamsUserID, c.TeamsEmail, c.Token, c.TokenKeyID, nullTime(c.TokenExpiry), c.ConnectedAt)
	if isUniqueViolation(err, usersTeamsUserIDKey) {
		return ErrTeamsUserLinked
	}
	return errors.Wrap(err, "save connection")
}

// GetUser returns the user's row, connected or not, or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, mmUserID string) (User, error) {
	u, err := scanUser(s.q(ctx).QueryRow(ctx, `SELECT `+userColumns+` FROM msteamsnotify_users WHERE mm_user_id = $1`, mmUserID))
	return u, notFound(err, "get user")
}

// GetUserByTeamsID returns the user linked to a Microsoft account, or ErrNotFound.
func (s *Store) GetUserByTeamsID(ctx context.Context, teamsUserID string) (User, error) {
	u, err := scanUser(s.q(ctx).QueryRow(ctx, `SELECT `+userColumns+` FROM msteamsnotify_users WHERE teams_user_id = $1`, teamsUserID))
	return u, notFound(err, "get user by teams id")
}

// GetUsersByTeamsIDs maps Microsoft account IDs to their users, connected or not, in one query
// (the members of a chat). IDs with no user are absent from the map.
func (s *Store) GetUsersByTeamsIDs(ctx context.Context, teamsUserIDs []string) (map[string]User, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+userColumns+` FROM msteamsnotify_users WHERE teams_user_id = ANY($1)`, teamsUserIDs)
	if err != nil {
		return nil, errors.Wrap(err, "get users by teams ids")
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	if err != nil {
		return nil, errors.Wrap(err, "get users by teams ids")
	}
	out := make(map[string]User, len(users))
	for _, u := range users {
		out[u.TeamsUserID] = u
	}
	return out, nil
}

// ListConnectedUsers pages through connected users in Mattermost user ID order: pass "" first,
// then the last MMUserID of the previous page. It may read a replica.
func (s *Store) ListConnectedUsers(ctx context.Context, afterMMUserID string, limit int) ([]User, error) {
	if limit <= 0 {
		return nil, errors.New("list connected users: limit must be positive")
	}
	rows, err := s.reader().Query(ctx, `SELECT `+userColumns+` FROM msteamsnotify_users
		WHERE disconnected_at IS NULL AND mm_user_id > $1 ORDER BY mm_user_id LIMIT $2`, afterMMUserID, limit)
	if err != nil {
		return nil, errors.Wrap(err, "list connected users")
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	return users, errors.Wrap(err, "list connected users")
}

// CountConnectedUsers counts users holding a token. It reads the primary: seats depend on it.
func (s *Store) CountConnectedUsers(ctx context.Context) (int, error) {
	var n int
	err := s.q(ctx).QueryRow(ctx, `SELECT count(*) FROM msteamsnotify_users WHERE disconnected_at IS NULL`).Scan(&n)
	return n, errors.Wrap(err, "count connected users")
}

// DisconnectUser forgets the user's token and marks them disconnected at the given time. The
// row and its Microsoft account mapping stay. Disconnecting twice keeps the first time.
func (s *Store) DisconnectUser(ctx context.Context, mmUserID string, at time.Time) error {
	tag, err := s.q(ctx).Exec(ctx, `UPDATE msteamsnotify_users
		SET token = NULL, token_key_id = NULL, token_expiry = NULL, disconnected_at = coalesce(disconnected_at, $2)
		WHERE mm_user_id = $1`, mmUserID, at)
	if err != nil {
		return errors.Wrap(err, "disconnect user")
	}
	if tag.RowsAffected() == 0 {
		return errors.Wrap(ErrNotFound, "disconnect user")
	}
	return nil
}

// DeleteUser removes the user's row entirely, freeing the Microsoft account for another link.
func (s *Store) DeleteUser(ctx context.Context, mmUserID string) error {
	tag, err := s.q(ctx).Exec(ctx, `DELETE FROM msteamsnotify_users WHERE mm_user_id = $1`, mmUserID)
	if err != nil {
		return errors.Wrap(err, "delete user")
	}
	if tag.RowsAffected() == 0 {
		return errors.Wrap(ErrNotFound, "delete user")
	}
	return nil
}

// UpdateUserToken replaces a connected user's token (after a refresh). A disconnected user is
// not reconnected by a late refresh: that returns ErrNotFound.
func (s *Store) UpdateUserToken(ctx context.Context, mmUserID string, token []byte, keyID string, expiry time.Time) error {
	if len(token) == 0 || keyID == "" {
		return errors.New("update user token: an encrypted token and its key ID are required")
	}
	tag, err := s.q(ctx).Exec(ctx, `UPDATE msteamsnotify_users SET token = $2, token_key_id = $3, token_expiry = $4
		WHERE mm_user_id = $1 AND disconnected_at IS NULL`, mmUserID, token, keyID, nullTime(expiry))
	if err != nil {
		return errors.Wrap(err, "update user token")
	}
	if tag.RowsAffected() == 0 {
		return errors.Wrap(ErrNotFound, "update user token: no connected user")
	}
	return nil
}

// SetLastDeliveredAt records a delivery time. It never moves backwards, so workers finishing
// out of order cannot make catch-up redeliver.
func (s *Store) SetLastDeliveredAt(ctx context.Context, mmUserID string, at time.Time) error {
	tag, err := s.q(ctx).Exec(ctx, `UPDATE msteamsnotify_users
		SET last_delivered_at = GREATEST(coalesce(last_delivered_at, $2), $2) WHERE mm_user_id = $1`, mmUserID, at)
	if err != nil {
		return errors.Wrap(err, "set last delivered time")
	}
	if tag.RowsAffected() == 0 {
		return errors.Wrap(ErrNotFound, "set last delivered time")
	}
	return nil
}

// AdvanceLastDeliveredAt records many users' delivery times in one statement, never moving one backwards.
// Users without a row are ignored.
func (s *Store) AdvanceLastDeliveredAt(ctx context.Context, at map[string]time.Time) error {
	if len(at) == 0 {
		return nil
	}
	ids := make([]string, 0, len(at))
	for id := range at {
		ids = append(ids, id)
	}
	times := make([]time.Time, len(ids))
	for i, id := range ids {
		times[i] = at[id]
	}
	_, err := s.q(ctx).Exec(ctx, `UPDATE msteamsnotify_users u
		SET last_delivered_at = GREATEST(coalesce(u.last_delivered_at, v.at), v.at)
		FROM unnest($1::text[], $2::timestamptz[]) AS v(id, at)
		WHERE u.mm_user_id = v.id`, ids, times)
	return errors.Wrapf(err, "advance last delivered time of %d users", len(ids))
}

// notFound maps pgx.ErrNoRows to ErrNotFound and wraps other errors.
func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return errors.Wrap(ErrNotFound, what)
	}
	return errors.Wrap(err, what)
}
