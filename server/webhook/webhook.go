// Package webhook is the HTTP intake for Microsoft Graph change and lifecycle notifications. It answers the
// validation handshake, caps and parses bodies, drops items whose clientState does not match (and, for rich
// notifications, batches whose validation tokens do not verify), and hands the rest to a durable sink before
// answering 202. It never calls Graph: anything slow happens after the inbox.
//
// Validation tokens are checked before the items are stored, not after the 202 as Microsoft suggests: with the
// signing keys cached the check costs well under a millisecond, and checking first means forged items never reach
// the inbox. When the keys cannot be fetched the handler answers 503, so Graph retries instead of items being lost.
package webhook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/pkg/errors"
)

const (
	// DefaultMaxBodyBytes caps a notification body. A batch of rich chat messages stays far below it.
	DefaultMaxBodyBytes int64 = 1 << 20
	// DefaultTimeout bounds token validation plus the sink, inside Graph's 3 s delivery deadline.
	DefaultTimeout = 2500 * time.Millisecond
)

// Endpoint names used in metrics and logs.
const (
	EndpointChanges   = "changes"
	EndpointLifecycle = "lifecycle"
)

// Reasons an item is dropped, as passed to Metrics.ItemsDropped.
const (
	DropClientState         = "client_state"         // clientState missing or not ours: forged or stale
	DropValidationToken     = "validation_token"     // rich item in a batch whose validation tokens failed
	DropUnsupportedResource = "unsupported_resource" // channel messages: the plugin handles chats only
	DropUnknownResource     = "unknown_resource"     // resource path not understood
	DropMisrouted           = "misrouted"            // lifecycle event at the change URL or vice versa
)

// Sink stores change items durably (the plugin's PostgreSQL inbox). It must be fast and make no Graph calls;
// an error makes the webhook answer 503 so that Graph redelivers the whole batch.
type Sink interface {
	Accept(ctx context.Context, items []Item) error
}

// LifecycleSink stores lifecycle events durably; an error makes the webhook answer 503.
type LifecycleSink interface {
	AcceptLifecycle(ctx context.Context, events []LifecycleEvent) error
}

// TokenValidator verifies the validationTokens of a batch for the tenants of its rich items.
// *richnotify.Validator implements it. An error wrapping richnotify.ErrKeysUnavailable is treated as transient.
type TokenValidator interface {
	ValidateBatch(ctx context.Context, tokens []string, tenantIDs []string) error
}

// ClientStateVerifier decides whether an item's clientState is one we set on the subscription.
type ClientStateVerifier interface {
	VerifyClientState(subscriptionID, clientState string) bool
}

// ClientStateFunc adapts a function to ClientStateVerifier, e.g. to read the current secret from live config.
type ClientStateFunc func(subscriptionID, clientState string) bool

// VerifyClientState calls f.
func (f ClientStateFunc) VerifyClientState(subscriptionID, clientState string) bool {
	return f(subscriptionID, clientState)
}

// MatchesAny reports whether clientState equals one of the non-empty secrets. It compares digests in constant
// time and always checks every secret, so neither the secret's content nor its length nor which one matched leaks
// through timing. Several secrets allow a secret change while older subscriptions still carry the previous one.
func MatchesAny(clientState string, secrets ...string) bool {
	if clientState == "" {
		return false
	}
	got := sha256.Sum256([]byte(clientState))
	match := 0
	for _, s := range secrets {
		if s == "" {
			continue
		}
		want := sha256.Sum256([]byte(s))
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return match == 1
}

// Secrets is a ClientStateVerifier that accepts any of a fixed set of secrets, whatever the subscription.
type Secrets []string

// VerifyClientState implements ClientStateVerifier.
func (s Secrets) VerifyClientState(_, clientState string) bool { return MatchesAny(clientState, s...) }

// Logger is the subset of the Mattermost plugin API logger the webhook uses. Messages say what happened and why;
// they never carry clientState values, tokens or bodies.
type Logger interface {
	LogDebug(msg string, keyValuePairs ...any)
	LogWarn(msg string, keyValuePairs ...any)
	LogError(msg string, keyValuePairs ...any)
}

// Metrics counts items; implementations must be safe for concurrent use.
type Metrics interface {
	ItemsAccepted(endpoint string, n int)
	ItemsDropped(endpoint, reason string, n int)
}

// Options are shared by both handlers.
type Options struct {
	ClientStates ClientStateVerifier // required
	Logger       Logger              // required
	Metrics      Metrics             // optional
	MaxBodyBytes int64               // DefaultMaxBodyBytes when zero
	Timeout      time.Duration       // DefaultTimeout when zero
}

func (o *Options) complete() error {
	if o.ClientStates == nil {
		return errors.New("webhook: a clientState verifier is required")
	}
	if o.Logger == nil {
		return errors.New("webhook: a logger is required")
	}
	if o.Metrics == nil {
		o.Metrics = nopMetrics{}
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return nil
}

type nopMetrics struct{}

func (nopMetrics) ItemsAccepted(string, int)        {}
func (nopMetrics) ItemsDropped(string, string, int) {}

// handshake answers Graph's validation request: 200, text/plain, the URL-decoded token verbatim. It reports
// whether the request was one; JSON is never parsed for it.
func handshake(w http.ResponseWriter, r *http.Request, log Logger, endpoint string) bool {
	q := r.URL.Query()
	if !q.Has("validationToken") {
		return false
	}
	if reason := badValidationToken(q.Get("validationToken")); reason != "" {
		http.Error(w, "validationToken rejected: "+reason, http.StatusBadRequest)
		return true
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, q.Get("validationToken"))
	log.LogDebug("Answered Microsoft Graph validation request", "endpoint", endpoint)
	return true
}

// maxValidationTokenBytes bounds what the handshake echoes: Graph's tokens are short opaque ASCII strings, and
// echoing anything larger or binary would make the endpoint a reflector for arbitrary content.
const maxValidationTokenBytes = 1024

// badValidationToken says why a token is refused, or "" when it may be echoed.
func badValidationToken(token string) string {
	if len(token) > maxValidationTokenBytes {
		return fmt.Sprintf("longer than %d bytes", maxValidationTokenBytes)
	}
	for i := 0; i < len(token); i++ {
		if token[i] < 0x20 || token[i] > 0x7e {
			return "only printable ASCII characters are allowed"
		}
	}
	return ""
}

// readBody enforces POST and the size cap; on failure it has already written the response.
func readBody(w http.ResponseWriter, r *http.Request, opts *Options, endpoint string) ([]byte, bool) {
	if r.ContentLength > opts.MaxBodyBytes {
		tooLarge(w, opts, endpoint, r.ContentLength)
		return nil, false
	}
	body, err := readAll(http.MaxBytesReader(w, r.Body, opts.MaxBodyBytes), r.ContentLength)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			tooLarge(w, opts, endpoint, -1)
			return nil, false
		}
		opts.Logger.LogWarn("Could not read notification body", "endpoint", endpoint, "error", err.Error())
		http.Error(w, "could not read request body", http.StatusBadRequest)
		return nil, false
	}
	return body, true
}

// firstReadBytes sizes the first read of a body whose length is not declared; maxFirstReadBytes caps what a
// declared length reserves before any byte arrived (a sender may declare 1 MiB and send nothing), above the
// ~160 KB of a busy batch from Graph.
const (
	firstReadBytes    = 64 << 10
	maxFirstReadBytes = 256 << 10
)

// readAll reads the body asking for as much as it can hold at each read. Mattermost hands a plugin the request
// body through an RPC stream on which every Read is a round trip to the server process: io.ReadAll's 512-byte
// first read and gradual growth cost a batch of rich notifications (about 160 KB at 500 messages/s) some twenty
// round trips, each waiting for both processes to be scheduled on a busy machine. A buffer sized to the
// declared length (plus room to see the end) asks for the whole body in one.
func readAll(r io.Reader, contentLength int64) ([]byte, error) {
	size := int64(firstReadBytes)
	if contentLength >= 0 {
		size = min(contentLength+1, maxFirstReadBytes)
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(len(buf), 512)) // an undeclared or understated length: double
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func tooLarge(w http.ResponseWriter, opts *Options, endpoint string, size int64) {
	sizeText := "unknown"
	if size >= 0 {
		sizeText = strconv.FormatInt(size, 10)
	}
	opts.Logger.LogWarn("Rejected notification body over the size limit",
		"endpoint", endpoint, "limit_bytes", opts.MaxBodyBytes, "content_length", sizeText)
	http.Error(w, fmt.Sprintf("notification body exceeds the limit of %d bytes", opts.MaxBodyBytes),
		http.StatusRequestEntityTooLarge)
}

func methodNotAllowed(w http.ResponseWriter) {
	w.Header().Set("Allow", http.MethodPost)
	http.Error(w, "only POST is accepted", http.StatusMethodNotAllowed)
}

func malformed(w http.ResponseWriter, opts *Options, endpoint string, err error) {
	opts.Logger.LogWarn("Rejected malformed notification payload", "endpoint", endpoint, "error", err.Error())
	http.Error(w, "malformed notification payload", http.StatusBadRequest)
}

func unavailable(w http.ResponseWriter) {
	http.Error(w, "notifications could not be stored; retry later", http.StatusServiceUnavailable)
}

func contextWithTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}

// dropReasonText explains each drop reason in the log.
var dropReasonText = map[string]string{
	DropClientState:         "clientState is missing or does not match (forged, or a subscription from an old secret)",
	DropValidationToken:     "validation tokens did not verify",
	DropUnsupportedResource: "channel messages are not supported; only chats are",
	DropUnknownResource:     "resource is not a chat message",
	DropMisrouted:           "lifecycle and change notifications arrived at each other's URL",
}

// dropTally collects dropped items so that a flood of forged items yields one log line per reason and batch.
type dropTally struct {
	reasons []string
	counts  map[string]int
	first   map[string][2]string // subscription and tenant of the first dropped item, to find the culprit
}

func (d *dropTally) add(reason, subscriptionID, tenantID string) {
	if d.counts == nil {
		d.counts, d.first = map[string]int{}, map[string][2]string{}
	}
	if d.counts[reason] == 0 {
		d.reasons = append(d.reasons, reason)
		d.first[reason] = [2]string{clip(subscriptionID), clip(tenantID)}
	}
	d.counts[reason]++
}

func (d *dropTally) report(log Logger, m Metrics, endpoint string) {
	for _, reason := range d.reasons {
		n := d.counts[reason]
		m.ItemsDropped(endpoint, reason, n)
		log.LogWarn("Dropped notifications: "+dropReasonText[reason], "endpoint", endpoint, "reason", reason,
			"count", n, "subscription_id", d.first[reason][0], "tenant_id", d.first[reason][1])
	}
}

// clip bounds untrusted ids before they reach the log.
func clip(s string) string {
	const limit = 128
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}
