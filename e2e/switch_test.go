package e2e

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
	"github.com/teamsnotify/msteams-sync/graphsim"
)

// The official plugin's settings as it leaves them: a 32-character key used as raw AES bytes, and a webhook
// secret that is the clientState of its subscription (shared/reference/official-plugin-data.md).
const (
	officialKey    = "Qm7tX2vB9kR4wL6yN3pZ8cF1hJ5sD0gA"
	officialSecret = "official-plugin-webhook-secret"
)

// TestSwitchFromTheOfficialPlugin: a server where the official plugin ran (its tables, its settings, its live
// subscription) gets our bundle uploaded over it. Without any user action, the previously connected user receives
// messages as DMs (also those sent while neither plugin delivered), each exactly once; the whitelist and the pending
// invitation carry over; the official subscription is replaced by ours; admin status says what was taken over.
func TestSwitchFromTheOfficialPlugin(t *testing.T) {
	s := harness.Start(t, newestVersion())
	tm := harness.StartTeams(t, s.URL)
	cs := tm.Sim.Changes().Settings()
	cs.RetryBase, cs.RetryMaxDelay = 200*time.Millisecond, time.Second
	tm.Sim.Changes().SetSettings(cs)
	st := &harness.Stack{Server: s, Teams: tm}
	alice := st.NewPair(t, "alice", "Alice Adams") // connected in the official plugin
	dave := st.NewPair(t, "dave", "Dave Dunn")     // connected once, then disconnected
	carol := st.NewPair(t, "carol", "Carol Clark") // whitelisted and invited, never connected
	bob := tm.AddUser(t, "bob", "Bob Brown")       // writes to Alice in Teams
	chat := tm.Chat(t, "", bob, alice.Teams)

	// The official plugin, running: its stand-in answers Graph's handshake, so its subscription is created as the
	// official plugin's was, with its settings in the config.
	settings := tm.PluginSettings()
	settings["encryptionkey"], settings["webhooksecret"] = officialKey, officialSecret
	settings["connectedusersrestricted"] = true
	s.PatchPluginConfig(settings)
	s.InstallPlugin(harness.BuildPluginBundle(t, "./internal/officialstandin",
		&model.Manifest{Id: harness.PluginID, Name: "MS Teams (official plugin stand-in)", Version: "2.3.2"}))
	g := newGraphApp(t, tm)
	officialSub := g.createOfficialSubscription(t, s.URL)

	switchStart := time.Now()
	writeOfficialData(t, s.DSN, officialSub, []officialUser{
		{mm: alice.MM.Id, teams: alice.Teams.ID, token: g.delegatedToken(t, s.URL, alice.Teams.ID),
			connectedAt: switchStart.Add(-30 * 24 * time.Hour), lastReceived: switchStart.Add(-time.Second)},
		{mm: dave.MM.Id, teams: dave.Teams.ID, connectedAt: switchStart.Add(-60 * 24 * time.Hour)},
	}, carol.MM.Id)
	// The official plugin turned notifications on when Alice connected (the preference both plugins share).
	_, err := s.Admin.UpdatePreferences(context.Background(), alice.MM.Id, model.Preferences{{UserId: alice.MM.Id,
		Category: "pp_" + harness.PluginID, Name: "notifications", Value: "on"}})
	require.NoError(t, err)

	// Sent while the official plugin no longer delivers (it takes the notification and drops it): only a catch-up
	// from its last delivery to Alice can bring it.
	before := tm.Sim.Changes().Stats().Succeeded
	tm.Send(t, chat, graphsim.NewMessage{From: bob.ID, HTML: "sent before the switch"})
	deadline := time.Now().Add(deliveryWait)
	for tm.Sim.Changes().Stats().Succeeded == before {
		require.False(t, time.Now().After(deadline), "graphsim never delivered to the official plugin")
		time.Sleep(50 * time.Millisecond)
	}

	// The switch: the admin uploads our bundle in its place.
	s.DisablePlugin()
	tm.Send(t, chat, graphsim.NewMessage{From: bob.ID, HTML: "sent during the switch"})
	s.UploadPlugin(harness.BundlePath(t))
	s.EnablePlugin()
	st.Bot = s.Bot("msteams")
	w := &world{Stack: st, alice: alice}

	w.waitForPost(t, alice.MM, "sent before the switch")
	w.waitForPost(t, alice.MM, "sent during the switch")
	tm.Send(t, chat, graphsim.NewMessage{From: bob.ID, HTML: "sent after the switch"})
	w.waitForPost(t, alice.MM, "sent after the switch")

	// Ours replaced the official subscription.
	deadline = time.Now().Add(deliveryWait)
	for {
		subs := tm.Sim.Changes().Subscriptions()
		var ids []string
		for _, sub := range subs {
			ids = append(ids, sub.ID)
		}
		if len(subs) == 1 && subs[0].ID != officialSub {
			break
		}
		require.False(t, time.Now().After(deadline), "the official subscription was not replaced by ours: %v", ids)
		time.Sleep(250 * time.Millisecond)
	}
	w.settle(t, chat, bob, alice.MM, "after the subscription switch")
	for _, text := range []string{"sent before the switch", "sent during the switch", "sent after the switch"} {
		require.Equal(t, 1, w.botPostsContaining(alice.MM, text), "%q exactly once; the DM channel holds:\n%s",
			text, dump(w.DirectPosts(alice.MM, w.Bot.Id)))
	}
	require.Equal(t, "Connected", connectionState(t, s, alice.MM), "Alice never signed in again")
	require.Empty(t, w.DirectPosts(dave.MM, w.Bot.Id), "a user who had disconnected gets nothing")

	// The whitelist and the invitation carried over.
	admin := s.NewUser("switchadmin")
	_, err = s.Admin.UpdateUserRoles(context.Background(), admin.Id, model.SystemUserRoleId+" "+model.SystemAdminRoleId)
	require.NoError(t, err)
	stats := pluginGet(t, s, admin, "/api/v1/admin/stats")
	require.Contains(t, stats, `"connected":1`)
	require.Contains(t, stats, `"pending_invites":1`)
	require.Contains(t, stats, `"whitelist_size":1`)
	require.Contains(t, pluginGet(t, s, admin, "/api/v1/admin/whitelist.csv"), carol.Teams.Mail)

	status := s.Command(t, admin, "/msteams admin status")
	require.Contains(t, status, "1 connected users (no sign-in needed), 1 disconnected users, 1 whitelist entries, 1 invitations")

	// The official plugin's tables are left as they were, so going back stays possible.
	conn, err := pgx.Connect(context.Background(), s.DSN)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var tokens int
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*) FROM msteamssync_users WHERE token <> ''`).Scan(&tokens))
	require.Equal(t, 1, tokens)
}

// connectionState reads the user's own connection through the plugin's API.
func connectionState(t *testing.T, s *harness.Server, u *harness.User) string {
	body := pluginGet(t, s, u, "/api/v1/me")
	if strings.Contains(body, `"connected":true`) {
		return "Connected"
	}
	return body
}

func pluginGet(t *testing.T, s *harness.Server, u *harness.User, path string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+"/plugins/"+harness.PluginID+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+u.Client.AuthToken)
	resp, err := u.Client.HTTPClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", path, b)
	return string(b)
}

// graphApp calls graphsim as the app registration, as the official plugin did.
type graphApp struct {
	tm    *harness.Teams
	hc    *http.Client
	token string
}

func newGraphApp(t *testing.T, tm *harness.Teams) *graphApp {
	g := &graphApp{tm: tm, hc: tm.Sim.HTTPClient()}
	tok := g.tokenRequest(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {harness.TeamsClientID},
		"client_secret": {harness.TeamsClientSecret}, "scope": {"https://graph.microsoft.com/.default"}})
	g.token = tok["access_token"].(string)
	return g
}

func (g *graphApp) tokenRequest(t *testing.T, form url.Values) map[string]any {
	t.Helper()
	resp, err := g.hc.PostForm(g.tm.Sim.TokenURL(harness.TeamsTenantID), form)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, http.StatusOK, resp.StatusCode, "token request: %v", out)
	return out
}

// createOfficialSubscription creates the subscription the official plugin keeps: plain notifications of every chat
// message, to the plugin's route, with the official webhook secret as clientState, for 2 hours.
func (g *graphApp) createOfficialSubscription(t *testing.T, siteURL string) string {
	t.Helper()
	base := siteURL + "/plugins/" + harness.PluginID
	body, _ := json.Marshal(map[string]any{
		"changeType": "created,deleted,updated", "resource": "chats/getAllMessages",
		"notificationUrl": base + "/changes", "lifecycleNotificationUrl": base + "/lifecycle",
		"clientState": officialSecret, "expirationDateTime": time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339),
	})
	req, err := http.NewRequest(http.MethodPost, g.tm.Sim.GraphURL()+"/subscriptions", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, http.StatusCreated, resp.StatusCode, "create the official subscription: %v", out)
	return out["id"].(string)
}

// delegatedToken signs the Teams user in as the official plugin did and returns its stored form: the JSON of an
// oauth2.Token, sealed with the official key.
func (g *graphApp) delegatedToken(t *testing.T, siteURL, teamsUserID string) string {
	t.Helper()
	redirect := strings.TrimRight(siteURL, "/") + harness.RedirectPath
	authorize := g.tm.Sim.AuthorizeURL(harness.TeamsTenantID) + "?" + url.Values{"client_id": {harness.TeamsClientID},
		"response_type": {"code"}, "redirect_uri": {redirect}, "state": {"official"},
		"scope": {"https://graph.microsoft.com/.default offline_access"}}.Encode()
	back, err := g.tm.Sim.CompleteSignIn(authorize, teamsUserID)
	require.NoError(t, err)
	tok := g.tokenRequest(t, url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")},
		"redirect_uri": {redirect}, "client_id": {harness.TeamsClientID}, "client_secret": {harness.TeamsClientSecret},
		"scope": {"https://graph.microsoft.com/.default offline_access"}})
	expiresIn, _ := tok["expires_in"].(float64)
	plaintext, err := json.Marshal(map[string]any{"access_token": tok["access_token"], "token_type": "Bearer",
		"refresh_token": tok["refresh_token"], "expiry": time.Now().Add(time.Duration(expiresIn) * time.Second).Format(time.RFC3339Nano)})
	require.NoError(t, err)
	block, err := aes.NewCipher([]byte(officialKey))
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.URLEncoding.EncodeToString(aead.Seal(nonce, nonce, plaintext, nil))
}

type officialUser struct {
	mm, teams, token          string
	connectedAt, lastReceived time.Time
}

// writeOfficialData creates the official plugin's tables in the Mattermost database as it does (unquoted names,
// Unix microseconds) with its users, one whitelisted and invited user, and its subscription row.
func writeOfficialData(t *testing.T, dsn, subscriptionID string, users []officialUser, whitelisted string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `
		CREATE TABLE IF NOT EXISTS msteamssync_users (mmUserID VARCHAR(255), msTeamsUserID VARCHAR(255), token TEXT,
			lastConnectAt BIGINT NOT NULL DEFAULT 0, lastDisconnectAt BIGINT NOT NULL DEFAULT 0,
			LastChatSentAt BIGINT NOT NULL DEFAULT 0, LastChatReceivedAt BIGINT NOT NULL DEFAULT 0,
			PRIMARY KEY (mmUserID, msTeamsUserID));
		CREATE TABLE IF NOT EXISTS msteamssync_whitelist (mmUserID VARCHAR(255) PRIMARY KEY);
		CREATE TABLE IF NOT EXISTS msteamssync_invited_users (mmUserID VARCHAR(255) PRIMARY KEY,
			invitePendingSince BIGINT, inviteLastSentAt BIGINT);
		CREATE TABLE IF NOT EXISTS msteamssync_subscriptions (subscriptionID VARCHAR(255) PRIMARY KEY, type VARCHAR(255),
			msTeamsTeamID VARCHAR(255), msTeamsChannelID VARCHAR(255), msTeamsUserID VARCHAR(255), secret VARCHAR(255),
			expiresOn BIGINT, certificate TEXT, lastActivityAt BIGINT);`)
	require.NoError(t, err)
	for _, u := range users {
		var received int64
		if !u.lastReceived.IsZero() {
			received = u.lastReceived.UnixMicro()
		}
		_, err = conn.Exec(ctx, `INSERT INTO msteamssync_users (mmUserID, msTeamsUserID, token, lastConnectAt, LastChatReceivedAt)
			VALUES ($1, $2, $3, $4, $5)`, u.mm, u.teams, u.token, u.connectedAt.UnixMicro(), received)
		require.NoError(t, err)
	}
	invited := time.Now().Add(-48 * time.Hour).UnixMicro()
	_, err = conn.Exec(ctx, `INSERT INTO msteamssync_whitelist VALUES ($1)`, whitelisted)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `INSERT INTO msteamssync_invited_users VALUES ($1, $2, $2)`, whitelisted, invited)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `INSERT INTO msteamssync_subscriptions (subscriptionID, type, secret, expiresOn)
		VALUES ($1, 'allChats', $2, $3)`, subscriptionID, officialSecret, time.Now().Add(2*time.Hour).UnixMicro())
	require.NoError(t, err)
}
