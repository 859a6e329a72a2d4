package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pkg/errors"
)

// The official MS Teams plugin keeps its data in msteamssync_* tables of the same database. This file reads them
// (never writes: an admin who goes back to the official plugin finds them as they were) and records, once, what
// was taken over into this plugin's tables.

// OfficialUser is a row of the official plugin's msteamssync_users table.
type OfficialUser struct {
	MMUserID    string
	TeamsUserID string
	// Token is the official plugin's sealed token; empty for a user who disconnected.
	Token            string
	LastConnectAt    time.Time // zero when unknown
	LastDisconnectAt time.Time // zero when unknown
	// LastChatReceivedAt is when the official plugin last delivered a chat message to the user.
	LastChatReceivedAt time.Time
}

// OfficialInvite is a row of the official plugin's msteamssync_invited_users table.
type OfficialInvite struct {
	MMUserID     string
	PendingSince time.Time
	LastSentAt   time.Time
}

// OfficialData is everything of the official plugin's that this plugin takes over.
type OfficialData struct {
	Users     []OfficialUser
	Whitelist []string
	Invites   []OfficialInvite
}

// HasOfficialData reports whether the official plugin's users table exists (it ran on this database).
func (s *Store) HasOfficialData(ctx context.Context) (bool, error) {
	var ok bool
	err := s.primary.QueryRow(ctx, `SELECT to_regclass('msteamssync_users') IS NOT NULL`).Scan(&ok)
	return ok, errors.Wrap(err, "look for the official plugin's tables")
}

// ReadOfficialData reads the official plugin's users, whitelist and invitations. found is false when its users
// table does not exist (it never ran on this database). A missing whitelist or invitation table reads as empty.
func (s *Store) ReadOfficialData(ctx context.Context) (data OfficialData, found bool, err error) {
	exists := func(table string) (bool, error) {
		var ok bool
		err := s.primary.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok)
		return ok, errors.Wrapf(err, "look for the official plugin's table %s", table)
	}
	if found, err = exists("msteamssync_users"); err != nil || !found {
		return data, false, err
	}
	// Its columns were created unquoted, so PostgreSQL folded their names to lower case.
	rows, err := s.primary.Query(ctx, `SELECT mmuserid, msteamsuserid, coalesce(token, ''),
			lastconnectat, lastdisconnectat, lastchatreceivedat
		FROM msteamssync_users ORDER BY mmuserid`)
	if err != nil {
		return data, true, errors.Wrap(err, "read the official plugin's users")
	}
	data.Users, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (OfficialUser, error) {
		var u OfficialUser
		var connect, disconnect, received int64
		err := row.Scan(&u.MMUserID, &u.TeamsUserID, &u.Token, &connect, &disconnect, &received)
		u.LastConnectAt, u.LastDisconnectAt, u.LastChatReceivedAt = fromMicros(connect), fromMicros(disconnect), fromMicros(received)
		return u, err
	})
	if err != nil {
		return data, true, errors.Wrap(err, "read the official plugin's users")
	}

	if ok, err := exists("msteamssync_whitelist"); err != nil {
		return data, true, err
	} else if ok {
		rows, err := s.primary.Query(ctx, `SELECT mmuserid FROM msteamssync_whitelist ORDER BY mmuserid`)
		if err != nil {
			return data, true, errors.Wrap(err, "read the official plugin's whitelist")
		}
		if data.Whitelist, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return data, true, errors.Wrap(err, "read the official plugin's whitelist")
		}
	}

	if ok, err := exists("msteamssync_invited_users"); err != nil {
		return data, true, err
	} else if ok {
		rows, err := s.primary.Query(ctx, `SELECT mmuserid, coalesce(invitependingsince, 0), coalesce(invitelastsentat, 0)
			FROM msteamssync_invited_users ORDER BY mmuserid`)
		if err != nil {
			return data, true, errors.Wrap(err, "read the official plugin's invitations")
		}
		data.Invites, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (OfficialInvite, error) {
			var inv OfficialInvite
			var pending, sent int64
			err := row.Scan(&inv.MMUserID, &pending, &sent)
			inv.PendingSince, inv.LastSentAt = fromMicros(pending), fromMicros(sent)
			return inv, err
		})
		if err != nil {
			return data, true, errors.Wrap(err, "read the official plugin's invitations")
		}
	}
	return data, true, nil
}

// fromMicros reads the official plugin's timestamps (Unix microseconds; 0 means never).
func fromMicros(us int64) time.Time {
	if us <= 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// ImportedUser is one user to write into this plugin's tables: connected when Token is set, else disconnected.
type ImportedUser struct {
	MMUserID        string
	TeamsUserID     string
	Token           []byte // sealed by this plugin; nil for a disconnected user
	TokenKeyID      string
	TokenExpiry     time.Time
	ConnectedAt     time.Time
	DisconnectedAt  time.Time // set when Token is nil
	LastDeliveredAt time.Time // catch-up resumes from here
}

// NotImported names a user of the official plugin who was not taken over, and why (no secret in it).
type NotImported struct {
	MMUserID string `json:"mm_user_id"`
	Reason   string `json:"reason"`
	// MustReconnect is true for a user who was connected in the official plugin and is not connected now.
	MustReconnect bool `json:"must_reconnect,omitempty"`
}

// OfficialImport is what one import wrote; it is kept, so every node and later activations can report it.
type OfficialImport struct {
	At           time.Time     `json:"at"`
	Connected    int           `json:"connected"`
	Disconnected int           `json:"disconnected"`
	Whitelist    int           `json:"whitelist"`
	Invites      int           `json:"invites"`
	NotImported  []NotImported `json:"not_imported,omitempty"`
}

// OfficialImportBatch is prepared by the caller (which decrypts and re-encrypts the tokens) and written at once.
type OfficialImportBatch struct {
	At          time.Time
	Users       []ImportedUser
	Whitelist   []string
	Invites     []Invite
	NotImported []NotImported
}

const officialImportKey = "official_import"

// officialImportLockKey serializes imports on several nodes; the nodes that wait find the import done.
var officialImportLockKey = advisoryKey("msteamsnotify_official_import")

// GetOfficialImport returns the record of the import, or ErrNotFound when none happened yet.
func (s *Store) GetOfficialImport(ctx context.Context) (OfficialImport, error) {
	var rec OfficialImport
	b, err := s.GetSystemValue(ctx, officialImportKey)
	if err != nil {
		return rec, err
	}
	return rec, errors.Wrap(json.Unmarshal(b, &rec), "decode the official import record")
}

// ImportOfficial takes over the official plugin's data once. Under a lock shared by every node, it returns the
// existing record (done=false) when an import already happened; otherwise it calls prepare and writes the batch
// and the record in one transaction, so an import interrupted at any point leaves nothing behind and runs again
// in full on the next activation. A prepare error (e.g. the wrong key) writes nothing and is returned.
//
// This plugin's rows win: a user already in its tables (by Mattermost user or by Microsoft account) keeps that
// row and is listed as not imported; whitelist entries and invitations already present are kept as they are.
func (s *Store) ImportOfficial(ctx context.Context, prepare func(ctx context.Context) (OfficialImportBatch, error)) (rec OfficialImport, done bool, err error) {
	err = withAdvisoryLock(ctx, s.primary, officialImportLockKey, func(conn *pgx.Conn) error {
		existing, err := s.GetOfficialImport(ctx)
		switch {
		case err == nil:
			rec = existing
			return nil
		case !errors.Is(err, ErrNotFound):
			return err
		}
		batch, err := prepare(ctx)
		if err != nil {
			return err
		}
		rec, err = writeOfficialImport(ctx, conn, batch)
		done = err == nil
		return err
	})
	return rec, done, err
}

func writeOfficialImport(ctx context.Context, conn *pgx.Conn, b OfficialImportBatch) (OfficialImport, error) {
	rec := OfficialImport{At: b.At.UTC(), NotImported: append([]NotImported(nil), b.NotImported...)}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, u := range b.Users {
			var keyID *string
			if len(u.Token) > 0 {
				keyID = &u.TokenKeyID
			}
			tag, err := tx.Exec(ctx, `INSERT INTO msteamsnotify_users (mm_user_id, teams_user_id, token, token_key_id,
					token_expiry, connected_at, disconnected_at, last_delivered_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT DO NOTHING`,
				u.MMUserID, u.TeamsUserID, nilIfEmpty(u.Token), keyID, nullTime(u.TokenExpiry), u.ConnectedAt,
				nullTime(u.DisconnectedAt), nullTime(u.LastDeliveredAt))
			if err != nil {
				return errors.Wrap(err, "import a user of the official plugin")
			}
			switch {
			case tag.RowsAffected() == 0:
				rec.NotImported = append(rec.NotImported, NotImported{MMUserID: u.MMUserID,
					Reason: "already in this plugin's tables (by Mattermost user or Microsoft account); kept as it was"})
			case len(u.Token) > 0:
				rec.Connected++
			default:
				rec.Disconnected++
			}
		}
		for _, id := range b.Whitelist {
			tag, err := tx.Exec(ctx, `INSERT INTO msteamsnotify_whitelist (mm_user_id, added_at) VALUES ($1, $2)
				ON CONFLICT DO NOTHING`, id, b.At)
			if err != nil {
				return errors.Wrap(err, "import the official plugin's whitelist")
			}
			rec.Whitelist += int(tag.RowsAffected())
		}
		for _, inv := range b.Invites {
			// An invitation to someone who is connected (here or by this import) has done its job.
			tag, err := tx.Exec(ctx, `INSERT INTO msteamsnotify_invites (mm_user_id, invited_at, last_sent_at, expires_at)
				SELECT $1, $2, $3, $4
				WHERE NOT EXISTS (SELECT 1 FROM msteamsnotify_users WHERE mm_user_id = $1 AND token IS NOT NULL)
				ON CONFLICT DO NOTHING`, inv.MMUserID, inv.InvitedAt, inv.LastSentAt, inv.ExpiresAt)
			if err != nil {
				return errors.Wrap(err, "import the official plugin's invitations")
			}
			rec.Invites += int(tag.RowsAffected())
		}
		value, err := json.Marshal(rec)
		if err != nil {
			return errors.Wrap(err, "encode the official import record")
		}
		_, err = tx.Exec(ctx, `INSERT INTO msteamsnotify_system_values (key, value) VALUES ($1, $2)`, officialImportKey, value)
		return errors.Wrap(err, "record the official import")
	})
	if err != nil {
		return OfficialImport{}, err
	}
	return rec, nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// OfficialSubscriptionIDs returns the official plugin's tenant-wide chat subscriptions that have not expired at
// now. Nobody renews them once the official plugin is gone, so the list empties within its 2-hour lifetime.
func (s *Store) OfficialSubscriptionIDs(ctx context.Context, now time.Time) ([]string, error) {
	var exists bool
	if err := s.primary.QueryRow(ctx, `SELECT to_regclass('msteamssync_subscriptions') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, errors.Wrap(err, "look for the official plugin's subscriptions")
	}
	if !exists {
		return nil, nil
	}
	rows, err := s.primary.Query(ctx, `SELECT subscriptionid FROM msteamssync_subscriptions
		WHERE type = 'allChats' AND coalesce(expireson, 0) > $1 ORDER BY subscriptionid`, now.UnixMicro())
	if err != nil {
		return nil, errors.Wrap(err, "read the official plugin's subscriptions")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, errors.Wrap(err, "read the official plugin's subscriptions")
}
