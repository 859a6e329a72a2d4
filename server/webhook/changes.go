package webhook

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/backpressure"
	"github.com/teamsnotify/msteams-sync/server/richnotify"
)

// ChangesHandler serves the change notification URL (/changes).
type ChangesHandler struct {
	sink       Sink
	validator  TokenValidator
	opts       Options
	unverified unverifiedTally
}

// NewChangesHandler builds the /changes handler. validator may be nil, and then rich items are accepted on their
// clientState alone; pass one whenever subscriptions include resource data.
func NewChangesHandler(sink Sink, validator TokenValidator, opts Options) (*ChangesHandler, error) {
	if sink == nil {
		return nil, errors.New("webhook: a sink is required")
	}
	if err := opts.complete(); err != nil {
		return nil, err
	}
	return &ChangesHandler{sink: sink, validator: validator, opts: opts}, nil
}

func (h *ChangesHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w)
		return
	}
	if handshake(w, r, h.opts.Logger, EndpointChanges) {
		return
	}
	body, ok := readBody(w, r, &h.opts, EndpointChanges)
	if !ok {
		return
	}
	batch, err := ParseChanges(body)
	if err != nil {
		malformed(w, &h.opts, EndpointChanges, err)
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()

	items, err := h.filter(ctx, r, batch)
	if err != nil {
		h.opts.Logger.LogWarn("Could not verify validation tokens; asking Graph to retry",
			"endpoint", EndpointChanges, "items", len(batch.Items), "error", err.Error())
		unavailable(w)
		return
	}
	if len(items) > 0 {
		if err := h.sink.Accept(ctx, items); err != nil {
			h.opts.Logger.LogError("Could not store change notifications; asking Graph to retry",
				"endpoint", EndpointChanges, "items", len(items), "error", err.Error())
			unavailable(w)
			return
		}
		h.opts.Metrics.ItemsAccepted(EndpointChanges, len(items))
	}
	w.WriteHeader(http.StatusAccepted)
}

// filter keeps the items that may be stored. It returns an error only for a transient failure (signing keys
// unavailable), when the whole batch must be retried.
func (h *ChangesHandler) filter(ctx context.Context, r *http.Request, batch ChangeBatch) ([]Item, error) {
	kept := make([]Item, 0, len(batch.Items))
	var drops dropTally
	genuine := false
	for _, it := range batch.Items {
		if !h.opts.ClientStates.VerifyClientState(it.SubscriptionID, it.ClientState) {
			drops.add(DropClientState, it.SubscriptionID, it.TenantID)
			continue
		}
		genuine = true
		switch {
		case it.lifecycleEvent != "":
			drops.add(DropMisrouted, it.SubscriptionID, it.TenantID)
		case it.Kind == KindChannelMessage && !h.channelMessages():
			drops.add(DropUnsupportedResource, it.SubscriptionID, it.TenantID)
		case it.Kind == KindChannelMessage:
			it.ClientState = "" // verified; never stored
			kept = append(kept, it)
		case it.Kind != KindChatMessage:
			drops.add(DropUnknownResource, it.SubscriptionID, it.TenantID)
		default:
			it.ClientState = "" // verified; never stored
			kept = append(kept, it)
		}
	}
	if genuine {
		// Only a request carrying our secret may slow delivery down (see backpressure.Measure).
		backpressure.MarkGenuine(r.Context())
	}

	if err := h.verifyRich(ctx, batch.ValidationTokens, kept); err != nil {
		drops.report(&h.opts, EndpointChanges)
		return nil, err
	}

	// Plain items (including rich ones that just lost their content) are vouched for by the clientState alone,
	// a secret shared with every subscription the app ever made; the subscription and the tenant narrow them to
	// the ones this plugin asked for.
	tenant := h.configuredTenant()
	out := kept[:0]
	for _, it := range kept {
		if it.EncryptedContent == nil {
			if tenant != "" && !strings.EqualFold(it.TenantID, tenant) {
				drops.add(DropWrongTenant, it.SubscriptionID, it.TenantID)
				continue
			}
			if h.opts.Subscriptions != nil && !h.opts.Subscriptions.OwnsSubscription(ctx, it.SubscriptionID) {
				drops.add(DropUnknownSubscription, it.SubscriptionID, it.TenantID)
				continue
			}
		}
		out = append(out, it)
	}
	drops.report(&h.opts, EndpointChanges)
	return out, nil
}

// verifyRich checks the validation tokens of the rich items in kept. When they are missing or invalid the rich
// items lose their encrypted content and go on as plain items, whose message delivery fetches from Graph: the
// content cannot be trusted, but the notification that a message exists can be, as far as a plain one can.
// It returns an error only when the check could not be made (signing keys unavailable, deadline).
func (h *ChangesHandler) verifyRich(ctx context.Context, tokens []string, kept []Item) error {
	if h.validator == nil {
		return nil
	}
	var tenants []string
	seen := map[string]bool{}
	rich := 0
	for _, it := range kept {
		if it.EncryptedContent == nil {
			continue
		}
		rich++
		if !seen[it.TenantID] {
			seen[it.TenantID] = true
			tenants = append(tenants, it.TenantID)
		}
	}
	if rich == 0 {
		return nil
	}
	err := h.validator.ValidateBatch(ctx, tokens, tenants)
	if err == nil {
		return nil
	}
	if errors.Is(err, richnotify.ErrKeysUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	for i := range kept {
		kept[i].EncryptedContent = nil
	}
	reason := UnverifiedInvalidTokens
	if len(tokens) == 0 {
		reason = UnverifiedNoTokens
	}
	h.opts.Metrics.RichItemsUnverified(EndpointChanges, reason, rich)
	h.unverified.add(reason, rich, h.opts.Now())
	h.opts.warnLimited(EndpointChanges, "unverified_"+reason, rich,
		"Rich change notifications had no valid validation tokens; fetching their messages from Graph instead. "+TokenFallbackHelp,
		"items", rich, "error", err.Error())
	return nil
}

// channelMessages says whether channel message items are wanted now (the setting is read per batch, so turning
// it off stops storing at once, even before the subscription is deleted).
func (h *ChangesHandler) channelMessages() bool {
	return h.opts.ChannelMessages != nil && h.opts.ChannelMessages()
}

var tenantGUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (h *ChangesHandler) configuredTenant() string {
	if h.opts.TenantID == nil {
		return ""
	}
	t := strings.TrimSpace(h.opts.TenantID())
	if !tenantGUID.MatchString(t) {
		return ""
	}
	return t
}

// UnverifiedRich says how many rich items this node kept as plain ones since it started, and when and why the
// latest were, for the admin status.
type UnverifiedRich struct {
	Count      int64
	LastAt     time.Time
	LastReason string // UnverifiedNoTokens or UnverifiedInvalidTokens
}

type unverifiedTally struct {
	mu sync.Mutex
	s  UnverifiedRich
}

func (t *unverifiedTally) add(reason string, n int, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.s.Count += int64(n)
	t.s.LastAt, t.s.LastReason = at, reason
}

// UnverifiedRich reports the rich items kept as plain ones on this node.
func (h *ChangesHandler) UnverifiedRich() UnverifiedRich {
	h.unverified.mu.Lock()
	defer h.unverified.mu.Unlock()
	return h.unverified.s
}
