// Package richnotify holds what the plugin needs for Microsoft Graph change notifications that carry resource
// data ("rich notifications"): the RSA key pair and self-signed certificate handed to Graph, a keyring that keeps
// older keys usable across rotation, decryption of encryptedContent, and verification of the validationTokens JWTs.
// It does no storage: private keys leave and enter this package as PKCS#8 DER, and the caller encrypts them at rest.
package richnotify

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SHA-1 is what Graph uses for certificate thumbprints; not a security decision.
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/pkg/errors"
)

const (
	// DefaultKeyBits is the RSA modulus size for new keys; Graph accepts 2048 to 4096 bits.
	DefaultKeyBits = 2048
	// DefaultValidity is how long a new certificate is valid.
	DefaultValidity = 90 * 24 * time.Hour
	// DefaultRotationWindow is how long before expiry NeedsRotation starts answering true.
	DefaultRotationWindow = 14 * 24 * time.Hour
	// MaxCertificateIDLength is Graph's limit for encryptionCertificateId.
	MaxCertificateIDLength = 128

	// notBeforeSkew back-dates certificates so that a receiver with a slightly slow clock still accepts them.
	notBeforeSkew = time.Hour
)

// KeyOptions tunes GenerateKeyPair; the zero value gives the defaults.
type KeyOptions struct {
	Bits       int           // DefaultKeyBits when zero; 2048..4096
	Validity   time.Duration // DefaultValidity when zero
	ID         string        // encryptionCertificateId; derived from the date and thumbprint when empty
	CommonName string        // certificate subject; "msteams-sync rich notifications" when empty
}

// KeyPair is one RSA private key with the self-signed certificate whose public part Graph encrypts to.
type KeyPair struct {
	id         string
	cert       *x509.Certificate
	key        *rsa.PrivateKey
	thumbprint string
}

// GenerateKeyPair creates a new RSA key and a self-signed certificate valid from now for opts.Validity.
func GenerateKeyPair(now time.Time, opts KeyOptions) (*KeyPair, error) {
	bits := opts.Bits
	if bits == 0 {
		bits = DefaultKeyBits
	}
	if bits < 2048 || bits > 4096 {
		return nil, errors.Errorf("rsa key size %d is outside what Graph accepts (2048-4096)", bits)
	}
	validity := opts.Validity
	if validity == 0 {
		validity = DefaultValidity
	}
	if validity < 0 {
		return nil, errors.New("certificate validity must be positive")
	}
	if len(opts.ID) > MaxCertificateIDLength {
		return nil, errors.Errorf("certificate id is %d characters; Graph allows at most %d", len(opts.ID), MaxCertificateIDLength)
	}
	cn := opts.CommonName
	if cn == "" {
		cn = "msteams-sync rich notifications"
	}

	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, errors.Wrap(err, "generate rsa key")
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, errors.Wrap(err, "generate certificate serial number")
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-notBeforeSkew).UTC(),
		NotAfter:              now.Add(validity).UTC(),
		KeyUsage:              x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, errors.Wrap(err, "create self-signed certificate")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, errors.Wrap(err, "parse generated certificate")
	}
	kp := &KeyPair{cert: cert, key: key, thumbprint: thumbprint(der)}
	kp.id = opts.ID
	if kp.id == "" {
		kp.id = fmt.Sprintf("msteams-sync-%s-%s", now.UTC().Format("20060102T150405Z"), kp.thumbprint[:8])
	}
	return kp, nil
}

// ParseKeyPair rebuilds a key pair from what the caller stored: the certificate DER and the PKCS#8 DER private key.
// It refuses a private key that does not belong to the certificate, so a mix-up in storage cannot go unnoticed.
func ParseKeyPair(id string, certDER, privateKeyPKCS8 []byte) (*KeyPair, error) {
	if id == "" || len(id) > MaxCertificateIDLength {
		return nil, errors.Errorf("certificate id must be 1-%d characters", MaxCertificateIDLength)
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, errors.Wrap(err, "parse certificate")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(privateKeyPKCS8)
	if err != nil {
		// The error text of x509 never contains key bytes, but keep ours generic anyway.
		return nil, errors.New("parse pkcs8 private key: not a valid PKCS#8 encoding")
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.Errorf("private key is %T, want RSA", parsed)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("private key does not match the certificate")
	}
	return &KeyPair{id: id, cert: cert, key: key, thumbprint: thumbprint(certDER)}, nil
}

func thumbprint(der []byte) string {
	sum := sha1.Sum(der) //nolint:gosec // see import comment
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// ID is the encryptionCertificateId to send with the subscription.
func (k *KeyPair) ID() string { return k.id }

// EncryptionCertificate is the base64 DER certificate, the value of a subscription's encryptionCertificate.
func (k *KeyPair) EncryptionCertificate() string {
	return base64.StdEncoding.EncodeToString(k.cert.Raw)
}

// CertificateDER is the raw certificate, for storage.
func (k *KeyPair) CertificateDER() []byte { return append([]byte(nil), k.cert.Raw...) }

// Certificate gives access to the parsed certificate.
func (k *KeyPair) Certificate() *x509.Certificate { return k.cert }

// Thumbprint is the SHA-1 of the certificate DER in upper-case hex, as Microsoft shows it.
func (k *KeyPair) Thumbprint() string { return k.thumbprint }

// NotAfter is when the certificate expires.
func (k *KeyPair) NotAfter() time.Time { return k.cert.NotAfter }

// MarshalPrivateKey returns the private key as PKCS#8 DER. The caller must encrypt it before storing it.
func (k *KeyPair) MarshalPrivateKey() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		return nil, errors.Wrap(err, "marshal private key")
	}
	return der, nil
}

// matchesThumbprint compares case-insensitively; Graph has sent both cases over the years.
func (k *KeyPair) matchesThumbprint(tp string) bool {
	return tp != "" && strings.EqualFold(k.thumbprint, strings.TrimSpace(tp))
}

// Keyring holds the current key pair and older ones Graph may still encrypt to after a rotation.
// It is safe for concurrent use.
type Keyring struct {
	mu             sync.RWMutex
	current        *KeyPair
	older          []*KeyPair // newest first
	rotationWindow time.Duration
}

// NewKeyring makes a keyring with current as the key for new subscriptions and older as still-accepted keys.
func NewKeyring(current *KeyPair, older ...*KeyPair) (*Keyring, error) {
	if current == nil {
		return nil, errors.New("keyring needs a current key pair")
	}
	r := &Keyring{current: current, rotationWindow: DefaultRotationWindow}
	for _, k := range older {
		if k != nil && k != current {
			r.older = append(r.older, k)
		}
	}
	return r, nil
}

// SetRotationWindow sets how long before expiry NeedsRotation answers true.
func (r *Keyring) SetRotationWindow(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rotationWindow = d
}

// Current is the key pair to put on new or renewed subscriptions.
func (r *Keyring) Current() *KeyPair {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.current
}

// Keys lists every key, current first.
func (r *Keyring) Keys() []*KeyPair {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*KeyPair{r.current}, r.older...)
}

// NeedsRotation reports whether the current certificate expires within the rotation window (or already has).
func (r *Keyring) NeedsRotation(now time.Time) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return !now.Add(r.rotationWindow).Before(r.current.NotAfter())
}

// Rotate makes next the current key and keeps the previous one, because Graph keeps using the old certificate
// for a while after the subscription is patched.
func (r *Keyring) Rotate(next *KeyPair) error {
	if next == nil {
		return errors.New("rotate: nil key pair")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if next == r.current {
		return nil
	}
	older := []*KeyPair{r.current}
	for _, k := range r.older {
		if k != next {
			older = append(older, k)
		}
	}
	r.current, r.older = next, older
	return nil
}

// Prune forgets non-current keys whose certificate expired before cutoff, and returns their ids.
// Pass now minus a grace period: Graph may deliver with an old key for a while after the rotation.
func (r *Keyring) Prune(cutoff time.Time) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var kept []*KeyPair
	var removed []string
	for _, k := range r.older {
		if k.NotAfter().Before(cutoff) {
			removed = append(removed, k.id)
			continue
		}
		kept = append(kept, k)
	}
	r.older = kept
	return removed
}

// Lookup selects the key for an item. The thumbprint wins over the id because it is bound to the certificate,
// while the id is only our label; the id is used when the thumbprint is absent or unknown.
func (r *Keyring) Lookup(certificateID, thumbprint string) (*KeyPair, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	all := append([]*KeyPair{r.current}, r.older...)
	for _, k := range all {
		if k.matchesThumbprint(thumbprint) {
			return k, nil
		}
	}
	if certificateID != "" {
		for _, k := range all {
			if k.id == certificateID {
				return k, nil
			}
		}
	}
	return nil, errors.Wrapf(ErrUnknownCertificate, "no key for encryptionCertificateId %q / thumbprint %q", clip(certificateID), clip(thumbprint))
}

// Decrypt selects the key named by the item and decrypts it; see KeyPair.Decrypt.
func (r *Keyring) Decrypt(item EncryptedContent) ([]byte, error) {
	k, err := r.Lookup(item.EncryptionCertificateID, item.EncryptionCertificateThumbprint)
	if err != nil {
		return nil, err
	}
	plain, err := k.Decrypt(item)
	if err != nil {
		return nil, errors.Wrapf(err, "decrypt with certificate %q", k.ID())
	}
	return plain, nil
}

// clip bounds untrusted strings before they reach error messages and logs.
func clip(s string) string {
	const limit = MaxCertificateIDLength
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}
