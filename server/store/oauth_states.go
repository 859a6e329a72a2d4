package store

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/pkg/errors"
)

// OAuthState is a sign-in in progress.
//
// The PKCE code verifier is stored as is, not encrypted: it lives for minutes, is deleted on
// use, and is worthless without the authorization code, which Microsoft sends only to the
// plugin's redirect URI and which must be redeemed with the client secret as well. The state,
// which is what would let someone finish another user's sign-in, is stored only as a SHA-256 hash.
type OAuthState struct {
	State        string // the random value sent to Microsoft; only its hash is stored
	MMUserID     string
	CodeVerifier string
	// Origin is opaque data the connect flow wants back, e.g. which bot post to update.
	Origin    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

func hashState(state string) []byte {
	h := sha256.Sum256([]byte(state))
	return h[:]
}

// MaxOpenOAuthStates caps the sign-ins one user can have open at once, so a script that keeps
// starting sign-ins cannot grow the table without bound; a person needs only the newest few.
const MaxOpenOAuthStates = 5

// CreateOAuthState stores a new sign-in state. It then removes the user's states that have
// expired (as of st.CreatedAt) and, beyond the newest MaxOpenOAuthStates, the oldest ones: an
// abandoned sign-in link stops working once the user has started five newer ones.
func (s *Store) CreateOAuthState(ctx context.Context, st OAuthState) error {
	switch {
	case st.State == "" || st.MMUserID == "":
		return errors.New("create oauth state: state and user ID are required")
	case st.ExpiresAt.IsZero() || st.CreatedAt.IsZero():
		return errors.New("create oauth state: creation and expiry times are required")
	}
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO msteamsnotify_oauth_states
		(state_hash, mm_user_id, code_verifier, origin, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		hashState(st.State), st.MMUserID, st.CodeVerifier, st.Origin, st.CreatedAt, st.ExpiresAt)
	if err != nil {
		return errors.Wrap(err, "create oauth state")
	}
	_, err = s.q(ctx).Exec(ctx, `DELETE FROM msteamsnotify_oauth_states WHERE mm_user_id = $1 AND
		(expires_at <= $2 OR state_hash IN (SELECT state_hash FROM msteamsnotify_oauth_states
			WHERE mm_user_id = $1 ORDER BY created_at DESC, state_hash = $3 DESC OFFSET $4))`,
		st.MMUserID, st.CreatedAt, hashState(st.State), MaxOpenOAuthStates)
	return errors.Wrap(err, "create oauth state: remove the user's oldest and expired states")
}

// ConsumeOAuthState deletes and returns the state in one statement, so of two concurrent
// callbacks carrying the same state exactly one gets it. An unknown or already used state gives
// ErrNotFound; a state past its expiry (as of now) gives ErrExpired and is gone all the same.
func (s *Store) ConsumeOAuthState(ctx context.Context, state string, now time.Time) (OAuthState, error) {
	st := OAuthState{State: state}
	err := s.q(ctx).QueryRow(ctx, `DELETE FROM msteamsnotify_oauth_states WHERE state_hash = $1
		RETURNING mm_user_id, code_verifier, origin, created_at, expires_at`, hashState(state)).
		Scan(&st.MMUserID, &st.CodeVerifier, &st.Origin, &st.CreatedAt, &st.ExpiresAt)
	if err != nil {
		return OAuthState{}, notFound(err, "consume oauth state")
	}
	st.CreatedAt, st.ExpiresAt = st.CreatedAt.UTC(), st.ExpiresAt.UTC()
	if !now.Before(st.ExpiresAt) {
		return OAuthState{}, errors.Wrap(ErrExpired, "consume oauth state")
	}
	return st, nil
}

// PurgeExpiredOAuthStates deletes states that expired before now and returns how many.
func (s *Store) PurgeExpiredOAuthStates(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.q(ctx).Exec(ctx, `DELETE FROM msteamsnotify_oauth_states WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, errors.Wrap(err, "purge expired oauth states")
	}
	return tag.RowsAffected(), nil
}
