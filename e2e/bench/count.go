package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pkg/errors"
)

// Post props the plugin sets (server/delivery and server/attach); the bench reads them back from the database.
const (
	propMessageID     = "msteams_message_id"
	propAttachmentsOf = "msteams_attachments_of" // "chatID|messageID"
	// The message id of a channel message's DM (server/channeldelivery); graphsim's ids are unique across chats
	// and channels.
	propChannelMessageID = "msteams_channel_message_id"
)

// Sent is one Teams message the bench sent and the Mattermost users who must each get exactly one DM for it.
type Sent struct {
	ChatID, MessageID string
	Created           time.Time // when the bench sent it; graphsim's createdDateTime is the same real time
	Recipients        []string  // Mattermost user ids
	WithImage         bool      // also expects one attachment follow-up per recipient
}

// Ledger records what was sent, from many goroutines.
type Ledger struct {
	mu   sync.Mutex
	sent []Sent
}

// Add records a sent message.
func (l *Ledger) Add(s Sent) {
	l.mu.Lock()
	l.sent = append(l.sent, s)
	l.mu.Unlock()
}

// Sent returns a copy of the records.
func (l *Ledger) Sent() []Sent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Sent(nil), l.sent...)
}

// Expected is the number of text DMs the ledger's messages must produce.
func (l *Ledger) Expected() (text, images int) {
	for _, s := range l.Sent() {
		text += len(s.Recipients)
		if s.WithImage {
			images += len(s.Recipients)
		}
	}
	return text, images
}

// Observed is one bot post found in a DM channel.
type Observed struct {
	MessageID string
	Recipient string // Mattermost user id
	CreateAt  time.Time
	Follow    bool // an attachment follow-up rather than the text DM
}

// Count is the outcome of comparing what was sent with what was posted.
type Count struct {
	Expected   int `json:"expected"`
	Delivered  int `json:"delivered"` // distinct (message, recipient) pairs with a text DM
	Lost       int `json:"lost"`
	Duplicated int `json:"duplicated"` // extra text DMs beyond the first per pair
	Unexpected int `json:"unexpected"` // DMs for a pair that should not have one
	// Images are the attachment follow-ups, counted the same way.
	ImagesExpected   int `json:"images_expected,omitempty"`
	ImagesDelivered  int `json:"images_delivered,omitempty"`
	ImagesLost       int `json:"images_lost,omitempty"`
	ImagesDuplicated int `json:"images_duplicated,omitempty"`

	Delays      []time.Duration `json:"-"` // text DM create_at - Teams createdDateTime, one per delivered pair
	ImageDelays []time.Duration `json:"-"`
	First, Last time.Time       `json:"-"` // create_at of the first and last first-delivered text DM
}

type pair struct{ msg, rcpt string }

// Tally compares sent messages with observed posts. Posts for messages the ledger does not know (earlier runs)
// are ignored; posts for a known message but a recipient who should not get one count as Unexpected.
func Tally(sent []Sent, observed []Observed) Count {
	var c Count
	want := map[pair]time.Time{}
	wantImg := map[pair]bool{}
	known := map[string]bool{}
	for _, s := range sent {
		known[s.MessageID] = true
		for _, r := range s.Recipients {
			want[pair{s.MessageID, r}] = s.Created
			if s.WithImage {
				wantImg[pair{s.MessageID, r}] = true
			}
		}
	}
	c.Expected, c.ImagesExpected = len(want), len(wantImg)
	seen, seenImg := map[pair]int{}, map[pair]int{}
	for _, o := range observed {
		if !known[o.MessageID] {
			continue
		}
		p := pair{o.MessageID, o.Recipient}
		if o.Follow {
			if !wantImg[p] {
				c.Unexpected++
				continue
			}
			if seenImg[p]++; seenImg[p] == 1 {
				c.ImageDelays = append(c.ImageDelays, o.CreateAt.Sub(want[p]))
			}
			continue
		}
		created, ok := want[p]
		if !ok {
			c.Unexpected++
			continue
		}
		seen[p]++
		if seen[p] > 1 {
			continue
		}
		c.Delays = append(c.Delays, o.CreateAt.Sub(created))
		if c.First.IsZero() || o.CreateAt.Before(c.First) {
			c.First = o.CreateAt
		}
		if o.CreateAt.After(c.Last) {
			c.Last = o.CreateAt
		}
	}
	for _, n := range seen {
		c.Delivered++
		c.Duplicated += n - 1
	}
	for _, n := range seenImg {
		c.ImagesDelivered++
		c.ImagesDuplicated += n - 1
	}
	c.Lost = c.Expected - c.Delivered
	c.ImagesLost = c.ImagesExpected - c.ImagesDelivered
	return c
}

// DB opens a short-lived connection per question, so that a PostgreSQL restart under the bench costs one
// failed poll rather than the run.
type DB struct{ DSN string }

func (d DB) with(ctx context.Context, f func(*pgx.Conn) error) error {
	conn, err := pgx.Connect(ctx, d.DSN)
	if err != nil {
		return errors.Wrap(err, "connect to the Mattermost database")
	}
	defer conn.Close(context.Background())
	return f(conn)
}

// PostReader reads the bot's DM posts from Mattermost's database (the plugin shares it), which is far cheaper
// than paging 240 channels through the REST API after every run.
type PostReader struct {
	DB        DB
	BotUserID string
}

// Since returns every bot post created at or after t in a direct channel, text DMs and attachment follow-ups.
func (r *PostReader) Since(ctx context.Context, t time.Time) (out []Observed, err error) {
	err = r.DB.with(ctx, func(conn *pgx.Conn) error {
		out, err = r.since(ctx, conn, t)
		return err
	})
	return out, err
}

// CountSince counts the bot's posts created at or after t.
func (r *PostReader) CountSince(ctx context.Context, t time.Time) (n int, err error) {
	err = r.DB.with(ctx, func(conn *pgx.Conn) error {
		return errors.Wrap(conn.QueryRow(ctx, `SELECT count(*) FROM posts WHERE userid = $1 AND createat >= $2`,
			r.BotUserID, t.UnixMilli()).Scan(&n), "count bot posts")
	})
	return n, err
}

func (r *PostReader) since(ctx context.Context, conn *pgx.Conn, t time.Time) ([]Observed, error) {
	rows, err := conn.Query(ctx, `
		SELECT COALESCE(p.props->>'`+propMessageID+`', p.props->>'`+propChannelMessageID+`', ''), COALESCE(p.props->>'`+propAttachmentsOf+`', ''),
		       c.name, p.createat
		  FROM posts p JOIN channels c ON c.id = p.channelid
		 WHERE p.userid = $1 AND c.type = 'D' AND p.createat >= $2 AND p.deleteat = 0`,
		r.BotUserID, t.UnixMilli())
	if err != nil {
		return nil, errors.Wrap(err, "query bot posts")
	}
	defer rows.Close()
	var out []Observed
	for rows.Next() {
		var msgID, attOf, name string
		var at int64
		if err := rows.Scan(&msgID, &attOf, &name, &at); err != nil {
			return nil, errors.Wrap(err, "scan bot post")
		}
		o := Observed{MessageID: msgID, Recipient: otherMember(name, r.BotUserID), CreateAt: time.UnixMilli(at)}
		if msgID == "" && attOf != "" {
			_, o.MessageID, _ = strings.Cut(attOf, "|")
			o.Follow = true
		}
		if o.MessageID != "" {
			out = append(out, o)
		}
	}
	return out, errors.Wrap(rows.Err(), "read bot posts")
}

// otherMember returns the member of a direct channel named "a__b" who is not me.
func otherMember(name, me string) string {
	a, b, _ := strings.Cut(name, "__")
	if a == me {
		return b
	}
	return a
}

// InboxRows counts the rows left in the plugin's inbox: still queued, and parked (given up on).
func InboxRows(ctx context.Context, db DB) (queued, parked int, err error) {
	err = db.with(ctx, func(conn *pgx.Conn) error {
		return errors.Wrap(conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE parked_at IS NULL), count(*) FILTER (WHERE parked_at IS NOT NULL)
			FROM msteamsnotify_inbox`).Scan(&queued, &parked), "count inbox rows")
	})
	return queued, parked, err
}

// InboxSample describes up to n rows left in the inbox: queue, attempts, when due, parked, last error.
func InboxSample(ctx context.Context, db DB, n int) (out []string, err error) {
	err = db.with(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT queue, attempts, EXTRACT(EPOCH FROM not_before - now())::float8,
			parked_at IS NOT NULL, left(last_error, 200) FROM msteamsnotify_inbox ORDER BY id LIMIT $1`, n)
		if err != nil {
			return errors.Wrap(err, "sample inbox rows")
		}
		defer rows.Close()
		for rows.Next() {
			var queue, lastErr string
			var attempts int
			var due float64
			var parked bool
			if err := rows.Scan(&queue, &attempts, &due, &parked, &lastErr); err != nil {
				return errors.Wrap(err, "scan inbox row")
			}
			out = append(out, fmt.Sprintf("queue=%s attempts=%d due_in=%.0fs parked=%t last_error=%q", queue, attempts, due, parked, lastErr))
		}
		return errors.Wrap(rows.Err(), "read inbox rows")
	})
	return out, err
}
