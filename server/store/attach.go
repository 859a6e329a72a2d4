package store

import (
	"context"
	"hash/fnv"
	"time"

	"github.com/pkg/errors"
)

// States of an AttachmentPost row.
const (
	// AttachmentPostReserved: the follow-up post is about to be created, or was created by a
	// process that died before recording it.
	AttachmentPostReserved = "reserved"
	// AttachmentPostPosted: the follow-up post exists.
	AttachmentPostPosted = "posted"
)

// AttachmentFile is what became of one file of a Teams message: uploaded (FileID), a code
// snippet's text (Snippet), or not attached (Problem says why).
type AttachmentFile struct {
	ChatID    string
	MessageID string
	// FileKey identifies the file within the message (the attach package derives it from the URL).
	FileKey   string
	Name      string
	FileID    string
	ChannelID string
	Snippet   string
	Language  string
	Problem   string
	CreatedAt time.Time
}

// AttachmentPost is the follow-up post carrying a message's files to one recipient.
type AttachmentPost struct {
	ChatID    string
	MessageID string
	MMUserID  string
	State     string
	PostID    string
}

// SaveAttachmentFile records the outcome of one file. The first outcome recorded wins: a second
// worker that raced on the same file gets the row that is already there, so every recipient is
// given the same upload.
func (s *Store) SaveAttachmentFile(ctx context.Context, f AttachmentFile) (AttachmentFile, error) {
	if f.ChatID == "" || f.MessageID == "" || f.FileKey == "" {
		return AttachmentFile{}, errors.New("save attachment file: chat, message and file key are required")
	}
	row := s.q(ctx).QueryRow(ctx, `WITH ins AS (
			INSERT INTO msteamsnotify_attachment_files
				(chat_id, message_id, file_key, name, file_id, channel_id, snippet, language, problem)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (chat_id, message_id, file_key) DO NOTHING
			RETURNING `+attachmentFileColumns+`)
		SELECT `+attachmentFileColumns+` FROM ins
		UNION ALL
		SELECT `+attachmentFileColumns+` FROM msteamsnotify_attachment_files
			WHERE chat_id = $1 AND message_id = $2 AND file_key = $3
		LIMIT 1`,
		f.ChatID, f.MessageID, f.FileKey, f.Name, f.FileID, f.ChannelID, f.Snippet, f.Language, f.Problem)
	out, err := scanAttachmentFile(row)
	return out, errors.Wrap(err, "save attachment file")
}

const attachmentFileColumns = `chat_id, message_id, file_key, name, file_id, channel_id, snippet, language, problem, created_at`

func scanAttachmentFile(row interface{ Scan(...any) error }) (AttachmentFile, error) {
	var f AttachmentFile
	err := row.Scan(&f.ChatID, &f.MessageID, &f.FileKey, &f.Name, &f.FileID, &f.ChannelID, &f.Snippet, &f.Language,
		&f.Problem, &f.CreatedAt)
	f.CreatedAt = f.CreatedAt.UTC()
	return f, err
}

// GetAttachmentFiles returns the recorded outcomes of a message's files, keyed by FileKey.
func (s *Store) GetAttachmentFiles(ctx context.Context, chatID, messageID string) (map[string]AttachmentFile, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+attachmentFileColumns+` FROM msteamsnotify_attachment_files
		WHERE chat_id = $1 AND message_id = $2`, chatID, messageID)
	if err != nil {
		return nil, errors.Wrap(err, "get attachment files")
	}
	defer rows.Close()
	out := map[string]AttachmentFile{}
	for rows.Next() {
		f, err := scanAttachmentFile(rows)
		if err != nil {
			return nil, errors.Wrap(err, "scan attachment file")
		}
		out[f.FileKey] = f
	}
	return out, errors.Wrap(rows.Err(), "get attachment files")
}

// GetAttachmentPosts returns the follow-up posts of a message, keyed by Mattermost user id.
func (s *Store) GetAttachmentPosts(ctx context.Context, chatID, messageID string) (map[string]AttachmentPost, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT chat_id, message_id, mm_user_id, state, post_id
		FROM msteamsnotify_attachment_posts WHERE chat_id = $1 AND message_id = $2`, chatID, messageID)
	if err != nil {
		return nil, errors.Wrap(err, "get attachment posts")
	}
	defer rows.Close()
	out := map[string]AttachmentPost{}
	for rows.Next() {
		var p AttachmentPost
		if err := rows.Scan(&p.ChatID, &p.MessageID, &p.MMUserID, &p.State, &p.PostID); err != nil {
			return nil, errors.Wrap(err, "scan attachment post")
		}
		out[p.MMUserID] = p
	}
	return out, errors.Wrap(rows.Err(), "get attachment posts")
}

// ReserveAttachmentPost records that a follow-up post for (message, user) is about to be created.
// A row that already says posted is left alone and returned; otherwise the row is (re)reserved.
func (s *Store) ReserveAttachmentPost(ctx context.Context, chatID, messageID, mmUserID string) (AttachmentPost, error) {
	p := AttachmentPost{ChatID: chatID, MessageID: messageID, MMUserID: mmUserID}
	err := s.q(ctx).QueryRow(ctx, `INSERT INTO msteamsnotify_attachment_posts (chat_id, message_id, mm_user_id, state)
		VALUES ($1, $2, $3, 'reserved')
		ON CONFLICT (chat_id, message_id, mm_user_id) DO UPDATE SET updated_at = now()
		RETURNING state, post_id`, chatID, messageID, mmUserID).Scan(&p.State, &p.PostID)
	return p, errors.Wrap(err, "reserve attachment post")
}

// MarkAttachmentPosted records the follow-up post of (message, user).
func (s *Store) MarkAttachmentPosted(ctx context.Context, chatID, messageID, mmUserID, postID string) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO msteamsnotify_attachment_posts (chat_id, message_id, mm_user_id, state, post_id)
		VALUES ($1, $2, $3, 'posted', $4)
		ON CONFLICT (chat_id, message_id, mm_user_id) DO UPDATE SET state = 'posted', post_id = $4, updated_at = now()`,
		chatID, messageID, mmUserID, postID)
	return errors.Wrap(err, "mark attachment posted")
}

// DeleteAttachmentsBefore removes file outcomes and follow-up records written before t (retention);
// it returns how many rows went.
func (s *Store) DeleteAttachmentsBefore(ctx context.Context, t time.Time) (int64, error) {
	files, err := s.q(ctx).Exec(ctx, `DELETE FROM msteamsnotify_attachment_files WHERE created_at < $1`, t)
	if err != nil {
		return 0, errors.Wrap(err, "delete old attachment files")
	}
	posts, err := s.q(ctx).Exec(ctx, `DELETE FROM msteamsnotify_attachment_posts WHERE updated_at < $1`, t)
	if err != nil {
		return files.RowsAffected(), errors.Wrap(err, "delete old attachment posts")
	}
	return files.RowsAffected() + posts.RowsAffected(), nil
}

// TryAttachmentLock takes a cluster-wide lock on one message's attachment work without waiting:
// ok is false when another worker holds it. The lock is a session advisory lock on a connection of
// its own (released by PostgreSQL if the process dies); call unlock when done. It is distinct from
// the delivery message lock, so slow downloads never hold up edits of the text DM.
func (s *Store) TryAttachmentLock(ctx context.Context, chatID, messageID string) (unlock func(), ok bool, err error) {
	conn, err := s.primary.Acquire(ctx)
	if err != nil {
		return nil, false, errors.Wrap(err, "acquire connection for attachment lock")
	}
	key := attachmentLockKey(chatID, messageID)
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		// A cancelled call can leave the lock granted on the server: never reuse this session.
		_ = conn.Conn().Close(context.Background())
		conn.Release()
		return nil, false, errors.Wrap(err, "take attachment lock")
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() {
		unlockCtx, cancel := context.WithTimeout(context.Background(), lockReleaseTimeout)
		defer cancel()
		var released bool
		if err := conn.QueryRow(unlockCtx, `SELECT pg_advisory_unlock($1)`, key).Scan(&released); err != nil || !released {
			_ = conn.Conn().Close(unlockCtx)
		}
		conn.Release()
	}, true, nil
}

func attachmentLockKey(chatID, messageID string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("msteamsnotify:attachments:" + chatID + "\x00" + messageID))
	return int64(h.Sum64())
}
