package subscription

import (
	"context"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/webhook"
)

// AcceptLifecycle implements webhook.LifecycleSink on every node. The webhook has already checked clientState.
// Each event about the subscription we track is recorded in the database for the leader, and this node's loop
// is woken (if it leads, it acts at once; otherwise the leader acts at its next check). Events about other
// subscriptions (an old one we replaced) are ignored. An error makes the webhook answer 503 so Graph retries.
func (m *Manager) AcceptLifecycle(ctx context.Context, events []webhook.LifecycleEvent) error {
	now := m.deps.Now().UTC()
	recorded := false
	for _, ev := range events {
		switch ev.LifecycleEvent {
		case webhook.LifecycleReauthorizationRequired, webhook.LifecycleSubscriptionRemoved, webhook.LifecycleMissed:
		default:
			m.deps.Logger.LogWarn("Ignored an unknown Microsoft Graph lifecycle event", "event", clip(ev.LifecycleEvent),
				"subscription_id", clip(ev.SubscriptionID))
			continue
		}
		ok, err := m.deps.Store.RecordSubscriptionEvent(ctx, m.deps.Target.StateName, ev.SubscriptionID, ev.LifecycleEvent, now)
		if err != nil {
			return errors.Wrap(err, "record lifecycle event")
		}
		if !ok {
			m.deps.Logger.LogDebug("Ignored a lifecycle event for a subscription the plugin no longer uses",
				"event", ev.LifecycleEvent, "subscription_id", clip(ev.SubscriptionID))
			continue
		}
		recorded = true
		m.deps.Logger.LogInfo("Microsoft Graph lifecycle event received", "event", ev.LifecycleEvent, "subscription_id", ev.SubscriptionID)
	}
	if recorded {
		m.Wake()
	}
	return nil
}

// Status is what an admin needs to know about the subscription; any node can read it.
type Status struct {
	store.SubscriptionState
	Leader      string    // node ID of the manager in charge ("" when none has run)
	LeaderUntil time.Time // when its leadership lapses unless renewed
	ThisNode    string
}

// PermissionMissing says the last creation failed with 403 for a Target with ForbiddenRetry: the app lacks the
// application permission (or the subscription quota is used up), and creation is retried only now and then.
func (s Status) PermissionMissing() bool {
	return s.SubscriptionID == "" && strings.HasPrefix(s.LastError, PermissionMissingPrefix)
}

// Status reads the subscription state and the leader lease. LastNotificationAt is the later of the stored
// time and this node's own, which is current even before the next write.
func (m *Manager) Status(ctx context.Context) (Status, error) {
	st, err := m.deps.Store.GetSubscriptionState(ctx, m.deps.Target.StateName)
	if errors.Is(err, store.ErrNotFound) {
		st, err = store.SubscriptionState{Name: m.deps.Target.StateName}, nil
	}
	if err != nil {
		return Status{}, err
	}
	out := Status{SubscriptionState: st, ThisNode: m.deps.NodeID}
	if here := m.lastNotificationHere(); here.After(out.LastNotificationAt) {
		out.LastNotificationAt = here
	}
	l, err := m.deps.Store.GetLease(ctx, m.deps.Target.LeaseName)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return Status{}, err
	default:
		out.Leader, out.LeaderUntil = l.Holder, l.ExpiresAt
	}
	return out, nil
}

// LifecycleRouter is the /lifecycle sink beside a channel subscription: events of the channel subscription go
// to channel, every other one to chat. While channelOn is false everything goes to chat, as without it.
func LifecycleRouter(chat, channel *Manager, channelOn func() bool) webhook.LifecycleSink {
	return lifecycleRouter{chat: chat, channel: channel, on: channelOn}
}

type lifecycleRouter struct {
	chat, channel *Manager
	on            func() bool
}

func (r lifecycleRouter) AcceptLifecycle(ctx context.Context, events []webhook.LifecycleEvent) error {
	if !r.on() {
		return r.chat.AcceptLifecycle(ctx, events)
	}
	var chat, channel []webhook.LifecycleEvent
	for _, ev := range events {
		if r.channel.OwnsSubscription(ctx, ev.SubscriptionID) {
			channel = append(channel, ev)
		} else {
			chat = append(chat, ev)
		}
	}
	if len(channel) > 0 {
		if err := r.channel.AcceptLifecycle(ctx, channel); err != nil {
			return err
		}
	}
	if len(chat) > 0 {
		return r.chat.AcceptLifecycle(ctx, chat)
	}
	return nil
}
