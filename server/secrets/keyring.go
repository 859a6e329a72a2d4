package secrets

import (
	"github.com/pkg/errors"
)

// Keyring seals with the current key and opens with whichever known key sealed the ciphertext,
// so tokens sealed before a key change stay readable until they are re-encrypted.
type Keyring struct {
	current *Cipher
	byID    map[string]*Cipher
}

// NewKeyring returns a keyring sealing with current and also opening with previous keys.
func NewKeyring(current *Cipher, previous ...*Cipher) *Keyring {
	k := &Keyring{current: current, byID: map[string]*Cipher{current.KeyID(): current}}
	for _, p := range previous {
		if p != nil {
			if _, ok := k.byID[p.KeyID()]; !ok {
				k.byID[p.KeyID()] = p
			}
		}
	}
	return k
}

// Current is the key new ciphertexts are sealed with.
func (k *Keyring) Current() *Cipher { return k.current }

// Seal encrypts a token with the current key and returns the ID of that key.
func (k *Keyring) Seal(plaintext []byte) (ciphertext []byte, keyID string, err error) {
	ciphertext, err = k.current.Encrypt(plaintext)
	return ciphertext, k.current.KeyID(), err
}

// Open decrypts a token sealed by any key in the ring. keyID is the ID recorded next to the
// ciphertext; "" skips the cross-check against the ID inside the ciphertext.
func (k *Keyring) Open(ciphertext []byte, keyID string) ([]byte, error) {
	c, err := k.cipherFor(ciphertext, keyID)
	if err != nil {
		return nil, err
	}
	return c.Decrypt(ciphertext)
}

func (k *Keyring) cipherFor(ciphertext []byte, keyID string) (*Cipher, error) {
	id, err := KeyIDOf(ciphertext)
	if err != nil {
		return nil, err
	}
	if keyID != "" && keyID != id {
		return nil, errors.Wrapf(ErrMalformed, "recorded key %s but the ciphertext names key %s", keyID, id)
	}
	c, ok := k.byID[id]
	if !ok {
		return nil, errors.Wrapf(ErrWrongKey, "encrypted with key %s, which is not a configured encryption key", id)
	}
	return c, nil
}
