package graph

import (
	"context"
	"encoding/json"
	"github.com/teamsnotify/msteams-sync/server/richnotify"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/config"
)

const (
	simTenant   = "7c3e1f2a-5b6d-4e8f-9a0b-1c2d3e4f5a6b"
	simClient   = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	simSecret   = "Xy8~secret+with/odd=chars"
	simRedirect = "https://mm.example.test/plugins/com.mattermost.msteams-sync/oauth-redirect"
	aliceID     = "a1a1a1a1-0000-4000-8000-000000000001"
	bobID       = "b2b2b2b2-0000-4000-8000-000000000002"
	carolID     = "c3c3c3c3-0000-4000-8000-000000000003"
)

type simEnv struct {
	sim     *graphsim.Sim
	factory *Factory
	cfg     config.Configuration
	dm      string
	group   string
}

// newSimEnv starts graphsim over TLS with its own CA and builds a Factory from plugin settings pointing at it,
// exactly as an administrator would configure the Custom cloud.
func newSimEnv(t *testing.T, opts Options) *simEnv {
	t.Helper()
	sim, err := graphsim.New(graphsim.Options{DisableThrottling: true})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })

	require.NoError(t, sim.AddApp(graphsim.AppRegistration{
		TenantID: simTenant, ClientID: simClient, ClientSecret: simSecret, DisplayName: "MM Teams Sync",
		RedirectURIs:  []string{simRedirect},
		AppRoles:      []string{"Chat.Read.All", "Presence.Read.All", "User.Read.All", "Files.Read.All", "Application.Read.All"},
		SecretExpires: time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC),
	}))
	for _, u := range []graphsim.User{
		{ID: aliceID, TenantID: simTenant, DisplayName: "Alice Adams", Mail: "alice@contoso.test", UserPrincipalName: "alice@contoso.test", ProxyAddresses: []string{"SMTP:alice@contoso.test", "smtp:a.adams@contoso.test"}},
		{ID: bobID, TenantID: simTenant, DisplayName: "Bob Brown", Mail: "bob@contoso.test", UserPrincipalName: "bob@contoso.test"},
		{ID: carolID, TenantID: simTenant, DisplayName: "Carol Clark", Mail: "carol@contoso.test", UserPrincipalName: "carol@contoso.test"},
	} {
		require.NoError(t, sim.AddUser(u))
	}
	e := &simEnv{sim: sim}
	e.dm, err = sim.CreateChat(graphsim.ChatSpec{ChatType: "oneOnOne", Members: []string{aliceID, bobID}})
	require.NoError(t, err)
	e.group, err = sim.CreateChat(graphsim.ChatSpec{ChatType: "group", Topic: "Launch", Members: []string{aliceID, bobID, carolID}})
	require.NoError(t, err)

	cfg := config.Defaults()
	cfg.TenantID, cfg.ClientID, cfg.ClientSecret = simTenant, simClient, simSecret
	cfg.EncryptionKey, cfg.WebhookSecret = "k", "w"
	cfg.Cloud = config.CloudCustom
	cfg.CustomAuthorityURL = sim.AuthorityURL()
	cfg.CustomGraphURL = sim.GraphURL()
	cfg.CustomCACertificate = string(sim.CACertPEM())
	require.NoError(t, cfg.Validate())
	e.cfg = cfg
	e.factory, err = NewFactory(cfg, opts)
	require.NoError(t, err)
	return e
}

// signIn runs the authorization-code flow with PKCE against graphsim's authorize endpoint (user=<id> completes
// it without a browser) and returns a delegated client for that user.
func (e *simEnv) signIn(t *testing.T, userID string) (*Client, *oauth2.Token) {
	t.Helper()
	ctx := e.factory.OAuth2Context(context.Background())
	conf := e.factory.OAuth2Config(simRedirect)
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier)) + "&user=" + url.QueryEscape(userID)

	hc := e.factory.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	back, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "state-1", back.Query().Get("state"))
	code := back.Query().Get("code")
	require.NotEmpty(t, code, back.String())

	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	require.NotEmpty(t, tok.RefreshToken, "offline_access yields a refresh token")
	client, err := e.factory.Delegated(conf.TokenSource(ctx, tok))
	require.NoError(t, err)
	return client, tok
}

func TestAgainstGraphsimDelegated(t *testing.T) {
	e := newSimEnv(t, Options{})
	alice, _ := e.signIn(t, aliceID)
	ctx := context.Background()

	me, err := alice.GetMe(ctx)
	require.NoError(t, err)
	assert.Equal(t, User{ID: aliceID, DisplayName: "Alice Adams", Mail: "alice@contoso.test", UserPrincipalName: "alice@contoso.test",
		ProxyAddresses: []string{"SMTP:alice@contoso.test", "smtp:a.adams@contoso.test"}}, me)

	chat, err := alice.GetChat(ctx, e.group)
	require.NoError(t, err)
	assert.Equal(t, "group", chat.Type)
	assert.Equal(t, "Launch", chat.Topic)
	var memberIDs []string
	for _, m := range chat.Members {
		memberIDs = append(memberIDs, m.UserID)
	}
	assert.ElementsMatch(t, []string{aliceID, bobID, carolID}, memberIDs, "member user ids, not membership ids")

	// A chat Alice is not in: graphsim answers 403 like Graph.
	solo, err := e.sim.CreateChat(graphsim.ChatSpec{ChatType: "oneOnOne", Members: []string{bobID, carolID}})
	require.NoError(t, err)
	_, err = alice.GetChat(ctx, solo)
	assert.True(t, IsForbidden(err), "%v", err)
}

func TestAgainstGraphsimRevokedGrantIsUnauthorized(t *testing.T) {
	e := newSimEnv(t, Options{})
	_, tok := e.signIn(t, bobID)
	e.sim.RevokeGrant(bobID, simClient, 700082)

	// A token source whose access token has expired must refresh, and the refresh is refused.
	tok.Expiry = time.Now().Add(-time.Minute)
	conf := e.factory.OAuth2Config(simRedirect)
	bob, err := e.factory.Delegated(conf.TokenSource(e.factory.OAuth2Context(context.Background()), tok))
	require.NoError(t, err)
	_, err = bob.GetMe(context.Background())
	require.Error(t, err)
	assert.True(t, IsUnauthorized(err), "%v", err)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "invalid_grant", apiErr.Code)
	assert.Contains(t, apiErr.Message, "AADSTS700082")
}

func TestAgainstGraphsimAppOnly(t *testing.T) {
	e := newSimEnv(t, Options{MaxRetries: -1})
	app := e.factory.App()
	ctx := context.Background()
	start := time.Now().Add(-time.Minute)

	png := []byte("\x89PNG\r\n\x1a\nsim-image")
	msgID, err := e.sim.SendMessage(e.group, graphsim.NewMessage{
		From:     bobID,
		HTML:     `<p>Hi <at id="0">Alice</at></p>{{hosted:img1}}`,
		Mentions: []graphsim.Mention{{ID: 0, MentionText: "Alice", UserID: aliceID}},
		Hosted:   []graphsim.HostedContent{{ID: "img1", ContentType: "image/png", Bytes: png}},
		Files:    []graphsim.FileRef{{Name: "plan.txt", ContentType: "text/plain", Bytes: []byte("the plan")}},
	})
	require.NoError(t, err)

	msg, err := app.GetMessage(ctx, e.group, msgID)
	require.NoError(t, err)
	assert.Equal(t, msgID, msg.ID)
	assert.Equal(t, e.group, msg.ChatID)
	assert.Equal(t, Identity{UserID: bobID, DisplayName: "Bob Brown", IdentityType: "aadUser", TenantID: msg.From.TenantID}, msg.From)
	assert.Equal(t, "html", msg.BodyType)
	require.Len(t, msg.Mentions, 1)
	assert.Equal(t, Mention{ID: 0, Text: "Alice", UserID: aliceID, DisplayName: msg.Mentions[0].DisplayName}, msg.Mentions[0])

	// The inline image: find its hosted-content id in the HTML as the plugin will.
	m := regexp.MustCompile(`hostedContents/([^/"]+)/\$value`).FindStringSubmatch(msg.BodyHTML)
	require.Len(t, m, 2, msg.BodyHTML)
	hcID, err := url.PathUnescape(m[1])
	require.NoError(t, err)
	hc, err := app.GetHostedContent(ctx, e.group, msgID, hcID, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, HostedContent{Data: png, ContentType: "image/png"}, hc)

	// The file: resolve the reference attachment and download it without a Graph token.
	var fileURL string
	for _, a := range msg.Attachments {
		if a.ContentType == "reference" {
			fileURL = a.ContentURL
			assert.Equal(t, "plan.txt", a.Name)
		}
	}
	require.NotEmpty(t, fileURL)
	item, err := app.GetDriveItemByShareURL(ctx, fileURL)
	require.NoError(t, err)
	assert.Equal(t, "plan.txt", item.Name)
	assert.Equal(t, int64(len("the plan")), item.Size)
	require.NotEmpty(t, item.DownloadURL)
	data, _, err := app.Download(ctx, item.DownloadURL, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, "the plan", string(data))

	// The same message parsed from its raw JSON matches what the client returned.
	raw := rawGraphGet(t, e, "/chats/"+url.PathEscape(e.group)+"/messages/"+msgID)
	parsed, err := MessageFromJSON(raw)
	require.NoError(t, err)
	assert.Equal(t, msg, parsed)

	// Catch-up by listing, and by the app-only delta.
	require.NoError(t, e.sim.EditMessage(e.group, msgID, "<p>edited</p>"))
	list, err := app.ListMessagesSince(ctx, e.group, start)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "<p>edited</p>", list[0].BodyHTML)
	assert.False(t, list[0].LastEditedAt.IsZero())

	var all []Message
	page, err := app.GetAllMessagesDelta(ctx, aliceID, "")
	for i := 0; err == nil && page.DeltaLink == "" && i < 10; i++ {
		all = append(all, page.Messages...)
		page, err = app.GetAllMessagesDelta(ctx, aliceID, page.NextLink)
	}
	require.NoError(t, err)
	all = append(all, page.Messages...)
	require.NotEmpty(t, page.DeltaLink)
	require.Len(t, all, 1)
	assert.Equal(t, msgID, all[0].ID)

	require.NoError(t, e.sim.DeleteMessage(e.group, msgID))
	next, err := app.GetAllMessagesDelta(ctx, aliceID, page.DeltaLink)
	require.NoError(t, err)
	require.Len(t, next.Messages, 1)
	assert.False(t, next.Messages[0].DeletedAt.IsZero(), "a delete shows up in the next delta round")

	// Presence and users.
	require.NoError(t, e.sim.SetPresence(aliceID, graphsim.Presence{Availability: "Busy", Activity: "InACall"}))
	presences, err := app.GetPresences(ctx, []string{aliceID, bobID})
	require.NoError(t, err)
	require.Len(t, presences, 2)
	assert.Contains(t, presences, Presence{UserID: aliceID, Availability: "Busy", Activity: "InACall"})
	u, err := app.GetUser(ctx, "carol@contoso.test")
	require.NoError(t, err)
	assert.Equal(t, carolID, u.ID)

	// Secret expiry from the app registration.
	expiry, err := app.GetApplicationSecretExpiry(ctx)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC), expiry)

	// Errors keep their status.
	_, err = app.GetMessage(ctx, e.group, "1")
	assert.True(t, IsNotFound(err), "%v", err)
}

func TestAgainstGraphsimThrottlingAndFaults(t *testing.T) {
	e := newSimEnv(t, Options{MaxRetries: -1})
	e.sim.InjectFault(graphsim.Fault{Route: "GET /chats/{id}", Status: 429, RetryAfter: 9, Count: 1})
	_, err := e.factory.App().GetChat(context.Background(), e.dm)
	require.Error(t, err)
	assert.True(t, IsThrottled(err), "%v", err)
	assert.Equal(t, 9*time.Second, RetryAfterOf(err))

	// The fault is spent: the next call goes through.
	chat, err := e.factory.App().GetChat(context.Background(), e.dm)
	require.NoError(t, err)
	assert.Equal(t, "oneOnOne", chat.Type)

	e.sim.FailClientSecret(simClient, true)
	fresh, err := NewFactory(e.cfg, Options{})
	require.NoError(t, err)
	_, err = fresh.App().GetChat(context.Background(), e.dm)
	assert.True(t, IsUnauthorized(err), "%v", err)
}

func TestAgainstGraphsimSubscriptions(t *testing.T) {
	e := newSimEnv(t, Options{})
	var validated atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.URL.Query().Get("validationToken"); tok != "" {
			validated.Add(1)
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(tok))
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(hook.Close)

	app := e.factory.App()
	ctx := context.Background()
	expires := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	sub, err := app.CreateSubscription(ctx, SubscriptionRequest{
		Resource: "/chats/getAllMessages", ChangeType: "created,updated,deleted",
		NotificationURL: hook.URL + "/changes", LifecycleNotificationURL: hook.URL + "/lifecycle",
		ClientState: "webhook-secret", ExpiresAt: expires,
	})
	require.NoError(t, err)
	assert.NotEmpty(t, sub.ID)
	assert.Equal(t, "/chats/getAllMessages", sub.Resource)
	assert.Equal(t, expires, sub.ExpiresAt)
	assert.Positive(t, validated.Load(), "graphsim validated the notification URL before answering")

	renewed, err := app.RenewSubscription(ctx, sub.ID, expires.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, expires.Add(time.Hour), renewed.ExpiresAt)

	got, err := app.GetSubscription(ctx, sub.ID)
	require.NoError(t, err)
	assert.Equal(t, sub.ID, got.ID)

	// Rotating the rich-notification key is a PATCH of the certificate, which keeps the subscription.
	kp, err := richnotify.GenerateKeyPair(time.Now(), richnotify.KeyOptions{})
	require.NoError(t, err)
	rotated, err := app.UpdateSubscriptionCertificate(ctx, sub.ID, kp.EncryptionCertificate(), kp.ID())
	require.NoError(t, err)
	assert.Equal(t, sub.ID, rotated.ID)
	assert.Equal(t, kp.ID(), rotated.EncryptionCertificateID)
	list, err := app.ListSubscriptions(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)

	require.NoError(t, app.ReauthorizeSubscription(ctx, sub.ID))
	require.NoError(t, app.DeleteSubscription(ctx, sub.ID))
	_, err = app.GetSubscription(ctx, sub.ID)
	assert.True(t, IsNotFound(err), "%v", err)
	require.NoError(t, app.DeleteSubscription(ctx, sub.ID), "deleting twice is fine")
}

// rawGraphGet fetches a Graph path with an app token the plain way, to compare MessageFromJSON with the SDK path.
func rawGraphGet(t *testing.T, e *simEnv, path string) []byte {
	t.Helper()
	conf := e.factory.OAuth2Config("")
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {conf.ClientID}, "client_secret": {conf.ClientSecret},
		"scope": {e.factory.Endpoints().GraphScope}}
	hc := e.factory.HTTPClient()
	resp, err := hc.PostForm(conf.Endpoint.TokenURL, form)
	require.NoError(t, err)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, decodeJSON(resp, &tok))
	req, err := http.NewRequest(http.MethodGet, e.factory.Endpoints().GraphBaseURL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = hc.Do(req)
	require.NoError(t, err)
	data, err := readBody(resp, 1<<20)
	resp.Body.Close()
	require.NoError(t, err)
	return data
}

func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
