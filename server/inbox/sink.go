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
	channels func() bool
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

// AcceptChannels makes channel message items ChannelChanges on QueueChannelChanges while on() is true (Teams
// channel notifications, issue 17). Without it, or while it is false, they are skipped as before: the webhook
// already drops them then, and nothing is stored that no worker handles. Call it before the webhook serves.
func (s *Sink) AcceptChannels(on func() bool) *Sink {
	s.channels = on
	return s
}

// Accept implements webhook.Sink.
func (s *Sink) Accept(ctx context.Context, items []webhook.Item) error {
	now := nowOf(s.store)
	batch := make([]store.InboxItem, 0, len(items))
	for _, it := range items {
		if it.Kind == webhook.KindChannelMessage && s.channels != nil && s.channels() {
			item, ok, err := channelItem(it, now)
			if err != nil {
				return err
			}
			if ok {
				batch = append(batch, item)
			}
			continue
		}
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

// channelItem turns a channel message item into a ChannelChange on QueueChannelChanges. The webhook keeps such
// items only while Teams channel notifications are on. For a reply Graph names the thread's first message and
// then the reply: the reply is the message, the first one its root.
func channelItem(it webhook.Item, now time.Time) (store.InboxItem, bool, error) {
	if it.TeamID == "" || it.ChannelID == "" || it.MessageID == "" {
		return store.InboxItem{}, false, nil // never store what no worker can handle
	}
	c := ChannelChange{
		ChangeType:     it.ChangeType,
		TeamID:         it.TeamID,
		ChannelID:      it.ChannelID,
		MessageID:      it.MessageID,
		TenantID:       it.TenantID,
		SubscriptionID: it.SubscriptionID,
		Encrypted:      it.EncryptedContent,
		Source:         SourceWebhook,
		ReceivedAt:     now,
	}
	if it.ReplyID != "" {
		c.MessageID, c.RootID = it.ReplyID, it.MessageID
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return store.InboxItem{}, false, errors.Wrap(err, "encode channel change")
	}
	return store.InboxItem{Queue: QueueChannelChanges, DedupeKey: c.DedupeKey(), Payload: raw, EnqueuedAt: now}, true, nil
}
