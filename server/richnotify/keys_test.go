package richnotify

import (
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// Generating RSA keys is slow, so tests share a few.
var (
	testKeysOnce sync.Once
	testKeys     []*KeyPair
	testKeysErr  error
)

func sharedKeys(t testing.TB) []*KeyPair {
	t.Helper()
	testKeysOnce.Do(func() {
		for i, id := range []string{"cert-a", "cert-b", "cert-c"} {
			kp, err := GenerateKeyPair(t0.Add(time.Duration(i)*24*time.Hour), KeyOptions{ID: id})
			if err != nil {
				testKeysErr = err
				return
			}
			testKeys = append(testKeys, kp)
		}
	})
	require.NoError(t, testKeysErr)
	return testKeys
}

func TestGenerateKeyPairGivesWhatGraphNeeds(t *testing.T) {
	kp, err := GenerateKeyPair(t0, KeyOptions{})
	require.NoError(t, err)

	der, err := base64.StdEncoding.DecodeString(kp.EncryptionCertificate())
	require.NoError(t, err, "encryptionCertificate is base64 of DER")
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pub := cert.PublicKey.(*rsa.PublicKey)
	assert.Equal(t, DefaultKeyBits, pub.N.BitLen())
	assert.NoError(t, cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature), "self-signed")
	assert.Equal(t, t0.Add(DefaultValidity), cert.NotAfter)
	assert.True(t, cert.NotBefore.Before(t0), "back-dated for clock skew")

	sum := sha1.Sum(der) //nolint:gosec
	assert.Equal(t, strings.ToUpper(hex.EncodeToString(sum[:])), kp.Thumbprint())
	assert.Regexp(t, `^[0-9A-F]{40}$`, kp.Thumbprint())

	assert.True(t, strings.HasPrefix(kp.ID(), "msteams-sync-20261127T100000Z-"), kp.ID())
	assert.LessOrEqual(t, len(kp.ID()), MaxCertificateIDLength)
}

func TestGenerateKeyPairRejectsBadOptions(t *testing.T) {
	for name, opts := range map[string]KeyOptions{
		"too small": {Bits: 1024},
		"too big":   {Bits: 8192},
		"long id":   {ID: strings.Repeat("x", 129)},
		"negative":  {Validity: -time.Hour},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := GenerateKeyPair(t0, opts)
			assert.Error(t, err)
		})
	}
}

func TestPrivateKeyRoundTripsThroughPKCS8(t *testing.T) {
	keys := sharedKeys(t)
	a, b := keys[0], keys[1]
	der, err := a.MarshalPrivateKey()
	require.NoError(t, err)
	_, err = x509.ParsePKCS8PrivateKey(der)
	require.NoError(t, err, "PKCS#8 DER")

	back, err := ParseKeyPair(a.ID(), a.CertificateDER(), der)
	require.NoError(t, err)
	assert.Equal(t, a.Thumbprint(), back.Thumbprint())
	assert.Equal(t, a.EncryptionCertificate(), back.EncryptionCertificate())

	item := sealForTest(t, a.Certificate(), a.ID(), a.Thumbprint(), []byte(`{"id":"1"}`))
	plain, err := back.Decrypt(item)
	require.NoError(t, err)
	assert.Equal(t, `{"id":"1"}`, string(plain))

	_, err = ParseKeyPair(a.ID(), b.CertificateDER(), der)
	assert.ErrorContains(t, err, "does not match", "a key stored next to the wrong certificate is refused")
	_, err = ParseKeyPair(a.ID(), a.CertificateDER(), []byte("junk"))
	assert.Error(t, err)
	_, err = ParseKeyPair("", a.CertificateDER(), der)
	assert.Error(t, err)
}

func TestKeyringLookup(t *testing.T) {
	keys := sharedKeys(t)
	a, b := keys[0], keys[1]
	ring, err := NewKeyring(b, a)
	require.NoError(t, err)

	tests := []struct {
		name, id, thumbprint string
		want                 *KeyPair
	}{
		{"by id", "cert-a", "", a},
		{"by thumbprint", "", a.Thumbprint(), a},
		{"thumbprint is case-insensitive", "", strings.ToLower(b.Thumbprint()), b},
		{"thumbprint wins over a stale id", "cert-a", b.Thumbprint(), b},
		{"unknown thumbprint falls back to id", "cert-b", strings.Repeat("0", 40), b},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ring.Lookup(tt.id, tt.thumbprint)
			require.NoError(t, err)
			assert.Same(t, tt.want, got)
		})
	}

	_, err = ring.Lookup("cert-z", strings.Repeat("0", 40))
	assert.True(t, errors.Is(err, ErrUnknownCertificate), "%v", err)
	_, err = ring.Lookup("", "")
	assert.True(t, errors.Is(err, ErrUnknownCertificate))

	_, err = NewKeyring(nil)
	assert.Error(t, err)
}

func TestRotationKeepsTheOldKeyUsable(t *testing.T) {
	keys := sharedKeys(t)
	a, b := keys[0], keys[1]
	ring, err := NewKeyring(a)
	require.NoError(t, err)
	inFlight := sealForTest(t, a.Certificate(), a.ID(), a.Thumbprint(), []byte("sent before the PATCH"))

	require.NoError(t, ring.Rotate(b))
	assert.Same(t, b, ring.Current())
	assert.Equal(t, []*KeyPair{b, a}, ring.Keys())

	plain, err := ring.Decrypt(inFlight)
	require.NoError(t, err)
	assert.Equal(t, "sent before the PATCH", string(plain))
	plain, err = ring.Decrypt(sealForTest(t, b.Certificate(), b.ID(), b.Thumbprint(), []byte("new")))
	require.NoError(t, err)
	assert.Equal(t, "new", string(plain))

	// Prune only drops old keys that expired before the cutoff, never the current one.
	assert.Empty(t, ring.Prune(a.NotAfter()))
	assert.Equal(t, []string{"cert-a"}, ring.Prune(a.NotAfter().Add(time.Second)))
	assert.Equal(t, []*KeyPair{b}, ring.Keys())
	_, err = ring.Decrypt(inFlight)
	assert.True(t, errors.Is(err, ErrUnknownCertificate))
}

func TestNeedsRotation(t *testing.T) {
	a := sharedKeys(t)[0] // expires t0 + 90 days
	ring, err := NewKeyring(a)
	require.NoError(t, err)
	expiry := a.NotAfter()

	assert.False(t, ring.NeedsRotation(t0))
	assert.False(t, ring.NeedsRotation(expiry.Add(-DefaultRotationWindow-time.Second)))
	assert.True(t, ring.NeedsRotation(expiry.Add(-DefaultRotationWindow)))
	assert.True(t, ring.NeedsRotation(expiry.Add(time.Hour)), "already expired")

	ring.SetRotationWindow(30 * 24 * time.Hour)
	assert.True(t, ring.NeedsRotation(expiry.Add(-20*24*time.Hour)))
}

func TestKeyringIsSafeDuringRotation(t *testing.T) {
	keys := sharedKeys(t)
	ring, err := NewKeyring(keys[0])
	require.NoError(t, err)
	items := make([]EncryptedContent, len(keys))
	for i, k := range keys {
		items[i] = sealForTest(t, k.Certificate(), k.ID(), k.Thumbprint(), []byte("m"))
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, k := range keys[1:] {
			assert.NoError(t, ring.Rotate(k))
		}
	})
	for range 4 {
		wg.Go(func() {
			_, err := ring.Decrypt(items[0]) // the first key is never removed, only demoted
			assert.NoError(t, err)
			_ = ring.NeedsRotation(t0)
		})
	}
	wg.Wait()
	assert.Same(t, keys[2], ring.Current())
	assert.Len(t, ring.Keys(), 3)
	for _, it := range items {
		_, err := ring.Decrypt(it)
		assert.NoError(t, err)
	}
}
