// Package connect links a Mattermost user to a Microsoft account and keeps that link usable: the OAuth 2.0
// sign-in (authorization code + PKCE), the linking rules, seats/whitelist/invite rules, encrypted token storage,
// single-flight token refresh across nodes, and revocation handling.
package connect

import (
	"context"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// PluginID is the plugin's id; it names the preference category, websocket events and the plugin's URL path.
const PluginID = "com.mattermost.msteams-sync"

// Settings are the administrator's rollout controls. They are read on every use so a config change applies at once.
type Settings struct {
	// ConnectedUsersAllowed caps users connected at the same time; 0 stops new connections.
	ConnectedUsersAllowed int
	// MaxPendingInvites is the size of the invitation pool; 0 turns invitations off.
	MaxPendingInvites int
	// InviteExpiry is how long an unanswered invitation holds its place in the pool.
	InviteExpiry time.Duration
	// Restricted admits only whitelisted users.
	Restricted bool
	// AllowProxyAddresses also accepts a match on the account's proxyAddresses.
	AllowProxyAddresses bool
}

// Account is what the plugin learns about the Microsoft account that signed in (Graph GET /me).
type Account struct {
	ID                string
	DisplayName       string
	Mail              string
	UserPrincipalName string
	ProxyAddresses    []string
}

// AccountFetcher reads the signed-in account with a delegated token.
type AccountFetcher interface {
	GetMe(ctx context.Context, ts oauth2.TokenSource) (Account, error)
}

// AccountFetcherFunc adapts a function to AccountFetcher.
type AccountFetcherFunc func(ctx context.Context, ts oauth2.TokenSource) (Account, error)

// GetMe calls f.
func (f AccountFetcherFunc) GetMe(ctx context.Context, ts oauth2.TokenSource) (Account, error) {
	return f(ctx, ts)
}

// Logger is the subset of the plugin logger the package uses; key/value pairs never carry secrets.
type Logger interface {
	LogWarn(msg string, keyValuePairs ...any)
	LogError(msg string, keyValuePairs ...any)
}

type nopLogger struct{}

func (nopLogger) LogWarn(string, ...any)  {}
func (nopLogger) LogError(string, ...any) {}

// Deps are what the Service needs. Functions are called per use so configuration changes take effect.
type Deps struct {
	Store    Store
	Cipher   Cipher
	Settings func() Settings
	// OAuth returns the delegated-flow configuration for the configured cloud (endpoint, client, scopes,
	// redirect URL ending in /oauth-redirect).
	OAuth func() *oauth2.Config
	// HTTPClient is used for calls to the identity platform (it may trust a custom CA). Nil means the default.
	HTTPClient func() *http.Client
	Accounts   AccountFetcher
	Mattermost Mattermost
	// PluginURL returns the plugin's public base URL, e.g. https://chat.example.com/plugins/com.mattermost.msteams-sync.
	PluginURL func() string
	// AccountLinks lets an administrator allow an account whose e-mail differs (package accountlink). Optional.
	AccountLinks AccountLinks
	Logger       Logger
	Now          func() time.Time
}

// AccountLinks says whether an administrator linked a Mattermost user to a Microsoft account.
type AccountLinks interface {
	Allows(ctx context.Context, mmUserID, accountID, userPrincipalName string) (bool, error)
}

// Service is the connection service shared by the slash command, the HTTP API and the delivery pipeline.
type Service struct {
	d Deps
}

// New returns a Service. Store, Cipher, Settings, OAuth, Accounts, Mattermost and PluginURL are required.
func New(d Deps) *Service {
	if d.Logger == nil {
		d.Logger = nopLogger{}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.HTTPClient == nil {
		d.HTTPClient = func() *http.Client { return http.DefaultClient }
	}
	return &Service{d: d}
}

func (s *Service) now() time.Time { return s.d.Now().UTC() }

// oauthContext carries the HTTP client x/oauth2 must use for the token endpoint.
func (s *Service) oauthContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, s.d.HTTPClient())
}

// ConnectURL is the link the bot posts: it creates the OAuth state only when clicked, so it never goes stale.
func (s *Service) ConnectURL() string {
	return s.d.PluginURL() + "/connect"
}
