// Package switchover takes over what the official MS Teams plugin left in the database when an admin replaces it
// with this plugin (same plugin id, same settings): its connected users with their tokens, its disconnected
// users, its whitelist and its pending invitations. It runs once, on activation, and only reads the official
// plugin's tables, so going back to the official plugin stays possible.
package switchover

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/secrets"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// Store is the part of the store an import uses.
type Store interface {
	HasOfficialData(ctx context.Context) (bool, error)
	ReadOfficialData(ctx context.Context) (store.OfficialData, bool, error)
	ImportOfficial(ctx context.Context, prepare func(ctx context.Context) (store.OfficialImportBatch, error)) (store.OfficialImport, bool, error)
}

// Sealer encrypts a token for this plugin's tables, bound to its user.
type Sealer interface {
	SealFor(p secrets.Purpose, binding string, plaintext []byte) (ciphertext []byte, keyID string, err error)
}

// Options configure Import.
type Options struct {
	Store  Store
	Sealer Sealer
	// OfficialKey is the official plugin's `encryptionkey` setting, which carries over as this plugin's
	// at-rest encryption key: the official plugin used its characters as the raw AES key.
	OfficialKey string
	// InviteExpiry is how long an invitation holds a seat (this plugin's setting; the official plugin had none).
	InviteExpiry time.Duration
	Now          func() time.Time
}

// ErrWrongKey means no token of the official plugin opens with the configured key, so nothing was imported: the
// at-rest encryption key was changed before this plugin first ran. The message is for the admin.
var ErrWrongKey = errors.New("the official MS Teams plugin's connected users could not be taken over: the At-rest " +
	"encryption key is not the one the official plugin used. Put its key back in System Console > Plugins > " +
	"MS Teams and restart the plugin, or leave it as it is and ask users to run /msteams connect again")

// Result is what Import did.
type Result struct {
	Record store.OfficialImport
	// Found is false when the official plugin never ran on this database.
	Found bool
	// Imported is true when this call did the import; false when it had been done before (Record says what).
	Imported bool
}

// Import takes the official plugin's data over once (see store.ImportOfficial for the once). It is safe on
// several nodes at the same time and after an interrupted run.
func Import(ctx context.Context, o Options) (Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	// A database where the official plugin never ran is the common case: no lock, no record for it.
	found, err := o.Store.HasOfficialData(ctx)
	if err != nil || !found {
		return Result{}, err
	}
	rec, imported, err := o.Store.ImportOfficial(ctx, func(ctx context.Context) (store.OfficialImportBatch, error) {
		data, _, err := o.Store.ReadOfficialData(ctx)
		if err != nil {
			return store.OfficialImportBatch{}, err
		}
		return prepareBatch(data, o)
	})
	if err != nil {
		return Result{Found: true}, err
	}
	return Result{Record: rec, Found: true, Imported: imported}, nil
}

func prepareBatch(data store.OfficialData, o Options) (store.OfficialImportBatch, error) {
	now := o.Now().UTC()
	batch := store.OfficialImportBatch{At: now, Whitelist: data.Whitelist}
	aead, keyErr := officialAEAD(o.OfficialKey)
	sealed, opened := 0, 0
	for _, u := range data.Users {
		connectedAt := u.LastConnectAt
		if connectedAt.IsZero() {
			connectedAt = now
		}
		row := store.ImportedUser{MMUserID: u.MMUserID, TeamsUserID: u.TeamsUserID, ConnectedAt: connectedAt}
		if u.Token == "" {
			row.DisconnectedAt = u.LastDisconnectAt
			if row.DisconnectedAt.IsZero() {
				row.DisconnectedAt = now
			}
			batch.Users = append(batch.Users, row)
			continue
		}
		sealed++
		tok, err := openOfficialToken(aead, keyErr, u.Token)
		if err != nil {
			// The user keeps their seat and history as disconnected, and is told apart in the record.
			row.DisconnectedAt = now
			batch.Users = append(batch.Users, row)
			batch.NotImported = append(batch.NotImported, store.NotImported{MMUserID: u.MMUserID,
				Reason: "token could not be read (" + err.Error() + "); imported as disconnected, the user must connect again", MustReconnect: true})
			continue
		}
		opened++
		plaintext, err := json.Marshal(tok)
		if err != nil {
			return batch, errors.Wrap(err, "encode an imported token")
		}
		row.Token, row.TokenKeyID, err = o.Sealer.SealFor(secrets.PurposeUserToken, u.MMUserID, plaintext)
		if err != nil {
			return batch, errors.Wrap(err, "encrypt an imported token")
		}
		row.TokenExpiry = tok.Expiry
		// Catch-up resumes where the official plugin stopped delivering; the switch itself is the floor when
		// it never delivered anything.
		row.LastDeliveredAt = u.LastChatReceivedAt
		if row.LastDeliveredAt.IsZero() {
			row.LastDeliveredAt = now
		}
		batch.Users = append(batch.Users, row)
	}
	if sealed > 0 && opened == 0 {
		return store.OfficialImportBatch{}, ErrWrongKey
	}
	for _, inv := range data.Invites {
		invitedAt := inv.PendingSince
		if invitedAt.IsZero() {
			invitedAt = now
		}
		lastSent := inv.LastSentAt
		if lastSent.IsZero() {
			lastSent = invitedAt
		}
		batch.Invites = append(batch.Invites, store.Invite{MMUserID: inv.MMUserID, InvitedAt: invitedAt,
			LastSentAt: lastSent, ExpiresAt: invitedAt.Add(o.InviteExpiry)})
	}
	return batch, nil
}

// token is this plugin's stored token shape (package connect reads it): the fields of an oauth2.Token that
// matter, which are also the JSON fields the official plugin sealed.
type token struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	Expiry       time.Time `json:"expiry"`
}

// officialAEAD is the official plugin's cipher: AES-GCM keyed with the setting's characters as they are.
func officialAEAD(key string) (cipher.AEAD, error) {
	switch len(key) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("the key has %d characters; the official plugin's keys have 16, 24 or 32", len(key))
	}
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		return nil, errors.Wrap(err, "official key")
	}
	return cipher.NewGCM(block)
}

// openOfficialToken reverses the official plugin's sealing: URL-safe base64 (padded) of nonce||ciphertext, no
// additional data, holding the JSON of an oauth2.Token. Errors never include the token.
func openOfficialToken(aead cipher.AEAD, keyErr error, sealed string) (token, error) {
	var t token
	if keyErr != nil {
		return t, keyErr
	}
	raw, err := base64.URLEncoding.DecodeString(sealed)
	if err != nil {
		return t, errors.New("not in the official plugin's token format")
	}
	if len(raw) < aead.NonceSize()+aead.Overhead() {
		return t, errors.New("too short to be a sealed token")
	}
	plaintext, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], nil)
	if err != nil {
		return t, errors.New("does not open with the configured key")
	}
	if err := json.Unmarshal(plaintext, &t); err != nil {
		return t, errors.New("sealed content is not a token")
	}
	if t.RefreshToken == "" && t.AccessToken == "" {
		return t, errors.New("sealed token is empty")
	}
	t.Expiry = t.Expiry.UTC()
	return t, nil
}
