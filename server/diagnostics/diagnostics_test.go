package diagnostics_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/command"
	"github.com/teamsnotify/msteams-sync/server/config"
	"github.com/teamsnotify/msteams-sync/server/diagnostics"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
	"github.com/teamsnotify/msteams-sync/server/subscription"
)

const (
	simTenant = "7c3e1f2a-5b6d-4e8f-9a0b-1c2d3e4f5a6b"
	simClient = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	aliceID   = "a1a1a1a1-0000-4000-8000-000000000001"

	// Planted values that must never appear in a report.
	plantedSecret  = "Pl4nted~ClientSecret_value"
	plantedKey     = "planted-encryption-key-0123456789"
	plantedWebhook = "planted-webhook-secret-Xq7Lm2Pz9Rt4Kw8Nb3Vc6"
	plantedBody    = "PLANTED MESSAGE BODY: the merger closes friday"
)

type env struct {
	sim   *graphsim.Sim
	subs  *subscription.Manager
	st    *store.Store
	cfg   config.Configuration
	diag  *diagnostics.Diagnostics
	token string // an access token graphsim issued, planted in errors
	now   time.Time
	woken []string
	// official is what the switch from the official plugin reports.
	official *diagnostics.OfficialImport
	// replies is what the reply package reports; nil leaves the section out.
	replies *diagnostics.RepliesInfo
}

func newEnv(t *testing.T, roles []string, secretGiven string) *env {
	t.Helper()
	sim, err := graphsim.New(graphsim.Options{DisableThrottling: true})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	require.NoError(t, sim.AddApp(graphsim.AppRegistration{TenantID: simTenant, ClientID: simClient, ClientSecret: plantedSecret,
		AppRoles: roles, SecretExpires: time.Now().Add(7 * 24 * time.Hour)}))
	require.NoError(t, sim.AddUser(graphsim.User{ID: aliceID, TenantID: simTenant, DisplayName: "Alice", UserPrincipalName: "alice@contoso.test"}))

	cfg := config.Defaults()
	cfg.TenantID, cfg.ClientID, cfg.ClientSecret = simTenant, simClient, secretGiven
	cfg.EncryptionKey, cfg.WebhookSecret = plantedKey, plantedWebhook
	cfg.Cloud = config.CloudCustom
	cfg.CustomAuthorityURL, cfg.CustomGraphURL = sim.AuthorityURL(), sim.GraphURL()
	cfg.CustomCACertificate = string(sim.CACertPEM())
	cfg.SyncNotifications = true
	require.NoError(t, cfg.Validate())
	f, err := graph.NewFactory(cfg, graph.Options{})
	require.NoError(t, err)

	e := &env{sim: sim, st: storetest.NewStore(t), cfg: cfg, now: time.Now().UTC().Truncate(time.Second)}
	e.token, err = sim.SignJWT(map[string]any{"roles": []string{"Chat.Read.All"}, "tid": simTenant})
	require.NoError(t, err)

	mgr, err := subscription.New(subscription.Deps{
		Store: e.st, Graph: func() subscription.Graph { return nil },
		Settings: func() subscription.Settings { return subscription.Settings{} },
		Keys:     subscription.NewKeys(e.st, func() subscription.Sealer { return nil }),
		Logger:   nopLogger{}, NodeID: "node-a",
	}, subscription.Options{})
	require.NoError(t, err)
	e.subs = mgr
	chMgr, err := subscription.New(subscription.Deps{
		Target: subscription.ChannelTarget(func() bool { return e.cfg.ChannelNotifications }),
		Store:  e.st, Graph: func() subscription.Graph { return nil },
		Settings: func() subscription.Settings { return subscription.Settings{} },
		Keys:     subscription.NewKeys(e.st, func() subscription.Sealer { return nil }),
		Logger:   nopLogger{}, NodeID: "node-a",
	}, subscription.Options{})
	require.NoError(t, err)

	e.diag, err = diagnostics.New(diagnostics.Deps{
		Store: e.st, Subscriptions: mgr, ChannelSubscriptions: chMgr,
		Settings:       func() config.Configuration { return e.cfg },
		AppToken:       diagnostics.AppTokenFunc(f, cfg),
		SecretExpiry:   func(ctx context.Context) (time.Time, error) { return f.App().GetApplicationSecretExpiry(ctx) },
		AfterRequeue:   func(q string) { e.woken = append(e.woken, q) },
		Version:        "9.9.9",
		Now:            func() time.Time { return e.now },
		OfficialImport: func() *diagnostics.OfficialImport { return e.official },
		Replies: func(context.Context) (diagnostics.RepliesInfo, error) {
			if e.replies == nil {
				return diagnostics.RepliesInfo{}, errors.New("replies are not set up")
			}
			return *e.replies, nil
		},
	})
	require.NoError(t, err)
	return e
}

type nopLogger struct{}

func (nopLogger) LogDebug(string, ...any) {}
func (nopLogger) LogInfo(string, ...any)  {}
func (nopLogger) LogWarn(string, ...any)  {}
func (nopLogger) LogError(string, ...any) {}

// seed stores a connected user, two waiting changes, one parked change whose payload is a message body and
// whose error quotes a token and the client secret, and a subscription whose last error quotes a bearer token.
func (e *env) seed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, e.st.SaveConnection(ctx, store.Connection{MMUserID: "mm-alice", TeamsUserID: aliceID, Token: []byte("sealed"), TokenKeyID: "k", ConnectedAt: e.now}))
	require.NoError(t, e.st.ReplaceWhitelist(ctx, []string{"mm-alice", "mm-bob"}, e.now))

	require.NoError(t, e.st.EnqueueInbox(ctx, []store.InboxItem{{Queue: inbox.QueueChanges, DedupeKey: "park-me",
		Payload: []byte(`{"Message":{"body":{"content":"` + plantedBody + `"}}}`), EnqueuedAt: e.now.Add(-time.Hour)}}))
	claimed, err := e.st.ClaimInbox(ctx, inbox.QueueChanges, 1, e.now, time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	ok, err := e.st.ParkInbox(ctx, claimed[0].ID, claimed[0].Attempts, e.now,
		"fetch message: 401 with Authorization: Bearer "+e.token+" (secret "+plantedSecret+") body "+plantedBody[:0]+"token="+e.token)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, e.st.EnqueueInbox(ctx, []store.InboxItem{
		{Queue: inbox.QueueChanges, Payload: []byte(`"` + plantedBody + `"`), EnqueuedAt: e.now.Add(-2 * time.Minute)},
		{Queue: inbox.QueueChanges, Payload: []byte(`{}`), EnqueuedAt: e.now.Add(-time.Minute)},
	}))

	prev := store.SubscriptionState{Name: subscription.StateName}
	next := prev
	next.SubscriptionID, next.ExpiresAt = "sub-123", e.now.Add(48*time.Hour)
	next.LastRenewedAt = e.now.Add(-time.Hour)
	next.LastError, next.LastErrorAt = "renew failed: https://graph.example/v1.0/subscriptions?access_token="+e.token, e.now.Add(-30*time.Minute)
	require.NoError(t, e.st.SaveSubscriptionState(ctx, prev, next))
	require.NoError(t, e.st.NoteSubscriptionNotification(ctx, subscription.StateName, e.now.Add(-5*time.Minute)))
}

func assertNoSecrets(t *testing.T, what, text string, e *env) {
	t.Helper()
	for name, v := range map[string]string{"client secret": plantedSecret, "encryption key": plantedKey,
		"webhook secret": plantedWebhook, "message body": "merger closes", "access token": e.token} {
		assert.NotContainsf(t, text, v, "%s leaks the %s", what, name)
	}
	assert.NotContains(t, text, "eyJ", "%s carries something JWT-shaped", what)
}

func TestStatusReportOfAHealthyIntegration(t *testing.T) {
	e := newEnv(t, []string{"Chat.Read.All", "Presence.Read.All", "User.Read.All", "Application.Read.All"}, plantedSecret)
	e.seed(t)
	r := e.diag.Report(context.Background())

	assert.True(t, r.AppToken.OK, r.AppToken.Error)
	assert.Equal(t, []string{"Application.Read.All", "Chat.Read.All", "Presence.Read.All", "User.Read.All"}, r.AppToken.Roles)
	assert.Empty(t, r.AppToken.MissingRequired)
	assert.Empty(t, r.AppToken.MissingOptional)
	require.NotNil(t, r.SecretExpiry)
	assert.True(t, r.Settings.ClientSecretSet)
	assert.Equal(t, "9.9.9", r.PluginVersion)

	require.NotNil(t, r.Subscription)
	assert.Equal(t, "sub-123", r.Subscription.ID)
	assert.True(t, r.Subscription.Active)
	require.NotNil(t, r.Subscription.LastNotificationAt)
	assert.Equal(t, e.now.Add(-5*time.Minute), *r.Subscription.LastNotificationAt)
	assert.Contains(t, r.Subscription.LastError, "renew failed")
	assert.Equal(t, "node-a", r.Subscription.ThisNode)

	require.Len(t, r.Inbox, 1)
	assert.Equal(t, diagnostics.QueueInfo{Queue: "changes", Depth: 2, OldestAgeSeconds: 120, Parked: 1}, r.Inbox[0])
	require.Len(t, r.Parked, 1)
	assert.Contains(t, r.Parked[0].LastError, "fetch message: 401")
	assert.Contains(t, r.Parked[0].LastError, "Bearer [token]")
	assert.Equal(t, r.Parked[0].ParkedAt.Add(7*24*time.Hour), r.Parked[0].ExpiresAt, "the admin sees when the parked item will be deleted")
	assert.Equal(t, diagnostics.UserCounts{Connected: 1, Whitelisted: 2}, r.Users)

	// The secret expires within two weeks and one item is parked: both are flagged, nothing else.
	require.Len(t, r.Problems, 2, r.Problems)
	assert.Contains(t, r.Problems[0], "client secret expires")
	assert.Contains(t, r.Problems[1], "retry-parked")

	md := r.Markdown()
	for _, want := range []string{"MS Teams integration status", "`sub-123`", "| changes | 2 | 2m0s | 1 |", "Connected: 1", "App sign-in | OK"} {
		assert.Contains(t, md, want)
	}
	assertNoSecrets(t, "the Markdown report", md, e)

	fd, err := e.diag.SupportPacket(context.Background())
	require.NoError(t, err)
	assert.Equal(t, diagnostics.SupportPacketFile, fd.Filename)
	var back diagnostics.Report
	require.NoError(t, json.Unmarshal(fd.Body, &back), "the support packet file is JSON")
	assert.Equal(t, "sub-123", back.Subscription.ID)
	assertNoSecrets(t, "the support packet", string(fd.Body), e)
}

func TestStatusReportNamesMissingPermissions(t *testing.T) {
	e := newEnv(t, []string{"Chat.Read.All"}, plantedSecret)
	r := e.diag.Report(context.Background())
	assert.True(t, r.AppToken.OK)
	assert.Equal(t, []string{"Presence.Read.All"}, r.AppToken.MissingRequired)
	assert.Equal(t, []string{"Application.Read.All"}, r.AppToken.MissingOptional)
	assert.Contains(t, r.SecretError, "lacks the Application.Read.All permission", "without it the secret's expiry cannot be read")
	found := false
	for _, p := range r.Problems {
		if strings.HasSuffix(p, ": Presence.Read.All") {
			found = true
		}
	}
	assert.True(t, found, r.Problems)
	// No subscription yet: reported as a problem, not an error.
	require.NotNil(t, r.Subscription)
	assert.False(t, r.Subscription.Active)
	assert.Contains(t, r.Markdown(), "Missing (required) | Presence.Read.All |")
}

func TestStatusReportWithAWrongClientSecret(t *testing.T) {
	wrong := "Wr0ng~planted-secret-value"
	e := newEnv(t, []string{"Chat.Read.All"}, wrong)
	r := e.diag.Report(context.Background())
	assert.True(t, r.AppToken.Checked)
	assert.False(t, r.AppToken.OK)
	assert.NotEmpty(t, r.AppToken.Error)
	assert.Contains(t, r.Problems[0], "cannot sign in as the app")
	md := r.Markdown()
	assert.NotContains(t, md, wrong)
	fd, err := e.diag.SupportPacket(context.Background())
	require.NoError(t, err)
	assert.NotContains(t, string(fd.Body), wrong)
}

func TestAdminSubcommand(t *testing.T) {
	e := newEnv(t, []string{"Chat.Read.All", "Presence.Read.All", "User.Read.All"}, plantedSecret)
	e.seed(t)
	ctx := context.Background()
	admins := map[string]bool{"admin-1": true}
	sub := e.diag.AdminSubcommand(func(id string) bool { return admins[id] })
	assert.Equal(t, "admin", sub.Name)

	out, err := sub.Run(ctx, command.Call{UserID: "user-1", Args: []string{"status"}})
	require.NoError(t, err)
	assert.Equal(t, "Only system administrators can use `/msteams admin`.", out)
	out, err = sub.Run(ctx, command.Call{UserID: "user-1", Args: []string{"retry-parked"}})
	require.NoError(t, err)
	assert.Contains(t, out, "Only system administrators")
	stats, err := e.st.InboxStats(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, stats[0].Parked, "a refused command changes nothing")

	out, err = sub.Run(ctx, command.Call{UserID: "admin-1"})
	require.NoError(t, err)
	assert.Contains(t, out, "MS Teams integration status")
	assertNoSecrets(t, "the admin status answer", out, e)

	out, err = sub.Run(ctx, command.Call{UserID: "admin-1", Args: []string{"retry-parked", "attachments"}})
	require.NoError(t, err)
	assert.Equal(t, "There were no parked items to requeue.", out)

	out, err = sub.Run(ctx, command.Call{UserID: "admin-1", Args: []string{"retry-parked"}})
	require.NoError(t, err)
	assert.Contains(t, out, "Requeued 1 parked item(s)")
	assert.Equal(t, []string{""}, e.woken, "the workers are woken once, for all queues")
	stats, err = e.st.InboxStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, store.InboxQueueStats{Queue: "changes", Depth: 3, OldestEnqueuedAt: stats[0].OldestEnqueuedAt, Parked: 0}, stats[0])

	// Registered on the real /msteams handler, the subcommand answers through it.
	h := command.New(nil, nil, nil)
	h.Register(sub)
	assert.Contains(t, h.Answer(ctx, command.Call{UserID: "admin-1"}, "/msteams admin status"), "MS Teams integration status")
	assert.Contains(t, h.Answer(ctx, command.Call{UserID: "user-1"}, "/msteams admin status"), "Only system administrators")
}

// The help lists `/msteams admin` to system admins only, and the autocomplete offers it to their role only.
func TestHelpShowsTheAdminCommandToSystemAdminsOnly(t *testing.T) {
	e := newEnv(t, []string{"Chat.Read.All"}, plantedSecret)
	ctx := context.Background()
	sub := e.diag.AdminSubcommand(func(id string) bool { return id == "admin-1" })
	h := command.New(nil, nil, nil)
	h.Register(sub)

	for _, line := range []string{"/msteams help", "/msteams", "/msteams frobnicate"} {
		user := h.Answer(ctx, command.Call{UserID: "user-1"}, line)
		assert.Contains(t, user, "- `/msteams connect`: connect your Microsoft Teams account", line)
		assert.NotContains(t, user, "admin", "%s: a normal user is not shown the admin commands", line)

		admin := h.Answer(ctx, command.Call{UserID: "admin-1"}, line)
		assert.Contains(t, admin, "- `/msteams connect`: connect your Microsoft Teams account", line)
		assert.Contains(t, admin, "- `/msteams admin status|retry-parked [queue]`: check the integration's health", line)
	}

	cmd := h.Command()
	assert.NotContains(t, cmd.AutoCompleteDesc, "admin", "the description is the same for every user")
	var roles []string
	for _, s := range cmd.AutocompleteData.SubCommands {
		if s.Trigger == "admin" {
			roles = append(roles, s.RoleID)
		}
	}
	assert.Equal(t, []string{model.SystemAdminRoleId}, roles, "Mattermost autocompletes it for system admins only")
}

// The status shows when notifications last arrived as of now: this node's own time, which the database only
// receives a moment later, wins over an older stored one.
func TestStatusShowsTheNotificationThisNodeJustAccepted(t *testing.T) {
	e := newEnv(t, []string{"Chat.Read.All", "Presence.Read.All", "User.Read.All"}, plantedSecret)
	e.seed(t) // stored: five minutes ago
	just := e.now.Add(-time.Second)
	e.subs.NotificationReceived(just)

	r := e.diag.Report(context.Background())
	require.NotNil(t, r.Subscription)
	require.NotNil(t, r.Subscription.LastNotificationAt)
	assert.Equal(t, just, *r.Subscription.LastNotificationAt)
	assert.Contains(t, r.Markdown(), "| Last notification received | "+just.Format("2006-01-02 15:04:05 MST")+" |")

	// An older time accepted here does not hide a newer one another node stored.
	require.NoError(t, e.st.NoteSubscriptionNotification(context.Background(), subscription.StateName, e.now))
	r = e.diag.Report(context.Background())
	assert.Equal(t, e.now, *r.Subscription.LastNotificationAt)
}

func TestStatusSaysWhatTheSwitchFromTheOfficialPluginTookOver(t *testing.T) {
	e := newEnv(t, []string{"Chat.Read.All", "Presence.Read.All", "User.Read.All"}, plantedSecret)

	r := e.diag.Report(context.Background())
	assert.Nil(t, r.OfficialImport, "no section where the official plugin never ran")
	assert.NotContains(t, r.Markdown(), "official plugin")

	at := e.now.Add(-time.Hour)
	e.official = &diagnostics.OfficialImport{ImportedAt: &at, Connected: 12, Disconnected: 3, Whitelist: 4, Invites: 2,
		NotImported: []store.NotImported{{MMUserID: "mm-dora", Reason: "token could not be read; the user must connect again", MustReconnect: true}}}
	md := e.diag.Report(context.Background()).Markdown()
	assert.Contains(t, md, "12 connected users (no sign-in needed), 3 disconnected users, 4 whitelist entries, 2 invitations")
	assert.Contains(t, md, "| `mm-dora` | token could not be read; the user must connect again |")
	assert.Contains(t, md, "1 users of the official MS Teams plugin were not taken over as they were")

	e.official = &diagnostics.OfficialImport{Error: "the At-rest encryption key is not the one the official plugin used (key " + plantedKey + ")"}
	r = e.diag.Report(context.Background())
	md = r.Markdown()
	assert.Contains(t, md, "The switch from the official MS Teams plugin is not complete: the At-rest encryption key is not the one")
	assertNoSecrets(t, "status", md, e)
}

func TestStatusWarnsOfAWeakWebhookSecretInUse(t *testing.T) {
	e := newEnv(t, []string{"Chat.Read.All", "Presence.Read.All"}, plantedSecret)
	e.cfg.WebhookSecret = "hook-secret" // e.g. carried over from the official plugin
	r := e.diag.Report(context.Background())
	require.Len(t, r.Settings.Warnings, 1)
	md := r.Markdown()
	assert.Contains(t, md, "Webhook secret is shorter than 32 characters. Select Regenerate next to Webhook secret")
	assert.NotContains(t, md, "hook-secret", "the secret itself is never shown")

	e.cfg.WebhookSecret = plantedWebhook
	assert.Empty(t, e.diag.Report(context.Background()).Settings.Warnings)
}

func TestStatusSaysWhetherUsersCanReplyToTeams(t *testing.T) {
	e := newEnv(t, []string{"Chat.Read.All", "Presence.Read.All", "Application.Read.All"}, plantedSecret)

	e.replies = &diagnostics.RepliesInfo{RegistrationKnown: true, RegistrationAllows: false, Connected: 4}
	r := e.diag.Report(context.Background())
	require.NotNil(t, r.Replies)
	assert.Contains(t, r.Markdown(), "Off: the app registration lacks the optional delegated ChatMessage.Send permission")
	for _, p := range r.Problems {
		assert.NotContains(t, p, "ChatMessage.Send", "replies are optional: not a problem")
	}

	e.replies = &diagnostics.RepliesInfo{RegistrationKnown: true, RegistrationAllows: true, Connected: 4, CanReply: 2, Unknown: 1}
	md := e.diag.Report(context.Background()).Markdown()
	assert.Contains(t, md, "Available: the app registration has ChatMessage.Send. Connected users who can reply: 2 of 4 (1 unknown); 1 signed in before")

	e.replies = &diagnostics.RepliesInfo{Connected: 4, CanReply: 3}
	assert.Contains(t, e.diag.Report(context.Background()).Markdown(), "is unknown (reading it needs Application.Read.All)")
}

func TestStatusSaysChannelNotificationsLackTheirPermission(t *testing.T) {
	e := newEnv(t, []string{"Chat.Read.All", "Presence.Read.All", "User.Read.All", "Application.Read.All"}, plantedSecret)
	ctx := context.Background()

	r := e.diag.Report(ctx)
	assert.NotContains(t, strings.Join(r.Problems, "\n"), "ChannelMessage.Read.All", "setting off: not a problem")
	assert.NotContains(t, r.Markdown(), "channel notifications")
	assert.Nil(t, r.ChannelSubscription)

	e.cfg.ChannelNotifications = true
	r = e.diag.Report(ctx)
	assert.True(t, r.ChannelPermissionMissing, "the app token lacks the role")
	assert.Contains(t, r.Problems, diagnostics.ChannelPermissionHelp)
	assert.Contains(t, r.Markdown(), "ChannelMessage.Read.All is missing")

	// Granted in the token, but Graph refused the subscription with 403 (e.g. consent not yet effective).
	require.NoError(t, e.sim.SetAppRoles(simClient, []string{"Chat.Read.All", "ChannelMessage.Read.All"}))
	require.NoError(t, e.st.SaveSubscriptionState(ctx, store.SubscriptionState{}, store.SubscriptionState{Name: subscription.ChannelStateName,
		LastError: subscription.PermissionMissingPrefix + "create the subscription: 403", LastErrorAt: e.now}))
	r = e.diag.Report(ctx)
	require.NotNil(t, r.ChannelSubscription)
	assert.True(t, r.ChannelPermissionMissing)
	assert.Contains(t, r.Problems, diagnostics.ChannelPermissionHelp)
	assert.Contains(t, diagnostics.ChannelPermissionHelp, "Grant admin consent")
}
