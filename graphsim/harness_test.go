package graphsim_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	kauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

const (
	tenantID     = "7c3e1f2a-5b6d-4e8f-9a0b-1c2d3e4f5a6b"
	clientID     = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	clientSecret = "Xy8~secret+with/odd=chars"
	redirectURI  = "https://mm.example.test/plugins/msteams/oauth-redirect"
	aliceID      = "a1a1a1a1-0000-4000-8000-000000000001"
	bobID        = "b2b2b2b2-0000-4000-8000-000000000002"
	carolID      = "c3c3c3c3-0000-4000-8000-000000000003"
)

var graphScope = []string{"https://graph.microsoft.com/.default"}

// fakeClock is a settable clock so throttling windows and expiries are
// deterministic.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	sim   *graphsim.Sim
	clock *fakeClock
	dm    string // alice–bob 1:1
	group string // alice, bob, carol
	solo  string // carol–bob 1:1 (alice not a member)
}

type envOpt func(*graphsim.Options)

func withThrottling(o *graphsim.Options) { o.DisableThrottling = false }

// newEnv starts an HTTPS graphsim with one tenant, an app with application
// permissions, three users and three chats. Throttling is off unless asked for.
func newEnv(t *testing.T, opts ...envOpt) *env {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	o := graphsim.Options{Now: clock.Now, DisableThrottling: true}
	for _, f := range opts {
		f(&o)
	}
	sim, err := graphsim.New(o)
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })

	require.NoError(t, sim.AddApp(graphsim.AppRegistration{
		TenantID: tenantID, ClientID: clientID, ClientSecret: clientSecret, DisplayName: "MM Teams Sync",
		RedirectURIs:  []string{redirectURI},
		AppRoles:      []string{"Chat.Read.All", "Presence.Read.All", "User.Read.All", "Files.Read.All", "Application.Read.All"},
		SecretExpires: time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC),
	}))
	for _, u := range []graphsim.User{
		{ID: aliceID, TenantID: tenantID, DisplayName: "Alice Adams", Mail: "alice@contoso.test", UserPrincipalName: "alice@contoso.test", ProxyAddresses: []string{"SMTP:alice@contoso.test"}},
		{ID: bobID, TenantID: tenantID, DisplayName: "Bob Brown", Mail: "bob@contoso.test", UserPrincipalName: "bob@contoso.test"},
		{ID: carolID, TenantID: tenantID, DisplayName: "Carol Clark", Mail: "carol@contoso.test", UserPrincipalName: "carol@contoso.test"},
	} {
		require.NoError(t, sim.AddUser(u))
	}
	e := &env{sim: sim, clock: clock}
	e.dm, err = sim.CreateChat(graphsim.ChatSpec{ChatType: "oneOnOne", Members: []string{aliceID, bobID}})
	require.NoError(t, err)
	e.group, err = sim.CreateChat(graphsim.ChatSpec{ChatType: "group", Topic: "Launch", Members: []string{aliceID, bobID, carolID}})
	require.NoError(t, err)
	e.solo, err = sim.CreateChat(graphsim.ChatSpec{ChatType: "oneOnOne", Members: []string{bobID, carolID}})
	require.NoError(t, err)
	return e
}

func (e *env) host() string {
	u, _ := url.Parse(e.sim.GraphURL())
	return u.Hostname()
}

// credential is an azidentity ClientSecretCredential aimed at graphsim the
// documented way: custom authority host, instance discovery off, CA-trusting transport.
func (e *env) credential(t *testing.T, secret string) *azidentity.ClientSecretCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(tenantID, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: e.sim.AuthorityURL() + "/"},
			Transport: e.sim.HTTPClient(),
		},
		DisableInstanceDiscovery: true,
	})
	require.NoError(t, err)
	return cred
}

// graphClient builds the SDK client as graph-protocol.md §9 describes.
func (e *env) graphClient(t *testing.T, auth absauth.AuthenticationProvider) *msgraphsdk.GraphServiceClient {
	t.Helper()
	opts := msgraphcore.GraphClientOptions{GraphServiceVersion: "v1.0", GraphServiceLibraryVersion: "1.89.0"}
	hc := &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(e.sim.Transport(), msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)...),
		Timeout:   100 * time.Second,
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, hc)
	require.NoError(t, err)
	adapter.SetBaseUrl(e.sim.GraphURL())
	return msgraphsdk.NewGraphServiceClient(adapter)
}

// appClient is an SDK client with an app-only (client credentials) token.
func (e *env) appClient(t *testing.T) *msgraphsdk.GraphServiceClient {
	t.Helper()
	auth, err := kauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(e.credential(t, clientSecret), graphScope, []string{e.host()})
	require.NoError(t, err)
	return e.graphClient(t, auth)
}

func (e *env) oauthConfig() *oauth2.Config {
	return &oauth2.Config{
		ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURI,
		Scopes: []string{"https://graph.microsoft.com/.default", "offline_access"},
		Endpoint: oauth2.Endpoint{
			AuthURL:  e.sim.AuthorizeURL(tenantID),
			TokenURL: e.sim.TokenURL(tenantID),
		},
	}
}

func (e *env) ctx() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, e.sim.HTTPClient())
}

// authorize completes the authorize step without a browser: the sign-in page
// accepts user=<id|upn>, and graphsim redirects with code and state.
func (e *env) authorize(t *testing.T, conf *oauth2.Config, user string, extra ...oauth2.AuthCodeOption) url.Values {
	t.Helper()
	authURL := conf.AuthCodeURL("st-123", append(extra, oauth2.SetAuthURLParam("user", user))...)
	hc := e.sim.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(authURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(loc.String(), redirectURI), loc.String())
	return loc.Query()
}

// signIn runs the delegated auth-code + PKCE flow with x/oauth2.
func (e *env) signIn(t *testing.T, user string) (*oauth2.Config, *oauth2.Token) {
	t.Helper()
	conf := e.oauthConfig()
	verifier := oauth2.GenerateVerifier()
	q := e.authorize(t, conf, user, oauth2.S256ChallengeOption(verifier))
	require.Equal(t, "st-123", q.Get("state"))
	tok, err := conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	return conf, tok
}

// tokenSourceProvider adapts an x/oauth2 TokenSource to kiota, restricted to
// graphsim's host like the azure provider.
type tokenSourceProvider struct {
	ts    oauth2.TokenSource
	hosts *absauth.AllowedHostsValidator
}

func (p *tokenSourceProvider) GetAuthorizationToken(_ context.Context, u *url.URL, _ map[string]any) (string, error) {
	if !p.hosts.IsUrlHostValid(u) {
		return "", nil
	}
	tok, err := p.ts.Token()
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

func (p *tokenSourceProvider) GetAllowedHostsValidator() *absauth.AllowedHostsValidator {
	return p.hosts
}

// delegatedClient signs user in and returns an SDK client using the delegated token.
func (e *env) delegatedClient(t *testing.T, user string) *msgraphsdk.GraphServiceClient {
	t.Helper()
	conf, tok := e.signIn(t, user)
	hosts, err := absauth.NewAllowedHostsValidatorErrorCheck([]string{e.host()})
	require.NoError(t, err)
	return e.graphClient(t, absauth.NewBaseBearerTokenAuthenticationProvider(&tokenSourceProvider{ts: conf.TokenSource(e.ctx(), tok), hosts: hosts}))
}
