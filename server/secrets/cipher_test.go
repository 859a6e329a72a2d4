package secrets_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/secrets"
)

const (
	settingA = "q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6" // what the System Console generates: 32 characters
	settingB = "Zx9Cv8Bn7Mm6Ll5Kk4Jj3Hh2Gg1Ff0Dd"
)

func mustCipher(t *testing.T, setting string) *secrets.Cipher {
	t.Helper()
	c, err := secrets.NewCipher(setting)
	require.NoError(t, err)
	return c
}

func TestRoundTrip(t *testing.T) {
	c := mustCipher(t, settingA)
	for _, plaintext := range [][]byte{
		[]byte(`{"access_token":"eyJ0eXAi...","refresh_token":"0.AXo...","expiry":"2026-01-01T00:00:00Z"}`),
		{},
		bytes.Repeat([]byte{0xff}, 64<<10),
	} {
		ct, err := c.Encrypt(plaintext)
		require.NoError(t, err)
		got, err := c.Decrypt(ct)
		require.NoError(t, err)
		assert.Equal(t, len(plaintext), len(got))
		assert.True(t, bytes.Equal(plaintext, got))
	}
}

func TestEncryptUsesAFreshNonceEachTime(t *testing.T) {
	c := mustCipher(t, settingA)
	a, err := c.Encrypt([]byte("same"))
	require.NoError(t, err)
	b, err := c.Encrypt([]byte("same"))
	require.NoError(t, err)
	assert.NotEqual(t, a, b)
	assert.NotContains(t, string(a), "same")
}

func TestCiphertextLayout(t *testing.T) {
	c := mustCipher(t, settingA)
	ct, err := c.Encrypt([]byte("12345"))
	require.NoError(t, err)
	require.Len(t, ct, 1+8+12+5+16)
	assert.Equal(t, byte(1), ct[0], "version byte")
	id, err := secrets.KeyIDOf(ct)
	require.NoError(t, err)
	assert.Equal(t, c.KeyID(), id)
}

func TestKeyDerivationIsStable(t *testing.T) {
	// Changing the derivation would make every stored token unreadable: pin it.
	assert.Equal(t, mustCipher(t, settingA).KeyID(), mustCipher(t, settingA).KeyID())
	assert.Equal(t, "c392b1de32bcded7", mustCipher(t, settingA).KeyID())
	assert.NotEqual(t, mustCipher(t, settingA).KeyID(), mustCipher(t, settingB).KeyID())

	// A ciphertext written by this version must open in every later one.
	pinned, err := hex.DecodeString("01c392b1de32bcded745b16a959b9977aa75046bcf7079c828802aa4c2512c003ec0113104f12817c76e150cf4f97c53e6")
	require.NoError(t, err)
	pt, err := mustCipher(t, settingA).Decrypt(pinned)
	require.NoError(t, err)
	assert.Equal(t, "pinned token", string(pt))
}

func TestAnySettingLengthWorks(t *testing.T) {
	for _, setting := range []string{"x", "short", strings.Repeat("long", 100), "ünïcødé ключ"} {
		c := mustCipher(t, setting)
		assert.Len(t, c.KeyID(), 16)
		ct, err := c.Encrypt([]byte("token"))
		require.NoError(t, err)
		pt, err := c.Decrypt(ct)
		require.NoError(t, err)
		assert.Equal(t, "token", string(pt))
	}
	_, err := secrets.NewCipher("")
	assert.ErrorIs(t, err, secrets.ErrNoKey)
}

func TestKeyIDRevealsNothingOfTheSetting(t *testing.T) {
	id := mustCipher(t, settingA).KeyID()
	assert.NotContains(t, settingA, id)
	assert.NotContains(t, id, settingA[:4])
}

func TestTamperedCiphertextIsRejected(t *testing.T) {
	c := mustCipher(t, settingA)
	ct, err := c.Encrypt([]byte("a refresh token"))
	require.NoError(t, err)

	tests := []struct {
		name  string
		index int
		want  error
	}{
		{"version byte", 0, secrets.ErrMalformed},
		{"key id", 3, secrets.ErrWrongKey},
		{"nonce", 1 + 8 + 5, secrets.ErrAuthentication},
		{"body", 1 + 8 + 12 + 2, secrets.ErrAuthentication},
		{"tag", len(ct) - 1, secrets.ErrAuthentication},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := bytes.Clone(ct)
			bad[tt.index] ^= 0x01
			_, err := c.Decrypt(bad)
			assert.ErrorIs(t, err, tt.want)
		})
	}

	t.Run("truncated", func(t *testing.T) {
		for _, n := range []int{0, 1, 20, 1 + 8 + 12 + 15} {
			_, err := c.Decrypt(ct[:n])
			assert.ErrorIs(t, err, secrets.ErrMalformed, n)
		}
		_, err := c.Decrypt(ct[:len(ct)-1])
		assert.ErrorIs(t, err, secrets.ErrAuthentication)
	})
}

func TestWrongKeyIsRejectedWithoutNamingASecret(t *testing.T) {
	a, b := mustCipher(t, settingA), mustCipher(t, settingB)
	ct, err := a.Encrypt([]byte("a refresh token"))
	require.NoError(t, err)

	_, err = b.Decrypt(ct)
	require.ErrorIs(t, err, secrets.ErrWrongKey)
	msg := err.Error()
	assert.Contains(t, msg, a.KeyID(), "names the key by fingerprint, for the admin")
	for _, secret := range []string{settingA, settingB, "a refresh token"} {
		assert.NotContains(t, msg, secret)
	}
}

func TestWrappedKeys(t *testing.T) {
	a, b := mustCipher(t, settingA), mustCipher(t, settingB)
	wrapped, err := b.WrapKey(a)
	require.NoError(t, err)
	assert.NotContains(t, string(wrapped), settingA)

	unwrapped, err := b.UnwrapKey(wrapped)
	require.NoError(t, err)
	assert.Equal(t, a.KeyID(), unwrapped.KeyID())
	ct, err := a.Encrypt([]byte("token"))
	require.NoError(t, err)
	pt, err := unwrapped.Decrypt(ct)
	require.NoError(t, err)
	assert.Equal(t, "token", string(pt))

	_, err = a.UnwrapKey(wrapped)
	assert.ErrorIs(t, err, secrets.ErrWrongKey, "only the wrapping key unwraps")

	// Purposes do not mix: a token is not a wrapped key and a wrapped key is not a token.
	tokenCT, err := b.Encrypt(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	_, err = b.UnwrapKey(tokenCT)
	assert.ErrorIs(t, err, secrets.ErrAuthentication)
	_, err = b.Decrypt(wrapped)
	assert.ErrorIs(t, err, secrets.ErrAuthentication)
}

func TestPrintingACipherShowsOnlyItsKeyID(t *testing.T) {
	c := mustCipher(t, settingA)
	want := "secrets.Cipher(key " + c.KeyID() + ")"
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		assert.Equal(t, want, fmt.Sprintf(format, c), format)
	}
	assert.NotContains(t, fmt.Sprintf("%+v", secrets.NewKeyring(c)), settingA)
}
