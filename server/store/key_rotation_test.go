package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/secrets"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

func keyFor(t *testing.T, setting string) *secrets.Cipher {
	t.Helper()
	c, err := secrets.NewCipher(setting)
	require.NoError(t, err)
	return c
}

// seedTokens connects n users with tokens sealed by key and returns their plaintexts by user.
func seedTokens(t *testing.T, s *store.Store, key *secrets.Cipher, n int) map[string]string {
	t.Helper()
	want := map[string]string{}
	for i := range n {
		id := fmt.Sprintf("user%02d", i)
		plaintext := `{"refresh_token":"rt-` + id + `"}`
		sealed, err := key.Encrypt([]byte(plaintext))
		require.NoError(t, err)
		c := connection(id, "teams-"+id)
		c.Token, c.TokenKeyID = sealed, key.KeyID()
		require.NoError(t, s.SaveConnection(context.Background(), c))
		want[id] = plaintext
	}
	return want
}

// requireReadableWith checks every seeded token decrypts to its plaintext with ring alone,
// and counts rows per key ID.
func requireReadableWith(t *testing.T, s *store.Store, ring *secrets.Keyring, want map[string]string) {
	t.Helper()
	for id, plaintext := range want {
		u, err := s.GetUser(context.Background(), id)
		require.NoError(t, err)
		got, _, err := ring.OpenFor(secrets.PurposeUserToken, id, u.Token, u.TokenKeyID)
		require.NoError(t, err, id)
		assert.Equal(t, plaintext, string(got), id)
	}
}

func keyIDCounts(t *testing.T, s *store.Store) map[string]int {
	t.Helper()
	counts, err := s.CountTokensByKeyID(context.Background())
	require.NoError(t, err)
	return counts
}

func pendingRotation(t *testing.T, s *store.Store) bool {
	t.Helper()
	_, err := s.GetSystemValue(context.Background(), store.SystemKeyRotation)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	require.NoError(t, err)
	return true
}

func TestKeyChangeKeepsEveryTokenReadable(t *testing.T) {
	s := storetest.NewStore(t)
	store.SetRotationBatchSize(t, 4)
	ctx := context.Background()
	a, b := keyFor(t, "key A"), keyFor(t, "key B")
	want := seedTokens(t, s, a, 25)

	// A disconnected user and a token sealed by a key nobody has are left alone.
	require.NoError(t, s.DisconnectUser(ctx, "user07", now))
	delete(want, "user07")
	lost := keyFor(t, "a key the admin threw away")
	sealed, err := lost.Encrypt([]byte("unreadable"))
	require.NoError(t, err)
	c := connection("zed", "teams-zed")
	c.Token, c.TokenKeyID = sealed, lost.KeyID()
	require.NoError(t, s.SaveConnection(ctx, c))

	n, err := s.RotateTokenKey(ctx, a, b)
	require.NoError(t, err)
	assert.Equal(t, 24, n)

	requireReadableWith(t, s, secrets.NewKeyring(b), want)
	assert.Equal(t, map[string]int{b.KeyID(): 24, lost.KeyID(): 1}, keyIDCounts(t, s))
	assert.False(t, pendingRotation(t, s), "the wrapped old key is deleted at the end")

	n, err = s.RotateTokenKey(ctx, a, b)
	require.NoError(t, err)
	assert.Zero(t, n, "running it again finds nothing to do")

	n, err = s.RotateTokenKey(ctx, b, b)
	require.NoError(t, err)
	assert.Zero(t, n, "an unchanged key is a no-op")
}

var errCrash = errors.New("simulated crash")

// crashAfterBatch makes the next rotation stop after the given batch.
func crashAfterBatch(t *testing.T, at int) {
	store.SetAfterRotationBatch(t, func(batch int) error {
		if batch == at {
			return errCrash
		}
		return nil
	})
}

func TestCrashMidRotationResumesOnStart(t *testing.T) {
	s := storetest.NewStore(t)
	store.SetRotationBatchSize(t, 3)
	ctx := context.Background()
	a, b := keyFor(t, "key A"), keyFor(t, "key B")
	want := seedTokens(t, s, a, 10)

	crashAfterBatch(t, 2)
	n, err := s.RotateTokenKey(ctx, a, b)
	require.ErrorIs(t, err, errCrash)
	assert.Equal(t, 6, n)
	store.SetAfterRotationBatch(t, nil)

	// Mid-way: some rows under each key; the old key survives only wrapped by the new one.
	assert.Equal(t, map[string]int{a.KeyID(): 4, b.KeyID(): 6}, keyIDCounts(t, s))
	require.True(t, pendingRotation(t, s))

	// A node that never had the new key cannot finish it and must not destroy the record.
	n, err = s.ResumeKeyRotation(ctx, keyFor(t, "key C"))
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.True(t, pendingRotation(t, s))

	// The restarted node has only key B configured.
	n, err = s.ResumeKeyRotation(ctx, b)
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	requireReadableWith(t, s, secrets.NewKeyring(b), want)
	assert.False(t, pendingRotation(t, s))

	n, err = s.ResumeKeyRotation(ctx, b)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing pending")
}

func TestCrashBeforeAnyRowResumes(t *testing.T) {
	s := storetest.NewStore(t)
	store.SetRotationBatchSize(t, 100)
	ctx := context.Background()
	a, b := keyFor(t, "key A"), keyFor(t, "key B")
	want := seedTokens(t, s, a, 3)

	// Stop after the first batch, then roll its effect back by hand: the state a crash
	// between step 1 and step 2 leaves.
	crashAfterBatch(t, 1)
	_, err := s.RotateTokenKey(ctx, a, b)
	require.ErrorIs(t, err, errCrash)
	store.SetAfterRotationBatch(t, nil)
	seedTokens(t, s, a, 3)
	require.True(t, pendingRotation(t, s))

	n, err := s.ResumeKeyRotation(ctx, b)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	requireReadableWith(t, s, secrets.NewKeyring(b), want)
}

func TestKeyChangedAgainBeforeTheFirstChangeFinished(t *testing.T) {
	s := storetest.NewStore(t)
	store.SetRotationBatchSize(t, 2)
	ctx := context.Background()
	a, b, c := keyFor(t, "key A"), keyFor(t, "key B"), keyFor(t, "key C")
	want := seedTokens(t, s, a, 7)

	crashAfterBatch(t, 1)
	_, err := s.RotateTokenKey(ctx, a, b)
	require.ErrorIs(t, err, errCrash)
	store.SetAfterRotationBatch(t, nil)

	// The admin moves on from B to C; the plugin knows only B and C, yet A's rows come along.
	n, err := s.RotateTokenKey(ctx, b, c)
	require.NoError(t, err)
	assert.Equal(t, 7, n)
	requireReadableWith(t, s, secrets.NewKeyring(c), want)
	assert.Equal(t, map[string]int{c.KeyID(): 7}, keyIDCounts(t, s))
	assert.False(t, pendingRotation(t, s))
}

func TestConcurrentRotationsEndConsistent(t *testing.T) {
	dsn := storetest.NewDatabase(t)
	ctx := context.Background()
	store.SetRotationBatchSize(t, 3)
	nodes := []*store.Store{openUnmigrated(t, dsn), openUnmigrated(t, dsn), openUnmigrated(t, dsn)}
	require.NoError(t, nodes[0].Migrate(ctx))
	a, b := keyFor(t, "key A"), keyFor(t, "key B")
	want := seedTokens(t, nodes[0], a, 20)

	var wg sync.WaitGroup
	counts := make([]int, len(nodes))
	errs := make([]error, len(nodes))
	for i, node := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], errs[i] = node.RotateTokenKey(ctx, a, b)
		}()
	}
	wg.Wait()

	total := 0
	for i := range nodes {
		require.NoError(t, errs[i])
		total += counts[i]
	}
	assert.Equal(t, 20, total, "each row re-encrypted exactly once")
	requireReadableWith(t, nodes[1], secrets.NewKeyring(b), want)
	assert.Equal(t, map[string]int{b.KeyID(): 20}, keyIDCounts(t, nodes[2]))
	assert.False(t, pendingRotation(t, nodes[0]))
}

func TestRotationNeedsKeys(t *testing.T) {
	s := storetest.NewStore(t)
	_, err := s.RotateTokenKey(context.Background(), nil, keyFor(t, "b"))
	assert.Error(t, err)
	_, err = s.ResumeKeyRotation(context.Background(), nil)
	assert.Error(t, err)
}

func TestRotationDoesNotUndoAConcurrentRefresh(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	a, b := keyFor(t, "key A"), keyFor(t, "key B")
	seedTokens(t, s, a, 1)

	// A refresh on a node still using key A is mid-transaction when the rotation starts.
	fresh, err := a.Encrypt([]byte("refreshed"))
	require.NoError(t, err)
	tx, err := s.Primary().Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE msteamsnotify_users SET token = $1 WHERE mm_user_id = 'user00'`, fresh)
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		_, err := s.RotateTokenKey(ctx, a, b)
		done <- err
	}()
	waitForBlockedLock(t, s, "transactionid") // the rotation waits for the refresh's row
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-done)

	requireReadableWith(t, s, secrets.NewKeyring(b), map[string]string{"user00": "refreshed"})
}

func TestCountTokensByKeyID(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	a, b := keyFor(t, "key A"), keyFor(t, "key B")
	seedTokens(t, s, a, 3)
	sealed, err := b.Encrypt([]byte("x"))
	require.NoError(t, err)
	c := connection("zed", "teams-zed")
	c.Token, c.TokenKeyID = sealed, b.KeyID()
	require.NoError(t, s.SaveConnection(ctx, c))
	require.NoError(t, s.DisconnectUser(ctx, "user01", now))

	assert.Equal(t, map[string]int{a.KeyID(): 2, b.KeyID(): 1}, keyIDCounts(t, s))
}

func TestKeyChangeBindsOldFormatTokensToTheirUser(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	old, next := keyFor(t, "old key"), keyFor(t, "new key")
	want := seedTokens(t, s, old, 3)

	_, err := s.RotateTokenKey(ctx, old, next)
	require.NoError(t, err)
	requireReadableWith(t, s, secrets.NewKeyring(next), want)
	for id := range want {
		u, err := s.GetUser(ctx, id)
		require.NoError(t, err)
		_, legacy, err := next.OpenFor(secrets.PurposeUserToken, id, u.Token)
		require.NoError(t, err)
		assert.False(t, legacy, "%s was re-sealed in the bound format", id)
		_, _, err = next.OpenFor(secrets.PurposeUserToken, "someone-else", u.Token)
		assert.ErrorIs(t, err, secrets.ErrBinding)
	}

}

func TestKeyChangeReencryptsRichNotificationKeys(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	old, next := keyFor(t, "old key"), keyFor(t, "new key")
	// One key stored by the previous version (unbound format), one in the current format.
	legacy, err := old.Encrypt([]byte("der-1"))
	require.NoError(t, err)
	bound, err := old.SealFor(secrets.PurposeRichKey, "cert-2", []byte("der-2"))
	require.NoError(t, err)
	for id, sealed := range map[string][]byte{"cert-1": legacy, "cert-2": bound} {
		require.NoError(t, s.SaveRichKey(ctx, store.RichKey{ID: id, Thumbprint: "tp-" + id, Certificate: []byte("cert"),
			PrivateKey: sealed, KeyID: old.KeyID(), NotAfter: now.Add(time.Hour), CreatedAt: now}))
	}

	_, err = s.RotateTokenKey(ctx, old, next)
	require.NoError(t, err)

	keys, err := s.ListRichKeys(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	for _, k := range keys {
		assert.Equal(t, next.KeyID(), k.KeyID, k.ID)
		der, wasLegacy, err := next.OpenFor(secrets.PurposeRichKey, k.ID, k.PrivateKey)
		require.NoError(t, err, "the rich key opens with the new key alone")
		assert.False(t, wasLegacy)
		assert.Equal(t, "der-"+k.ID[len("cert-"):], string(der))
		_, _, err = old.OpenFor(secrets.PurposeRichKey, k.ID, k.PrivateKey)
		assert.ErrorIs(t, err, secrets.ErrWrongKey, "no material under the old key is left")
	}
}
