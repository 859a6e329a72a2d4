// Package secrets encrypts OAuth tokens at rest with AES-256-GCM and lets the encryption key
// change without disconnecting anyone.
//
// The key comes from the EncryptionKey plugin setting, a string the System Console generates
// (32 random characters). Any non-empty string works: the AES key is derived from the setting's
// bytes with HKDF-SHA256, so the setting's length and alphabet do not matter. Each key has a key
// ID, a 16-hex-digit fingerprint derived from the key with HMAC-SHA256, which is stored next to
// every ciphertext; it identifies the key without revealing it.
//
// Ciphertext layout (version 1):
//
//	0x01 | key ID (8 bytes) | nonce (12 random bytes) | AES-GCM ciphertext and 16-byte tag
//
// The version byte and key ID are authenticated as associated data, together with a purpose
// label, so a token cannot be passed off as a wrapped key or vice versa.
//
// Version 2 has the same layout; its associated data also carries a binding (for a user's token,
// the Mattermost user ID of the row), so a ciphertext copied to another row does not open, and
// its purposes include rich-notification private keys. Version 1 ciphertexts written before it
// still open through OpenFor's legacy path, which reports them so the caller re-seals them.
package secrets

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"

	"github.com/pkg/errors"
)

const (
	formatV1   byte = 1
	formatV2   byte = 2
	keySize         = 32
	keyIDSize       = 8
	nonceSize       = 12
	headerSize      = 1 + keyIDSize + nonceSize
	tagSize         = 16
	hkdfInfo        = "msteamsnotify token encryption key v1"
	keyIDLabel      = "msteamsnotify key id v1"

	purposeToken   = "token"
	purposeWrapKey = "wrapped-key"
)

var (
	// ErrNoKey is returned for an empty EncryptionKey setting.
	ErrNoKey = errors.New("secrets: no encryption key configured")
	// ErrMalformed means the bytes are not a ciphertext this package wrote.
	ErrMalformed = errors.New("secrets: malformed ciphertext")
	// ErrWrongKey means the ciphertext names a key other than the one(s) at hand.
	ErrWrongKey = errors.New("secrets: ciphertext was encrypted with a different key")
	// ErrAuthentication means the ciphertext was altered (or forged): GCM's tag did not verify.
	ErrAuthentication = errors.New("secrets: ciphertext failed authentication")
)

// Cipher encrypts and decrypts with one key. It is safe for concurrent use.
type Cipher struct {
	key   [keySize]byte
	id    [keyIDSize]byte
	idHex string
	aead  cipher.AEAD
}

// NewCipher derives the key from the EncryptionKey setting.
func NewCipher(setting string) (*Cipher, error) {
	if setting == "" {
		return nil, ErrNoKey
	}
	key, err := hkdf.Key(sha256.New, []byte(setting), nil, hkdfInfo, keySize)
	if err != nil {
		return nil, errors.Wrap(err, "secrets: derive key")
	}
	return newCipherFromKey(key)
}

func newCipherFromKey(key []byte) (*Cipher, error) {
	if len(key) != keySize {
		return nil, errors.Wrap(ErrMalformed, "key has the wrong size")
	}
	c := &Cipher{}
	copy(c.key[:], key)
	mac := hmac.New(sha256.New, c.key[:])
	mac.Write([]byte(keyIDLabel))
	copy(c.id[:], mac.Sum(nil))
	c.idHex = hex.EncodeToString(c.id[:])
	block, err := aes.NewCipher(c.key[:])
	if err != nil {
		return nil, errors.Wrap(err, "secrets: create AES cipher")
	}
	if c.aead, err = cipher.NewGCM(block); err != nil {
		return nil, errors.Wrap(err, "secrets: create GCM")
	}
	return c, nil
}

// KeyID is the key's public fingerprint.
func (c *Cipher) KeyID() string { return c.idHex }

// Encrypt seals a token.
func (c *Cipher) Encrypt(plaintext []byte) ([]byte, error) {
	return c.seal(plaintext, purposeToken)
}

// Decrypt opens a token this key sealed.
func (c *Cipher) Decrypt(ciphertext []byte) ([]byte, error) {
	return c.open(ciphertext, purposeToken)
}

// WrapKey encrypts another key with this one, so that it can be stored while a key change is
// under way (see the store's key rotation).
func (c *Cipher) WrapKey(other *Cipher) ([]byte, error) {
	return c.seal(other.key[:], purposeWrapKey)
}

// UnwrapKey recovers a key wrapped by WrapKey with this key.
func (c *Cipher) UnwrapKey(wrapped []byte) (*Cipher, error) {
	key, err := c.open(wrapped, purposeWrapKey)
	if err != nil {
		return nil, errors.Wrap(err, "unwrap key")
	}
	return newCipherFromKey(key)
}

func (c *Cipher) seal(plaintext []byte, purpose string) ([]byte, error) {
	return c.sealVersion(formatV1, plaintext, purpose)
}

func (c *Cipher) sealVersion(version byte, plaintext []byte, purpose string) ([]byte, error) {
	out := make([]byte, headerSize, headerSize+len(plaintext)+tagSize)
	out[0] = version
	copy(out[1:], c.id[:])
	nonce := out[1+keyIDSize : headerSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, errors.Wrap(err, "secrets: read random nonce")
	}
	return c.aead.Seal(out, nonce, plaintext, associatedData(out[:1+keyIDSize], purpose)), nil
}

func (c *Cipher) open(ciphertext []byte, purpose string) ([]byte, error) {
	id, err := KeyIDOf(ciphertext)
	if err != nil {
		return nil, err
	}
	if ciphertext[0] != versionOf(purpose) {
		return nil, errors.Wrapf(ErrMalformed, "format version %d where %d was expected", ciphertext[0], versionOf(purpose))
	}
	if id != c.idHex {
		return nil, errors.Wrapf(ErrWrongKey, "encrypted with key %s, not with key %s", id, c.idHex)
	}
	nonce := ciphertext[1+keyIDSize : headerSize]
	plaintext, err := c.aead.Open(nil, nonce, ciphertext[headerSize:], associatedData(ciphertext[:1+keyIDSize], purpose))
	if err != nil {
		return nil, ErrAuthentication
	}
	return plaintext, nil
}

// KeyIDOf returns the ID of the key that sealed ciphertext (unauthenticated until decrypted).
func KeyIDOf(ciphertext []byte) (string, error) {
	if len(ciphertext) < headerSize+tagSize {
		return "", errors.Wrap(ErrMalformed, "too short")
	}
	if ciphertext[0] != formatV1 && ciphertext[0] != formatV2 {
		return "", errors.Wrapf(ErrMalformed, "unknown format version %d", ciphertext[0])
	}
	return hex.EncodeToString(ciphertext[1 : 1+keyIDSize]), nil
}

// versionOf tells which format a purpose label belongs to: bound purposes (see bind) are version 2.
func versionOf(purpose string) byte {
	if bytes.HasPrefix([]byte(purpose), []byte(boundPrefix)) {
		return formatV2
	}
	return formatV1
}

func associatedData(header []byte, purpose string) []byte {
	return bytes.Join([][]byte{[]byte("msteamsnotify"), []byte(purpose), header}, []byte{0})
}

// String keeps the key out of logs and error messages: a Cipher printed by accident shows
// only its key ID.
func (c *Cipher) String() string { return "secrets.Cipher(key " + c.idHex + ")" }

// GoString does the same for %#v.
func (c *Cipher) GoString() string { return c.String() }
