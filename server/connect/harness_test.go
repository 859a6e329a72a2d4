package connect

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
	"github.com/teamsnotify/msteams-sync/server/connect/connecttest"
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
	ciph  *gcmCipher

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
	h.ciph = testCipher(t)
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
			return &oauth2.Config{
				ClientID: testClientID, ClientSecret: testSecret,
				Endpoint:    oauth2.Endpoint{AuthURL: h.sim.AuthorizeURL(testTenant), TokenURL: h.sim.TokenURL(testTenant), AuthStyle: oauth2.AuthStyleInParams},
				RedirectURL: testPlugin + "/oauth-redirect",
				Scopes:      []string{"https://graph.microsoft.com/.default", "offline_access"},
			}
		},
		HTTPClient: func() *http.Client { return h.sim.HTTPClient() },
		Accounts:   AccountFetcherFunc(h.getMe),
		Mattermost: h.mm,
		PluginURL:  func() string { return testPlugin },
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

// getMe reads GET /me on graphsim with the delegated token.
func (h *harness) getMe(ctx context.Context, ts oauth2.TokenSource) (Account, error) {
	tok, err := ts.Token()
	if err != nil {
		return Account{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.sim.GraphURL()+"/me?$select=id,displayName,mail,userPrincipalName,proxyAddresses", nil)
	if err != nil {
		return Account{}, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := h.sim.HTTPClient().Do(req)
	if err != nil {
		return Account{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Account{}, &graphStatusError{status: resp.StatusCode}
	}
	var me struct {
		ID                string   `json:"id"`
		DisplayName       string   `json:"displayName"`
		Mail              string   `json:"mail"`
		UserPrincipalName string   `json:"userPrincipalName"`
		ProxyAddresses    []string `json:"proxyAddresses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil {
		return Account{}, err
	}
	return Account{ID: me.ID, DisplayName: me.DisplayName, Mail: me.Mail, UserPrincipalName: me.UserPrincipalName, ProxyAddresses: me.ProxyAddresses}, nil
}

type graphStatusError struct{ status int }

func (e *graphStatusError) Error() string { return "graph answered " + http.StatusText(e.status) }

func isUnauthorized(err error) bool {
	var g *graphStatusError
	return errors.As(err, &g) && g.status == http.StatusUnauthorized
}

// addAccount creates a Microsoft account in graphsim.
func (h *harness) addAccount(id, mail, upn string, proxies ...string) {
	require.NoError(h.t, h.sim.AddUser(graphsim.User{ID: id, TenantID: testTenant, DisplayName: id, Mail: mail, UserPrincipalName: upn, ProxyAddresses: proxies}))
}

// signIn runs the browser's part: it follows authorizeURL at graphsim choosing the account, and returns the
// query graphsim redirects back to the plugin with.
func (h *harness) signIn(authorizeURL, accountID string) url.Values {
	h.t.Helper()
	u, err := url.Parse(authorizeURL)
	require.NoError(h.t, err)
	q := u.Query()
	q.Set("user", accountID)
	u.RawQuery = q.Encode()
	c := h.sim.HTTPClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(u.String())
	require.NoError(h.t, err)
	resp.Body.Close()
	require.Equal(h.t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
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
	sealed, keyID, err := h.svc.sealToken(tok)
	require.NoError(h.t, err)
	require.NoError(h.t, h.store.UpdateUserToken(context.Background(), mmUserID, sealed, keyID, tok.Expiry))
}

// gcmCipher is AES-256-GCM with a random key per test.
type gcmCipher struct{ aead cipher.AEAD }

func testCipher(t *testing.T) *gcmCipher {
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	return &gcmCipher{aead: aead}
}

func (c *gcmCipher) Seal(p []byte) ([]byte, string, error) {
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", err
	}
	return c.aead.Seal(nonce, nonce, p, nil), "test-key", nil
}

func (c *gcmCipher) Open(b []byte, _ string) ([]byte, error) {
	n := c.aead.NonceSize()
	if len(b) < n {
		return nil, errors.New("ciphertext too short")
	}
	return c.aead.Open(nil, b[:n], b[n:], nil)
}
