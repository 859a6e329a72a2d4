package secrets_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/secrets"
)

func TestKeyringSealsWithCurrentAndOpensWithAnyKnownKey(t *testing.T) {
	a, b := mustCipher(t, settingA), mustCipher(t, settingB)
	oldCT, err := a.Encrypt([]byte("sealed under A"))
	require.NoError(t, err)

	ring := secrets.NewKeyring(b, a)
	assert.Equal(t, b, ring.Current())

	ct, keyID, err := ring.Seal([]byte("sealed under B"))
	require.NoError(t, err)
	assert.Equal(t, b.KeyID(), keyID)
	pt, err := b.Decrypt(ct)
	require.NoError(t, err)
	assert.Equal(t, "sealed under B", string(pt))

	pt, err = ring.Open(oldCT, a.KeyID())
	require.NoError(t, err)
	assert.Equal(t, "sealed under A", string(pt))
	pt, err = ring.Open(ct, "")
	require.NoError(t, err)
	assert.Equal(t, "sealed under B", string(pt))
}

func TestKeyringRefusesUnknownKeysAndMismatchedRecords(t *testing.T) {
	a, b := mustCipher(t, settingA), mustCipher(t, settingB)
	ct, err := a.Encrypt([]byte("x"))
	require.NoError(t, err)

	_, err = secrets.NewKeyring(b).Open(ct, a.KeyID())
	require.ErrorIs(t, err, secrets.ErrWrongKey)
	assert.Contains(t, err.Error(), a.KeyID())

	_, err = secrets.NewKeyring(a, b).Open(ct, b.KeyID())
	assert.ErrorIs(t, err, secrets.ErrMalformed, "the row's key ID must match the ciphertext's")

	_, err = secrets.NewKeyring(a).Open([]byte("not a ciphertext"), "")
	assert.ErrorIs(t, err, secrets.ErrMalformed)
}

func TestKeyringIgnoresNilAndDuplicatePreviousKeys(t *testing.T) {
	a := mustCipher(t, settingA)
	ring := secrets.NewKeyring(a, nil, mustCipher(t, settingA))
	ct, _, err := ring.Seal([]byte("x"))
	require.NoError(t, err)
	_, err = ring.Open(ct, a.KeyID())
	assert.NoError(t, err)
}
