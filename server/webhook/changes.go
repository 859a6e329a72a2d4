package webhook

import (
	"context"
	"net/http"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/richnotify"
)

// ChangesHandler serves the change notification URL (/changes).
type ChangesHandler struct {
	sink      Sink
	validator TokenValidator
	opts      Options
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

	items, err := h.filter(ctx, batch)
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
func (h *ChangesHandler) filter(ctx context.Context, batch ChangeBatch) ([]Item, error) {
	log, m := h.opts.Logger, h.opts.Metrics
	kept := make([]Item, 0, len(batch.Items))
	var drops dropTally
	for _, it := range batch.Items {
		switch {
		case !h.opts.ClientStates.VerifyClientState(it.SubscriptionID, it.ClientState):
			drops.add(DropClientState, it.SubscriptionID, it.TenantID)
		case it.lifecycleEvent != "":
			drops.add(DropMisrouted, it.SubscriptionID, it.TenantID)
		case it.Kind == KindChannelMessage:
			drops.add(DropUnsupportedResource, it.SubscriptionID, it.TenantID)
		case it.Kind != KindChatMessage:
			drops.add(DropUnknownResource, it.SubscriptionID, it.TenantID)
		default:
			it.ClientState = "" // verified; never stored
			kept = append(kept, it)
		}
	}
	drops.report(log, m, EndpointChanges)
	if h.validator == nil {
		return kept, nil
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
		return kept, nil
	}
	err := h.validator.ValidateBatch(ctx, batch.ValidationTokens, tenants)
	if err == nil {
		return kept, nil
	}
	if errors.Is(err, richnotify.ErrKeysUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	// Only the rich items depend on the tokens; plain items were vouched for by their clientState.
	plain := kept[:0]
	for _, it := range kept {
		if it.EncryptedContent == nil {
			plain = append(plain, it)
		}
	}
	m.ItemsDropped(EndpointChanges, DropValidationToken, rich)
	log.LogWarn("Dropped rich change notifications: validation tokens did not verify",
		"endpoint", EndpointChanges, "reason", DropValidationToken, "items", rich, "error", err.Error())
	return plain, nil
}
