package store

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/secrets"
)

// A key change re-encrypts every stored token without disconnecting anyone:
//
//  1. The old key, wrapped (encrypted) by the new key, is written to system_values and
//     committed, so that a crash from here on loses nothing: whoever holds the new key can
//     recover the old one.
//  2. Token rows not yet under the new key are re-encrypted in batches, one transaction each.
//  3. The wrapped old key is deleted.
//
// At start, ResumeKeyRotation finishes a change that a crash interrupted. Both run under one
// advisory lock, so nodes that all see the configuration change take turns; the later ones
// find every row already re-encrypted.
//
// The pending value is a list of wrapped keys, each tagged inside with the ID of the key that
// wrapped it. Entries that the key at hand cannot unwrap (left by a change to a key this node
// does not have) are kept as they are, never dropped, in case that key comes back.

// SystemKeyRotation is the system value holding wrapped keys while a key change is under way.
const SystemKeyRotation = "token_key_rotation"

var keyRotationLockKey = advisoryKey("token key rotation")

// rotationBatchSize rows are re-encrypted per transaction; a variable so tests can shrink it.
var rotationBatchSize = 200

// afterRotationBatch, when set (by tests), runs after each committed batch; an error stops
// the rotation there, as a crash would.
var afterRotationBatch func(batch int) error

// RotateTokenKey re-encrypts every token readable with old (or with a key an interrupted
// earlier change left wrapped) under newKey and returns how many rows it re-encrypted. Rows no
// known key can decrypt are left untouched: they were unreadable before and stay so.
func (s *Store) RotateTokenKey(ctx context.Context, old, newKey *secrets.Cipher) (int, error) {
	if old == nil || newKey == nil {
		return 0, errors.New("rotate token key: both keys are required")
	}
	n, err := s.rotate(ctx, newKey, old)
	return n, errors.Wrap(err, "rotate token key")
}

// ResumeKeyRotation finishes a key change interrupted by a crash, if one is recorded and
// current can unwrap its keys. It returns the number of rows it re-encrypted.
func (s *Store) ResumeKeyRotation(ctx context.Context, current *secrets.Cipher) (int, error) {
	if current == nil {
		return 0, errors.New("resume key rotation: a key is required")
	}
	n, err := s.rotate(ctx, current, nil)
	return n, errors.Wrap(err, "resume key rotation")
}

func (s *Store) rotate(ctx context.Context, target, old *secrets.Cipher) (n int, err error) {
	err = withAdvisoryLock(ctx, s.primary, keyRotationLockKey, func(conn *pgx.Conn) error {
		pending, err := loadWrappedKeys(ctx, conn)
		if err != nil {
			return err
		}
		var sources []*secrets.Cipher
		if old != nil && old.KeyID() != target.KeyID() {
			sources = append(sources, old)
		}
		var foreign [][]byte
		for _, w := range pending {
			k, ok := unwrapWithAny(w, target, old)
			if !ok {
				foreign = append(foreign, w)
				continue
			}
			if k.KeyID() != target.KeyID() {
				sources = append(sources, k)
			}
		}
		if len(sources) == 0 {
			return nil // nothing to re-encrypt from (pending entries, if any, stay)
		}

		// Step 1: the keys being retired, wrapped by the target key, durably.
		wrapped := append([][]byte(nil), foreign...)
		for _, k := range sources {
			w, err := target.WrapKey(k)
			if err != nil {
				return err
			}
			wrapped = append(wrapped, w)
		}
		if err := saveWrappedKeys(ctx, conn, wrapped); err != nil {
			return err
		}

		// Step 2.
		ring := secrets.NewKeyring(target, sources...)
		if n, err = reencryptTokens(ctx, conn, ring); err != nil {
			return err
		}
		// The rich-notification private keys are sealed with the same key; left behind, they would stop
		// opening once the old key is forgotten, and the old key would have to be kept to read them.
		if err := reencryptRichKeys(ctx, conn, ring); err != nil {
			return err
		}

		// Step 3.
		return saveWrappedKeys(ctx, conn, foreign)
	})
	return n, err
}

func unwrapWithAny(wrapped []byte, keys ...*secrets.Cipher) (*secrets.Cipher, bool) {
	for _, k := range keys {
		if k == nil {
			continue
		}
		if c, err := k.UnwrapKey(wrapped); err == nil {
			return c, true
		}
	}
	return nil, false
}

func loadWrappedKeys(ctx context.Context, conn *pgx.Conn) ([][]byte, error) {
	var raw []byte
	err := conn.QueryRow(ctx, `SELECT value FROM msteamsnotify_system_values WHERE key = $1`, SystemKeyRotation).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, errors.Wrap(err, "read pending key change")
	}
	var wrapped [][]byte
	if err := json.Unmarshal(raw, &wrapped); err != nil {
		return nil, errors.Wrap(err, "decode pending key change")
	}
	return wrapped, nil
}

// saveWrappedKeys replaces the pending list; an empty list deletes it.
func saveWrappedKeys(ctx context.Context, conn *pgx.Conn, wrapped [][]byte) error {
	if len(wrapped) == 0 {
		_, err := conn.Exec(ctx, `DELETE FROM msteamsnotify_system_values WHERE key = $1`, SystemKeyRotation)
		return errors.Wrap(err, "clear pending key change")
	}
	raw, err := json.Marshal(wrapped)
	if err != nil {
		return errors.Wrap(err, "encode pending key change")
	}
	_, err = conn.Exec(ctx, `INSERT INTO msteamsnotify_system_values (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()`, SystemKeyRotation, raw)
	return errors.Wrap(err, "record pending key change")
}

// reencryptTokens walks the token rows not under the ring's current key in ID order, a batch
// per transaction. Rows are locked while they are rewritten, so a concurrent refresh
// (UpdateUserToken) either lands first and is re-encrypted, or waits and overwrites with a
// token the refreshing node sealed itself.
func reencryptTokens(ctx context.Context, conn *pgx.Conn, ring *secrets.Keyring) (int, error) {
	target := ring.Current()
	total, after := 0, ""
	for batch := 1; ; batch++ {
		var seen int
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT mm_user_id, token, token_key_id FROM msteamsnotify_users
				WHERE token IS NOT NULL AND (token_key_id <> $1 OR get_byte(token, 0) = 1) AND mm_user_id > $2
				ORDER BY mm_user_id LIMIT $3 FOR UPDATE`, target.KeyID(), after, rotationBatchSize)
			if err != nil {
				return errors.Wrap(err, "select tokens to re-encrypt")
			}
			type row struct {
				id, keyID string
				token     []byte
			}
			batchRows, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
				var x row
				return x, r.Scan(&x.id, &x.token, &x.keyID)
			})
			if err != nil {
				return errors.Wrap(err, "select tokens to re-encrypt")
			}
			seen = len(batchRows)
			for _, r := range batchRows {
				after = r.id
				// Rows of the old unbound format are re-sealed bound to their user here as well, so a key
				// change also completes the upgrade.
				plaintext, _, err := ring.OpenFor(secrets.PurposeUserToken, r.id, r.token, r.keyID)
				if err != nil {
					continue // sealed by a key nobody has any more, or not this user's token
				}
				sealed, err := target.SealFor(secrets.PurposeUserToken, r.id, plaintext)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `UPDATE msteamsnotify_users SET token = $2, token_key_id = $3 WHERE mm_user_id = $1`,
					r.id, sealed, target.KeyID()); err != nil {
					return errors.Wrap(err, "store re-encrypted token")
				}
				total++
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		if seen == 0 {
			return total, nil
		}
		if afterRotationBatch != nil {
			if err := afterRotationBatch(batch); err != nil {
				return total, err
			}
		}
	}
}

// reencryptRichKeys re-seals the rich-notification private keys under ring's current key (and in the
// bound format). There are only a few, so one transaction does.
func reencryptRichKeys(ctx context.Context, conn *pgx.Conn, ring *secrets.Keyring) error {
	target := ring.Current()
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, private_key, key_id FROM msteamsnotify_rich_keys
			WHERE key_id <> $1 OR get_byte(private_key, 0) = 1 FOR UPDATE`, target.KeyID())
		if err != nil {
			return errors.Wrap(err, "select rich keys to re-encrypt")
		}
		type row struct {
			id, keyID string
			sealed    []byte
		}
		keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.id, &x.sealed, &x.keyID)
		})
		if err != nil {
			return errors.Wrap(err, "select rich keys to re-encrypt")
		}
		for _, k := range keys {
			der, _, err := ring.OpenFor(secrets.PurposeRichKey, k.id, k.sealed, k.keyID)
			if err != nil {
				continue // sealed by a key nobody has any more: unreadable before and after
			}
			sealed, err := target.SealFor(secrets.PurposeRichKey, k.id, der)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE msteamsnotify_rich_keys SET private_key = $2, key_id = $3 WHERE id = $1`,
				k.id, sealed, target.KeyID()); err != nil {
				return errors.Wrap(err, "store re-encrypted rich key")
			}
		}
		return nil
	})
}
