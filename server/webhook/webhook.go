// Package webhook is the HTTP intake for Microsoft Graph change and lifecycle notifications. It answers the
// validation handshake, caps and parses bodies, drops items whose clientState does not match, and plain items
// of subscriptions or tenants that are not ours, and hands the rest to a durable sink before answering 202.
// Rich items whose validation tokens are missing or do not verify are kept as plain ones (their message is
// fetched from Graph instead of decrypted) and counted, so that a tenant setup problem costs a Graph call per
// message rather than the messages. It never calls Graph: anything slow happens after the inbox.
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
	DropUnsupportedResource = "unsupported_resource" // channel messages while Teams channel notifications are off
	DropUnknownResource     = "unknown_resource"     // resource path not understood
	DropMisrouted           = "misrouted"            // lifecycle event at the change URL or vice versa
	DropUnknownSubscription = "unknown_subscription" // plain item of a subscription this plugin did not create
	DropWrongTenant         = "wrong_tenant"         // plain item of a tenant other than the configured one
	// Whole requests refused before any item was read; each counts as one.
	DropMalformed  = "malformed"  // body is not a Graph notification payload
	DropTooLarge   = "too_large"  // body over MaxBodyBytes
	DropUnreadable = "unreadable" // body could not be read
)

// Reasons a rich item was kept as a plain one, as passed to Metrics.RichItemsUnverified.
const (
	UnverifiedNoTokens      = "no_tokens"      // validationTokens null or empty: see TokenFallbackHelp
	UnverifiedInvalidTokens = "invalid_tokens" // tokens present but not valid for our app and the items' tenants
)

// TokenFallbackHelp tells an administrator why rich notifications arrive without usable validation tokens and
// how to fix it. Microsoft sends validationTokens null when the app's service principal in the tenant requires
// assignment (appRoleAssignmentRequired) and the Microsoft Graph Change Tracking service principal
// (appId 0bf30f3b-4a52-48df-9a82-234910c4a086) holds no app role: see "Application configuration for
// notifications" in https://learn.microsoft.com/graph/change-notifications-with-resource-data.
const TokenFallbackHelp = "Microsoft sent rich notifications without valid validation tokens, so the plugin cannot " +
	"trust their encrypted content and fetches each message from Graph instead (slower, and one Graph call per message). " +
	"Usual cause: in Microsoft Entra ID, this app's enterprise application has \"Assignment required?\" set to Yes. " +
	"Fix it in the Entra admin center under Enterprise applications > this app > Properties by setting " +
	"\"Assignment required?\" to No (Microsoft's recommendation), or, if assignment must stay required, assign the " +
	"\"Microsoft Graph Change Tracking\" service principal (app ID 0bf30f3b-4a52-48df-9a82-234910c4a086) an app role " +
	"of this app (Graph: POST /servicePrincipals/{this app's service principal id}/appRoleAssignedTo). " +
	"If tokens are present but invalid, check that the Client ID and the Microsoft cloud in the plugin settings match the app registration."

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
	// ItemsDropped counts items refused, by reason; for the request reasons (DropMalformed, DropTooLarge,
	// DropUnreadable) n counts requests.
	ItemsDropped(endpoint, reason string, n int)
	// RichItemsUnverified counts rich items kept as plain ones because their validation tokens failed.
	RichItemsUnverified(endpoint, reason string, n int)
}

// SubscriptionChecker decides whether a plain item's subscriptionId is one this plugin created.
// *subscription.Manager implements it; AnySubscription adds extra accepted ids.
type SubscriptionChecker interface {
	OwnsSubscription(ctx context.Context, subscriptionID string) bool
}

// SubscriptionFunc adapts a function to SubscriptionChecker.
type SubscriptionFunc func(ctx context.Context, subscriptionID string) bool

// OwnsSubscription calls f.
func (f SubscriptionFunc) OwnsSubscription(ctx context.Context, subscriptionID string) bool {
	return f(ctx, subscriptionID)
}

// AnySubscription accepts an id that any of checks accepts, e.g. the manager's plus a subscription inherited
// from another plugin during a switch-over.
func AnySubscription(checks ...SubscriptionChecker) SubscriptionChecker {
	return SubscriptionFunc(func(ctx context.Context, id string) bool {
		for _, c := range checks {
			if c != nil && c.OwnsSubscription(ctx, id) {
				return true
			}
		}
		return false
	})
}

// Options are shared by both handlers.
type Options struct {
	ClientStates ClientStateVerifier // required
	Logger       Logger              // required
	Metrics      Metrics             // optional
	MaxBodyBytes int64               // DefaultMaxBodyBytes when zero
	Timeout      time.Duration       // DefaultTimeout when zero
	// Subscriptions, when set, refuses plain items of subscriptions this plugin did not create.
	Subscriptions SubscriptionChecker
	// TenantID, when set and returning a tenant GUID, refuses plain items of other tenants. A tenant given by
	// domain name cannot be compared with the GUID Graph sends, so it disables the check.
	TenantID func() string
	// ChannelMessages, when set and returning true, keeps channel message items (Teams channel notifications
	// on, issue 17); otherwise they are acknowledged, counted as DropUnsupportedResource and not stored.
	ChannelMessages func() bool
	// Now is the clock of the log rate limit (time.Now when nil).
	Now func() time.Time

	logs *logLimiter
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
	if o.Now == nil {
		o.Now = time.Now
	}
	o.logs = newLogLimiter(o.Now)
	return nil
}

// warnLimited logs a refusal at most once per LogInterval per endpoint and reason, adding how many were not
// logged since the previous line. n is what this event counts (items or one request).
func (o *Options) warnLimited(endpoint, reason string, n int, msg string, kv ...any) {
	ok, suppressed := o.logs.allow(endpoint+"/"+reason, n)
	if !ok {
		return
	}
	kv = append(kv, "endpoint", endpoint, "reason", reason)
	if suppressed > 0 {
		kv = append(kv, "not_logged_since_last", suppressed)
	}
	o.Logger.LogWarn(msg, kv...)
}

type nopMetrics struct{}

func (nopMetrics) ItemsAccepted(string, int)               {}
func (nopMetrics) ItemsDropped(string, string, int)        {}
func (nopMetrics) RichItemsUnverified(string, string, int) {}

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
		opts.Metrics.ItemsDropped(endpoint, DropUnreadable, 1)
		opts.warnLimited(endpoint, DropUnreadable, 1, "Could not read notification body", "error", err.Error())
		http.Error(w, "could not read request body", http.StatusBadRequest)
		return nil, false
	}
	return body, true
}

// firstReadBytes sizes the first read of a body: small, whatever length the sender declares, so that a sender
// who declares a large body and sends nothing (or trickles) holds 16 KiB, not its declared length.
const firstReadBytes = 16 << 10

// readAll reads the body asking for as much as it can hold at each read. Mattermost hands a plugin the request
// body through an RPC stream on which every Read is a round trip to the server process: io.ReadAll's 512-byte
// first read and gradual growth cost a batch of rich notifications (about 160 KB at 500 messages/s) some twenty
// round trips, each waiting for both processes to be scheduled on a busy machine. After a small first read has
// shown that the sender really sends, the buffer grows to the declared length (already checked against the cap)
// in one step, so a batch crosses in two round trips.
func readAll(r io.Reader, contentLength int64) ([]byte, error) {
	buf := make([]byte, 0, firstReadBytes)
	if contentLength >= 0 {
		buf = make([]byte, 0, min(contentLength+1, firstReadBytes)) // +1: room to see the end
	}
	for {
		if len(buf) == cap(buf) {
			grow := max(len(buf), 512) // an undeclared or understated length: double
			if rest := contentLength + 1 - int64(len(buf)); rest > int64(grow) {
				grow = int(rest)
			}
			buf = slices.Grow(buf, grow)
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
	opts.Metrics.ItemsDropped(endpoint, DropTooLarge, 1)
	opts.warnLimited(endpoint, DropTooLarge, 1, "Rejected notification body over the size limit",
		"limit_bytes", opts.MaxBodyBytes, "content_length", sizeText)
	http.Error(w, fmt.Sprintf("notification body exceeds the limit of %d bytes", opts.MaxBodyBytes),
		http.StatusRequestEntityTooLarge)
}

func methodNotAllowed(w http.ResponseWriter) {
	w.Header().Set("Allow", http.MethodPost)
	http.Error(w, "only POST is accepted", http.StatusMethodNotAllowed)
}

func malformed(w http.ResponseWriter, opts *Options, endpoint string, err error) {
	opts.Metrics.ItemsDropped(endpoint, DropMalformed, 1)
	opts.warnLimited(endpoint, DropMalformed, 1, "Rejected malformed notification payload", "error", err.Error())
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
	DropUnsupportedResource: "channel messages arrive while Teams channel notifications are off",
	DropUnknownResource:     "resource is not a chat message",
	DropMisrouted:           "lifecycle and change notifications arrived at each other's URL",
	DropUnknownSubscription: "subscription is not one this plugin created",
	DropWrongTenant:         "tenant is not the configured one",
}

// dropTally collects dropped items so that a batch yields one count and at most one log line per reason.
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

func (d *dropTally) report(opts *Options, endpoint string) {
	for _, reason := range d.reasons {
		n := d.counts[reason]
		opts.Metrics.ItemsDropped(endpoint, reason, n)
		opts.warnLimited(endpoint, reason, n, "Dropped notifications: "+dropReasonText[reason],
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
