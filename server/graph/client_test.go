package graph

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/teamsnotify/msteams-sync/server/config"
)

func TestTransportTrustsTheCustomCA(t *testing.T) {
	cloud := newFakeCloud(t)
	get := func(tr http.RoundTripper) error {
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(cloud.baseURL() + "/" + testTenant + "/v2.0/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
		return err
	}

	withCA, err := NewTransport(cloud.caPEM())
	require.NoError(t, err)
	assert.NoError(t, get(withCA), "the server's certificate is trusted through the configured CA")

	systemOnly, err := NewTransport("")
	require.NoError(t, err)
	err = get(systemOnly)
	require.Error(t, err, "without the CA the test server's self-signed certificate is refused")
	assert.Contains(t, err.Error(), "certificate")

	_, err = NewTransport("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----")
	assert.EqualError(t, err, "custom CA certificate: no PEM certificate could be parsed")
}

func TestAppClientAuthenticatesAgainstTheConfiguredCloud(t *testing.T) {
	// Authority, token scope, allowed host, base URL and CA all have to be right for this call to succeed: the
	// fake Graph refuses requests without the app token, and the token endpoint refuses a scope for another host.
	cloud := newFakeCloud(t)
	cloud.handle("GET /users/jane@contoso.com", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "id,displayName,mail,userPrincipalName,proxyAddresses", r.URL.Query().Get("$select"))
		writeJSON(w, http.StatusOK, map[string]any{
			"id": "u-1", "displayName": "Jane Doe", "mail": "jane@contoso.com", "userPrincipalName": "jane@contoso.com",
			"proxyAddresses": []string{"SMTP:jane@contoso.com", "smtp:jd@contoso.com"},
		})
	})
	factory := cloud.factory(Options{})

	u, err := factory.App().GetUser(context.Background(), "jane@contoso.com")
	require.NoError(t, err)
	assert.Equal(t, User{ID: "u-1", DisplayName: "Jane Doe", Mail: "jane@contoso.com", UserPrincipalName: "jane@contoso.com",
		ProxyAddresses: []string{"SMTP:jane@contoso.com", "smtp:jd@contoso.com"}}, u)

	_, err = factory.App().GetUser(context.Background(), "jane@contoso.com")
	require.NoError(t, err)
	cloud.mu.Lock()
	assert.Equal(t, 1, cloud.tokenCalls, "the app token is cached between calls")
	cloud.mu.Unlock()
}

func TestAppClientReportsARejectedSecretWithoutLeakingIt(t *testing.T) {
	cloud := newFakeCloud(t)
	cfg := cloud.config()
	cfg.ClientSecret = "Wrong~secret-value-123"
	factory, err := NewFactory(cfg, Options{})
	require.NoError(t, err)

	_, err = factory.App().GetUser(context.Background(), "u-1")
	require.Error(t, err)
	assert.True(t, IsUnauthorized(err))
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.True(t, apiErr.TokenError)
	assert.Equal(t, http.StatusUnauthorized, apiErr.Status)
	assert.Equal(t, "invalid_client", apiErr.Code)
	assert.Equal(t, "AADSTS7000215: Invalid client secret provided.", apiErr.Message)
	assert.NotContains(t, err.Error(), cfg.ClientSecret)
	assert.True(t, strings.HasPrefix(err.Error(), "get user: token request failed with status 401 (invalid_client)"), err.Error())
}

func TestDelegatedClientUsesTheUsersToken(t *testing.T) {
	cloud := newFakeCloud(t)
	cloud.handle("GET /me", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "Bearer "+userToken, r.Header.Get("Authorization"))
		assert.Equal(t, "id,displayName,mail,userPrincipalName,proxyAddresses", r.URL.Query().Get("$select"))
		writeJSON(w, http.StatusOK, map[string]any{"id": "u-2", "displayName": "Sam", "mail": nil, "userPrincipalName": "sam@contoso.com"})
	})
	factory := cloud.factory(Options{})

	client, err := factory.Delegated(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: userToken, Expiry: time.Now().Add(time.Hour)}))
	require.NoError(t, err)
	me, err := client.GetMe(context.Background())
	require.NoError(t, err)
	assert.Equal(t, User{ID: "u-2", DisplayName: "Sam", UserPrincipalName: "sam@contoso.com"}, me)

	cloud.mu.Lock()
	assert.Zero(t, cloud.tokenCalls, "a delegated client never asks for an app token")
	cloud.mu.Unlock()
}

func TestDelegatedClientSurfacesARefreshFailure(t *testing.T) {
	cloud := newFakeCloud(t)
	cloud.tokenHandler = func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"error": "invalid_grant", "error_description": "AADSTS700082: The refresh token has expired due to inactivity.\r\nTrace ID: x",
		})
	}
	factory := cloud.factory(Options{})
	conf := factory.OAuth2Config("https://mm.test/plugins/com.mattermost.msteams-sync/oauth-redirect")
	ts := conf.TokenSource(factory.OAuth2Context(context.Background()), &oauth2.Token{RefreshToken: "stale", Expiry: time.Now().Add(-time.Minute)})
	client, err := factory.Delegated(ts)
	require.NoError(t, err)

	_, err = client.GetMe(context.Background())
	require.Error(t, err)
	assert.True(t, IsUnauthorized(err))
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, APIError{Status: 400, Code: "invalid_grant", Message: "AADSTS700082: The refresh token has expired due to inactivity.", TokenError: true}, *apiErr)
}

func TestOAuth2ConfigTargetsTheTenantOnTheConfiguredAuthority(t *testing.T) {
	cloud := newFakeCloud(t)
	factory := cloud.factory(Options{})
	conf := factory.OAuth2Config("https://mm.test/redirect")

	assert.Equal(t, cloud.baseURL()+"/"+testTenant+"/oauth2/v2.0/authorize", conf.Endpoint.AuthURL)
	assert.Equal(t, cloud.baseURL()+"/"+testTenant+"/oauth2/v2.0/token", conf.Endpoint.TokenURL)
	assert.Equal(t, []string{"https://graph.microsoft.com/.default", "offline_access"}, conf.Scopes)
	assert.Equal(t, "https://mm.test/redirect", conf.RedirectURL)
	assert.Equal(t, testClient, conf.ClientID)

	authURL, err := url.Parse(conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption("verifier-verifier-verifier-verifier-verifier")))
	require.NoError(t, err)
	assert.Equal(t, "https://graph.microsoft.com/.default offline_access", authURL.Query().Get("scope"))
	assert.Equal(t, "S256", authURL.Query().Get("code_challenge_method"))

	// The exchange goes over TLS to a host only the custom CA vouches for: it works only through OAuth2Context.
	tok, err := conf.Exchange(factory.OAuth2Context(context.Background()), "code-1", oauth2.VerifierOption("verifier-verifier-verifier-verifier-verifier"))
	require.NoError(t, err)
	assert.Equal(t, userToken, tok.AccessToken)
	assert.Equal(t, "refresh-code-1", tok.RefreshToken)

	_, err = conf.Exchange(context.Background(), "code-2")
	require.Error(t, err, "without the CA-trusting client the exchange fails")
}

func TestFactoryForNationalClouds(t *testing.T) {
	for _, cloudName := range []string{config.CloudCommercial, config.CloudGCCHigh, config.CloudDoD, config.CloudChina} {
		t.Run(cloudName, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.Cloud = cloudName
			cfg.TenantID, cfg.ClientID, cfg.ClientSecret = testTenant, testClient, testSecret
			f, err := NewFactory(cfg, Options{})
			require.NoError(t, err)
			want, _ := cfg.Endpoints()
			assert.Equal(t, want, f.Endpoints())
			conf := f.OAuth2Config("https://mm.test/r")
			assert.Equal(t, want.AuthorityHost+"/"+testTenant+"/oauth2/v2.0/token", conf.Endpoint.TokenURL)
			assert.Equal(t, []string{want.GraphScope, "offline_access"}, conf.Scopes)
			assert.Equal(t, want.GraphBaseURL, f.App().adapter.GetBaseUrl())
		})
	}

	cfg := config.Defaults()
	cfg.Cloud = "mars"
	_, err := NewFactory(cfg, Options{})
	assert.EqualError(t, err, `resolve Microsoft cloud endpoints: unknown Microsoft cloud "mars"`)
}

func TestClientOptionsMatchTheRequiredSDKVersion(t *testing.T) {
	// The plugin does not link msgraph-sdk-go's root package, so its version for the SdkVersion telemetry header is
	// written down in defaultClientOptions; it must follow go.mod when the SDK is upgraded.
	mod, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^\s*github\.com/microsoftgraph/msgraph-sdk-go v(\S+)`).FindSubmatch(mod)
	require.NotNil(t, m, "msgraph-sdk-go not found in go.mod")
	assert.Equal(t, string(m[1]), defaultClientOptions().GraphServiceLibraryVersion)

	cloud := newFakeCloud(t)
	cloud.handle("GET /users/u-1", func(w http.ResponseWriter, r *http.Request) {
		assert.True(t, strings.HasPrefix(r.Header.Get("SdkVersion"), "graph-go/"+string(m[1])+", graph-go-core/"), r.Header.Get("SdkVersion"))
		assert.Equal(t, "application/json", r.Header.Get("Accept"))
		writeJSON(w, http.StatusOK, map[string]any{"id": "u-1"})
	})
	u, err := cloud.factory(Options{}).App().GetUser(context.Background(), "u-1")
	require.NoError(t, err)
	assert.Equal(t, "u-1", u.ID)
}
