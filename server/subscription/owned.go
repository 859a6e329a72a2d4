package subscription

import (
	"context"
	"sync"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/store"
)

// ownedRefresh limits how often a subscription id not yet known here makes a node read the state from the
// database: items with an unknown id cost at most one read per interval, however many arrive.
const ownedRefresh = time.Second

// maxOwnedIDs bounds the ids remembered. Each recreation adds one; the few most recent cover a subscription
// replaced while Graph still had items of it to deliver.
const maxOwnedIDs = 16

// owned remembers the ids of subscriptions this plugin created, on this node.
type owned struct {
	mu       sync.Mutex
	ids      []string // oldest first
	readAt   time.Time
	readOnce sync.Mutex // one database read at a time
}

func (o *owned) has(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, known := range o.ids {
		if known == id {
			return true
		}
	}
	return false
}

func (o *owned) add(id string) {
	if id == "" || o.has(id) {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ids = append(o.ids, id)
	if len(o.ids) > maxOwnedIDs {
		o.ids = o.ids[len(o.ids)-maxOwnedIDs:]
	}
}

// OwnsSubscription reports whether id names a Graph subscription this plugin created: the current one (which
// the leader, possibly another node, records in the database) or one it replaced recently. The webhook uses it
// to refuse plain notifications of subscriptions that are not ours. When the database cannot be read it
// answers true: the items already carried our clientState, and refusing them would lose messages.
func (m *Manager) OwnsSubscription(ctx context.Context, id string) bool {
	if id == "" {
		return false
	}
	if m.owned.has(id) {
		return true
	}
	m.owned.readOnce.Lock()
	defer m.owned.readOnce.Unlock()
	if m.owned.has(id) { // read by the caller we waited for
		return true
	}
	now := m.deps.Now()
	m.owned.mu.Lock()
	recent := !m.owned.readAt.IsZero() && now.Sub(m.owned.readAt) < ownedRefresh
	m.owned.mu.Unlock()
	if recent {
		return false
	}
	st, err := m.deps.Store.GetSubscriptionState(ctx, m.deps.Target.StateName)
	m.owned.mu.Lock()
	m.owned.readAt = now
	m.owned.mu.Unlock()
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false
	case err != nil:
		m.deps.Logger.LogDebug("Could not read the subscription to check a notification's subscription id; accepting it", "error", err.Error())
		return true
	}
	m.owned.add(st.SubscriptionID)
	return st.SubscriptionID == id
}
