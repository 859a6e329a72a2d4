package secrets

import (
	"strconv"

	"github.com/pkg/errors"
)

// Purpose says what a version 2 ciphertext holds; it is authenticated, so a ciphertext of one
// purpose does not open as another.
type Purpose string

const (
	// PurposeUserToken is a user's OAuth token; its binding is the Mattermost user ID of the row.
	PurposeUserToken Purpose = "user-token"
	// PurposeRichKey is a rich-notification RSA private key; its binding is the key's certificate ID.
	PurposeRichKey Purpose = "rich-key"

	boundPrefix = "v2\x00"
)

// ErrBinding means a version 2 ciphertext did not open for this purpose and binding: it was
// sealed for another row (e.g. copied from another user's row), for another purpose, or altered.
var ErrBinding = errors.New("secrets: ciphertext does not belong to this record (copied from another record, or altered)")

// bind makes the purpose label of a version 2 ciphertext. The binding is length-prefixed so that
// no two (purpose, binding) pairs produce the same label.
func bind(p Purpose, binding string) string {
	return boundPrefix + string(p) + "\x00" + strconv.Itoa(len(binding)) + ":" + binding
}

// SealFor seals plaintext for one purpose and one record (binding), in format version 2.
func (c *Cipher) SealFor(p Purpose, binding string, plaintext []byte) ([]byte, error) {
	return c.sealVersion(formatV2, plaintext, bind(p, binding))
}

// OpenFor opens a ciphertext sealed by SealFor with the same purpose and binding. A version 1
// ciphertext, written before bindings existed, opens as a plain token (PurposeUserToken) or, for
// PurposeRichKey, as what the old code stored for keys (also the token purpose); legacy is then
// true and the caller should re-seal it with SealFor. A version 2 ciphertext never takes that path,
// so one copied to another record fails with ErrBinding.
func (c *Cipher) OpenFor(p Purpose, binding string, ciphertext []byte) (plaintext []byte, legacy bool, err error) {
	if _, err := KeyIDOf(ciphertext); err != nil {
		return nil, false, err
	}
	if ciphertext[0] == formatV1 {
		plaintext, err = c.open(ciphertext, purposeToken)
		return plaintext, err == nil, err
	}
	plaintext, err = c.open(ciphertext, bind(p, binding))
	if errors.Is(err, ErrAuthentication) {
		return nil, false, errors.Wrapf(ErrBinding, "open %s", p)
	}
	return plaintext, false, err
}

// SealFor seals with the current key; see Cipher.SealFor.
func (k *Keyring) SealFor(p Purpose, binding string, plaintext []byte) (ciphertext []byte, keyID string, err error) {
	ciphertext, err = k.current.SealFor(p, binding, plaintext)
	return ciphertext, k.current.KeyID(), err
}

// OpenFor opens with whichever known key sealed the ciphertext; see Cipher.OpenFor. legacy is
// also true when an old key sealed it, since the ciphertext should then be re-sealed as well.
func (k *Keyring) OpenFor(p Purpose, binding string, ciphertext []byte, keyID string) (plaintext []byte, legacy bool, err error) {
	c, err := k.cipherFor(ciphertext, keyID)
	if err != nil {
		return nil, false, err
	}
	plaintext, legacy, err = c.OpenFor(p, binding, ciphertext)
	return plaintext, legacy || (err == nil && c != k.current), err
}
