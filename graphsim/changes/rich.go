package changes

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"

	"github.com/pkg/errors"

	"time"
)

// ChangeTrackingAppID is the Graph Change Tracking service principal: the azp of validation tokens.
const ChangeTrackingAppID = "0bf30f3b-4a52-48df-9a82-234910c4a086"

// encryptedContent holds what Graph puts under encryptedContent for one item.
type encryptedContent struct {
	Data                            string `json:"data"`
	DataSignature                   string `json:"dataSignature"`
	DataKey                         string `json:"dataKey"`
	EncryptionCertificateID         string `json:"encryptionCertificateId"`
	EncryptionCertificateThumbprint string `json:"encryptionCertificateThumbprint"`
}

// encryptResource follows Graph's rich-notification scheme: a fresh AES-256 key per item,
// AES-CBC with IV = key[0:16] and PKCS7 padding, HMAC-SHA256 over the ciphertext,
// and the key wrapped with RSA-OAEP (SHA-1, MGF1-SHA1) for the subscriber's certificate.
func encryptResource(plain []byte, pub *rsa.PublicKey, certID, thumbprint string) (*encryptedContent, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, errors.Wrap(err, "generate content key")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errors.Wrap(err, "create AES cipher")
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	padded := make([]byte, len(plain)+pad)
	copy(padded, plain)
	for i := len(plain); i < len(padded); i++ {
		padded[i] = byte(pad)
	}
	ciphertext := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, key[:aes.BlockSize]).CryptBlocks(ciphertext, padded)

	mac := hmac.New(sha256.New, key)
	mac.Write(ciphertext)

	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, key, nil)
	if err != nil {
		return nil, errors.Wrap(err, "wrap content key")
	}
	return &encryptedContent{
		Data:                            base64.StdEncoding.EncodeToString(ciphertext),
		DataSignature:                   base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		DataKey:                         base64.StdEncoding.EncodeToString(wrapped),
		EncryptionCertificateID:         certID,
		EncryptionCertificateThumbprint: thumbprint,
	}, nil
}

// validationToken is the JWT Graph attaches so the app can tell the notification came from Graph:
// issued by the tenant's STS, for the app (aud), on behalf of the Change Tracking service (azp).
func (m *Manager) validationToken(appID, tenantID string, life time.Duration) (string, error) {
	if m.d.SignJWT == nil {
		return "", errors.New("no JWT signer configured")
	}
	iss := ""
	if m.d.IssuerFor != nil {
		iss = m.d.IssuerFor(tenantID)
	}
	now := m.d.Now()
	claims := map[string]any{
		"aud":    appID,
		"iss":    iss,
		"iat":    now.Unix(),
		"nbf":    now.Unix(),
		"exp":    now.Add(life).Unix(),
		"azp":    ChangeTrackingAppID,
		"azpacr": "2",
		"tid":    tenantID,
		"ver":    "2.0",
	}
	tok, err := m.d.SignJWT(claims)
	return tok, errors.Wrap(err, "sign validation token")
}
