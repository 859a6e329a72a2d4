// Package changes emulates the change-notification half of Microsoft Graph for
// Teams chat and channel messages: the /subscriptions API with its validation handshake and
// lifetime rules, webhook delivery of change notifications (plain and rich,
// encrypted), lifecycle notifications, and injectable delivery faults.
//
// The behaviour follows /work/shared/reference/graph-protocol.md §1–§5; where it
// deliberately differs from Microsoft Graph, graphsim/FIDELITY-changes.md says so.
package changes

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Deps is everything the subscription emulator needs from the rest of graphsim.
type Deps struct {
	// Authorize checks the bearer token of r and returns the token's claims or writes a 401/403 OData error itself and returns ok=false.
	Authorize func(w http.ResponseWriter, r *http.Request) (tok TokenInfo, ok bool)
	// Resource renders the current JSON of a resource path such as "chats('19:x@thread.v2')/messages('1700000000000')"; found=false if gone.
	Resource func(resourcePath string) (json []byte, found bool)
	// SignJWT signs claims with the STS signing key (RS256, with kid) so validation tokens verify against the JWKS.
	SignJWT   func(claims map[string]any) (string, error)
	IssuerFor func(tenantID string) string // "https://<authority host>/<tid>/v2.0"
	// HTTPClient is used to POST to notification URLs (trusts the sim CA too).
	HTTPClient *http.Client
	Now        func() time.Time
}

// TokenInfo is what Authorize learned from the caller's bearer token.
type TokenInfo struct {
	TenantID, AppID, UserID string
	Roles, Scopes           []string
	AppOnly                 bool
}

// Event is a change to a chat or channel message that subscriptions may be told about.
type Event struct {
	ChangeType                  string // created|updated|deleted
	TenantID, ChatID, MessageID string
	SenderUserID                string
	MemberUserIDs               []string
	// TeamID and ChannelID are set (and ChatID empty) for a channel message; ReplyToID is the
	// thread's root message when the message is a reply.
	TeamID, ChannelID, ReplyToID string
}

// resourcePath is the resource of the event's notification as Graph writes it.
func (ev Event) resourcePath() string {
	if ev.ChannelID == "" {
		return fmt.Sprintf("chats('%s')/messages('%s')", ev.ChatID, ev.MessageID)
	}
	if ev.ReplyToID != "" {
		return fmt.Sprintf("teams('%s')/channels('%s')/messages('%s')/replies('%s')", ev.TeamID, ev.ChannelID, ev.ReplyToID, ev.MessageID)
	}
	return fmt.Sprintf("teams('%s')/channels('%s')/messages('%s')", ev.TeamID, ev.ChannelID, ev.MessageID)
}

// Settings tunes timing and limits. Zero fields take Graph's values (see DefaultSettings).
type Settings struct {
	// HandshakeTimeout bounds each validation request at subscription creation (Graph: 10 s).
	HandshakeTimeout time.Duration
	// DeliveryTimeout bounds each notification POST; slower replies count as failures (Graph: 3 s).
	DeliveryTimeout time.Duration
	// BatchWindow is how long items for one endpoint are gathered into one POST.
	BatchWindow time.Duration
	// MaxBatch caps the items of one POST.
	MaxBatch int
	// RetryBase is the first retry delay; each further retry doubles it up to RetryMaxDelay (Graph: 10 s).
	RetryBase     time.Duration
	RetryMaxDelay time.Duration
	// RetryFor is how long (by Deps.Now) a failing batch is retried before it is discarded (Graph: 4 h).
	RetryFor time.Duration
	// MaxAttempts, if positive, also caps the attempts per batch.
	MaxAttempts int
	// QuotaPerTenant caps live subscriptions per tenant (Graph: 10,000, shared by all Teams resources).
	QuotaPerTenant int
	// ValidationTokenLifetime is the exp-iat span of validationTokens JWTs.
	ValidationTokenLifetime time.Duration
	// Throttle enforces Graph's subscription API limits per app per tenant (429 + Retry-After).
	Throttle bool
}

// DefaultSettings are the values Microsoft Graph documents.
func DefaultSettings() Settings {
	return Settings{
		HandshakeTimeout:        10 * time.Second,
		DeliveryTimeout:         3 * time.Second,
		BatchWindow:             50 * time.Millisecond,
		MaxBatch:                100,
		RetryBase:               10 * time.Second,
		RetryMaxDelay:           30 * time.Minute,
		RetryFor:                4 * time.Hour,
		QuotaPerTenant:          10000,
		ValidationTokenLifetime: time.Hour,
	}
}

func (s Settings) withDefaults() Settings {
	d := DefaultSettings()
	if s.HandshakeTimeout <= 0 {
		s.HandshakeTimeout = d.HandshakeTimeout
	}
	if s.DeliveryTimeout <= 0 {
		s.DeliveryTimeout = d.DeliveryTimeout
	}
	if s.BatchWindow < 0 {
		s.BatchWindow = 0
	}
	if s.MaxBatch <= 0 {
		s.MaxBatch = d.MaxBatch
	}
	if s.RetryBase <= 0 {
		s.RetryBase = d.RetryBase
	}
	if s.RetryMaxDelay <= 0 {
		s.RetryMaxDelay = d.RetryMaxDelay
	}
	if s.RetryFor <= 0 {
		s.RetryFor = d.RetryFor
	}
	if s.QuotaPerTenant <= 0 {
		s.QuotaPerTenant = d.QuotaPerTenant
	}
	if s.ValidationTokenLifetime <= 0 {
		s.ValidationTokenLifetime = d.ValidationTokenLifetime
	}
	return s
}

// Manager owns the subscriptions and their delivery queues.
type Manager struct {
	d      Deps
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	settings  Settings
	faults    Faults
	nullVT    bool
	rng       *rand.Rand
	subs      map[string]*subscription
	endpoints map[endpointKey]*endpoint
	stats     Stats
	seq       int64
	rates     map[rateKey][]time.Time
	closed    bool
}

// New returns a Manager; call Close to stop its delivery goroutines.
func New(d Deps) *Manager {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.HTTPClient == nil {
		d.HTTPClient = http.DefaultClient
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{
		d:         d,
		ctx:       ctx,
		cancel:    cancel,
		settings:  DefaultSettings(),
		rng:       rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x9e3779b97f4a7c15)),
		subs:      map[string]*subscription{},
		endpoints: map[endpointKey]*endpoint{},
		rates:     map[rateKey][]time.Time{},
	}
}

// Settings returns the current tuning.
func (m *Manager) Settings() Settings {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.settings
}

// SetSettings replaces the tuning; zero fields take Graph's defaults.
func (m *Manager) SetSettings(s Settings) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.settings = s.withDefaults()
}

// SetValidationTokensNull makes rich notifications carry "validationTokens": null,
// as Graph does when the tenant lacks the Change Tracking service principal setup.
func (m *Manager) SetValidationTokensNull(null bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nullVT = null
}

// Routes registers "/v1.0/subscriptions" and "/v1.0/subscriptions/" handlers.
func (m *Manager) Routes(mux *http.ServeMux) {
	mux.HandleFunc("/v1.0/subscriptions", m.serveCollection)
	mux.HandleFunc("/v1.0/subscriptions/", m.serveItem)
}

// Close stops delivery; queued items are abandoned.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
}
