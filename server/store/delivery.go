package store

import (
	"context"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pkg/errors"
)

// States of a DeliveredPost row.
const (
	// PostReserved: a DM is about to be created, or was created by a process that died before
	// recording it. Whoever finds a reserved row must look for the DM before posting again.
	PostReserved = "reserved"
	// PostPosted: the DM exists and shows the version recorded in LastModified/LastEdited.
	PostPosted = "posted"
	// PostDeleted: the DM exists and says the message was deleted in Teams.
	PostDeleted = "deleted"
	// PostSkipped: deliberately not delivered (Reason says why); the decision is final.
	PostSkipped = "skipped"
	// PostSummarized: mentioned in a catch-up summary DM instead of being delivered alone.
	PostSummarized = "summarized"
)

// MessageKey names one Teams chat message: message ids are unique only inside their chat.
type MessageKey struct {
	ChatID    string
	MessageID string
}

// DeliveredPost is what became of one Teams message for one Mattermost user. A row with an empty
// MMUserID is the message's deletion tombstone.
type DeliveredPost struct {
	ChatID    string
	MessageID string
	MMUserID  string
	State     string
	Reason    string
	ChannelID string
	PostID    string
	// LastModified and LastEdited are the Teams message's lastModifiedDateTime and
	// lastEditedDateTime for the version the DM shows (zero when unknown or never edited).
	LastModified   time.Time
	LastEdited     time.Time
	MessageCreated time.Time
	// FilesPending is true while the message's attachments still have to be queued for this DM.
	FilesPending bool
	ReservedAt   time.Time
}

type deliveryConnKey struct{}

// dq is the querier for delivery rows: the connection holding the caller's message lock when
// ctx carries one (so work under the lock never waits for a second pool connection), else q.
func (s *Store) dq(ctx context.Context) querier {
	if c, ok := ctx.Value(deliveryConnKey{}).(*pgxpool.Conn); ok {
		return c
	}
	return s.q(ctx)
}

// WithMessageLock runs fn while holding a cluster-wide lock on one Teams message, so that two
// workers handling notifications of the same message (a created and an updated arriving together,
// a redelivery) take turns and each sees what the other recorded.
//
// The lock is a session advisory lock on a connection of its own, not a transaction: rows written
// under it (a reservation before a DM is created) must be durable at once, whatever happens next.
// If the process dies, the connection closes and PostgreSQL releases the lock. Delivery-row calls
// made with fn's ctx use that connection; fn should make no other store calls, which would need a
// second pool connection while holding one. wait bounds only the wait for the lock (zero: as long as ctx
// allows); fn runs under ctx.
func (s *Store) WithMessageLock(ctx context.Context, chatID, messageID string, wait time.Duration, fn func(ctx context.Context) error) error {
	conn, err := s.primary.Acquire(ctx)
	if err != nil {
		return errors.Wrap(err, "acquire connection for message lock")
	}
	key := messageLockKey(chatID, messageID)
	waitCtx, cancel := ctx, context.CancelFunc(func() {})
	if wait > 0 {
		waitCtx, cancel = context.WithTimeout(ctx, wait)
	}
	_, err = conn.Exec(waitCtx, `SELECT pg_advisory_lock($1)`, key)
	cancel()
	if err != nil {
		// A cancelled wait can leave the lock granted on the server: never reuse this session.
		_ = conn.Conn().Close(context.Background())
		conn.Release()
		return errors.Wrap(err, "take message lock")
	}
	defer func() {
		unlockCtx, cancel := context.WithTimeout(context.Background(), lockReleaseTimeout)
		defer cancel()
		var released bool
		if err := conn.QueryRow(unlockCtx, `SELECT pg_advisory_unlock($1)`, key).Scan(&released); err != nil || !released {
			// Closing the session is the one sure way to release the lock.
			_ = conn.Conn().Close(unlockCtx)
		}
		conn.Release()
	}()
	return fn(context.WithValue(ctx, deliveryConnKey{}, conn))
}

func messageLockKey(chatID, messageID string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("msteamsnotify:message:" + chatID + "\x00" + messageID))
	return int64(h.Sum64())
}

const postColumns = `chat_id, message_id, mm_user_id, state, reason, channel_id, post_id,
	last_modified, last_edited, message_created, files_pending, reserved_at`

func scanDeliveredPost(row pgx.Row) (DeliveredPost, error) {
	var p DeliveredPost
	var modified, edited, created *time.Time
	err := row.Scan(&p.ChatID, &p.MessageID, &p.MMUserID, &p.State, &p.Reason, &p.ChannelID, &p.PostID,
		&modified, &edited, &created, &p.FilesPending, &p.ReservedAt)
	p.LastModified, p.LastEdited, p.MessageCreated = deref(modified), deref(edited), deref(created)
	p.ReservedAt = p.ReservedAt.UTC()
	return p, err
}

// pgTime keeps what PostgreSQL keeps (microseconds), so values read back compare equal to the
// ones written; Graph times can carry 100 ns ticks.
func pgTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(time.Microsecond)
	return &t
}

func validPostState(state string) bool {
	switch state {
	case PostReserved, PostPosted, PostDeleted, PostSkipped, PostSummarized:
		return true
	}
	return false
}

// GetMessagePosts returns every row of one message (the tombstone included), ordered by user.
func (s *Store) GetMessagePosts(ctx context.Context, chatID, messageID string) ([]DeliveredPost, error) {
	rows, err := s.dq(ctx).Query(ctx, `SELECT `+postColumns+` FROM msteamsnotify_posts
		WHERE chat_id = $1 AND message_id = $2 ORDER BY mm_user_id`, chatID, messageID)
	if err != nil {
		return nil, errors.Wrap(err, "get message posts")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeliveredPost, error) { return scanDeliveredPost(r) })
	return out, errors.Wrap(err, "get message posts")
}

// InsertPost records a decision about one (chat, message, user) for the first time: a
// reservation before creating a DM, a skip, or a tombstone. It returns false, writing nothing,
// when the row already exists: the first decision stands. A zero ReservedAt means now.
func (s *Store) InsertPost(ctx context.Context, p DeliveredPost) (bool, error) {
	if p.ChatID == "" || p.MessageID == "" {
		return false, errors.New("insert delivered post: chat and message ids are required")
	}
	if !validPostState(p.State) {
		return false, errors.Errorf("insert delivered post: unknown state %q", p.State)
	}
	if p.ReservedAt.IsZero() {
		p.ReservedAt = time.Now()
	}
	tag, err := s.dq(ctx).Exec(ctx, `INSERT INTO msteamsnotify_posts (`+postColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (chat_id, message_id, mm_user_id) DO NOTHING`,
		p.ChatID, p.MessageID, p.MMUserID, p.State, p.Reason, p.ChannelID, p.PostID,
		pgTime(p.LastModified), pgTime(p.LastEdited), pgTime(p.MessageCreated), p.FilesPending, pgTime(p.ReservedAt))
	if err != nil {
		return false, errors.Wrap(err, "insert delivered post")
	}
	return tag.RowsAffected() == 1, nil
}

// SavePost overwrites the state, reason, channel, post and version times of an existing row.
// ReservedAt, MessageCreated and FilesPending are kept (see ClearFilesPending).
func (s *Store) SavePost(ctx context.Context, p DeliveredPost) error {
	if !validPostState(p.State) {
		return errors.Errorf("save delivered post: unknown state %q", p.State)
	}
	tag, err := s.dq(ctx).Exec(ctx, `UPDATE msteamsnotify_posts SET state = $4, reason = $5, channel_id = $6,
			post_id = $7, last_modified = $8, last_edited = $9, updated_at = now()
		WHERE chat_id = $1 AND message_id = $2 AND mm_user_id = $3`,
		p.ChatID, p.MessageID, p.MMUserID, p.State, p.Reason, p.ChannelID, p.PostID,
		pgTime(p.LastModified), pgTime(p.LastEdited))
	if err != nil {
		return errors.Wrap(err, "save delivered post")
	}
	if tag.RowsAffected() == 0 {
		return errors.Wrap(ErrNotFound, "save delivered post")
	}
	return nil
}

// ClearFilesPending records that the message's attachments were queued for these users' DMs. It
// touches nothing else, so it cannot undo a concurrent SavePost.
func (s *Store) ClearFilesPending(ctx context.Context, chatID, messageID string, mmUserIDs []string) error {
	_, err := s.dq(ctx).Exec(ctx, `UPDATE msteamsnotify_posts SET files_pending = FALSE, updated_at = now()
		WHERE chat_id = $1 AND message_id = $2 AND mm_user_id = ANY($3)`, chatID, messageID, mmUserIDs)
	return errors.Wrap(err, "clear files pending")
}

// KnownMessages reports which of keys already have a row for mmUserID, whatever its state:
// catch-up neither delivers nor summarises those again.
func (s *Store) KnownMessages(ctx context.Context, mmUserID string, keys []MessageKey) (map[MessageKey]bool, error) {
	out := make(map[MessageKey]bool)
	if len(keys) == 0 {
		return out, nil
	}
	chats, messages := splitKeys(keys)
	rows, err := s.dq(ctx).Query(ctx, `SELECT p.chat_id, p.message_id FROM msteamsnotify_posts p
		JOIN unnest($2::text[], $3::text[]) AS k(chat_id, message_id)
			ON p.chat_id = k.chat_id AND p.message_id = k.message_id
		WHERE p.mm_user_id = $1`, mmUserID, chats, messages)
	if err != nil {
		return nil, errors.Wrap(err, "find known messages")
	}
	defer rows.Close()
	for rows.Next() {
		var k MessageKey
		if err := rows.Scan(&k.ChatID, &k.MessageID); err != nil {
			return nil, errors.Wrap(err, "find known messages")
		}
		out[k] = true
	}
	return out, errors.Wrap(rows.Err(), "find known messages")
}

// RecordSummarized marks messages as told to mmUserID in a catch-up summary and returns the keys
// that were not known before (only those belong in the summary), in the order given.
func (s *Store) RecordSummarized(ctx context.Context, mmUserID string, keys []MessageKey, at time.Time) ([]MessageKey, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	chats, messages := splitKeys(keys)
	rows, err := s.dq(ctx).Query(ctx, `INSERT INTO msteamsnotify_posts (chat_id, message_id, mm_user_id, state, reserved_at)
		SELECT k.chat_id, k.message_id, $1, 'summarized', $4 FROM unnest($2::text[], $3::text[]) AS k(chat_id, message_id)
		ON CONFLICT (chat_id, message_id, mm_user_id) DO NOTHING
		RETURNING chat_id, message_id`, mmUserID, chats, messages, pgTime(at))
	if err != nil {
		return nil, errors.Wrap(err, "record summarized messages")
	}
	defer rows.Close()
	inserted := map[MessageKey]bool{}
	for rows.Next() {
		var k MessageKey
		if err := rows.Scan(&k.ChatID, &k.MessageID); err != nil {
			return nil, errors.Wrap(err, "record summarized messages")
		}
		inserted[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, errors.Wrap(err, "record summarized messages")
	}
	var out []MessageKey
	for _, k := range keys {
		if inserted[k] {
			out = append(out, k)
			delete(inserted, k) // a key given twice is summarised once
		}
	}
	return out, nil
}

// DeletePostsBefore forgets rows written before the cutoff and returns how many went. Edits and
// deletes of older Teams messages then no longer reach their DMs, and catch-up must not reach
// further back than the cutoff.
func (s *Store) DeletePostsBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.dq(ctx).Exec(ctx, `DELETE FROM msteamsnotify_posts WHERE reserved_at < $1`, cutoff)
	if err != nil {
		return 0, errors.Wrap(err, "delete old delivered posts")
	}
	return tag.RowsAffected(), nil
}

func splitKeys(keys []MessageKey) (chats, messages []string) {
	chats = make([]string, len(keys))
	messages = make([]string, len(keys))
	for i, k := range keys {
		chats[i], messages[i] = k.ChatID, k.MessageID
	}
	return chats, messages
}
