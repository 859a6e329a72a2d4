// Package inbox is the plugin's durable intake: change notifications (and follow-up work such as attachment
// uploads) are stored in PostgreSQL the moment they arrive and processed afterwards by workers on any node.
// Retries with backoff, parking of hopeless items, duplicate collapsing and surviving a node crash (leases)
// are handled here, so that handlers can be plain code that returns an error.
//
// Delivery is at least once: after a crash or a lease running out, an item may be processed again, so
// handlers must be idempotent.
package inbox

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/richnotify"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// Queue names.
const (
	QueueChanges     = "changes"
	QueueAttachments = "attachments"
	// QueueReplies carries posts users wrote in the thread of a bot DM, to be sent to Teams (package reply).
	QueueReplies = "replies"
)

// Sources of a Change.
const (
	SourceWebhook = "webhook"
	SourceCatchup = "catchup"
)

// Change is the JSON payload of queue "changes": one chat message was created, updated or deleted.
type Change struct {
	ChangeType     string // created|updated|deleted
	ChatID         string
	MessageID      string
	TenantID       string
	SubscriptionID string
	// Encrypted is the rich notification content, still encrypted to our RSA key (decrypted by the worker, so
	// the plain message never sits in the database).
	Encrypted *richnotify.EncryptedContent `json:",omitempty"`
	// Message is the full chatMessage JSON when it is already known (catch-up).
	Message    json.RawMessage `json:",omitempty"`
	Source     string          // SourceWebhook | SourceCatchup
	ReceivedAt time.Time
}

// DedupeKey is the key under which changes collapse while they wait: a second notification of the same kind
// for the same message replaces the first (the newest payload is the one worth processing).
func (c Change) DedupeKey() string {
	return c.ChangeType + "|" + c.ChatID + "|" + c.MessageID
}

// ChatOrder is the OrderKey of queue "changes": the changes of one chat are processed in the order they were
// stored, so a chat's DMs arrive in the order its messages were sent. The chat is read from the item's dedupe
// key (Change.DedupeKey), not its payload: the claim loop calls this for every job, and decoding the payload
// there (rich content included) would parse each job twice.
func ChatOrder(it store.InboxItem) string {
	// The chat id sits between the change type and the message id, neither of which holds a "|".
	_, rest, ok := strings.Cut(it.DedupeKey, "|")
	i := strings.LastIndex(rest, "|")
	if !ok || i < 0 {
		return ""
	}
	return rest[:i]
}

// Job is one claimed item handed to a Handler.
type Job struct {
	ID         int64
	Queue      string
	Payload    []byte
	Attempts   int // 1 on the first try
	EnqueuedAt time.Time
}

// Decode unmarshals the payload.
func (j Job) Decode(v any) error {
	return errors.Wrapf(json.Unmarshal(j.Payload, v), "decode %s job %d", j.Queue, j.ID)
}

// Handler processes jobs of one queue. Its error decides what happens next:
//   - nil: done, the item is deleted;
//   - RetryAfter(err, d): try again no sooner than d from now (e.g. Graph's 429 Retry-After);
//   - Park(err): set aside at once with its error: it cannot succeed without an admin;
//   - any other error: try again after an exponential backoff with jitter, parked after MaxAttempts.
//
// A panic is recovered and treated as an ordinary error.
type Handler interface {
	Process(ctx context.Context, job Job) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, job Job) error

// Process calls f.
func (f HandlerFunc) Process(ctx context.Context, job Job) error { return f(ctx, job) }

type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

type parkError struct{ err error }

func (e *parkError) Error() string { return e.err.Error() }
func (e *parkError) Unwrap() error { return e.err }

// RetryAfter marks err as transient with a known wait: the job is retried no sooner than d from now.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		err = errors.New("retry requested")
	}
	return &retryAfterError{err: err, after: d}
}

// Park marks err as permanent: the job is parked at once with this error.
func Park(err error) error {
	if err == nil {
		err = errors.New("park requested")
	}
	return &parkError{err: err}
}

// IsPark reports whether err (or an error it wraps) was made by Park.
func IsPark(err error) bool {
	var p *parkError
	return errors.As(err, &p)
}

// RetryAfterOf returns the wait requested with RetryAfter, and whether there was one.
func RetryAfterOf(err error) (time.Duration, bool) {
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}

// Enqueuer stores items; *store.Store implements it, and so does *Runner, which also wakes its local workers
// so the item is picked up at once rather than at the next poll.
type Enqueuer interface {
	EnqueueInbox(ctx context.Context, items []store.InboxItem) error
}

// Enqueue stores one item: payload is marshalled to JSON ([]byte and json.RawMessage are stored as they are).
// A non-empty dedupeKey collapses the item with a waiting item of the same queue and key (see Change.DedupeKey).
func Enqueue(ctx context.Context, s Enqueuer, queue, dedupeKey string, payload any) error {
	var raw []byte
	switch p := payload.(type) {
	case []byte:
		raw = p
	case json.RawMessage:
		raw = p
	default:
		var err error
		if raw, err = json.Marshal(payload); err != nil {
			return errors.Wrapf(err, "encode %s item", queue)
		}
	}
	return s.EnqueueInbox(ctx, []store.InboxItem{{Queue: queue, DedupeKey: dedupeKey, Payload: raw, EnqueuedAt: nowOf(s)}})
}

// nowOf reads the clock of s when it has one (a Runner), so that enqueue times and due times agree.
func nowOf(s Enqueuer) time.Time {
	if c, ok := s.(interface{ Now() time.Time }); ok {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

// Logger is the part of the Mattermost plugin logger the package uses. Messages never carry payloads.
type Logger interface {
	LogDebug(msg string, keyValuePairs ...any)
	LogInfo(msg string, keyValuePairs ...any)
	LogWarn(msg string, keyValuePairs ...any)
	LogError(msg string, keyValuePairs ...any)
}

// Metrics counts what workers do; implementations must be safe for concurrent use.
type Metrics interface {
	// JobProcessed is called when a job succeeded, with the time since it was first enqueued.
	JobProcessed(queue string, latency time.Duration)
	JobRetried(queue string)
	JobParked(queue string)
}

type nopMetrics struct{}

func (nopMetrics) JobProcessed(string, time.Duration) {}
func (nopMetrics) JobRetried(string)                  {}
func (nopMetrics) JobParked(string)                   {}

type nopLogger struct{}

func (nopLogger) LogDebug(string, ...any) {}
func (nopLogger) LogInfo(string, ...any)  {}
func (nopLogger) LogWarn(string, ...any)  {}
func (nopLogger) LogError(string, ...any) {}
