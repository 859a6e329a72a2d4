// Package api serves the plugin's HTTP routes: the sign-in pages (/connect, /oauth-redirect), the user's
// own connection (/api/v1/me...) for the webapp, and the administrators' reports and whitelist
// (/api/v1/admin/...). Mattermost injects the authenticated user's id as the Mattermost-User-ID header.
package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/teamsnotify/msteams-sync/server/connect"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// UserHeader carries the id of the user Mattermost authenticated; the server strips it from client requests.
const UserHeader = "Mattermost-User-ID"

// Connections is the connection service behind the sign-in and user routes.
type Connections interface {
	Begin(ctx context.Context, mmUserID string) (string, error)
	BeginRenewal(ctx context.Context, mmUserID string) (string, error)
	Complete(ctx context.Context, mmUserID string, q url.Values) (connect.Connected, error)
	Status(ctx context.Context, mmUserID string) (connect.Status, error)
	Disconnect(ctx context.Context, mmUserID string) error
	Notifications(mmUserID string) (bool, error)
	SetNotifications(mmUserID string, enabled bool) error
	MaybeInvite(ctx context.Context, mmUserID string) (bool, error)
}

// AdminStore is the data behind the admin reports and the whitelist; *store.Store implements it.
type AdminStore interface {
	ListConnectedUsers(ctx context.Context, afterMMUserID string, limit int) ([]store.User, error)
	CountConnectedUsers(ctx context.Context) (int, error)
	ReplaceWhitelist(ctx context.Context, mmUserIDs []string, at time.Time) error
	ListWhitelist(ctx context.Context) ([]string, error)
	CountWhitelist(ctx context.Context) (int, error)
	CountPendingInvites(ctx context.Context, now time.Time) (int, error)
}

// LinkStore keeps the administrators' Microsoft account links (package accountlink); *store.Store implements it.
type LinkStore interface {
	ReplaceAccountLinks(ctx context.Context, links []store.AccountLink, at time.Time) error
	ListAccountLinks(ctx context.Context) ([]store.AccountLink, error)
	DeleteAccountLink(ctx context.Context, mmUserID string) (bool, error)
}

// Mattermost is the part of the Mattermost server the routes use.
type Mattermost interface {
	GetUser(userID string) (*model.User, error)
	// GetUserByEmail returns connect.ErrNotFound (matched with errors.Is) when nobody has that email.
	GetUserByEmail(email string) (*model.User, error)
	IsSystemAdmin(userID string) bool
}

// Logger records server-side failures; answers to clients stay plain.
type Logger interface {
	LogError(msg string, keyValuePairs ...any)
}

// Deps are what the handler needs.
type Deps struct {
	Connections Connections
	Store       AdminStore
	Links       LinkStore
	Muting      Muting // nil: no muted-chats or message-mode routes
	Mattermost  Mattermost
	Settings    func() connect.Settings
	Logger      Logger
	Now         func() time.Time

	// Channels keeps the users' Teams channel choices; nil: no channel-notifications routes.
	Channels ChannelChoices
	// ChannelNotificationsOn says whether Teams channel messages are delivered at all (the admin settings).
	ChannelNotificationsOn func() bool
}

type handler struct {
	Deps
}

// New returns the plugin's HTTP handler. Paths are relative to /plugins/com.mattermost.msteams-sync.
func New(d Deps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	h := &handler{Deps: d}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /connect", h.connect)
	mux.HandleFunc("GET /oauth-redirect", h.oauthRedirect)

	mux.Handle("GET /api/v1/me", h.user(h.me))
	mux.Handle("POST /api/v1/me/notifications", h.user(h.setNotifications))
	mux.Handle("POST /api/v1/me/disconnect", h.user(h.disconnect))
	mux.Handle("POST /api/v1/me/invite", h.user(h.invite))
	if d.Muting != nil {
		h.muteRoutes(mux)
	}
	if d.Channels != nil {
		h.channelChoiceRoutes(mux)
	}

	mux.Handle("GET /api/v1/admin/connected-users", h.admin(h.connectedUsers))
	mux.Handle("GET /api/v1/admin/connected-users.csv", h.admin(h.connectedUsersCSV))
	mux.Handle("PUT /api/v1/admin/whitelist", h.admin(h.putWhitelist))
	mux.Handle("GET /api/v1/admin/whitelist.csv", h.admin(h.whitelistCSV))
	mux.Handle("GET /api/v1/admin/stats", h.admin(h.stats))
	mux.Handle("PUT /api/v1/admin/account-links", h.admin(h.putAccountLinks))
	mux.Handle("GET /api/v1/admin/account-links.csv", h.admin(h.accountLinksCSV))
	mux.Handle("DELETE /api/v1/admin/account-links/{userID}", h.admin(h.deleteAccountLink))
	return mux
}

type ctxKey struct{}

// userID returns the authenticated user set by the user or admin middleware.
func userID(r *http.Request) string {
	id, _ := r.Context().Value(ctxKey{}).(string)
	return id
}

// user admits only requests from an authenticated Mattermost user.
func (h *handler) user(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(UserHeader)
		if id == "" {
			writeError(w, http.StatusUnauthorized, "You must be logged in to Mattermost.")
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
	})
}

// admin admits only system administrators.
func (h *handler) admin(next http.HandlerFunc) http.Handler {
	return h.user(func(w http.ResponseWriter, r *http.Request) {
		if !h.Mattermost.IsSystemAdmin(userID(r)) {
			writeError(w, http.StatusForbidden, "Only system administrators can do this.")
			return
		}
		next(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, sentence string) {
	writeJSON(w, status, errorBody{Error: sentence})
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if h.Logger != nil {
		h.Logger.LogError("HTTP request failed", "path", r.URL.Path, "error", err.Error())
	}
	writeError(w, http.StatusInternalServerError, "Something went wrong on the server. Please try again later.")
}

var (
	_ AdminStore = (*store.Store)(nil)
	_ LinkStore  = (*store.Store)(nil)
)
