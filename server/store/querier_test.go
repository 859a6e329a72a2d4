package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

// waitForBlockedAdvisoryLock returns once some session waits for an advisory lock.
func waitForBlockedAdvisoryLock(t *testing.T, s *store.Store) {
	t.Helper()
	waitForBlockedLock(t, s, "advisory")
}

// waitForBlockedLock returns once some session waits for a lock of the given type.
func waitForBlockedLock(t *testing.T, s *store.Store, locktype string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		var waiting bool
		require.NoError(t, s.Primary().QueryRow(ctx,
			`SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = $1 AND NOT granted)`, locktype).Scan(&waiting))
		if waiting {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("nobody ever waited for the lock")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestUserTokenLockSerializesRefreshesAcrossNodes(t *testing.T) {
	dsn := storetest.NewDatabase(t)
	ctx := context.Background()
	nodeA := openUnmigrated(t, dsn)
	require.NoError(t, nodeA.Migrate(ctx))
	nodeB := openUnmigrated(t, dsn)
	require.NoError(t, nodeA.SaveConnection(ctx, connection("alice", "teams-a")))

	aHolds, aMayFinish, aDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		aDone <- nodeA.WithUserTokenLock(ctx, "alice", func(ctx context.Context) error {
			close(aHolds)
			<-aMayFinish
			return nodeA.UpdateUserToken(ctx, "alice", []byte("rotated-by-a"), "key1", now)
		})
	}()
	<-aHolds

	bSaw := make(chan []byte, 1)
	bDone := make(chan error, 1)
	go func() {
		bDone <- nodeB.WithUserTokenLock(ctx, "alice", func(ctx context.Context) error {
			u, err := nodeB.GetUser(ctx, "alice")
			bSaw <- u.Token
			return err
		})
	}()
	waitForBlockedAdvisoryLock(t, nodeA) // B is queued behind A
	select {
	case <-bSaw:
		t.Fatal("B ran while A held the lock")
	default:
	}
	close(aMayFinish)
	require.NoError(t, <-aDone)
	require.NoError(t, <-bDone)
	assert.Equal(t, []byte("rotated-by-a"), <-bSaw, "the second refresher sees the token the first stored")
}

func TestUserTokenLockRollsBackOnError(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	require.NoError(t, s.SaveConnection(ctx, connection("alice", "teams-a")))

	boom := errors.New("boom")
	err := s.WithUserTokenLock(ctx, "alice", func(ctx context.Context) error {
		require.NoError(t, s.UpdateUserToken(ctx, "alice", []byte("half-done"), "key1", now))
		u, err := s.GetUser(ctx, "alice")
		require.NoError(t, err)
		assert.Equal(t, []byte("half-done"), u.Token, "reads under the lock see its own writes")
		return boom
	})
	assert.ErrorIs(t, err, boom)

	u, err := s.GetUser(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, []byte("sealed-alice"), u.Token)
}

func TestUserTokenLockWorksBeforeTheUserExistsAndNests(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	err := s.WithUserTokenLock(ctx, "newcomer", func(ctx context.Context) error {
		_, err := s.GetUser(ctx, "newcomer")
		assert.ErrorIs(t, err, store.ErrNotFound)
		if err := s.SaveConnection(ctx, connection("newcomer", "teams-n")); err != nil {
			return err
		}
		// A nested lock on another user joins the same transaction.
		return s.WithUserTokenLock(ctx, "other", func(ctx context.Context) error {
			_, err := s.GetUser(ctx, "newcomer")
			return err
		})
	})
	require.NoError(t, err)
	_, err = s.GetUser(ctx, "newcomer")
	assert.NoError(t, err)
}

func TestUserTokenLockIsPerUser(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	// Holding alice's lock must not block bob's, even from another connection.
	err := s.WithUserTokenLock(ctx, "alice", func(context.Context) error {
		done := make(chan error, 1)
		go func() {
			done <- s.WithUserTokenLock(context.Background(), "bob", func(context.Context) error { return nil })
		}()
		return <-done
	})
	assert.NoError(t, err)
}
