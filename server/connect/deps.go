package connect

import (
	"context"
	"time"

	"github.com/teamsnotify/msteams-sync/server/config"
	"github.com/teamsnotify/msteams-sync/server/secrets"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// ErrNotFound is the store's "no such row" error, matched with errors.Is.
var ErrNotFound = store.ErrNotFound

// Store is the persistence the Service needs; *store.Store implements it.
type Store interface {
	CreateOAuthState(ctx context.Context, st store.OAuthState) error
	// ConsumeOAuthState deletes and returns the state, so a state can be used once: store.ErrNotFound
	// when unknown or used, store.ErrExpired when too old.
	ConsumeOAuthState(ctx context.Context, state string, now time.Time) (store.OAuthState, error)

	GetUser(ctx context.Context, mmUserID string) (store.User, error)
	GetUserByTeamsID(ctx context.Context, teamsUserID string) (store.User, error)
	// SaveConnection stores a new or renewed connection (store.ErrTeamsUserLinked if the account is taken).
	SaveConnection(ctx context.Context, c store.Connection) error
	// DeleteUser forgets a user entirely, which frees their Microsoft account for another link.
	DeleteUser(ctx context.Context, mmUserID string) error
	// UpdateUserToken replaces a connected user's sealed token (refresh).
	UpdateUserToken(ctx context.Context, mmUserID string, token []byte, keyID string, expiry time.Time) error
	// DisconnectUser forgets the token: the seat is free.
	DisconnectUser(ctx context.Context, mmUserID string, at time.Time) error
	// WithUserTokenLock runs fn holding the user's token lock, shared by all nodes using the database;
	// store calls made with fn's ctx run under the lock.
	WithUserTokenLock(ctx context.Context, mmUserID string, fn func(ctx context.Context) error) error
	CountConnectedUsers(ctx context.Context) (int, error)

	WhitelistContains(ctx context.Context, mmUserID string) (bool, error)

	GetInvite(ctx context.Context, mmUserID string) (store.Invite, error)
	CreateInvite(ctx context.Context, inv store.Invite) error
	DeleteInvite(ctx context.Context, mmUserID string) error
	// CountPendingInvites counts invitations not expired at now.
	CountPendingInvites(ctx context.Context, now time.Time) (int, error)
}

// Cipher seals tokens at rest.
type Cipher interface {
	SealFor(p secrets.Purpose, binding string, plaintext []byte) (ciphertext []byte, keyID string, err error)
	OpenFor(p secrets.Purpose, binding string, ciphertext []byte, keyID string) (plaintext []byte, legacy bool, err error)
}

// SettingsFrom picks the rollout controls out of the plugin configuration.
func SettingsFrom(c config.Configuration) Settings {
	return Settings{
		ConnectedUsersAllowed: c.ConnectedUsersAllowed,
		MaxPendingInvites:     c.ConnectedUsersMaxPendingInvites,
		InviteExpiry:          time.Duration(c.InviteExpiryDays) * 24 * time.Hour,
		Restricted:            c.ConnectedUsersRestricted,
		AllowProxyAddresses:   c.AllowProxyAddresses,
	}
}

var _ Store = (*store.Store)(nil)
