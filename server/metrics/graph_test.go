package metrics_test

import (
	"context"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/metrics"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

func TestGraphCallsAreCountedByRouteTokenKindAndStatus(t *testing.T) {
	e := newSimEnv(t, graph.Options{MaxRetries: -1})
	ctx := context.Background()
	app := e.factory.App()

	msgID, err := e.sim.SendMessage(e.chat, graphsim.NewMessage{From: aliceID, HTML: "<p>hello</p>"})
	require.NoError(t, err)

	_, err = app.GetChat(ctx, e.chat)
	require.NoError(t, err)
	_, err = app.GetMessage(ctx, e.chat, msgID)
	require.NoError(t, err)
	_, err = app.GetMessage(ctx, e.chat, msgID)
	require.NoError(t, err)

	e.sim.InjectFault(graphsim.Fault{Route: "GET /chats/{id}/messages/{id}", Status: 429, RetryAfter: 7, Count: 1})
	_, err = app.GetMessage(ctx, e.chat, msgID)
	require.True(t, graph.IsThrottled(err), "the injected 429 reaches the caller: %v", err)

	fams := scrape(t, e.m)
	const msgRoute = "GET /chats/{id}/messages/{id}"
	assert.Equal(t, 2.0, mustValue(t, fams, "msteams_notify_graph_requests_total", map[string]string{"endpoint": msgRoute, "token": "app", "code": "200"}))
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_graph_requests_total", map[string]string{"endpoint": msgRoute, "token": "app", "code": "429"}))
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_graph_requests_total", map[string]string{"endpoint": "GET /chats/{id}", "token": "app", "code": "200"}))
	assert.Equal(t, 3.0, mustValue(t, fams, "msteams_notify_graph_request_duration_seconds", map[string]string{"endpoint": msgRoute, "token": "app"}))
	// Our count agrees with what graphsim saw on the wire for the same route and token kind.
	assert.Equal(t, 3, e.sim.CallCount(msgRoute, "app"))

	// The app token was fetched once through the same transport, labelled by its grant.
	tokens := mustValue(t, fams, "msteams_notify_graph_requests_total", map[string]string{"endpoint": "POST /{tenant}/oauth2/v2.0/token", "token": "app", "code": "200"})
	assert.GreaterOrEqual(t, tokens, 1.0)

	// No label carries an id.
	for _, m := range fams["msteams_notify_graph_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			assert.NotContains(t, l.GetValue(), e.chat)
			assert.NotContains(t, l.GetValue(), msgID)
			assert.NotContains(t, l.GetValue(), simTenant)
		}
	}
}

func TestClientSecretExpiryFromTheAppRegistration(t *testing.T) {
	e := newSimEnv(t, graph.Options{})
	exp, err := e.factory.App().GetApplicationSecretExpiry(context.Background())
	require.NoError(t, err)
	e.m.SetClientSecretExpiry(exp)

	fams := scrape(t, e.m)
	assert.Equal(t, float64(exp.Unix()), mustValue(t, fams, "msteams_notify_client_secret_expiry_timestamp_seconds", nil))
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_client_secret_expiry_known", nil))
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_graph_requests_total",
		map[string]string{"endpoint": "GET /applications(appId={id})", "token": "app", "code": "200"}))
}

func TestTokenKindIsReadFromTheAccessTokenClaims(t *testing.T) {
	sim, err := graphsim.New(graphsim.Options{PlainHTTP: true})
	require.NoError(t, err)
	appTok, err := sim.SignJWT(map[string]any{"roles": []string{"Chat.Read.All"}, "tid": simTenant})
	require.NoError(t, err)
	userTok, err := sim.SignJWT(map[string]any{"scp": "Chat.Read User.Read", "tid": simTenant})
	require.NoError(t, err)

	m := metrics.New("test")
	rt := m.GraphTransport(roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	}))
	for _, c := range []struct{ auth, kind string }{
		{"Bearer " + appTok, "app"},
		{"Bearer " + userTok, "delegated"},
		{"", "none"},
		{"Bearer not-a-jwt", "unknown"},
	} {
		req, _ := http.NewRequest(http.MethodGet, "https://graph.microsoft.com/v1.0/me", nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		_, err := rt.RoundTrip(req)
		require.NoError(t, err)
		fams := scrape(t, m)
		assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_graph_requests_total", map[string]string{"endpoint": "GET /me", "token": c.kind}), c.kind)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestEndpointLabels(t *testing.T) {
	for _, c := range []struct{ method, url, want string }{
		{"GET", "https://graph.microsoft.com/v1.0/chats/19:abc_def@unq.gbl.spaces/messages/1712345678901", "GET /chats/{id}/messages/{id}"},
		{"GET", "https://graph.microsoft.com/v1.0/chats/19%3Aabc%40thread.v2/messages/17/hostedContents/aWQ9eA==/$value", "GET /chats/{id}/messages/{id}/hostedContents/{id}/$value"},
		{"POST", "https://graph.microsoft.com/v1.0/communications/getPresencesByUserId", "POST /communications/getPresencesByUserId"},
		{"GET", "https://graph.microsoft.com/v1.0/users/a1a1a1a1-0000-4000-8000-000000000001/chats/getAllMessages/delta?$top=50", "GET /users/{id}/chats/getAllMessages/delta"},
		{"GET", "https://graph.microsoft.com/v1.0/applications(appId='3f2504e0')", "GET /applications(appId={id})"},
		{"PATCH", "https://graph.microsoft.com/v1.0/subscriptions/7f105c7d-2dc5-4530-97cd-4e7ae6534c07", "PATCH /subscriptions/{id}"},
		{"GET", "https://graph.microsoft.com/beta/shares/u!aHR0cHM6Ly9/driveItem", "GET /shares/{id}/driveItem"},
		{"POST", "https://login.microsoftonline.com/7c3e1f2a-5b6d-4e8f-9a0b-1c2d3e4f5a6b/oauth2/v2.0/token", "POST /{tenant}/oauth2/v2.0/token"},
		{"GET", "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1", "GET /{tenant}/discovery/instance"},
		{"GET", "https://contoso.sharepoint.com/personal/alice_contoso_com/Documents/secret-plan.docx?tempauth=x", "GET download"},
		{"GET", "https://graph.microsoft.com/v1.0/a/b/c/d/e/f/g/h/i/j", "GET /{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}/..."},
	} {
		u, err := url.Parse(c.url)
		require.NoError(t, err)
		assert.Equal(t, c.want, metrics.Endpoint(c.method, u), c.url)
	}
}

// signIn runs the authorization-code flow against graphsim (user=<id> completes it without a browser) through
// the factory's HTTP client, as the connect package does, and returns the user's token.
func (e *simEnv) signIn(t *testing.T, userID string) *oauth2.Token {
	t.Helper()
	ctx := e.factory.OAuth2Context(context.Background())
	conf := e.factory.OAuth2Config(simRedirect)
	verifier := oauth2.GenerateVerifier()
	hc := e.factory.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)) + "&user=" + url.QueryEscape(userID))
	require.NoError(t, err)
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	tok, err := conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	return tok
}

func TestTokenRefreshesAndRevocationsAreSeenOnTheWire(t *testing.T) {
	e := newSimEnv(t, graph.Options{})
	tok := e.signIn(t, aliceID)
	ctx := e.factory.OAuth2Context(context.Background())
	conf := e.factory.OAuth2Config(simRedirect)

	refreshed, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	require.NoError(t, err)

	e.sim.RevokeGrant(aliceID, simClient, 50173)
	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshed.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re, "the caller still sees the identity platform's answer")
	assert.Equal(t, "invalid_grant", re.ErrorCode)

	fams := scrape(t, e.m)
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_tokens_refreshed_total", nil), "the code redemption is not a refresh")
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_tokens_revoked_total", map[string]string{"reason": "AADSTS50173"}))
	tokenRoute := "POST /{tenant}/oauth2/v2.0/token"
	assert.Equal(t, 2.0, mustValue(t, fams, "msteams_notify_graph_requests_total", map[string]string{"endpoint": tokenRoute, "token": "delegated", "code": "200"}),
		"the code redemption and the refresh")
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_graph_requests_total", map[string]string{"endpoint": tokenRoute, "token": "delegated", "code": "400"}),
		"the refused refresh")
}

func TestAWrongClientSecretIsNotARevocation(t *testing.T) {
	e := newSimEnv(t, graph.Options{})
	tok := e.signIn(t, aliceID)
	ctx := e.factory.OAuth2Context(context.Background())
	conf := e.factory.OAuth2Config(simRedirect)
	conf.ClientSecret = "wrong"
	_, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	require.Error(t, err)
	_, ok := value(scrape(t, e.m), "msteams_notify_tokens_revoked_total", nil)
	assert.False(t, ok)
}

func TestCollectorReadsTheSecretExpiryInTheBackground(t *testing.T) {
	e := newSimEnv(t, graph.Options{})
	var calls atomic.Int32
	_, err := e.m.NewCollector(metrics.CollectorOptions{
		Stats: storetest.NewStore(t),
		SecretExpiry: func(ctx context.Context) (time.Time, error) {
			calls.Add(1)
			return e.factory.App().GetApplicationSecretExpiry(ctx)
		},
	})
	require.NoError(t, err)

	want := float64(time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC).Unix())
	require.Eventually(t, func() bool {
		v, _ := value(scrape(t, e.m), "msteams_notify_client_secret_expiry_timestamp_seconds", nil)
		return v == want
	}, 20*time.Second, 50*time.Millisecond, "a scrape starts the read; a later scrape shows it")
	assert.Equal(t, 1.0, mustValue(t, scrape(t, e.m), "msteams_notify_client_secret_expiry_known", nil))
	assert.EqualValues(t, 1, calls.Load(), "within the TTL scrapes do not call Graph again")
}
