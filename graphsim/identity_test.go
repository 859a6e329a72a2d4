package graphsim_test

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

func getJSON(t *testing.T, e *env, url string, into any) int {
	t.Helper()
	resp, err := e.sim.HTTPClient().Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, into), string(b))
	return resp.StatusCode
}

func TestAccessTokenVerifiesAgainstJWKS(t *testing.T) {
	e := newEnv(t)
	tok, err := e.credential(t, clientSecret).GetToken(context.Background(), policy.TokenRequestOptions{Scopes: graphScope})
	require.NoError(t, err)

	var oidc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	require.Equal(t, http.StatusOK, getJSON(t, e, e.sim.AuthorityURL()+"/"+tenantID+"/v2.0/.well-known/openid-configuration", &oidc))
	assert.Equal(t, e.sim.IssuerFor(tenantID), oidc.Issuer, "issuer scheme+host must equal the authority (MSAL checks it)")
	var jwks struct {
		Keys []struct{ Kid, N, E string } `json:"keys"`
	}
	require.Equal(t, http.StatusOK, getJSON(t, e, oidc.JWKSURI, &jwks))
	keys := map[string]*rsa.PublicKey{}
	for _, k := range jwks.Keys {
		n, _ := base64.RawURLEncoding.DecodeString(k.N)
		ex, _ := base64.RawURLEncoding.DecodeString(k.E)
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(ex).Int64())}
	}
	claims := jwt.MapClaims{}
	_, err = jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(e.sim.IssuerFor(tenantID)),
		jwt.WithAudience("https://graph.microsoft.com"),
		jwt.WithTimeFunc(e.clock.Now),
	).ParseWithClaims(tok.Token, claims, func(tk *jwt.Token) (any, error) {
		k, ok := keys[tk.Header["kid"].(string)]
		if !ok {
			return nil, errors.New("kid not in JWKS")
		}
		return k, nil
	})
	require.NoError(t, err)
	assert.Equal(t, tenantID, claims["tid"])
	assert.Equal(t, clientID, claims["azp"])
	assert.Contains(t, claims["roles"], "Chat.Read.All")
}

func TestDiscoveryDocuments(t *testing.T) {
	e := newEnv(t)
	var inst struct {
		TenantDiscoveryEndpoint string `json:"tenant_discovery_endpoint"`
		Metadata                []struct {
			Aliases []string `json:"aliases"`
		} `json:"metadata"`
	}
	host := e.sim.AuthorityURL()[len("https://"):]
	getJSON(t, e, e.sim.AuthorityURL()+"/common/discovery/instance?api-version=1.1&authorization_endpoint="+e.sim.AuthorizeURL(tenantID), &inst)
	assert.Equal(t, e.sim.AuthorityURL()+"/"+tenantID+"/v2.0/.well-known/openid-configuration", inst.TenantDiscoveryEndpoint)
	// Microsoft's clouds, then graphsim's own host as a cloud of its own.
	require.NotEmpty(t, inst.Metadata)
	assert.Equal(t, []string{host}, inst.Metadata[len(inst.Metadata)-1].Aliases)

	var aadErr struct {
		Error      string `json:"error"`
		ErrorCodes []int  `json:"error_codes"`
	}
	status := getJSON(t, e, e.sim.AuthorityURL()+"/00000000-0000-0000-0000-000000000000/v2.0/.well-known/openid-configuration", &aadErr)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, []int{90002}, aadErr.ErrorCodes)
}

func TestClientSecretFailures(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.sim.AddApp(graphsim.AppRegistration{TenantID: tenantID, ClientID: "99999999-0000-4000-8000-000000000009", ClientSecret: "old",
		SecretExpires: e.clock.Now().Add(-time.Hour)}))
	cases := []struct {
		name, client, secret, want string
		setup                      func()
	}{
		{"wrong secret", clientID, "nope", "AADSTS7000215", func() {}},
		{"secret switched to failing", clientID, clientSecret, "AADSTS7000215", func() { e.sim.FailClientSecret(clientID, true) }},
		{"expired secret", "99999999-0000-4000-8000-000000000009", "old", "AADSTS7000222", func() {}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			cred, err := azidentity.NewClientSecretCredential(tenantID, tc.client, tc.secret, &azidentity.ClientSecretCredentialOptions{
				ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: e.sim.AuthorityURL()}, Transport: e.sim.HTTPClient()},
				DisableInstanceDiscovery: true,
			})
			require.NoError(t, err)
			_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: graphScope})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "invalid_client")
		})
	}
	e.sim.FailClientSecret(clientID, false)
	_, err := e.credential(t, clientSecret).GetToken(context.Background(), policy.TokenRequestOptions{Scopes: graphScope})
	assert.NoError(t, err)
}

func retrieveErr(t *testing.T, err error) *oauth2.RetrieveError {
	t.Helper()
	var re *oauth2.RetrieveError
	require.True(t, errors.As(err, &re), "want RetrieveError, got %v", err)
	return re
}

func TestAuthCodeFlowChecksPKCEAndSingleUseCodes(t *testing.T) {
	e := newEnv(t)
	conf := e.oauthConfig()
	verifier := oauth2.GenerateVerifier()

	q := e.authorize(t, conf, aliceID, oauth2.S256ChallengeOption(verifier))
	_, err := conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
	re := retrieveErr(t, err)
	assert.Equal(t, "invalid_grant", re.ErrorCode)
	assert.Contains(t, re.ErrorDescription, "AADSTS501481")

	q = e.authorize(t, conf, aliceID, oauth2.S256ChallengeOption(verifier))
	tok, err := conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	assert.NotEmpty(t, tok.RefreshToken)
	_, err = conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(verifier))
	re = retrieveErr(t, err)
	assert.Contains(t, re.ErrorDescription, "AADSTS54005")
	var body map[string]any
	require.NoError(t, json.Unmarshal(re.Body, &body))
	for _, k := range []string{"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"} {
		assert.Contains(t, body, k)
	}
}

func TestSignInPageListsUsersAndHonoursLoginHint(t *testing.T) {
	e := newEnv(t)
	u := e.oauthConfig().AuthCodeURL("s", oauth2.SetAuthURLParam("login_hint", "bob@contoso.test"))
	resp, err := e.sim.HTTPClient().Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(b), "Alice Adams")
	assert.Contains(t, string(b), `value="`+bobID+`" checked`)

	// Submitting the form (as a browser would) redirects with code and state.
	m := regexp.MustCompile(`action="([^"]+)"`).FindStringSubmatch(string(b))
	require.Len(t, m, 2)
	action := e.sim.AuthorityURL() + html.UnescapeString(m[1])
	hc := e.sim.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	post, err := hc.PostForm(action, url.Values{"user": {bobID}})
	require.NoError(t, err)
	post.Body.Close()
	require.Equal(t, http.StatusFound, post.StatusCode)
	loc, err := url.Parse(post.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "s", loc.Query().Get("state"))
	assert.NotEmpty(t, loc.Query().Get("code"))

	// Cancelling answers access_denied; unregistered redirect URIs are refused outright.
	deny, err := hc.PostForm(action, url.Values{"sim_deny": {"1"}})
	require.NoError(t, err)
	deny.Body.Close()
	loc, _ = url.Parse(deny.Header.Get("Location"))
	assert.Equal(t, "access_denied", loc.Query().Get("error"))
	conf := e.oauthConfig()
	conf.RedirectURL = "https://evil.test/cb"
	bad, err := hc.Get(conf.AuthCodeURL("s"))
	require.NoError(t, err)
	bad.Body.Close()
	assert.Equal(t, http.StatusBadRequest, bad.StatusCode)
}

func TestRefreshTokensRotateAndStayValid(t *testing.T) {
	e := newEnv(t)
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		conf, tok := e.signIn(t, aliceID)
		conf.Endpoint.AuthStyle = style
		first := tok.RefreshToken
		tok.Expiry = time.Now().Add(-time.Minute) // force x/oauth2 to refresh
		next, err := conf.TokenSource(e.ctx(), tok).Token()
		require.NoError(t, err)
		assert.NotEqual(t, first, next.RefreshToken, "every refresh answer carries a new refresh token")
		// The old refresh token is not single-use: presenting it again still works.
		again, err := conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: first, Expiry: time.Now().Add(-time.Minute)}).Token()
		require.NoError(t, err)
		assert.NotEmpty(t, again.AccessToken)
	}
}

func TestRevokedGrantsAndMissingConsent(t *testing.T) {
	for _, code := range []int{50173, 70008, 700082, 70000} {
		t.Run(itoa(code), func(t *testing.T) {
			e := newEnv(t)
			conf, tok := e.signIn(t, aliceID)
			e.sim.RevokeGrant(aliceID, clientID, code)
			_, err := conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			re := retrieveErr(t, err)
			assert.Equal(t, "invalid_grant", re.ErrorCode)
			assert.Contains(t, re.ErrorDescription, "AADSTS"+itoa(code)+":")
			// A fresh interactive sign-in works again.
			e.clock.Advance(time.Second)
			e.signIn(t, aliceID)
		})
	}
	t.Run("65001", func(t *testing.T) {
		e := newEnv(t)
		conf, tok := e.signIn(t, aliceID)
		e.sim.SetConsent(clientID, aliceID, false)
		_, err := conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		re := retrieveErr(t, err)
		assert.Contains(t, re.ErrorDescription, "AADSTS65001")
		q := e.authorize(t, conf, aliceID)
		assert.Equal(t, "consent_required", q.Get("error"))
	})
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }
