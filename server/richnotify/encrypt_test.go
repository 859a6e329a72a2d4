package richnotify

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // the spec's algorithm
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"testing"
)

// sealForTest encrypts plaintext the way Graph does, written from the protocol description and not from Decrypt:
// a fresh 32-byte key, AES-256-CBC with IV = key[0:16] and PKCS#7 padding, HMAC-SHA256 over the ciphertext, and the
// key wrapped with RSA-OAEP (SHA-1, MGF1-SHA-1) for the certificate.
func sealForTest(t testing.TB, cert *x509.Certificate, certID, thumbprint string, plaintext []byte) EncryptedContent {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	padded := append(append([]byte(nil), plaintext...), bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	ct := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(ct, padded)
	mac := hmac.New(sha256.New, key)
	mac.Write(ct)
	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, cert.PublicKey.(*rsa.PublicKey), key, nil) //nolint:gosec
	if err != nil {
		t.Fatal(err)
	}
	return EncryptedContent{
		Data:                            base64.StdEncoding.EncodeToString(ct),
		DataSignature:                   base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		DataKey:                         base64.StdEncoding.EncodeToString(wrapped),
		EncryptionCertificateID:         certID,
		EncryptionCertificateThumbprint: thumbprint,
	}
}

// sealRawForTest is sealForTest with caller-chosen key and padded plaintext, for malformed-content cases.
func sealRawForTest(t testing.TB, cert *x509.Certificate, key, padded []byte) EncryptedContent {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	ct := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(ct, padded)
	mac := hmac.New(sha256.New, key)
	mac.Write(ct)
	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, cert.PublicKey.(*rsa.PublicKey), key, nil) //nolint:gosec
	if err != nil {
		t.Fatal(err)
	}
	return EncryptedContent{
		Data:          base64.StdEncoding.EncodeToString(ct),
		DataSignature: base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		DataKey:       base64.StdEncoding.EncodeToString(wrapped),
	}
}

func hmacForTest(key, data []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	return mac.Sum(nil)
}
