package switchover

import (
	"context"
	"slices"
	"sync"
	"time"
)

// SubscriptionStore reads the official plugin's live subscriptions; *store.Store implements it.
type SubscriptionStore interface {
	OfficialSubscriptionIDs(ctx context.Context, now time.Time) ([]string, error)
}

// InheritedSubscriptions accepts notifications from the official plugin's subscription, which posts to the same
// URL with the same secret (its webhook secret carried over), until this plugin's subscription replaces it and
// it is deleted or lapses. Without it, messages sent during the switch would be refused as coming from an unknown
// subscription. Safe for concurrent use.
type InheritedSubscriptions struct {
	Store SubscriptionStore
	Now   func() time.Time

	mu     sync.Mutex
	ids    []string
	readAt time.Time
}

// refreshEvery bounds the database reads: notifications can arrive hundreds a second.
const refreshEvery = 10 * time.Second

// OwnsSubscription reports whether id is a live subscription of the official plugin.
func (s *InheritedSubscriptions) OwnsSubscription(ctx context.Context, id string) bool {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readAt.IsZero() || now.Sub(s.readAt) >= refreshEvery {
		// On a failed read the last list stands: the item already carried our secret.
		if ids, err := s.Store.OfficialSubscriptionIDs(ctx, now); err == nil {
			s.ids = ids
		}
		s.readAt = now
	}
	return slices.Contains(s.ids, id)
}
