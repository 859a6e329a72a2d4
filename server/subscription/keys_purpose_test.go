package subscription_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/richnotify"
	"github.com/teamsnotify/msteams-sync/server/secrets"
)

func TestRichKeysHaveTheirOwnPurposeAndOldOnesStillLoad(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	kp, err := e.otherNodeKeys().Create(ctx, time.Now(), richnotify.KeyOptions{Validity: 24 * time.Hour})
	require.NoError(t, err)
	rows, err := e.store.ListRichKeys(ctx)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	der, legacy, err := e.sealer.OpenFor(secrets.PurposeRichKey, kp.ID(), rows[0].PrivateKey, rows[0].KeyID)
	require.NoError(t, err)
	assert.False(t, legacy)
	_, _, err = e.sealer.OpenFor(secrets.PurposeUserToken, kp.ID(), rows[0].PrivateKey, rows[0].KeyID)
	assert.ErrorIs(t, err, secrets.ErrBinding, "a stored key cannot be presented as a user's token")

	replace := func(sealed []byte) {
		t.Helper()
		conn, err := pgx.Connect(ctx, e.dsn)
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `UPDATE msteamsnotify_rich_keys SET private_key = $2 WHERE id = $1`, kp.ID(), sealed)
		require.NoError(t, err)
	}

	// A key stored by the previous version (unbound format) still loads after the upgrade.
	old, _, err := e.sealer.Seal(der)
	require.NoError(t, err)
	replace(old)
	got, err := e.otherNodeKeys().Current(ctx)
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, kp.Thumbprint(), got.Thumbprint())

	// A user's token ciphertext put in the key's place does not load as a key.
	token, _, err := e.sealer.SealFor(secrets.PurposeUserToken, kp.ID(), der)
	require.NoError(t, err)
	replace(token)
	got, err = e.otherNodeKeys().Current(ctx)
	assert.Nil(t, got)
	if assert.Error(t, err) {
		assert.ErrorIs(t, err, secrets.ErrBinding)
	}
}
