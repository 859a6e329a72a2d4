// Package changes emulates the change-notification half of Microsoft Graph for
// Teams chat messages: the /subscriptions API with its validation handshake and
// lifetime rules, webhook delivery of change notifications (plain and rich,
// encrypted), lifecycle notifications, and injectable delivery faults.
package changes

import (
	"net/http"
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

// Event is a change to a chat message that subscriptions may be told about.
type Event struct {
	ChangeType                  string // created|updated|deleted
	TenantID, ChatID, MessageID string
	SenderUserID                string
	MemberUserIDs               []string
}

// Manager owns the subscriptions and their delivery queues.
type Manager struct {
	d Deps
}

// New returns a Manager; call Close to stop its delivery goroutines.
func New(d Deps) *Manager {
	return &Manager{d: d}
}

// Routes registers "/v1.0/subscriptions" and "/v1.0/subscriptions/" handlers.
func (m *Manager) Routes(mux *http.ServeMux) {
	mux.HandleFunc("/v1.0/subscriptions", m.serveCollection)
	mux.HandleFunc("/v1.0/subscriptions/", m.serveItem)
}

// Publish queues change notifications for ev to every matching subscription.
func (m *Manager) Publish(ev Event) {}

// Close stops delivery.
func (m *Manager) Close() {}

func (m *Manager) serveCollection(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented", http.StatusNotImplemented)
}

func (m *Manager) serveItem(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented", http.StatusNotImplemented)
}
