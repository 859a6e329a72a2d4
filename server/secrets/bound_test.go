package secrets

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenSealedForOneUserDoesNotOpenForAnother(t *testing.T) {
	c, err := NewCipher("at-rest key")
	require.NoError(t, err)
	alice, err := c.SealFor(PurposeUserToken, "alice", []byte("alice's refresh token"))
	require.NoError(t, err)

	got, legacy, err := c.OpenFor(PurposeUserToken, "alice", alice)
	require.NoError(t, err)
	assert.Equal(t, "alice's refresh token", string(got))
	assert.False(t, legacy)

	// Copied into bob's row, alice's token must not open as bob's.
	_, _, err = c.OpenFor(PurposeUserToken, "bob", alice)
	assert.ErrorIs(t, err, ErrBinding)
	assert.Contains(t, err.Error(), "does not belong to this record")

	// Nor does it open as a rich-notification key, or through the unbound token path.
	_, _, err = c.OpenFor(PurposeRichKey, "alice", alice)
	assert.ErrorIs(t, err, ErrBinding)
	_, err = c.Decrypt(alice)
	assert.Error(t, err)

	// A bound ciphertext relabelled as version 1 does not sneak through the legacy path.
	relabelled := append([]byte{}, alice...)
	relabelled[0] = formatV1
	_, _, err = c.OpenFor(PurposeUserToken, "bob", relabelled)
	assert.ErrorIs(t, err, ErrAuthentication)
}

func TestRichKeyAndTokenPurposesAreDistinct(t *testing.T) {
	c, err := NewCipher("at-rest key")
	require.NoError(t, err)
	key, err := c.SealFor(PurposeRichKey, "cert-1", []byte("rsa der"))
	require.NoError(t, err)
	_, _, err = c.OpenFor(PurposeUserToken, "cert-1", key)
	assert.ErrorIs(t, err, ErrBinding, "a key cannot be presented as a token")
	got, _, err := c.OpenFor(PurposeRichKey, "cert-1", key)
	require.NoError(t, err)
	assert.Equal(t, "rsa der", string(got))

	token, err := c.SealFor(PurposeUserToken, "cert-1", []byte("token"))
	require.NoError(t, err)
	_, _, err = c.OpenFor(PurposeRichKey, "cert-1", token)
	assert.ErrorIs(t, err, ErrBinding, "a token cannot be presented as a key")
}

func TestOldFormatStillOpensAndIsReportedForResealing(t *testing.T) {
	old, err := NewCipher("old key")
	require.NoError(t, err)
	current, err := NewCipher("new key")
	require.NoError(t, err)
	ring := NewKeyring(current, old)

	v1, err := current.Encrypt([]byte("token from before the upgrade"))
	require.NoError(t, err)
	got, legacy, err := ring.OpenFor(PurposeUserToken, "alice", v1, current.KeyID())
	require.NoError(t, err, "nobody is disconnected by the upgrade")
	assert.Equal(t, "token from before the upgrade", string(got))
	assert.True(t, legacy, "an old-format row is reported so that it is re-sealed")

	resealed, keyID, err := ring.SealFor(PurposeUserToken, "alice", got)
	require.NoError(t, err)
	assert.Equal(t, current.KeyID(), keyID)
	_, legacy, err = ring.OpenFor(PurposeUserToken, "alice", resealed, keyID)
	require.NoError(t, err)
	assert.False(t, legacy)

	byOldKey, err := old.SealFor(PurposeUserToken, "alice", []byte("t"))
	require.NoError(t, err)
	_, legacy, err = ring.OpenFor(PurposeUserToken, "alice", byOldKey, "")
	require.NoError(t, err)
	assert.True(t, legacy, "a row sealed by a previous key is due for re-sealing too")
}
