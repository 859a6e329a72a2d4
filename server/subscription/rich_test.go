package subscription_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/richnotify"
	"github.com/teamsnotify/msteams-sync/server/subscription"
)

// otherNodeKeys is the decrypter of a node that has never seen a key: it must find them in the database.
func (e *env) otherNodeKeys() *subscription.Keys {
	return subscription.NewKeys(e.openStore(), func() subscription.Sealer { return e.sealer })
}

func messageText(t *testing.T, plain []byte) string {
	t.Helper()
	var msg struct {
		ID   string `json:"id"`
		Body struct {
			Content string `json:"content"`
		} `json:"body"`
	}
	require.NoError(t, json.Unmarshal(plain, &msg))
	return msg.Body.Content
}

func TestRichNotificationsCanBeDecryptedOnAnyNode(t *testing.T) {
	e := newEnv(t)
	e.set(func(s *subscription.Settings) { s.RichNotifications = true })
	m := e.manager("node-1", e.store)
	e.reconcile(m)
	st := e.state()
	require.NotEmpty(t, st.CertificateID)
	require.Len(t, e.sim.Changes().Subscriptions(), 1)
	assert.True(t, e.sim.Changes().Subscriptions()[0].IncludeResourceData)

	c := e.send("hello rich world")
	require.NotNil(t, c.Encrypted, "the item carries the message, encrypted")
	assert.Equal(t, st.CertificateID, c.Encrypted.EncryptionCertificateID)
	plain, err := e.otherNodeKeys().Decrypt(context.Background(), c.Encrypted)
	require.NoError(t, err)
	assert.Contains(t, messageText(t, plain), "hello rich world")

	_, err = e.otherNodeKeys().Decrypt(context.Background(), &richnotify.EncryptedContent{EncryptionCertificateID: "nope", Data: "x"})
	assert.ErrorIs(t, err, richnotify.ErrUnknownCertificate)

	// Turning rich notifications off is a settings change: a plain subscription replaces it.
	e.set(func(s *subscription.Settings) { s.RichNotifications = false })
	e.reconcile(m)
	assert.Empty(t, e.state().CertificateID)
	assert.Nil(t, e.send("plain again").Encrypted)
}

func TestKeyRotationRecreatesTheSubscriptionWhenGraphCannotPatch(t *testing.T) {
	e := newEnv(t)
	e.set(func(s *subscription.Settings) { s.RichNotifications = true })
	m, err := subscription.New(subscription.Deps{
		Store:    e.store,
		Graph:    func() subscription.Graph { return noCertificatePatch{e.graph.App()} },
		Settings: e.Settings,
		Keys:     subscription.NewKeys(e.store, func() subscription.Sealer { return e.sealer }),
		OnGap:    func(_ context.Context, since time.Time) { e.gaps <- since },
		Logger:   logger{t},
		Now:      e.clock.Now,
	}, testOptions)
	require.NoError(t, err)
	e.first = m
	e.reconcile(m)
	first := e.state()
	old := e.send("before rotation")

	e.clock.Advance(25 * time.Hour) // the 48 h test certificate is inside its 24 h rotation window
	e.reconcile(m)
	st := e.state()
	assert.NotEqual(t, first.CertificateID, st.CertificateID)
	// Without the certificate PATCH the subscription is replaced, and that is a gap.
	assert.NotEqual(t, first.SubscriptionID, st.SubscriptionID)
	assert.Equal(t, []string{st.SubscriptionID}, e.remote())
	assert.Equal(t, first.LastGoodAt, e.waitGap())

	fresh := e.send("after rotation")
	assert.Equal(t, st.CertificateID, fresh.Encrypted.EncryptionCertificateID)
	keys := e.otherNodeKeys()
	plain, err := keys.Decrypt(context.Background(), old.Encrypted)
	require.NoError(t, err, "an item still waiting with the old key stays readable")
	assert.Contains(t, messageText(t, plain), "before rotation")
	plain, err = keys.Decrypt(context.Background(), fresh.Encrypted)
	require.NoError(t, err)
	assert.Contains(t, messageText(t, plain), "after rotation")
}

func TestKeyRotationPatchesTheCertificateInPlace(t *testing.T) {
	e := newEnv(t)
	e.set(func(s *subscription.Settings) { s.RichNotifications = true })
	m, err := subscription.New(subscription.Deps{
		Store:    e.store,
		Graph:    func() subscription.Graph { return e.graph.App() },
		Settings: e.Settings,
		Keys:     subscription.NewKeys(e.store, func() subscription.Sealer { return e.sealer }),
		OnGap:    func(_ context.Context, since time.Time) { e.gaps <- since },
		Logger:   logger{t},
		Now:      e.clock.Now,
	}, testOptions)
	require.NoError(t, err)
	e.first = m
	e.reconcile(m)
	first := e.state()
	old := e.send("before rotation")

	e.clock.Advance(25 * time.Hour)
	e.reconcile(m)
	st := e.state()
	assert.NotEqual(t, first.CertificateID, st.CertificateID)
	assert.Equal(t, first.SubscriptionID, st.SubscriptionID, "patched in place")
	e.noGap()

	fresh := e.send("after rotation")
	assert.Equal(t, st.CertificateID, fresh.Encrypted.EncryptionCertificateID)
	keys := e.otherNodeKeys()
	_, err = keys.Decrypt(context.Background(), old.Encrypted)
	require.NoError(t, err)
	plain, err := keys.Decrypt(context.Background(), fresh.Encrypted)
	require.NoError(t, err)
	assert.Contains(t, messageText(t, plain), "after rotation")

	// Once the old certificate has long expired, its key is deleted; the current one never is.
	e.clock.Advance(30 * 24 * time.Hour)
	e.reconcile(m)
	_, err = e.otherNodeKeys().Decrypt(context.Background(), old.Encrypted)
	assert.ErrorIs(t, err, richnotify.ErrUnknownCertificate)
}

// noCertificatePatch is a Graph client without UpdateSubscriptionCertificate, as an older or restricted
// client would be: the manager must fall back to recreating the subscription.
type noCertificatePatch struct{ subscription.Graph }
