package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

func reservation(user string) store.DeliveredPost {
	return store.DeliveredPost{
		ChatID: "19:chat@thread.v2", MessageID: "1700000000000", MMUserID: user, State: store.PostReserved,
		ChannelID: "dm-" + user, LastModified: now.Add(100 * time.Nanosecond), MessageCreated: now,
		FilesPending: true, ReservedAt: now.Add(time.Second),
	}
}

func TestInsertPostKeepsTheFirstDecision(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()

	first := reservation("alice")
	ok, err := s.InsertPost(ctx, first)
	require.NoError(t, err)
	assert.True(t, ok, "the first reservation wins")

	second := reservation("alice")
	second.State, second.Reason = store.PostSkipped, "active_in_teams"
	ok, err = s.InsertPost(ctx, second)
	require.NoError(t, err)
	assert.False(t, ok, "a second decision for the same (chat, message, user) is refused")

	ok, err = s.InsertPost(ctx, reservation("bob"))
	require.NoError(t, err)
	assert.True(t, ok, "other recipients of the same message are independent")

	got, err := s.GetMessagePosts(ctx, first.ChatID, first.MessageID)
	require.NoError(t, err)
	require.Len(t, got, 2)
	want := first
	want.LastModified = now // PostgreSQL keeps microseconds; Graph's 100 ns ticks are dropped
	assert.Equal(t, want, got[0])
	assert.Equal(t, "bob", got[1].MMUserID)
}

func TestInsertPostRejectsUnknownStatesAndMissingIDs(t *testing.T) {
	s := storetest.NewStore(t)
	p := reservation("alice")
	p.State = "sent"
	_, err := s.InsertPost(context.Background(), p)
	assert.Error(t, err)

	p = reservation("alice")
	p.MessageID = ""
	_, err = s.InsertPost(context.Background(), p)
	assert.Error(t, err)
}

func TestSavePostRecordsTheDMAndLaterVersions(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	p := reservation("alice")
	_, err := s.InsertPost(ctx, p)
	require.NoError(t, err)

	p.State, p.PostID, p.FilesPending = store.PostPosted, "post1", false // FilesPending is not SavePost's
	p.LastEdited = now.Add(time.Minute)
	p.LastModified = now.Add(time.Minute)
	p.ReservedAt = now.Add(time.Hour) // not mutable
	require.NoError(t, s.SavePost(ctx, p))

	got, err := s.GetMessagePosts(ctx, p.ChatID, p.MessageID)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, store.PostPosted, got[0].State)
	assert.Equal(t, "post1", got[0].PostID)
	assert.True(t, got[0].FilesPending, "only ClearFilesPending clears it")
	assert.Equal(t, now.Add(time.Minute), got[0].LastEdited)
	assert.Equal(t, now.Add(time.Second), got[0].ReservedAt, "the reservation time stays")

	require.NoError(t, s.ClearFilesPending(ctx, p.ChatID, p.MessageID, []string{"alice", "nobody"}))
	got, err = s.GetMessagePosts(ctx, p.ChatID, p.MessageID)
	require.NoError(t, err)
	assert.False(t, got[0].FilesPending)
	assert.Equal(t, "post1", got[0].PostID)

	missing := reservation("carol")
	assert.ErrorIs(t, s.SavePost(ctx, missing), store.ErrNotFound)
}

func TestKnownMessagesAndRecordSummarized(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	_, err := s.InsertPost(ctx, reservation("alice"))
	require.NoError(t, err)

	delivered := store.MessageKey{ChatID: "19:chat@thread.v2", MessageID: "1700000000000"}
	other := store.MessageKey{ChatID: "19:chat@thread.v2", MessageID: "1700000000001"}
	elsewhere := store.MessageKey{ChatID: "19:other@thread.v2", MessageID: "1700000000000"}

	known, err := s.KnownMessages(ctx, "alice", []store.MessageKey{delivered, other, elsewhere})
	require.NoError(t, err)
	assert.Equal(t, map[store.MessageKey]bool{delivered: true}, known)

	known, err = s.KnownMessages(ctx, "bob", []store.MessageKey{delivered})
	require.NoError(t, err)
	assert.Empty(t, known, "rows are per user")

	fresh, err := s.RecordSummarized(ctx, "alice", []store.MessageKey{delivered, other, elsewhere, other}, now)
	require.NoError(t, err)
	assert.Equal(t, []store.MessageKey{other, elsewhere}, fresh, "already delivered and repeated keys are left out")

	fresh, err = s.RecordSummarized(ctx, "alice", []store.MessageKey{other, elsewhere}, now)
	require.NoError(t, err)
	assert.Empty(t, fresh, "a second catch-up summarises nothing again")

	known, err = s.KnownMessages(ctx, "alice", []store.MessageKey{other})
	require.NoError(t, err)
	assert.True(t, known[other])
}

func TestDeletePostsBefore(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	old := reservation("alice")
	old.ReservedAt = now.Add(-48 * time.Hour)
	_, err := s.InsertPost(ctx, old)
	require.NoError(t, err)
	_, err = s.InsertPost(ctx, reservation("bob"))
	require.NoError(t, err)

	n, err := s.DeletePostsBefore(ctx, now.Add(-24*time.Hour))
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	got, err := s.GetMessagePosts(ctx, old.ChatID, old.MessageID)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "bob", got[0].MMUserID)
}

// Two workers handling the same message must take turns: each read-decide-write sequence under the
// lock sees the other's writes, so exactly one of them reserves.
func TestWithMessageLockSerializesWorkersOnOneMessage(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	const workers = 8
	var mu sync.Mutex
	inside, maxInside, reserved := 0, 0, 0
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.WithMessageLock(ctx, "19:chat@thread.v2", "1700000000000", 0, func(ctx context.Context) error {
				mu.Lock()
				inside++
				maxInside = max(maxInside, inside)
				mu.Unlock()
				defer func() { mu.Lock(); inside--; mu.Unlock() }()

				rows, err := s.GetMessagePosts(ctx, "19:chat@thread.v2", "1700000000000")
				if err != nil || len(rows) > 0 {
					return err
				}
				ok, err := s.InsertPost(ctx, reservation("alice"))
				if ok {
					mu.Lock()
					reserved++
					mu.Unlock()
				}
				return err
			})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, maxInside, "never two holders at once")
	assert.Equal(t, 1, reserved)
}

func TestWithMessageLockReleasesOnErrorAndDoesNotBlockOtherMessages(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	boom := assert.AnError
	err := s.WithMessageLock(ctx, "c", "m", 0, func(context.Context) error { return boom })
	assert.ErrorIs(t, err, boom)

	// Held lock on one message; another message proceeds, and the first is free again afterwards.
	err = s.WithMessageLock(ctx, "c", "m", 0, func(context.Context) error {
		return s.WithMessageLock(ctx, "c", "other", time.Second, func(context.Context) error { return nil })
	})
	require.NoError(t, err)
	require.NoError(t, s.WithMessageLock(ctx, "c", "m", 5*time.Second, func(context.Context) error { return nil }))
}

func TestWithMessageLockWaitIsBoundedButWorkIsNot(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.WithMessageLock(ctx, "c", "m", 0, func(context.Context) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	err := s.WithMessageLock(ctx, "c", "m", 100*time.Millisecond, func(context.Context) error { return nil })
	assert.Error(t, err, "a worker gives up waiting for a lock held elsewhere")
	close(release)
	require.NoError(t, <-done)

	// The wait budget does not limit the work done under the lock: fn's context carries no deadline of it. (The
	// budget is roomy: taking a free lock on a loaded machine can take tens of milliseconds.)
	err = s.WithMessageLock(ctx, "c", "m", 5*time.Second, func(ctx context.Context) error {
		_, hasDeadline := ctx.Deadline()
		assert.False(t, hasDeadline)
		_, err := s.GetMessagePosts(ctx, "c", "m")
		return err
	})
	assert.NoError(t, err)
}
