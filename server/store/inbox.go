package store

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pkg/errors"
)

// InboxItem is one unit of durable work in a named queue (see migrations/010_inbox.sql).
type InboxItem struct {
	ID        int64
	Queue     string
	DedupeKey string // "" never collapses with anything
	Payload   []byte
	// Attempts counts claims so far; a claimed item carries the number of its own claim.
	Attempts   int
	EnqueuedAt time.Time
	NotBefore  time.Time
	LastError  string
	ParkedAt   time.Time // zero unless parked
}

// InboxQueueStats summarizes one queue for metrics and the admin status.
type InboxQueueStats struct {
	Queue string
	// Depth counts items not parked, due or not, claimed or not.
	Depth int64
	// OldestEnqueuedAt is the enqueue time of the oldest item counted in Depth; zero when Depth is 0.
	OldestEnqueuedAt time.Time
	Parked           int64
}

// EnqueueInbox stores items in one transaction: all or none. An item whose (queue, dedupe key) matches an item
// not yet claimed replaces that item's payload instead of adding a row, so a burst of notifications about the
// same thing is processed once, with the newest payload; the first item's enqueue time and due time are kept.
// Within items, a later item with the same key wins. Items' IDs and Attempts are ignored; a zero NotBefore
// means due at EnqueuedAt.
func (s *Store) EnqueueInbox(ctx context.Context, items []InboxItem) error {
	if len(items) == 0 {
		return nil
	}
	// One INSERT may not touch the same row twice, so collapse duplicates here, keeping the last payload
	// in the position of the first.
	pos := make(map[[2]string]int, len(items))
	kept := make([]InboxItem, 0, len(items))
	for _, it := range items {
		if it.Queue == "" {
			return errors.New("enqueue inbox items: queue is required")
		}
		if it.EnqueuedAt.IsZero() {
			return errors.New("enqueue inbox items: enqueue time is required")
		}
		if it.NotBefore.IsZero() {
			it.NotBefore = it.EnqueuedAt
		}
		if it.Payload == nil {
			it.Payload = []byte{}
		}
		if it.DedupeKey != "" {
			k := [2]string{it.Queue, it.DedupeKey}
			if i, ok := pos[k]; ok {
				kept[i].Payload = it.Payload
				continue
			}
			pos[k] = len(kept)
		}
		kept = append(kept, it)
	}
	queues := make([]string, len(kept))
	keys := make([]string, len(kept))
	payloads := make([][]byte, len(kept))
	enqueued := make([]time.Time, len(kept))
	notBefore := make([]time.Time, len(kept))
	for i, it := range kept {
		queues[i], keys[i], payloads[i], enqueued[i], notBefore[i] = it.Queue, it.DedupeKey, it.Payload, it.EnqueuedAt, it.NotBefore
	}
	// A single statement is atomic on its own; no explicit transaction is needed.
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO msteamsnotify_inbox (queue, dedupe_key, payload, enqueued_at, not_before)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::timestamptz[], $5::timestamptz[])
		ON CONFLICT (queue, dedupe_key) WHERE attempts = 0 AND dedupe_key <> ''
		DO UPDATE SET payload = excluded.payload`,
		queues, keys, payloads, enqueued, notBefore)
	return errors.Wrapf(err, "enqueue %d inbox items", len(kept))
}

// ClaimInbox takes up to n items of queue that are due at now, oldest due first, and leases them until
// now+lease: other claimers skip them (FOR UPDATE SKIP LOCKED, then the moved due time), and if the claimer
// neither completes, retries nor parks an item before the lease ends, the item is due again. Each returned
// item's Attempts is the number of this claim.
func (s *Store) ClaimInbox(ctx context.Context, queue string, n int, now time.Time, lease time.Duration) ([]InboxItem, error) {
	return s.ClaimInboxAs(ctx, queue, n, now, lease, InboxClaimer{})
}

// InboxClaimer names who holds a claim: Node must be stable across plugin restarts on one node and differ
// between nodes; Instance differs per plugin process. See ReleaseInboxOfEarlierInstances.
type InboxClaimer struct {
	Node, Instance string
}

// ClaimInboxAs is ClaimInbox recording the claimer on the claimed items.
func (s *Store) ClaimInboxAs(ctx context.Context, queue string, n int, now time.Time, lease time.Duration, by InboxClaimer) ([]InboxItem, error) {
	if n <= 0 {
		return nil, nil
	}
	if lease <= 0 {
		return nil, errors.New("claim inbox items: lease must be positive")
	}
	until := now.Add(lease)
	rows, err := s.primary.Query(ctx, `WITH due AS (
			SELECT id FROM msteamsnotify_inbox
			WHERE queue = $1 AND parked_at IS NULL AND not_before <= $2
			ORDER BY not_before, id
			LIMIT $3
			FOR UPDATE SKIP LOCKED
		)
		UPDATE msteamsnotify_inbox i
		SET attempts = i.attempts + 1, not_before = $4, claimed_until = $4, claimed_node = $5, claimed_instance = $6
		FROM due WHERE i.id = due.id
		RETURNING i.id, i.queue, i.dedupe_key, i.payload, i.attempts, i.enqueued_at, i.not_before, i.last_error`,
		queue, now, n, until, by.Node, by.Instance)
	if err != nil {
		return nil, errors.Wrapf(err, "claim inbox items of queue %s", queue)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (InboxItem, error) {
		var it InboxItem
		err := r.Scan(&it.ID, &it.Queue, &it.DedupeKey, &it.Payload, &it.Attempts, &it.EnqueuedAt, &it.NotBefore, &it.LastError)
		it.EnqueuedAt, it.NotBefore = it.EnqueuedAt.UTC(), it.NotBefore.UTC()
		return it, err
	})
	if err != nil {
		return nil, errors.Wrapf(err, "claim inbox items of queue %s", queue)
	}
	// UPDATE ... RETURNING gives no order; hand them out oldest first.
	sortInboxItems(items)
	return items, nil
}

func sortInboxItems(items []InboxItem) {
	slices.SortFunc(items, func(a, b InboxItem) int { return cmp.Compare(a.ID, b.ID) })
}

// CompleteInbox deletes processed items. Deleting an item that is already gone is not an error: after a
// lease ran out, two workers may both finish it.
func (s *Store) CompleteInbox(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.q(ctx).Exec(ctx, `DELETE FROM msteamsnotify_inbox WHERE id = ANY($1)`, ids)
	return errors.Wrapf(err, "complete %d inbox items", len(ids))
}

// RetryInbox releases a claimed item to be due again at `at`, recording why it failed. attempt is the
// item's Attempts as claimed: if the item was claimed again since (its lease ran out), the call does nothing
// and reports false, so a slow worker cannot clobber the newer claim.
func (s *Store) RetryInbox(ctx context.Context, id int64, attempt int, at time.Time, lastErr string) (bool, error) {
	tag, err := s.q(ctx).Exec(ctx, `UPDATE msteamsnotify_inbox SET not_before = $3, claimed_until = NULL, last_error = $4
		WHERE id = $1 AND attempts = $2 AND parked_at IS NULL`, id, attempt, at, lastErr)
	if err != nil {
		return false, errors.Wrap(err, "retry inbox item")
	}
	return tag.RowsAffected() == 1, nil
}

// ParkInbox sets a claimed item aside with its error until an admin requeues it. attempt fences as in
// RetryInbox.
func (s *Store) ParkInbox(ctx context.Context, id int64, attempt int, now time.Time, lastErr string) (bool, error) {
	tag, err := s.q(ctx).Exec(ctx, `UPDATE msteamsnotify_inbox SET parked_at = $3, claimed_until = NULL, last_error = $4
		WHERE id = $1 AND attempts = $2 AND parked_at IS NULL`, id, attempt, now, lastErr)
	if err != nil {
		return false, errors.Wrap(err, "park inbox item")
	}
	return tag.RowsAffected() == 1, nil
}

// InboxStats returns per-queue figures at now, for every queue that has items, ordered by queue name.
func (s *Store) InboxStats(ctx context.Context) ([]InboxQueueStats, error) {
	rows, err := s.reader().Query(ctx, `SELECT queue,
			count(*) FILTER (WHERE parked_at IS NULL),
			min(enqueued_at) FILTER (WHERE parked_at IS NULL),
			count(*) FILTER (WHERE parked_at IS NOT NULL)
		FROM msteamsnotify_inbox GROUP BY queue ORDER BY queue`)
	if err != nil {
		return nil, errors.Wrap(err, "inbox stats")
	}
	stats, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (InboxQueueStats, error) {
		var st InboxQueueStats
		var oldest *time.Time
		err := r.Scan(&st.Queue, &st.Depth, &oldest, &st.Parked)
		if oldest != nil {
			st.OldestEnqueuedAt = oldest.UTC()
		}
		return st, err
	})
	return stats, errors.Wrap(err, "inbox stats")
}

// ListParkedInbox returns up to limit parked items of queue ("" for every queue), most recently parked first,
// with their last error.
func (s *Store) ListParkedInbox(ctx context.Context, queue string, limit int) ([]InboxItem, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.reader().Query(ctx, `SELECT id, queue, dedupe_key, payload, attempts, enqueued_at, not_before, last_error, parked_at
		FROM msteamsnotify_inbox WHERE parked_at IS NOT NULL AND ($1 = '' OR queue = $1)
		ORDER BY parked_at DESC, id DESC LIMIT $2`, queue, limit)
	if err != nil {
		return nil, errors.Wrap(err, "list parked inbox items")
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (InboxItem, error) {
		var it InboxItem
		err := r.Scan(&it.ID, &it.Queue, &it.DedupeKey, &it.Payload, &it.Attempts, &it.EnqueuedAt, &it.NotBefore, &it.LastError, &it.ParkedAt)
		it.EnqueuedAt, it.NotBefore, it.ParkedAt = it.EnqueuedAt.UTC(), it.NotBefore.UTC(), it.ParkedAt.UTC()
		return it, err
	})
	return items, errors.Wrap(err, "list parked inbox items")
}

// RequeueParkedInbox makes the parked items of queue ("" for every queue) due at now with a fresh attempt
// count, and returns how many it requeued. A parked item superseded by a newer item with the same dedupe key
// (parked or waiting) is dropped instead: the newer one carries the newer payload.
func (s *Store) RequeueParkedInbox(ctx context.Context, queue string, now time.Time) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.primary, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM msteamsnotify_inbox p
			WHERE p.parked_at IS NOT NULL AND ($1 = '' OR p.queue = $1) AND p.dedupe_key <> ''
			AND EXISTS (SELECT 1 FROM msteamsnotify_inbox o
				WHERE o.queue = p.queue AND o.dedupe_key = p.dedupe_key AND o.id > p.id
				AND (o.parked_at IS NOT NULL OR o.attempts = 0))`, queue); err != nil {
			return errors.Wrap(err, "drop superseded parked items")
		}
		tag, err := tx.Exec(ctx, `UPDATE msteamsnotify_inbox
			SET parked_at = NULL, attempts = 0, not_before = $2, claimed_until = NULL
			WHERE parked_at IS NOT NULL AND ($1 = '' OR queue = $1)`, queue, now)
		n = tag.RowsAffected()
		return err
	})
	return n, errors.Wrap(err, "requeue parked inbox items")
}

// ParkedInboxRetention is how long a parked item waits for an admin's requeue before maintenance deletes it
// undelivered: parked items hold message text, which must not be kept forever.
const ParkedInboxRetention = 7 * 24 * time.Hour

// DeleteParkedInboxBefore deletes the items parked before cutoff and returns how many it deleted per queue.
// Parked items hold message text; without an expiry they would keep it forever when nobody requeues them.
func (s *Store) DeleteParkedInboxBefore(ctx context.Context, cutoff time.Time) (map[string]int64, error) {
	rows, err := s.primary.Query(ctx, `WITH gone AS (
			DELETE FROM msteamsnotify_inbox WHERE parked_at IS NOT NULL AND parked_at < $1 RETURNING queue
		) SELECT queue, count(*) FROM gone GROUP BY queue`, cutoff)
	if err != nil {
		return nil, errors.Wrap(err, "delete expired parked inbox items")
	}
	out := map[string]int64{}
	var q string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&q, &n}, func() error { out[q] = n; return nil })
	return out, errors.Wrap(err, "delete expired parked inbox items")
}

// ReleaseInboxOfEarlierInstances makes the items still leased by node under an instance other than `by` due
// at once, so a plugin restarted after a crash (kill -9) takes back its own jobs instead of waiting out their
// lease. Items of other nodes are never touched: their jobs may be running. A released item gets back its
// place in the claim order (due at its enqueue time, never later than now), so a chat's jobs keep their order.
// It returns how many items it released.
func (s *Store) ReleaseInboxOfEarlierInstances(ctx context.Context, by InboxClaimer, now time.Time) (int64, error) {
	if by.Node == "" || by.Instance == "" {
		return 0, errors.New("release inbox items of earlier instances: node and instance are required")
	}
	tag, err := s.primary.Exec(ctx, `UPDATE msteamsnotify_inbox
		SET not_before = LEAST(enqueued_at, $3), claimed_until = NULL, claimed_instance = ''
		WHERE claimed_node = $1 AND claimed_instance <> $2 AND claimed_instance <> ''
		AND parked_at IS NULL AND claimed_until > $3`, by.Node, by.Instance, now)
	if err != nil {
		return 0, errors.Wrap(err, "release inbox items of earlier instances")
	}
	return tag.RowsAffected(), nil
}
