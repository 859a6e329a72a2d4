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

func oauthState(state string, expires time.Time) store.OAuthState {
	return store.OAuthState{State: state, MMUserID: "alice", CodeVerifier: "verifier-" + state,
		Origin: "post:abc", CreatedAt: now, ExpiresAt: expires}
}

func TestConsumeOAuthStateOnce(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	st := oauthState("s1", now.Add(5*time.Minute))
	require.NoError(t, s.CreateOAuthState(ctx, st))

	got, err := s.ConsumeOAuthState(ctx, "s1", now.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, st, got)

	_, err = s.ConsumeOAuthState(ctx, "s1", now.Add(time.Minute))
	assert.ErrorIs(t, err, store.ErrNotFound, "a state is single-use")
	_, err = s.ConsumeOAuthState(ctx, "never-issued", now)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestOAuthStateIsStoredHashed(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	require.NoError(t, s.CreateOAuthState(ctx, oauthState("plain-state-value", now.Add(time.Minute))))

	var leaked bool
	require.NoError(t, s.Primary().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM msteamsnotify_oauth_states
		WHERE position(convert_to('plain-state-value', 'UTF8') in state_hash) > 0)`).Scan(&leaked))
	assert.False(t, leaked)
}

func TestConcurrentConsumersOfOneStateGetItOnce(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	require.NoError(t, s.CreateOAuthState(ctx, oauthState("race", now.Add(time.Minute))))

	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.ConsumeOAuthState(ctx, "race", now)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else {
			assert.ErrorIs(t, err, store.ErrNotFound)
		}
	}
	assert.Equal(t, 1, wins)
}

func TestExpiredOAuthState(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	require.NoError(t, s.CreateOAuthState(ctx, oauthState("old", now.Add(time.Minute))))

	_, err := s.ConsumeOAuthState(ctx, "old", now.Add(time.Minute))
	assert.ErrorIs(t, err, store.ErrExpired)
	_, err = s.ConsumeOAuthState(ctx, "old", now)
	assert.ErrorIs(t, err, store.ErrNotFound, "an expired state is removed when presented")
}

func TestPurgeExpiredOAuthStates(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	require.NoError(t, s.CreateOAuthState(ctx, oauthState("a", now.Add(time.Minute))))
	require.NoError(t, s.CreateOAuthState(ctx, oauthState("b", now.Add(2*time.Minute))))
	require.NoError(t, s.CreateOAuthState(ctx, oauthState("c", now.Add(10*time.Minute))))

	n, err := s.PurgeExpiredOAuthStates(ctx, now.Add(2*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)

	_, err = s.ConsumeOAuthState(ctx, "b", now)
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.ConsumeOAuthState(ctx, "c", now)
	assert.NoError(t, err)
}

func TestCreateOAuthStateValidates(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	assert.Error(t, s.CreateOAuthState(ctx, oauthState("", now.Add(time.Minute))))
	assert.Error(t, s.CreateOAuthState(ctx, oauthState("x", time.Time{})))
	st := oauthState("y", now.Add(time.Minute))
	st.MMUserID = ""
	assert.Error(t, s.CreateOAuthState(ctx, st))
}

func TestOpenOAuthStatesPerUserAreCapped(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	expired := oauthState("expired", now.Add(-time.Second))
	expired.CreatedAt = now.Add(-time.Hour)
	require.NoError(t, s.CreateOAuthState(ctx, expired))
	bob := oauthState("bob-1", now.Add(time.Hour))
	bob.MMUserID = "bob"
	require.NoError(t, s.CreateOAuthState(ctx, bob))

	names := []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7"}
	for i, name := range names {
		st := oauthState(name, now.Add(time.Hour))
		st.CreatedAt = now.Add(time.Duration(i) * time.Second)
		require.NoError(t, s.CreateOAuthState(ctx, st))
	}

	var alice, total int
	require.NoError(t, s.Primary().QueryRow(ctx, `SELECT count(*) FILTER (WHERE mm_user_id = 'alice'), count(*)
		FROM msteamsnotify_oauth_states`).Scan(&alice, &total))
	assert.Equal(t, store.MaxOpenOAuthStates, alice, "the expired state and the two oldest are gone")
	assert.Equal(t, store.MaxOpenOAuthStates+1, total, "another user's state is untouched")

	for _, name := range []string{"a1", "a2"} {
		_, err := s.ConsumeOAuthState(ctx, name, now)
		assert.ErrorIs(t, err, store.ErrNotFound, "the oldest sign-ins were removed: %s", name)
	}
	for _, name := range names[2:] {
		_, err := s.ConsumeOAuthState(ctx, name, now)
		assert.NoError(t, err, "the newest sign-ins still work: %s", name)
	}
	_, err := s.ConsumeOAuthState(ctx, "bob-1", now)
	assert.NoError(t, err)
}
