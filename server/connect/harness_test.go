package connect

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
	"github.com/teamsnotify/msteams-sync/server/connect/connecttest"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/secrets"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

const (
	testTenant   = "11111111-2222-3333-4444-555555555555"
	testClientID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	testSecret   = "client-secret-value"
	testPlugin   = "https://mm.test/plugins/com.mattermost.msteams-sync"
)

// harness is one plugin node (a Service) against a real graphsim and a real, private PostgreSQL database.
type harness struct {
	t     *testing.T
	sim   *graphsim.Sim
	store *store.Store
	dsn   string
	mm    *connecttest.Mattermost
	svc   *Service
	ciph  *secrets.Keyring
	graph *graph.Factory

	mu       sync.Mutex
	settings Settings
	clock    time.Time // zero: real time
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	sim, err := graphsim.New(graphsim.Options{DisableThrottling: true})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	require.NoError(t, sim.AddApp(graphsim.AppRegistration{
		TenantID: testTenant, ClientID: testClientID, ClientSecret: testSecret, DisplayName: "MS Teams for Mattermost",
		RedirectURIs: []string{testPlugin + "/oauth-redirect"},
	}))

	dsn := storetest.NewDatabase(t)
	h := &harness{t: t, sim: sim, dsn: dsn, mm: connecttest.New(),
		settings: Settings{ConnectedUsersAllowed: 1000, InviteExpiry: 7 * 24 * time.Hour}}
	c, err := secrets.NewCipher("test-encryption-key-" + t.Name())
	require.NoError(t, err)
	h.ciph = secrets.NewKeyring(c)
	cfg := config.Defaults()
	cfg.TenantID, cfg.ClientID, cfg.ClientSecret = testTenant, testClientID, testSecret
	cfg.Cloud, cfg.CustomAuthorityURL, cfg.CustomGraphURL, cfg.CustomCACertificate = config.CloudCustom, sim.AuthorityURL(), sim.GraphURL(), string(sim.CACertPEM())
	h.graph, err = graph.NewFactory(cfg, graph.Options{MaxRetries: -1})
	require.NoError(t, err)
	h.store = h.openStore()
	require.NoError(t, h.store.Migrate(context.Background()))
	h.svc = h.node(h.store)
	return h
}

// openStore opens another pool on the harness database, as a second plugin node would.
func (h *harness) openStore() *store.Store {
	s, err := store.Open(context.Background(), store.Options{DataSource: h.dsn})
	require.NoError(h.t, err)
	h.t.Cleanup(s.Close)
	return s
}

// node builds a Service on st sharing graphsim, Mattermost, settings and clock with the harness.
func (h *harness) node(st *store.Store) *Service {
	return New(Deps{
		Store:  st,
		Cipher: h.ciph,
		Settings: func() Settings {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.settings
		},
		OAuth: func() *oauth2.Config {
			c := h.graph.OAuth2Config(testPlugin + "/oauth-redirect")
			// graphsim grants delegated scopes only for Graph's real resource URI, not for its own host's
			// (the scope config.Endpoints derives for a custom cloud); reported to the integrator.
			c.Scopes = []string{"https://graph.microsoft.com/.default", "offline_access"}
			return c
		},
		HTTPClient:   h.graph.HTTPClient,
		Accounts:     AccountsFromGraph(func() GraphFactory { return h.graph }),
		Mattermost:   h.mm,
		PluginURL:    func() string { return testPlugin },
		AccountLinks: accountlink.Checker{Store: st},
		Logger:       testLogger{h.t},
		Now: func() time.Time {
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.clock.IsZero() {
				return time.Now()
			}
			return h.clock
		},
	})
}

func (h *harness) set(f func(*Settings)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(&h.settings)
}

// advance moves the plugin's clock (not graphsim's) forward.
func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.clock.IsZero() {
		h.clock = time.Now()
	}
	h.clock = h.clock.Add(d)
}

// getMe reads GET /me through the real Graph client.
func (h *harness) getMe(ctx context.Context, ts oauth2.TokenSource) (Account, error) {
	return AccountsFromGraph(func() GraphFactory { return h.graph }).GetMe(ctx, ts)
}

func isUnauthorized(err error) bool { return graph.IsUnauthorized(err) }

// addAccount creates a Microsoft account in graphsim.
func (h *harness) addAccount(id, mail, upn string, proxies ...string) {
	require.NoError(h.t, h.sim.AddUser(graphsim.User{ID: id, TenantID: testTenant, DisplayName: id, Mail: mail, UserPrincipalName: upn, ProxyAddresses: proxies}))
}

// signIn runs the browser's part: it follows authorizeURL at graphsim choosing the account, and returns the
// query graphsim redirects back to the plugin with.
func (h *harness) signIn(authorizeURL, accountID string) url.Values {
	h.t.Helper()
	loc, err := h.sim.CompleteSignIn(authorizeURL, accountID)
	require.NoError(h.t, err)
	require.True(h.t, strings.HasPrefix(loc.String(), testPlugin+"/oauth-redirect"), loc.String())
	return loc.Query()
}

// connect runs a whole sign-in for mmUserID as the Microsoft account accountID.
func (h *harness) connect(mmUserID, accountID string) (Connected, error) {
	h.t.Helper()
	target, err := h.svc.Begin(context.Background(), mmUserID)
	if err != nil {
		return Connected{}, err
	}
	return h.svc.Complete(context.Background(), mmUserID, h.signIn(target, accountID))
}

// mustConnect creates a Mattermost user and a matching Microsoft account and connects them.
func (h *harness) mustConnect(mmUserID, email string) {
	h.t.Helper()
	h.mm.AddUser(mmUserID, email)
	h.addAccount("ms-"+mmUserID, email, email)
	_, err := h.connect(mmUserID, "ms-"+mmUserID)
	require.NoError(h.t, err)
}

// storedToken decrypts the user's stored token.
func (h *harness) storedToken(mmUserID string) *oauth2.Token {
	h.t.Helper()
	u, err := h.store.GetUser(context.Background(), mmUserID)
	require.NoError(h.t, err)
	require.True(h.t, u.Connected())
	tok, err := h.svc.openToken(u)
	require.NoError(h.t, err)
	return tok
}

// expireStoredToken makes the stored access token look a minute past its expiry, as it will be after 75 minutes.
func (h *harness) expireStoredToken(mmUserID string) {
	h.t.Helper()
	tok := h.storedToken(mmUserID)
	tok.Expiry = h.svc.now().Add(-time.Minute)
	sealed, keyID, err := h.svc.sealToken(mmUserID, tok)
	require.NoError(h.t, err)
	require.NoError(h.t, h.store.UpdateUserToken(context.Background(), mmUserID, sealed, keyID, tok.Expiry))
}

// testLogger shows the service's log lines in the test output.
type testLogger struct{ t *testing.T }

func (l testLogger) LogWarn(msg string, kv ...any)  { l.t.Log(append([]any{"WARN", msg}, kv...)...) }
func (l testLogger) LogError(msg string, kv ...any) { l.t.Log(append([]any{"ERROR", msg}, kv...)...) }
