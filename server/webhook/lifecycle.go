package webhook

import (
	"net/http"

	"github.com/pkg/errors"
)

// LifecycleHandler serves the lifecycle notification URL (/lifecycle).
type LifecycleHandler struct {
	sink LifecycleSink
	opts Options
}

// NewLifecycleHandler builds the /lifecycle handler.
func NewLifecycleHandler(sink LifecycleSink, opts Options) (*LifecycleHandler, error) {
	if sink == nil {
		return nil, errors.New("webhook: a lifecycle sink is required")
	}
	if err := opts.complete(); err != nil {
		return nil, err
	}
	return &LifecycleHandler{sink: sink, opts: opts}, nil
}

func (h *LifecycleHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w)
		return
	}
	if handshake(w, r, h.opts.Logger, EndpointLifecycle) {
		return
	}
	body, ok := readBody(w, r, &h.opts, EndpointLifecycle)
	if !ok {
		return
	}
	events, err := ParseLifecycle(body)
	if err != nil {
		malformed(w, &h.opts, EndpointLifecycle, err)
		return
	}

	log, m := h.opts.Logger, h.opts.Metrics
	kept := make([]LifecycleEvent, 0, len(events))
	var drops dropTally
	for _, ev := range events {
		switch {
		case !h.opts.ClientStates.VerifyClientState(ev.SubscriptionID, ev.ClientState):
			drops.add(DropClientState, ev.SubscriptionID, ev.TenantID)
		case ev.LifecycleEvent == "":
			drops.add(DropMisrouted, ev.SubscriptionID, ev.TenantID)
		default:
			ev.ClientState = ""
			kept = append(kept, ev)
		}
	}
	drops.report(&h.opts, EndpointLifecycle)
	if len(kept) > 0 {
		ctx, cancel := contextWithTimeout(r, h.opts.Timeout)
		defer cancel()
		if err := h.sink.AcceptLifecycle(ctx, kept); err != nil {
			log.LogError("Could not store lifecycle notifications; asking Graph to retry",
				"endpoint", EndpointLifecycle, "events", len(kept), "error", err.Error())
			unavailable(w)
			return
		}
		m.ItemsAccepted(EndpointLifecycle, len(kept))
	}
	w.WriteHeader(http.StatusAccepted)
}
