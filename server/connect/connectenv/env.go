// Package connectenv assembles a working connection service for tests of the packages built on it (api,
// command): a real graphsim, a real private PostgreSQL database and the in-memory Mattermost of connecttest.
package connectenv

import (
	"context"
	"github.com/teamsnotify/msteams-sync/server/accountlink"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/config"
	"github.com/teamsnotify/msteams-sync/server/connect"
	"github.com/teamsnotify/msteams-sync/server/connect/connecttest"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/secrets"
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
	Graph   *graph.Factory

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
	c, err := secrets.NewCipher("test-encryption-key")
	require.NoError(t, err)
	cfg := config.Defaults()
	cfg.TenantID, cfg.ClientID, cfg.ClientSecret = TenantID, ClientID, Secret
	cfg.Cloud, cfg.CustomAuthorityURL, cfg.CustomGraphURL, cfg.CustomCACertificate = config.CloudCustom, sim.AuthorityURL(), sim.GraphURL(), string(sim.CACertPEM())
	e.Graph, err = graph.NewFactory(cfg, graph.Options{MaxRetries: -1})
	require.NoError(t, err)
	e.Service = connect.New(connect.Deps{
		Store:    e.Store,
		Cipher:   secrets.NewKeyring(c),
		Settings: e.Settings,
		OAuth: func() *oauth2.Config {
			oc := e.Graph.OAuth2Config(PluginURL + "/oauth-redirect")
			// graphsim grants delegated scopes only for Graph's real resource URI.
			oc.Scopes = []string{"https://graph.microsoft.com/.default", "offline_access"}
			return oc
		},
		HTTPClient:   e.Graph.HTTPClient,
		Accounts:     connect.AccountsFromGraph(func() connect.GraphFactory { return e.Graph }),
		Mattermost:   e.MM,
		PluginURL:    func() string { return PluginURL },
		AccountLinks: accountlink.Checker{Store: e.Store},
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

// AddAccount creates a Microsoft account in graphsim.
func (e *Env) AddAccount(id, mail string) {
	require.NoError(e.T, e.Sim.AddUser(graphsim.User{ID: id, TenantID: TenantID, DisplayName: id, Mail: mail, UserPrincipalName: mail}))
}

// Authorize plays the browser at Microsoft: it opens authorizeURL, picks the account and returns the
// URL graphsim redirects back to (the plugin's /oauth-redirect with code and state).
func (e *Env) Authorize(authorizeURL, accountID string) *url.URL {
	e.T.Helper()
	loc, err := e.Sim.CompleteSignIn(authorizeURL, accountID)
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
