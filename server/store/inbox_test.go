package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

func item(queue, key, payload string, at time.Time) store.InboxItem {
	return store.InboxItem{Queue: queue, DedupeKey: key, Payload: []byte(payload), EnqueuedAt: at}
}

func payloads(items []store.InboxItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, string(it.Payload))
	}
	return out
}

func TestEnqueueInboxIsAllOrNothing(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()

	// PostgreSQL refuses a NUL byte in text: the whole batch must fail, not just that item.
	err := s.EnqueueInbox(ctx, []store.InboxItem{item("q", "a", "1", now), item("q", "b\x00", "2", now), item("q", "c", "3", now)})
	require.Error(t, err)
	got, err := s.ClaimInbox(ctx, "q", 10, now, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, got, "no item of a failed batch is stored")

	require.NoError(t, s.EnqueueInbox(ctx, []store.InboxItem{item("q", "a", "1", now), item("q", "", "2", now), item("q", "", "3", now)}))
	got, err = s.ClaimInbox(ctx, "q", 10, now, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "2", "3"}, payloads(got), "items without a key never collapse")

	assert.Error(t, s.EnqueueInbox(ctx, []store.InboxItem{{DedupeKey: "x", EnqueuedAt: now}}), "queue required")
	assert.Error(t, s.EnqueueInbox(ctx, []store.InboxItem{{Queue: "q"}}), "enqueue time required")
	assert.NoError(t, s.EnqueueInbox(ctx, nil))
}

func TestEnqueueInboxCollapsesUnclaimedDuplicates(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()

	require.NoError(t, s.EnqueueInbox(ctx, []store.InboxItem{item("q", "k", "v1", now), item("q", "k", "v2", now), item("other", "k", "o", now)}))
	require.NoError(t, s.EnqueueInbox(ctx, []store.InboxItem{item("q", "k", "v3", now.Add(time.Second))}))

	got, err := s.ClaimInbox(ctx, "q", 10, now.Add(time.Second), time.Minute)
	require.NoError(t, err)
	require.Len(t, got, 1, "one row per key while unclaimed")
	assert.Equal(t, "v3", string(got[0].Payload), "the newest payload wins")
	assert.Equal(t, now, got[0].EnqueuedAt, "the first enqueue time is kept")

	// A change arriving while the first is being worked on must not be lost or merged into the running one.
	require.NoError(t, s.EnqueueInbox(ctx, []store.InboxItem{item("q", "k", "v4", now.Add(2*time.Second))}))
	again, err := s.ClaimInbox(ctx, "q", 10, now.Add(2*time.Second), time.Minute)
	require.NoError(t, err)
	require.Len(t, again, 1)
	assert.Equal(t, "v4", string(again[0].Payload))
	assert.NotEqual(t, got[0].ID, again[0].ID)

	other, err := s.ClaimInbox(ctx, "other", 10, now, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"o"}, payloads(other), "keys are per queue")
}

func TestClaimInboxOrderDueTimeAndLease(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	later := item("q", "", "later", now)
	later.NotBefore = now.Add(time.Hour)
	require.NoError(t, s.EnqueueInbox(ctx, []store.InboxItem{item("q", "", "first", now), later, item("q", "", "second", now.Add(time.Second))}))

	got, err := s.ClaimInbox(ctx, "q", 1, now.Add(time.Second), 5*time.Minute)
	require.NoError(t, err)
	require.Equal(t, []string{"first"}, payloads(got))
	assert.Equal(t, 1, got[0].Attempts)
	first := got[0]

	got, err = s.ClaimInbox(ctx, "q", 10, now.Add(time.Second), 5*time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"second"}, payloads(got), "a leased item and an item not yet due are skipped")

	// The worker holding "first" dies: when its lease runs out the item is due again, with a new attempt number.
	got, err = s.ClaimInbox(ctx, "q", 10, now.Add(time.Second+5*time.Minute), 5*time.Minute)
	require.NoError(t, err)
	require.Equal(t, []string{"first", "second"}, payloads(got))
	assert.Equal(t, 2, got[0].Attempts)

	// The dead worker's late verdict does not touch the new claim.
	ok, err := s.RetryInbox(ctx, first.ID, first.Attempts, now, "stale")
	require.NoError(t, err)
	assert.False(t, ok)
	ok, err = s.ParkInbox(ctx, first.ID, first.Attempts, now, "stale")
	require.NoError(t, err)
	assert.False(t, ok)

	got, err = s.ClaimInbox(ctx, "q", 10, now.Add(time.Hour), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"first", "later", "second"}, payloads(got), "due now, and both leases ran out again")

	_, err = s.ClaimInbox(ctx, "q", 1, now, 0)
	assert.Error(t, err, "a lease is required")
}

func TestRetryCompleteParkAndRequeue(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	require.NoError(t, s.EnqueueInbox(ctx, []store.InboxItem{item("q", "a", "A", now), item("q", "b", "B", now), item("r", "", "R", now)}))
	got, err := s.ClaimInbox(ctx, "q", 10, now, time.Minute)
	require.NoError(t, err)
	require.Len(t, got, 2)
	a, b := got[0], got[1]

	ok, err := s.RetryInbox(ctx, a.ID, a.Attempts, now.Add(30*time.Second), "graph 503")
	require.NoError(t, err)
	require.True(t, ok)
	got, err = s.ClaimInbox(ctx, "q", 10, now.Add(29*time.Second), time.Minute)
	require.NoError(t, err)
	assert.Empty(t, got, "not due before the retry time")
	got, err = s.ClaimInbox(ctx, "q", 10, now.Add(30*time.Second), time.Minute)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "graph 503", got[0].LastError)
	assert.Equal(t, 2, got[0].Attempts)
	require.NoError(t, s.CompleteInbox(ctx, got[0].ID))
	require.NoError(t, s.CompleteInbox(ctx, got[0].ID), "completing twice is harmless")

	ok, err = s.ParkInbox(ctx, b.ID, b.Attempts, now.Add(time.Minute), "chat gone")
	require.NoError(t, err)
	require.True(t, ok)
	got, err = s.ClaimInbox(ctx, "q", 10, now.Add(time.Hour), time.Minute)
	require.NoError(t, err)
	assert.Empty(t, got, "parked items are never claimed")

	stats, err := s.InboxStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, []store.InboxQueueStats{
		{Queue: "q", Depth: 0, Parked: 1},
		{Queue: "r", Depth: 1, OldestEnqueuedAt: now},
	}, stats)

	parked, err := s.ListParkedInbox(ctx, "q", 10)
	require.NoError(t, err)
	require.Len(t, parked, 1)
	assert.Equal(t, "chat gone", parked[0].LastError)
	assert.Equal(t, now.Add(time.Minute), parked[0].ParkedAt)
	assert.Equal(t, "B", string(parked[0].Payload))
	all, err := s.ListParkedInbox(ctx, "", 0)
	require.NoError(t, err)
	assert.Len(t, all, 1)

	n, err := s.RequeueParkedInbox(ctx, "q", now.Add(2*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	got, err = s.ClaimInbox(ctx, "q", 10, now.Add(2*time.Hour), time.Minute)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, 1, got[0].Attempts, "a requeued item starts counting afresh")
	assert.Equal(t, "chat gone", got[0].LastError, "the last error stays visible until the next verdict")
}

func TestRequeueDropsSupersededParkedItems(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	park := func(payload string) {
		require.NoError(t, s.EnqueueInbox(ctx, []store.InboxItem{item("q", "k", payload, now)}))
		got, err := s.ClaimInbox(ctx, "q", 1, now, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		ok, err := s.ParkInbox(ctx, got[0].ID, got[0].Attempts, now, "boom")
		require.NoError(t, err)
		require.True(t, ok)
	}
	park("v1")
	park("v2")
	n, err := s.RequeueParkedInbox(ctx, "", now)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "the older parked copy of the same key is dropped")
	got, err := s.ClaimInbox(ctx, "q", 10, now, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"v2"}, payloads(got))

	// A parked item whose key is waiting again (newer payload) is dropped as well.
	ok, err := s.ParkInbox(ctx, got[0].ID, got[0].Attempts, now, "boom")
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, s.EnqueueInbox(ctx, []store.InboxItem{item("q", "k", "v3", now)}))
	n, err = s.RequeueParkedInbox(ctx, "q", now)
	require.NoError(t, err)
	assert.Equal(t, int64(0), n)
	got, err = s.ClaimInbox(ctx, "q", 10, now, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"v3"}, payloads(got))
}

func TestDeleteParkedInboxBeforeDropsOnlyExpiredParkedItems(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()

	require.NoError(t, s.EnqueueInbox(ctx, []store.InboxItem{item("q", "", "old", now), item("q", "", "new", now), item("r", "", "old-r", now), item("q", "", "waiting", now)}))
	got, err := s.ClaimInbox(ctx, "q", 2, now, time.Minute)
	require.NoError(t, err)
	require.Len(t, got, 2)
	ok, err := s.ParkInbox(ctx, got[0].ID, got[0].Attempts, now, "boom")
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = s.ParkInbox(ctx, got[1].ID, got[1].Attempts, now.Add(48*time.Hour), "boom")
	require.NoError(t, err)
	require.True(t, ok)
	gotR, err := s.ClaimInbox(ctx, "r", 1, now, time.Minute)
	require.NoError(t, err)
	require.Len(t, gotR, 1)
	ok, err = s.ParkInbox(ctx, gotR[0].ID, gotR[0].Attempts, now, "boom")
	require.NoError(t, err)
	require.True(t, ok)

	n, err := s.DeleteParkedInboxBefore(ctx, now.Add(24*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"q": 1, "r": 1}, n)

	parked, err := s.ListParkedInbox(ctx, "", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"new"}, payloads(parked), "a recently parked item stays")
	left, err := s.ClaimInbox(ctx, "q", 10, now.Add(time.Hour), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"waiting"}, payloads(left), "items not parked are never expired")
}

func TestReleaseInboxOfEarlierInstancesTakesBackOnlyThisNodesDeadClaims(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	old := store.InboxClaimer{Node: "node-a", Instance: "1"}
	restarted := store.InboxClaimer{Node: "node-a", Instance: "2"}
	other := store.InboxClaimer{Node: "node-b", Instance: "1"}

	require.NoError(t, s.EnqueueInbox(ctx, []store.InboxItem{item("q", "", "a1", now), item("q", "", "a2", now.Add(time.Second)),
		item("q", "", "b1", now.Add(2*time.Second)), item("q", "", "later", now.Add(3*time.Second))}))
	at := now.Add(time.Minute)
	gotA, err := s.ClaimInboxAs(ctx, "q", 2, at, 90*time.Second, old)
	require.NoError(t, err)
	require.Equal(t, []string{"a1", "a2"}, payloads(gotA))
	gotB, err := s.ClaimInboxAs(ctx, "q", 1, at, 90*time.Second, other)
	require.NoError(t, err)
	require.Equal(t, []string{"b1"}, payloads(gotB))

	// The same instance releases nothing of its own: its jobs are live.
	n, err := s.ReleaseInboxOfEarlierInstances(ctx, old, at)
	require.NoError(t, err)
	assert.Zero(t, n)

	restart := at.Add(5 * time.Second)
	n, err = s.ReleaseInboxOfEarlierInstances(ctx, restarted, restart)
	require.NoError(t, err)
	assert.EqualValues(t, 2, n, "the dead instance's two jobs are released")

	got, err := s.ClaimInboxAs(ctx, "q", 10, restart, 90*time.Second, restarted)
	require.NoError(t, err)
	assert.Equal(t, []string{"a1", "a2", "later"}, payloads(got), "released jobs are due at once, before later ones, and the other node's live job stays with it")
	assert.Equal(t, 2, got[0].Attempts)

	ok, err := s.RetryInbox(ctx, gotB[0].ID, gotB[0].Attempts, restart, "x")
	require.NoError(t, err)
	assert.True(t, ok, "the other node's claim is still its own")

	_, err = s.ReleaseInboxOfEarlierInstances(ctx, store.InboxClaimer{Node: "node-a"}, restart)
	assert.Error(t, err)
}
