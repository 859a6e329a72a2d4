// Package graphsim is an offline emulator of the parts of Microsoft Graph and
// the Entra ID (identity platform v2.0) STS that a Teams-chat forwarder uses:
// OAuth2 token issuance, Teams chats, messages, members, presence, hosted
// content, files, $batch, throttling and injectable faults, plus a control API
// to script Teams activity. Change notifications live in graphsim/changes.
//
// One listener serves every path: identity under /{tenant}/..., /common/...,
// Graph under /v1.0/, the SharePoint-like file host under /personal/ and /sites/, and the
// control API under /_sim/.
package graphsim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/graphsim/changes"
)

// Options configures a Sim.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0" (a free port).
	Addr string
	// PlainHTTP serves http instead of https (unit tests only: azidentity
	// refuses non-https authorities).
	PlainHTTP bool
	// Hostnames are extra DNS names/IPs for the serving certificate, e.g.
	// login.microsoftonline.com and graph.microsoft.com when DNS points at graphsim.
	Hostnames []string
	// CACertPath, when set, receives the CA certificate PEM at New.
	CACertPath string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// DisableThrottling turns the documented Teams throttling limits off.
	DisableThrottling bool
	// AccessTokenLifetime defaults to 75 minutes (Entra's average).
	AccessTokenLifetime time.Duration
	// OnChange, when set, sees every message change published to the
	// change-notification manager (created|updated|deleted), synchronously.
	OnChange func(changes.Event)
	// NotificationClient posts change/lifecycle notifications; default trusts
	// the system roots plus the graphsim CA.
	NotificationClient *http.Client
}

// Sim is a running (or ready to run) emulator.
type Sim struct {
	opts     Options
	ln       net.Listener
	srv      *http.Server
	ca       *certAuthority
	sig      *signer
	changes  *changes.Manager
	handler  http.Handler
	baseOnce string

	mu        sync.Mutex
	apps      map[string]*appState
	users     map[string]*userState
	chats     map[string]*chat
	teams     map[string]*team
	files     map[string]*storedFile
	codes     map[string]*authCode
	refresh   map[string]*grant
	revoked   map[grantKey]revocation
	noConsent map[grantKey]bool
	failSec   map[string]bool
	tokenGen  int64
	seq       int64
	lastMsgMS int64

	traffic *traffic
}

type appState struct {
	AppRegistration
	secretKeyID string
	created     time.Time
}

type userState struct {
	User
	presence Presence
}

// New creates the emulator, generates its CA and signing key and binds the
// listener (so URLs are known before Start).
func New(opts Options) (*Sim, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AccessTokenLifetime == 0 {
		opts.AccessTokenLifetime = 75 * time.Minute
	}
	s := &Sim{
		opts: opts, apps: map[string]*appState{}, users: map[string]*userState{}, chats: map[string]*chat{}, teams: map[string]*team{},
		files: map[string]*storedFile{}, codes: map[string]*authCode{}, refresh: map[string]*grant{},
		revoked: map[grantKey]revocation{}, noConsent: map[grantKey]bool{}, failSec: map[string]bool{},
	}
	s.traffic = newTraffic(!opts.DisableThrottling)
	var err error
	if s.ca, err = newCertAuthority(opts.Hostnames); err != nil {
		return nil, err
	}
	if s.sig, err = newSigner(); err != nil {
		return nil, err
	}
	if opts.CACertPath != "" {
		if err := os.WriteFile(opts.CACertPath, s.ca.certPEM, 0o644); err != nil {
			return nil, errors.Wrap(err, "write CA certificate")
		}
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, errors.Wrap(err, "listen")
	}
	if !opts.PlainHTTP {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{s.ca.serving}, MinVersion: tls.VersionTLS12})
	}
	s.ln = ln
	scheme := "https"
	if opts.PlainHTTP {
		scheme = "http"
	}
	s.baseOnce = scheme + "://" + ln.Addr().String()

	notifyClient := opts.NotificationClient
	if notifyClient == nil {
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		roots.AppendCertsFromPEM(s.ca.certPEM)
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		notifyClient = &http.Client{Transport: t, Timeout: 30 * time.Second}
	}
	s.changes = changes.New(changes.Deps{
		Authorize: func(w http.ResponseWriter, r *http.Request) (changes.TokenInfo, bool) {
			ti, ok := s.authorize(w, r)
			return changes.TokenInfo{TenantID: ti.TenantID, AppID: ti.AppID, UserID: ti.UserID, Roles: ti.Roles, Scopes: ti.Scopes, AppOnly: ti.AppOnly}, ok
		},
		Resource:   s.resourceJSON,
		SignJWT:    s.sig.sign,
		IssuerFor:  func(tid string) string { return s.baseURL() + "/" + tid + "/v2.0" },
		HTTPClient: notifyClient,
		Now:        s.now,
	})
	s.handler = s.buildHandler()
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

// Start serves in the background until Close.
func (s *Sim) Start() error {
	go func() { _ = s.srv.Serve(s.ln) }()
	return nil
}

// Close stops serving and the change-notification delivery.
func (s *Sim) Close() error {
	s.changes.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Wrap(s.srv.Shutdown(ctx), "shut down graphsim")
}

// Handler is the whole emulator as an http.Handler (for embedding in httptest).
func (s *Sim) Handler() http.Handler { return s.handler }

// Changes is the change-notification manager mounted on this Sim.
func (s *Sim) Changes() *changes.Manager { return s.changes }

func (s *Sim) baseURL() string { return s.baseOnce }

// BaseURL is scheme://host:port of the listener.
func (s *Sim) BaseURL() string { return s.baseOnce }

// AuthorityURL is the identity-platform authority host, without a tenant
// (azidentity's cloud.Configuration.ActiveDirectoryAuthorityHost).
func (s *Sim) AuthorityURL() string { return s.baseOnce }

// GraphURL is the Graph base URL, ending in /v1.0.
func (s *Sim) GraphURL() string { return s.baseOnce + "/v1.0" }

// TokenURL is the v2.0 token endpoint of a tenant.
func (s *Sim) TokenURL(tenantID string) string {
	return s.baseOnce + "/" + tenantID + "/oauth2/v2.0/token"
}

// AuthorizeURL is the v2.0 authorize endpoint of a tenant.
func (s *Sim) AuthorizeURL(tenantID string) string {
	return s.baseOnce + "/" + tenantID + "/oauth2/v2.0/authorize"
}

// IssuerFor is the issuer of tokens graphsim signs for a tenant.
func (s *Sim) IssuerFor(tenantID string) string { return s.baseOnce + "/" + tenantID + "/v2.0" }

// JWKSURL is where the signing keys are published.
func (s *Sim) JWKSURL() string { return s.baseOnce + "/common/discovery/v2.0/keys" }

// CACertPEM is the PEM of the CA that signed the serving certificate.
func (s *Sim) CACertPEM() []byte { return append([]byte(nil), s.ca.certPEM...) }

// HTTPClient returns a client that trusts the graphsim CA (and nothing else).
func (s *Sim) HTTPClient() *http.Client {
	return &http.Client{Transport: s.Transport(), Timeout: 100 * time.Second}
}

// Transport returns an *http.Transport that trusts the graphsim CA.
func (s *Sim) Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: s.ca.pool(), MinVersion: tls.VersionTLS12}
	return t
}

// SignJWT signs arbitrary claims with the STS key (RS256, kid in the JWKS).
func (s *Sim) SignJWT(claims map[string]any) (string, error) { return s.sig.sign(claims) }

func (s *Sim) now() time.Time { return s.opts.Now() }

func (s *Sim) publish(ev *changes.Event) {
	if ev == nil {
		return
	}
	if s.opts.OnChange != nil {
		s.opts.OnChange(*ev)
	}
	s.changes.Publish(*ev)
}

func (s *Sim) eventLocked(changeType string, c *chat, m *message) *changes.Event {
	return &changes.Event{ChangeType: changeType, TenantID: c.tenantID, ChatID: c.id, MessageID: m.id, SenderUserID: m.from, MemberUserIDs: c.memberIDs()}
}

func (s *Sim) buildHandler() http.Handler {
	graph := http.NewServeMux()
	graph.HandleFunc("/v1.0/", s.serveGraph)
	s.changes.Routes(graph)

	root := http.NewServeMux()
	root.Handle("/v1.0/", graph)
	root.HandleFunc("/_sim/", s.serveControl)
	// Notification faults, lifecycle events and delivery stats belong to the changes manager.
	root.Handle("/_sim/changes/", s.changes.ControlHandler())
	root.HandleFunc("/personal/", s.serveFileDownload)
	root.HandleFunc("/sites/", s.serveFileDownload) // a team's (or private channel's) SharePoint site
	root.HandleFunc("/", s.serveIdentity)
	return s.middleware(root)
}

// CompleteSignIn plays the browser on the sign-in page: it opens authorizeURL (as the client's redirect to
// /authorize produced it), picks the account userID (id or UPN) and returns where graphsim sends the browser
// back to: the client's redirect URI with code and state, or with error and error_description.
func (s *Sim) CompleteSignIn(authorizeURL, userID string) (*url.URL, error) {
	u, err := url.Parse(authorizeURL)
	if err != nil {
		return nil, errors.Wrap(err, "parse authorize URL")
	}
	q := u.Query()
	q.Set("user", userID)
	u.RawQuery = q.Encode()
	c := s.HTTPClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(u.String())
	if err != nil {
		return nil, errors.Wrap(err, "open the sign-in page")
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return nil, errors.Errorf("sign-in page answered %s, want a redirect back to the client", resp.Status)
	}
	return url.Parse(resp.Header.Get("Location"))
}
