package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pkg/errors"
)

// SubscriptionState is the stored state of one managed Graph subscription (see migrations/030_subscription.sql).
// Zero times are NULL in the database.
type SubscriptionState struct {
	Name           string
	SubscriptionID string
	ExpiresAt      time.Time
	Fingerprint    string
	CertificateID  string
	CreatedAt      time.Time
	LastRenewedAt  time.Time
	LastGoodAt     time.Time
	LastError      string
	LastErrorAt    time.Time

	// Flags any node may set; the leader clears them once handled.
	ReauthorizeRequestedAt time.Time
	RemovedAt              time.Time
	GapSince               time.Time
	RecreateReason         string

	// LastNotificationAt is the latest time a node accepted change notifications (see NoteSubscriptionNotification).
	LastNotificationAt time.Time
	UpdatedAt          time.Time
}

const subscriptionColumns = `name, subscription_id, expires_at, fingerprint, certificate_id, created_at, last_renewed_at,
	last_good_at, last_error, last_error_at, reauthorize_requested_at, removed_at, gap_since, recreate_reason, last_notification_at, updated_at`

// GetSubscriptionState returns the named state or ErrNotFound. It reads the primary: the leader acts on it.
func (s *Store) GetSubscriptionState(ctx context.Context, name string) (SubscriptionState, error) {
	var st SubscriptionState
	var expires, created, renewed, good, errAt, reauth, removed, gap, notified *time.Time
	err := s.q(ctx).QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM msteamsnotify_subscription WHERE name = $1`, name).Scan(
		&st.Name, &st.SubscriptionID, &expires, &st.Fingerprint, &st.CertificateID, &created, &renewed,
		&good, &st.LastError, &errAt, &reauth, &removed, &gap, &st.RecreateReason, &notified, &st.UpdatedAt)
	if err != nil {
		return SubscriptionState{}, notFound(err, "get subscription state")
	}
	st.ExpiresAt, st.CreatedAt, st.LastRenewedAt, st.LastGoodAt = fromNull(expires), fromNull(created), fromNull(renewed), fromNull(good)
	st.LastErrorAt, st.ReauthorizeRequestedAt, st.RemovedAt, st.GapSince = fromNull(errAt), fromNull(reauth), fromNull(removed), fromNull(gap)
	st.LastNotificationAt, st.UpdatedAt = fromNull(notified), st.UpdatedAt.UTC()
	return st, nil
}

// SaveSubscriptionState writes next, which the caller derived from prev (as read by GetSubscriptionState, or
// the zero value with Name set when there was no row). The subscription columns are simply overwritten (one
// leader writes them); each flag is only overwritten if it still holds prev's value, so an event recorded
// by another node since prev was read is never lost. Events about a subscription being replaced by this save
// (reauthorization, removal) are dropped with it; a pending gap or recreation request is not.
func (s *Store) SaveSubscriptionState(ctx context.Context, prev, next SubscriptionState) error {
	if next.Name == "" {
		return errors.New("save subscription state: name is required")
	}
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO msteamsnotify_subscription AS t (name, subscription_id, expires_at, fingerprint,
			certificate_id, created_at, last_renewed_at, last_good_at, last_error, last_error_at,
			reauthorize_requested_at, removed_at, gap_since, recreate_reason, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, now())
		ON CONFLICT (name) DO UPDATE SET
			subscription_id = excluded.subscription_id, expires_at = excluded.expires_at,
			fingerprint = excluded.fingerprint, certificate_id = excluded.certificate_id,
			created_at = excluded.created_at, last_renewed_at = excluded.last_renewed_at,
			last_good_at = excluded.last_good_at, last_error = excluded.last_error, last_error_at = excluded.last_error_at,
			reauthorize_requested_at = CASE WHEN t.subscription_id <> excluded.subscription_id
				OR t.reauthorize_requested_at IS NOT DISTINCT FROM $15
				THEN excluded.reauthorize_requested_at ELSE t.reauthorize_requested_at END,
			removed_at = CASE WHEN t.subscription_id <> excluded.subscription_id OR t.removed_at IS NOT DISTINCT FROM $16
				THEN excluded.removed_at ELSE t.removed_at END,
			gap_since = CASE WHEN t.gap_since IS NOT DISTINCT FROM $17 THEN excluded.gap_since ELSE t.gap_since END,
			recreate_reason = CASE WHEN t.recreate_reason = $18 THEN excluded.recreate_reason ELSE t.recreate_reason END,
			updated_at = now()`,
		next.Name, next.SubscriptionID, toNull(next.ExpiresAt), next.Fingerprint, next.CertificateID,
		toNull(next.CreatedAt), toNull(next.LastRenewedAt), toNull(next.LastGoodAt), next.LastError, toNull(next.LastErrorAt),
		toNull(next.ReauthorizeRequestedAt), toNull(next.RemovedAt), toNull(next.GapSince), next.RecreateReason,
		toNull(prev.ReauthorizeRequestedAt), toNull(prev.RemovedAt), toNull(prev.GapSince), prev.RecreateReason)
	return errors.Wrap(err, "save subscription state")
}

// NoteSubscriptionNotification moves the named state's LastNotificationAt forward to at (never back). The
// leader's saves leave it alone.
func (s *Store) NoteSubscriptionNotification(ctx context.Context, name string, at time.Time) error {
	_, err := s.q(ctx).Exec(ctx, `UPDATE msteamsnotify_subscription
		SET last_notification_at = GREATEST(COALESCE(last_notification_at, $2), $2) WHERE name = $1`, name, at)
	return errors.Wrap(err, "note subscription notification")
}

// Lifecycle events RecordSubscriptionEvent understands (Graph's names).
const (
	SubscriptionEventReauthorizationRequired = "reauthorizationRequired"
	SubscriptionEventRemoved                 = "subscriptionRemoved"
	SubscriptionEventMissed                  = "missed"
)

// RecordSubscriptionEvent flags a lifecycle event for the leader, if subscriptionID is the one the named
// state tracks (events about other subscriptions are stale and reported as false). A flag already set keeps
// its earlier time. A missed event opens a gap at the last time the subscription was known good.
func (s *Store) RecordSubscriptionEvent(ctx context.Context, name, subscriptionID, event string, at time.Time) (bool, error) {
	var set string
	switch event {
	case SubscriptionEventReauthorizationRequired:
		set = `reauthorize_requested_at = COALESCE(reauthorize_requested_at, $3)`
	case SubscriptionEventRemoved:
		set = `removed_at = COALESCE(removed_at, $3)`
	case SubscriptionEventMissed:
		set = `gap_since = COALESCE(gap_since, last_good_at, $3)`
	default:
		return false, errors.Errorf("record subscription event: unknown event %q", event)
	}
	if subscriptionID == "" {
		return false, nil
	}
	tag, err := s.q(ctx).Exec(ctx, `UPDATE msteamsnotify_subscription SET `+set+`, updated_at = now()
		WHERE name = $1 AND subscription_id = $2`, name, subscriptionID, at)
	if err != nil {
		return false, errors.Wrap(err, "record subscription event")
	}
	return tag.RowsAffected() == 1, nil
}

// RequestSubscriptionRecreate asks the leader to recreate the named subscription, for reason.
func (s *Store) RequestSubscriptionRecreate(ctx context.Context, name, reason string) error {
	if reason == "" {
		reason = "requested"
	}
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO msteamsnotify_subscription (name, recreate_reason) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET recreate_reason = excluded.recreate_reason, updated_at = now()`, name, reason)
	return errors.Wrap(err, "request subscription recreation")
}

// Lease is who holds a named lease and until when.
type Lease struct {
	Name      string
	Holder    string
	ExpiresAt time.Time
}

// AcquireLease takes or extends the named lease for holder until now+ttl, and reports whether holder has it:
// it succeeds when nobody holds it, holder already does, or the previous holder's lease ran out by now.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if holder == "" || ttl <= 0 {
		return false, errors.New("acquire lease: holder and a positive ttl are required")
	}
	var got string
	err := s.q(ctx).QueryRow(ctx, `INSERT INTO msteamsnotify_leases AS l (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE l.holder = excluded.holder OR l.expires_at <= $4
		RETURNING holder`, name, holder, now.Add(ttl), now).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, errors.Wrap(err, "acquire lease "+name)
	}
	return got == holder, nil
}

// ReleaseLease gives the named lease up if holder has it, so another node can take over at once.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.q(ctx).Exec(ctx, `DELETE FROM msteamsnotify_leases WHERE name = $1 AND holder = $2`, name, holder)
	return errors.Wrap(err, "release lease "+name)
}

// GetLease returns the named lease (expired or not) or ErrNotFound.
func (s *Store) GetLease(ctx context.Context, name string) (Lease, error) {
	l := Lease{Name: name}
	err := s.q(ctx).QueryRow(ctx, `SELECT holder, expires_at FROM msteamsnotify_leases WHERE name = $1`, name).Scan(&l.Holder, &l.ExpiresAt)
	if err != nil {
		return Lease{}, notFound(err, "get lease "+name)
	}
	l.ExpiresAt = l.ExpiresAt.UTC()
	return l, nil
}

// RichKey is a stored rich-notification key pair. PrivateKey is sealed (see package secrets); KeyID names the
// sealing key.
type RichKey struct {
	ID          string // encryptionCertificateId
	Thumbprint  string
	Certificate []byte // DER
	PrivateKey  []byte // sealed PKCS#8
	KeyID       string
	NotAfter    time.Time
	CreatedAt   time.Time
}

// SaveRichKey stores a new key pair.
func (s *Store) SaveRichKey(ctx context.Context, k RichKey) error {
	if k.ID == "" || k.Thumbprint == "" || len(k.Certificate) == 0 || len(k.PrivateKey) == 0 || k.NotAfter.IsZero() || k.CreatedAt.IsZero() {
		return errors.New("save rich key: id, thumbprint, certificate, private key and times are required")
	}
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO msteamsnotify_rich_keys (id, thumbprint, certificate, private_key, key_id, not_after, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, k.ID, k.Thumbprint, k.Certificate, k.PrivateKey, k.KeyID, k.NotAfter, k.CreatedAt)
	return errors.Wrap(err, "save rich key")
}

// ListRichKeys returns every stored key pair, newest first. It reads the primary: a key created a moment ago
// on the leader must be found by the node decrypting an item encrypted to it.
func (s *Store) ListRichKeys(ctx context.Context) ([]RichKey, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT id, thumbprint, certificate, private_key, key_id, not_after, created_at
		FROM msteamsnotify_rich_keys ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, errors.Wrap(err, "list rich keys")
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RichKey, error) {
		var k RichKey
		err := r.Scan(&k.ID, &k.Thumbprint, &k.Certificate, &k.PrivateKey, &k.KeyID, &k.NotAfter, &k.CreatedAt)
		k.NotAfter, k.CreatedAt = k.NotAfter.UTC(), k.CreatedAt.UTC()
		return k, err
	})
	return keys, errors.Wrap(err, "list rich keys")
}

// DeleteRichKeysExpiredBefore removes key pairs whose certificate expired before cutoff, except the newest,
// and returns their ids.
func (s *Store) DeleteRichKeysExpiredBefore(ctx context.Context, cutoff time.Time) ([]string, error) {
	rows, err := s.q(ctx).Query(ctx, `DELETE FROM msteamsnotify_rich_keys WHERE not_after < $1
		AND id <> (SELECT id FROM msteamsnotify_rich_keys ORDER BY created_at DESC, id DESC LIMIT 1)
		RETURNING id`, cutoff)
	if err != nil {
		return nil, errors.Wrap(err, "delete expired rich keys")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, errors.Wrap(err, "delete expired rich keys")
}

func toNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
