package inbox

import (
	"context"
	"encoding/json"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/webhook"
)

// Sink is the webhook's webhook.Sink: it turns change notification items into Changes on QueueChanges, all
// items of a batch in one transaction or none (then the webhook answers 503 and Graph resends the batch).
// The clientState never reaches it (the webhook clears it), so the secret is never stored.
type Sink struct {
	store    Enqueuer
	accepted func(at time.Time)
}

// NewSink stores into s; pass the Runner so that local workers wake up at once.
func NewSink(s Enqueuer) *Sink {
	return &Sink{store: s}
}

// OnAccepted registers f, called after each stored batch with its time (the subscription manager's
// NotificationReceived, for the admin status). Call it before the webhook serves. It returns s.
func (s *Sink) OnAccepted(f func(at time.Time)) *Sink {
	s.accepted = f
	return s
}

// Accept implements webhook.Sink.
func (s *Sink) Accept(ctx context.Context, items []webhook.Item) error {
	now := nowOf(s.store)
	batch := make([]store.InboxItem, 0, len(items))
	for _, it := range items {
		if it.Kind != webhook.KindChatMessage || it.ChatID == "" || it.MessageID == "" {
			continue // the webhook drops these already; never store what no worker can handle
		}
		c := Change{
			ChangeType:     it.ChangeType,
			ChatID:         it.ChatID,
			MessageID:      it.MessageID,
			TenantID:       it.TenantID,
			SubscriptionID: it.SubscriptionID,
			Encrypted:      it.EncryptedContent,
			Source:         SourceWebhook,
			ReceivedAt:     now,
		}
		raw, err := json.Marshal(c)
		if err != nil {
			return errors.Wrap(err, "encode change")
		}
		batch = append(batch, store.InboxItem{Queue: QueueChanges, DedupeKey: c.DedupeKey(), Payload: raw, EnqueuedAt: now})
	}
	if len(batch) == 0 {
		return nil
	}
	if err := s.store.EnqueueInbox(ctx, batch); err != nil {
		return errors.Wrap(err, "store change notifications")
	}
	if s.accepted != nil {
		s.accepted(now)
	}
	return nil
}
