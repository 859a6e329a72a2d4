package subscription

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/richnotify"
	"github.com/teamsnotify/msteams-sync/server/secrets"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// KeyStore keeps rich-notification key pairs; *store.Store implements it.
type KeyStore interface {
	SaveRichKey(ctx context.Context, k store.RichKey) error
	ListRichKeys(ctx context.Context) ([]store.RichKey, error)
	DeleteRichKeysExpiredBefore(ctx context.Context, cutoff time.Time) ([]string, error)
}

// Sealer encrypts private keys at rest; *secrets.Keyring implements it.
type Sealer interface {
	SealFor(p secrets.Purpose, binding string, plaintext []byte) (ciphertext []byte, keyID string, err error)
	OpenFor(p secrets.Purpose, binding string, ciphertext []byte, keyID string) (plaintext []byte, legacy bool, err error)
}

// Keys gives every node the rich-notification private keys: Decrypt opens encryptedContent with whichever
// stored key the item names, loading keys from the database when it meets one it does not know (the leader
// may have rotated a moment ago). Safe for concurrent use.
type Keys struct {
	store  KeyStore
	sealer func() Sealer

	mu    sync.RWMutex
	pairs []*richnotify.KeyPair // newest first
}

// NewKeys reads and writes keys in s, sealing private keys with the sealer current at the time (the plugin's
// encryption key can change with the configuration).
func NewKeys(s KeyStore, sealer func() Sealer) *Keys {
	return &Keys{store: s, sealer: sealer}
}

// Decrypt implements the delivery worker's decrypter: it returns the resource JSON of a rich item.
func (k *Keys) Decrypt(ctx context.Context, c *richnotify.EncryptedContent) ([]byte, error) {
	if c == nil {
		return nil, errors.New("decrypt rich notification: no encrypted content")
	}
	kp := k.lookup(c.EncryptionCertificateID, c.EncryptionCertificateThumbprint)
	if kp == nil {
		if err := k.Reload(ctx); err != nil {
			return nil, errors.Wrap(err, "decrypt rich notification")
		}
		if kp = k.lookup(c.EncryptionCertificateID, c.EncryptionCertificateThumbprint); kp == nil {
			return nil, errors.Wrapf(richnotify.ErrUnknownCertificate, "no stored key for encryptionCertificateId %q", clip(c.EncryptionCertificateID))
		}
	}
	plain, err := kp.Decrypt(*c)
	return plain, errors.Wrapf(err, "decrypt rich notification with certificate %q", kp.ID())
}

// lookup prefers the thumbprint, which is bound to the certificate, over the id, which is only our label.
func (k *Keys) lookup(id, thumbprint string) *richnotify.KeyPair {
	k.mu.RLock()
	defer k.mu.RUnlock()
	tp := strings.TrimSpace(thumbprint)
	if tp != "" {
		for _, p := range k.pairs {
			if strings.EqualFold(p.Thumbprint(), tp) {
				return p
			}
		}
	}
	if id != "" {
		for _, p := range k.pairs {
			if p.ID() == id {
				return p
			}
		}
	}
	return nil
}

// Reload reads every stored key pair. Keys that cannot be opened (sealed with an encryption key no longer
// configured) are skipped: the manager replaces a current key it cannot open.
func (k *Keys) Reload(ctx context.Context) error {
	stored, err := k.store.ListRichKeys(ctx)
	if err != nil {
		return errors.Wrap(err, "load rich notification keys")
	}
	sealer := k.sealer()
	var pairs []*richnotify.KeyPair
	var firstErr error
	for _, s := range stored {
		if known := k.lookup(s.ID, s.Thumbprint); known != nil {
			pairs = append(pairs, known)
			continue
		}
		kp, err := openKey(sealer, s)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		pairs = append(pairs, kp)
	}
	k.mu.Lock()
	k.pairs = pairs
	k.mu.Unlock()
	if len(pairs) == 0 && firstErr != nil {
		return firstErr
	}
	return nil
}

func openKey(sealer Sealer, s store.RichKey) (*richnotify.KeyPair, error) {
	if sealer == nil {
		return nil, errors.New("no encryption key is configured to open rich notification keys")
	}
	// Keys stored before they had their own purpose label still open (legacy format).
	der, _, err := sealer.OpenFor(secrets.PurposeRichKey, s.ID, s.PrivateKey, s.KeyID)
	if err != nil {
		return nil, errors.Wrapf(err, "open rich notification key %q (was the plugin's encryption key changed?)", s.ID)
	}
	kp, err := richnotify.ParseKeyPair(s.ID, s.Certificate, der)
	return kp, errors.Wrapf(err, "parse rich notification key %q", s.ID)
}

// Current returns the newest key pair this node can use, loading keys if none is cached; nil when there is none.
func (k *Keys) Current(ctx context.Context) (*richnotify.KeyPair, error) {
	k.mu.RLock()
	n := len(k.pairs)
	k.mu.RUnlock()
	if n == 0 {
		if err := k.Reload(ctx); err != nil {
			return nil, err
		}
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if len(k.pairs) == 0 {
		return nil, nil
	}
	return k.pairs[0], nil
}

// Create generates a key pair, stores it sealed and makes it the current one.
func (k *Keys) Create(ctx context.Context, now time.Time, opts richnotify.KeyOptions) (*richnotify.KeyPair, error) {
	sealer := k.sealer()
	if sealer == nil {
		return nil, errors.New("create rich notification key: no encryption key is configured")
	}
	kp, err := richnotify.GenerateKeyPair(now, opts)
	if err != nil {
		return nil, errors.Wrap(err, "create rich notification key")
	}
	der, err := kp.MarshalPrivateKey()
	if err != nil {
		return nil, err
	}
	// Sealed under its own purpose and bound to its certificate ID, so neither a user's token nor another
	// key's ciphertext can be stored in its place.
	sealed, keyID, err := sealer.SealFor(secrets.PurposeRichKey, kp.ID(), der)
	if err != nil {
		return nil, errors.Wrap(err, "seal rich notification key")
	}
	if err := k.store.SaveRichKey(ctx, store.RichKey{ID: kp.ID(), Thumbprint: kp.Thumbprint(), Certificate: kp.CertificateDER(),
		PrivateKey: sealed, KeyID: keyID, NotAfter: kp.NotAfter(), CreatedAt: now}); err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.pairs = append([]*richnotify.KeyPair{kp}, k.pairs...)
	k.mu.Unlock()
	return kp, nil
}

// Prune deletes key pairs whose certificate expired before cutoff (never the newest) and forgets them.
func (k *Keys) Prune(ctx context.Context, cutoff time.Time) ([]string, error) {
	removed, err := k.store.DeleteRichKeysExpiredBefore(ctx, cutoff)
	if err != nil || len(removed) == 0 {
		return removed, err
	}
	gone := map[string]bool{}
	for _, id := range removed {
		gone[id] = true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	kept := k.pairs[:0:0]
	for _, p := range k.pairs {
		if !gone[p.ID()] {
			kept = append(kept, p)
		}
	}
	k.pairs = kept
	return removed, nil
}

func clip(s string) string {
	const limit = 128
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}
