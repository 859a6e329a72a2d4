package richnotify

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // RSA-OAEP with SHA-1 is what Graph uses to wrap the data key.
	"crypto/sha256"
	"encoding/base64"

	"github.com/pkg/errors"
)

// EncryptedContent is the encryptedContent object of a rich change notification item.
type EncryptedContent struct {
	Data                            string `json:"data"`
	DataSignature                   string `json:"dataSignature"`
	DataKey                         string `json:"dataKey"`
	EncryptionCertificateID         string `json:"encryptionCertificateId"`
	EncryptionCertificateThumbprint string `json:"encryptionCertificateThumbprint"`
}

// Errors returned by Decrypt, distinguishable with errors.Is. Their messages never carry key material or plaintext.
var (
	ErrUnknownCertificate = errors.New("encrypted content names a certificate this keyring does not hold")
	ErrMalformed          = errors.New("encrypted content is malformed")
	ErrBadKey             = errors.New("data key cannot be decrypted with the selected private key")
	ErrSignatureMismatch  = errors.New("data signature does not match the data")
	ErrBadPadding         = errors.New("decrypted data has invalid PKCS#7 padding")
)

const dataKeyLen = 32 // AES-256; also the HMAC-SHA256 key

// Decrypt opens one item: RSA-OAEP (SHA-1, MGF1-SHA-1) unwraps the 32-byte key, HMAC-SHA256 over the ciphertext
// is checked in constant time before anything is decrypted, then AES-256-CBC with IV = key[0:16] and strict PKCS#7
// unpadding. The result is the resource JSON as Graph would return it from a GET.
func (k *KeyPair) Decrypt(item EncryptedContent) ([]byte, error) {
	wrapped, err := decodeB64(item.DataKey)
	if err != nil {
		return nil, errors.Wrap(ErrMalformed, "dataKey is not base64")
	}
	data, err := decodeB64(item.Data)
	if err != nil {
		return nil, errors.Wrap(ErrMalformed, "data is not base64")
	}
	signature, err := decodeB64(item.DataSignature)
	if err != nil {
		return nil, errors.Wrap(ErrMalformed, "dataSignature is not base64")
	}

	key, err := k.unwrapDataKey(wrapped)
	if err != nil {
		return nil, err
	}
	defer clear(key)

	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	if !hmac.Equal(mac.Sum(nil), signature) {
		return nil, ErrSignatureMismatch
	}

	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, errors.Wrapf(ErrMalformed, "ciphertext length %d is not a positive multiple of the block size", len(data))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errors.Wrap(ErrBadKey, "create AES cipher")
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, key[:aes.BlockSize]).CryptBlocks(plain, data)
	out, err := pkcs7Unpad(plain)
	if err != nil {
		clear(plain)
		return nil, err
	}
	return out, nil
}

func (k *KeyPair) unwrapDataKey(wrapped []byte) ([]byte, error) {
	key, err := rsa.DecryptOAEP(sha1.New(), rand.Reader, k.key, wrapped, nil) //nolint:gosec // see import comment
	if err != nil {
		return nil, errors.Wrap(ErrBadKey, "rsa-oaep decryption failed")
	}
	if len(key) != dataKeyLen {
		clear(key)
		return nil, errors.Wrapf(ErrBadKey, "unwrapped key is %d bytes, want %d", len(key), dataKeyLen)
	}
	return key, nil
}

// pkcs7Unpad checks every padding byte, not just the last one, so corrupted plaintext is reported instead of
// being passed on with a few bytes of garbage.
func pkcs7Unpad(b []byte) ([]byte, error) {
	if len(b) == 0 || len(b)%aes.BlockSize != 0 {
		return nil, ErrBadPadding
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize {
		return nil, ErrBadPadding
	}
	var bad byte
	for _, c := range b[len(b)-n:] {
		bad |= c ^ byte(n)
	}
	if bad != 0 {
		return nil, ErrBadPadding
	}
	return b[:len(b)-n], nil
}

// decodeB64 accepts standard base64 with or without padding; Graph sends padded standard base64.
func decodeB64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}
