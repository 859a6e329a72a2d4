// Package connectenv assembles a working connection service for tests of the packages built on it (api,
// command): a real graphsim, a real private PostgreSQL database and the in-memory Mattermost of connecttest.
package connectenv

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/errors"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/connect"
	"github.com/teamsnotify/msteams-sync/server/connect/connecttest"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

// Fixed identities of the emulated app registration and plugin.
const (
	TenantID  = "11111111-2222-3333-4444-555555555555"
	ClientID  = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	Secret    = "client-secret-value"
	PluginURL = "https://mm.test/plugins/com.mattermost.msteams-sync"
)

// Env is one plugin node's connection service and everything around it.
type Env struct {
	T       testing.TB
	Sim     *graphsim.Sim
	Store   *store.Store
	MM      *connecttest.Mattermost
	Service *connect.Service

	mu       sync.Mutex
	settings connect.Settings
}

// New starts graphsim, creates a database and returns the environment; everything is torn down with t.
func New(t testing.TB) *Env {
	t.Helper()
	sim, err := graphsim.New(graphsim.Options{DisableThrottling: true})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	require.NoError(t, sim.AddApp(graphsim.AppRegistration{
		TenantID: TenantID, ClientID: ClientID, ClientSecret: Secret, DisplayName: "MS Teams for Mattermost",
		RedirectURIs: []string{PluginURL + "/oauth-redirect"},
	}))
	e := &Env{T: t, Sim: sim, Store: storetest.NewStore(t), MM: connecttest.New(),
		settings: connect.Settings{ConnectedUsersAllowed: 1000, InviteExpiry: 7 * 24 * time.Hour}}
	e.Service = connect.New(connect.Deps{
		Store:    e.Store,
		Cipher:   newCipher(t),
		Settings: e.Settings,
		OAuth: func() *oauth2.Config {
			return &oauth2.Config{
				ClientID: ClientID, ClientSecret: Secret,
				Endpoint:    oauth2.Endpoint{AuthURL: sim.AuthorizeURL(TenantID), TokenURL: sim.TokenURL(TenantID), AuthStyle: oauth2.AuthStyleInParams},
				RedirectURL: PluginURL + "/oauth-redirect",
				Scopes:      []string{"https://graph.microsoft.com/.default", "offline_access"},
			}
		},
		HTTPClient: sim.HTTPClient,
		Accounts:   connect.AccountFetcherFunc(e.getMe),
		Mattermost: e.MM,
		PluginURL:  func() string { return PluginURL },
	})
	return e
}

// Settings returns the current rollout settings.
func (e *Env) Settings() connect.Settings {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.settings
}

// Set changes the rollout settings.
func (e *Env) Set(f func(*connect.Settings)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(&e.settings)
}

func (e *Env) getMe(ctx context.Context, ts oauth2.TokenSource) (connect.Account, error) {
	tok, err := ts.Token()
	if err != nil {
		return connect.Account{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.Sim.GraphURL()+"/me?$select=id,displayName,mail,userPrincipalName,proxyAddresses", nil)
	if err != nil {
		return connect.Account{}, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := e.Sim.HTTPClient().Do(req)
	if err != nil {
		return connect.Account{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return connect.Account{}, errors.Errorf("graph answered %d", resp.StatusCode)
	}
	var a connect.Account
	var me struct {
		ID                string   `json:"id"`
		DisplayName       string   `json:"displayName"`
		Mail              string   `json:"mail"`
		UserPrincipalName string   `json:"userPrincipalName"`
		ProxyAddresses    []string `json:"proxyAddresses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil {
		return a, err
	}
	return connect.Account{ID: me.ID, DisplayName: me.DisplayName, Mail: me.Mail, UserPrincipalName: me.UserPrincipalName, ProxyAddresses: me.ProxyAddresses}, nil
}

// AddAccount creates a Microsoft account in graphsim.
func (e *Env) AddAccount(id, mail string) {
	require.NoError(e.T, e.Sim.AddUser(graphsim.User{ID: id, TenantID: TenantID, DisplayName: id, Mail: mail, UserPrincipalName: mail}))
}

// Authorize plays the browser at Microsoft: it opens authorizeURL, picks the account and returns the
// URL graphsim redirects back to (the plugin's /oauth-redirect with code and state).
func (e *Env) Authorize(authorizeURL, accountID string) *url.URL {
	e.T.Helper()
	u, err := url.Parse(authorizeURL)
	require.NoError(e.T, err)
	q := u.Query()
	q.Set("user", accountID)
	u.RawQuery = q.Encode()
	c := e.Sim.HTTPClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(u.String())
	require.NoError(e.T, err)
	resp.Body.Close()
	require.Equal(e.T, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(e.T, err)
	require.True(e.T, strings.HasPrefix(loc.String(), PluginURL+"/oauth-redirect"), loc.String())
	return loc
}

// Connect creates a Mattermost user and a matching Microsoft account ("ms-"+id) and connects them.
func (e *Env) Connect(mmUserID, email string) {
	e.T.Helper()
	ctx := context.Background()
	e.MM.AddUser(mmUserID, email)
	e.AddAccount("ms-"+mmUserID, email)
	target, err := e.Service.Begin(ctx, mmUserID)
	require.NoError(e.T, err)
	_, err = e.Service.Complete(ctx, mmUserID, e.Authorize(target, "ms-"+mmUserID).Query())
	require.NoError(e.T, err)
}

type gcm struct{ aead cipher.AEAD }

func newCipher(t testing.TB) *gcm {
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	return &gcm{aead: aead}
}

func (c *gcm) Seal(p []byte) ([]byte, string, error) {
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", err
	}
	return c.aead.Seal(nonce, nonce, p, nil), "test-key", nil
}

func (c *gcm) Open(b []byte, _ string) ([]byte, error) {
	n := c.aead.NonceSize()
	if len(b) < n {
		return nil, errors.New("ciphertext too short")
	}
	return c.aead.Open(nil, b[:n], b[n:], nil)
}
