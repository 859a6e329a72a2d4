package connect

import (
	"context"
	"time"

	"github.com/pkg/errors"
)

// ErrNotFound is returned by Store lookups that find nothing.
var ErrNotFound = errors.New("not found")

// OAuthState is one started sign-in: single use, bound to the Mattermost user who started it.
type OAuthState struct {
	State     string
	MMUserID  string
	Verifier  string
	ExpiresAt time.Time
}

// Link is a Mattermost user's stored connection. Token is the sealed token; nil means not connected.
type Link struct {
	MMUserID    string
	TeamsUserID string
	TeamsEmail  string
	Token       []byte
	TokenKeyID  string
	ConnectedAt time.Time
}

// Connected tells whether the link holds a usable token.
func (l Link) Connected() bool { return len(l.Token) > 0 }

// Invite is a pending or expired invitation to connect.
type Invite struct {
	MMUserID string
	SentAt   time.Time
}

// Store is the persistence the Service needs.
type Store interface {
	CreateOAuthState(ctx context.Context, st OAuthState) error
	// TakeOAuthState deletes and returns the state, so a state can be used once (ErrNotFound otherwise).
	TakeOAuthState(ctx context.Context, state string) (OAuthState, error)

	GetLink(ctx context.Context, mmUserID string) (Link, error)
	GetLinkByTeamsUserID(ctx context.Context, teamsUserID string) (Link, error)
	// SaveLink stores a new or renewed connection.
	SaveLink(ctx context.Context, l Link) error
	// SaveToken replaces the sealed token of a connected user (refresh).
	SaveToken(ctx context.Context, mmUserID string, token []byte, keyID string) error
	// DeleteToken disconnects the user: the token is gone, the seat is free.
	DeleteToken(ctx context.Context, mmUserID string) error
	// WithTokenLock runs fn holding the user's token lock, shared by all nodes using the database.
	WithTokenLock(ctx context.Context, mmUserID string, fn func(ctx context.Context) error) error
	CountConnected(ctx context.Context) (int, error)

	IsWhitelisted(ctx context.Context, email string) (bool, error)

	GetInvite(ctx context.Context, mmUserID string) (Invite, error)
	CreateInvite(ctx context.Context, inv Invite) error
	DeleteInvite(ctx context.Context, mmUserID string) error
	// CountPendingInvites counts invitations sent after since (older ones have expired).
	CountPendingInvites(ctx context.Context, since time.Time) (int, error)
}

// Cipher seals tokens at rest.
type Cipher interface {
	Seal(plaintext []byte) (ciphertext []byte, keyID string, err error)
	Open(ciphertext []byte, keyID string) ([]byte, error)
}
