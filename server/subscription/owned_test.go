package subscription_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/subscription"
)

// countingStore counts the subscription state reads a node makes.
type countingStore struct {
	*store.Store
	reads atomic.Int32
}

func (s *countingStore) GetSubscriptionState(ctx context.Context, name string) (store.SubscriptionState, error) {
	s.reads.Add(1)
	return s.Store.GetSubscriptionState(ctx, name)
}

func TestOnlySubscriptionsThePluginCreatedAreOwned(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	leader := e.manager("node-1", e.store)
	other := &countingStore{Store: e.openStore()}
	follower := e.manager("node-2", other)

	assert.False(t, follower.OwnsSubscription(ctx, "anything"), "no subscription yet")
	e.reconcile(leader)
	first := e.state().SubscriptionID
	assert.True(t, leader.OwnsSubscription(ctx, first), "the node that created it knows at once")
	e.clock.Advance(2 * time.Second)
	assert.True(t, follower.OwnsSubscription(ctx, first), "another node learns it from the database")

	// A flood of items naming subscriptions that are not ours costs at most one read a second.
	reads := other.reads.Load()
	for i := 0; i < 100; i++ {
		assert.False(t, follower.OwnsSubscription(ctx, "forged-subscription-id"))
	}
	assert.LessOrEqual(t, other.reads.Load()-reads, int32(1))

	// A replaced subscription stays ours a while: Graph may still deliver its last items.
	e.set(func(s *subscription.Settings) { s.WebhookSecret = "secret-two" })
	e.reconcile(leader)
	second := e.state().SubscriptionID
	require.NotEqual(t, first, second)
	assert.True(t, leader.OwnsSubscription(ctx, first))
	assert.True(t, leader.OwnsSubscription(ctx, second))
	e.clock.Advance(2 * time.Second)
	assert.True(t, follower.OwnsSubscription(ctx, second))
	assert.True(t, follower.OwnsSubscription(ctx, first))

	// Graph's real notifications pass the webhook's check (it asks the first manager, the leader).
	assert.Equal(t, second, e.send("still delivered").SubscriptionID)
}
