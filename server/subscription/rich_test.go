package subscription_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pkg/errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/graph"
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

func TestKeyRotationRecreatesTheSubscriptionAndKeepsOldItemsReadable(t *testing.T) {
	e := newEnv(t)
	e.set(func(s *subscription.Settings) { s.RichNotifications = true })
	m := e.manager("node-1", e.store)
	e.reconcile(m)
	first := e.state()
	old := e.send("before rotation")

	e.clock.Advance(25 * time.Hour) // the 48 h test certificate is inside its 24 h rotation window
	e.reconcile(m)
	st := e.state()
	assert.NotEqual(t, first.CertificateID, st.CertificateID)
	// graph.Client cannot PATCH certificates, so the subscription is replaced, and that is a gap.
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

func TestKeyRotationPatchesTheCertificateWhenGraphCan(t *testing.T) {
	e := newEnv(t)
	e.set(func(s *subscription.Settings) { s.RichNotifications = true })
	m, err := subscription.New(subscription.Deps{
		Store:    e.store,
		Graph:    func() subscription.Graph { return &patchingGraph{Client: e.graph.App(), e: e} },
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

// patchingGraph adds the certificate PATCH that graph.Client does not have yet, as plain HTTP against graphsim.
type patchingGraph struct {
	*graph.Client
	e *env
}

func (p *patchingGraph) UpdateSubscriptionCertificate(ctx context.Context, id, certificate, certificateID string) (graph.Subscription, error) {
	hc := p.e.sim.HTTPClient()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {"client-secret"},
		"scope": {"https://graph.microsoft.com/.default"}}
	resp, err := hc.PostForm(p.e.sim.TokenURL(tenantID), form)
	if err != nil {
		return graph.Subscription{}, err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil {
		return graph.Subscription{}, err
	}
	body, _ := json.Marshal(map[string]string{"encryptionCertificate": certificate, "encryptionCertificateId": certificateID})
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, p.e.sim.GraphURL()+"/subscriptions/"+url.PathEscape(id), bytes.NewReader(body))
	if err != nil {
		return graph.Subscription{}, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = hc.Do(req)
	if err != nil {
		return graph.Subscription{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return graph.Subscription{}, &graph.APIError{Status: resp.StatusCode, Message: strings.TrimSpace(string(raw))}
	}
	var out struct {
		ID         string    `json:"id"`
		Expiration time.Time `json:"expirationDateTime"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return graph.Subscription{}, errors.Wrap(err, "decode subscription")
	}
	return graph.Subscription{ID: out.ID, ExpiresAt: out.Expiration}, nil
}
