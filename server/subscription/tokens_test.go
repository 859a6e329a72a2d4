package subscription_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/config"
	"github.com/teamsnotify/msteams-sync/server/diagnostics"
	"github.com/teamsnotify/msteams-sync/server/richnotify"
	"github.com/teamsnotify/msteams-sync/server/subscription"
	"github.com/teamsnotify/msteams-sync/server/webhook"
)

// A tenant where Microsoft Graph Change Tracking lacks its app role sends rich notifications with
// "validationTokens": null. The messages must still arrive (fetched from Graph instead of decrypted), and the
// admin status must say what is wrong and how to fix it in Entra.
func TestRichNotificationsWithoutValidationTokensAreFetchedInstead(t *testing.T) {
	e := newEnv(t)
	cfg := config.Defaults()
	cfg.TenantID, cfg.ClientID, cfg.ClientSecret, cfg.WebhookSecret = tenantID, clientID, "client-secret", "Zt8qW3nLx6Rv1Kp9Ym4Hc7Bd2Gf5Js0A"
	cfg.Cloud, cfg.CustomAuthorityURL, cfg.CustomGraphURL = config.CloudCustom, e.sim.AuthorityURL(), e.sim.GraphURL()
	cfg.EncryptionKey, cfg.SyncNotifications = "test-encryption-key-0123456789abcdef", true
	require.NoError(t, cfg.Validate())
	iss, err := cfg.TokenIssuers()
	require.NoError(t, err)
	v, err := richnotify.NewValidator(richnotify.ValidatorConfig{ClientID: clientID, JWKSURL: iss.JWKSURL,
		AuthorityHost: iss.V2Prefix, V1IssuerHost: iss.V1Prefix, HTTPClient: e.graph.HTTPClient()})
	require.NoError(t, err)
	e.mu.Lock()
	e.validator = v
	e.mu.Unlock()

	e.set(func(s *subscription.Settings) { s.RichNotifications = true })
	m := e.manager("node-1", e.store)
	e.reconcile(m)
	diag, err := diagnostics.New(diagnostics.Deps{Store: e.store, Subscriptions: m,
		Settings: func() config.Configuration { return cfg }, UnverifiedRich: e.changes.UnverifiedRich})
	require.NoError(t, err)

	// With the tenant set up right the item carries the message, vouched for by its token.
	require.NotNil(t, e.send("with tokens").Encrypted)
	assert.Empty(t, diag.Report(context.Background()).Problems)

	e.sim.Changes().SetValidationTokensNull(true)
	c := e.send("tokens are null")
	assert.Nil(t, c.Encrypted, "queued as a plain change: delivery fetches the message from Graph")
	assert.Equal(t, e.chat, c.ChatID)
	msg, err := e.graph.App().GetMessage(context.Background(), c.ChatID, c.MessageID)
	require.NoError(t, err)
	assert.Contains(t, msg.BodyHTML, "tokens are null")
	assert.Equal(t, int64(1), e.changes.UnverifiedRich().Count)
	assert.Equal(t, webhook.UnverifiedNoTokens, e.changes.UnverifiedRich().LastReason)

	report := diag.Report(context.Background())
	status := report.Markdown()
	for _, want := range []string{"validationTokens: null", "Microsoft Graph Change Tracking", "0bf30f3b-4a52-48df-9a82-234910c4a086",
		"Assignment required?", "Enterprise applications"} {
		assert.Contains(t, status, want)
	}
	packet, err := diag.SupportPacket(context.Background())
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(packet.Body, &back))
	require.Contains(t, back, "unverified_rich_notifications")
	assert.Contains(t, back["unverified_rich_notifications"].(map[string]any)["how_to_fix"], "Microsoft Graph Change Tracking")
}
