package changes

import (
	"strings"
	"time"

	"github.com/pkg/errors"
)

// matches says whether a subscription's resource covers a change in a chat.
func (s *subscription) matches(ev Event) bool {
	if s.tenantID != ev.TenantID || !s.changeTypes[ev.ChangeType] {
		return false
	}
	// Channel messages and chat messages are separate resources: /teams/getAllMessages sees only the
	// first, every chat resource only the second.
	if (s.kind == kindTeamMessages || s.kind == kindChannelMessages) != (ev.ChannelID != "") {
		return false
	}
	switch s.kind {
	case kindTeamMessages:
		return true
	case kindChannelMessages:
		return s.teamID == ev.TeamID && s.chatID == ev.ChannelID
	case kindTenantMessages:
		return true
	case kindUserMessages:
		for _, u := range ev.MemberUserIDs {
			if strings.EqualFold(u, s.userID) {
				return true
			}
		}
		return false
	case kindChatMessages:
		return s.chatID == ev.ChatID
	}
	return false
}

// Publish queues change notifications for ev to every matching live subscription.
// Rich subscriptions get the resource as it is now, encrypted for their certificate.
func (m *Manager) Publish(ev Event) {
	path := ev.resourcePath()

	type target struct {
		sub      subscription // snapshot: certificate and client state as of now
		resource []byte
	}
	var targets []target
	m.mu.Lock()
	m.purgeExpiredLocked()
	for _, s := range m.sortedLocked() {
		if s.matches(ev) {
			targets = append(targets, target{sub: *s})
		}
	}
	m.mu.Unlock()
	if len(targets) == 0 {
		return
	}

	var resource []byte
	fetched := false
	for i := range targets {
		if targets[i].sub.includeData && m.d.Resource != nil {
			if !fetched {
				var found bool
				resource, found = m.d.Resource(path)
				if !found {
					resource = nil
				}
				fetched = true
			}
			targets[i].resource = resource
		}
	}

	items := make([]*item, 0, len(targets))
	for _, t := range targets {
		it := &item{subID: t.sub.id, appID: t.sub.appID, tenantID: t.sub.tenantID}
		it.body = map[string]any{
			"subscriptionId":                 t.sub.id,
			"subscriptionExpirationDateTime": notificationTime(t.sub.expires),
			"changeType":                     ev.ChangeType,
			"clientState":                    nullable(t.sub.clientState),
			"resource":                       path,
			"resourceData": map[string]any{
				"id":          ev.MessageID,
				"@odata.type": "#Microsoft.Graph.chatMessage",
				"@odata.id":   path,
			},
			"tenantId": ev.TenantID,
		}
		if t.sub.includeData {
			it.rich = true
			// A message already gone (e.g. hard-deleted) has nothing to encrypt; the item still goes out.
			if t.resource != nil {
				enc, err := encryptResource(t.resource, t.sub.certPub, t.sub.certID, t.sub.certThumb)
				if err == nil {
					it.body["encryptedContent"] = enc
				}
			}
		}
		items = append(items, it)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for _, it := range items {
		s := m.subs[it.subID]
		if s == nil {
			continue
		}
		if m.faults.DropPercent > 0 && m.rng.IntN(100) < m.faults.DropPercent {
			m.stats.ItemsDropped++
			continue
		}
		if m.faults.DuplicatePercent > 0 && m.rng.IntN(100) < m.faults.DuplicatePercent {
			it.duplicate = true
			m.stats.ItemsDuplicated++
		}
		it.readyAt = now.Add(m.faults.Delay)
		if s.paused {
			s.held = append(s.held, it)
			continue
		}
		m.enqueueLocked(s.notifyURL, false, it)
	}
}

// resumeLocked ends a reauthorization pause and releases the held items.
func (m *Manager) resumeLocked(s *subscription) {
	s.paused = false
	held := s.held
	s.held = nil
	for _, it := range held {
		m.enqueueLocked(s.notifyURL, false, it)
	}
}

// Lifecycle events the emulator can send for chat-message subscriptions.
const (
	LifecycleReauthorizationRequired = "reauthorizationRequired"
	LifecycleSubscriptionRemoved     = "subscriptionRemoved"
)

// FireLifecycle sends a lifecycle notification to the subscription's lifecycleNotificationUrl.
// reauthorizationRequired pauses change delivery (items are held) until the app PATCHes the
// subscription or calls /reauthorize; subscriptionRemoved deletes the subscription.
func (m *Manager) FireLifecycle(subscriptionID, event string) error {
	if event != LifecycleReauthorizationRequired && event != LifecycleSubscriptionRemoved {
		return errors.Errorf("unsupported lifecycle event %q for chat messages", event)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.purgeExpiredLocked()
	s := m.subs[subscriptionID]
	if s == nil {
		return errors.Errorf("subscription %s not found", subscriptionID)
	}
	if s.lifecycle == "" {
		return errors.Errorf("subscription %s has no lifecycleNotificationUrl", subscriptionID)
	}
	it := &item{lifecycle: true, subID: s.id, appID: s.appID, tenantID: s.tenantID, readyAt: time.Now()}
	it.body = map[string]any{
		"subscriptionId":                 s.id,
		"subscriptionExpirationDateTime": notificationTime(s.expires),
		"tenantId":                       s.tenantID,
		"clientState":                    nullable(s.clientState),
		"lifecycleEvent":                 event,
	}
	switch event {
	case LifecycleReauthorizationRequired:
		s.paused = true
	case LifecycleSubscriptionRemoved:
		m.stats.ItemsExpired += int64(len(s.held))
		delete(m.subs, s.id)
	}
	m.enqueueLocked(s.lifecycle, true, it)
	return nil
}
