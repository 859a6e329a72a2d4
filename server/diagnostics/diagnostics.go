// Package diagnostics answers "is the integration healthy, and if not, why?" for administrators: it gathers a
// status report (settings check, app token and granted permissions, subscription state, last notification,
// inbox depth, parked items with their errors, connected users), renders it as Markdown for `/msteams admin
// status` and as JSON for the support packet, and requeues parked items for `/msteams admin retry-parked`.
// Nothing it reports carries a secret, a token or a message body: settings appear as "set"/"not set", errors are
// scrubbed, and inbox payloads are never read.
package diagnostics

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pkg/errors"
	"golang.org/x/oauth2"

	"github.com/teamsnotify/msteams-sync/server/config"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/subscription"
	"github.com/teamsnotify/msteams-sync/server/webhook"
)

// RequiredRoles are the application permissions the pipeline cannot work without: the tenant-wide chat
// subscription, message, member and hosted-content reads (Chat.Read.All) and presence (Presence.Read.All). They
// are also what the official plugin's app registration has, so an admin switching from it adds nothing.
var RequiredRoles = []string{"Chat.Read.All", "Presence.Read.All"}

// OptionalRoles improve the service but are not required: Application.Read.All lets the plugin warn before
// the client secret expires.
var OptionalRoles = []string{"Application.Read.All"}

// Store is the database access the package needs; *store.Store satisfies it.
type Store interface {
	InboxStats(ctx context.Context) ([]store.InboxQueueStats, error)
	ListParkedInbox(ctx context.Context, queue string, limit int) ([]store.InboxItem, error)
	RequeueParkedInbox(ctx context.Context, queue string, now time.Time) (int64, error)
	CountConnectedUsers(ctx context.Context) (int, error)
	CountPendingInvites(ctx context.Context, now time.Time) (int, error)
	CountWhitelist(ctx context.Context) (int, error)
}

// Subscriptions reads the subscription state; *subscription.Manager satisfies it.
type Subscriptions interface {
	Status(ctx context.Context) (subscription.Status, error)
}

// Deps are what a report is made from. Store and Settings are required.
type Deps struct {
	Store         Store
	Subscriptions Subscriptions
	// ChannelSubscriptions reads the Teams channel message subscription (issue 17); reported only while the
	// ChannelNotifications setting is on. Optional.
	ChannelSubscriptions Subscriptions
	Settings             func() config.Configuration
	// AppToken obtains an app-only access token (see AppTokenFunc). The token is decoded for its roles and
	// dropped; it is never stored or shown. Optional: without it the permission check is skipped.
	AppToken func(ctx context.Context) (string, error)
	// SecretExpiry reads when the client secret expires (graph.Client.GetApplicationSecretExpiry). Optional.
	SecretExpiry func(ctx context.Context) (time.Time, error)
	// UnverifiedRich reads how many rich notifications this node had to fetch instead of decrypt because
	// their validation tokens were missing or invalid (webhook.ChangesHandler.UnverifiedRich). Optional.
	UnverifiedRich func() webhook.UnverifiedRich
	// AfterRequeue runs after parked items were requeued, e.g. to wake the inbox workers. Optional.
	AfterRequeue func(queue string)
	Version      string
	Now          func() time.Time
	// MaxParked bounds the parked items listed (default 20).
	MaxParked int
	// OfficialImport reports the take-over of the official plugin's data (nil when it never ran here). Optional.
	OfficialImport func() *OfficialImport
	// Replies reads whether users can answer Teams from Mattermost (package reply). Optional.
	Replies func(ctx context.Context) (RepliesInfo, error)
}

// RepliesInfo is whether replies and reactions to Teams are available: the app registration lists the optional
// delegated ChatMessage.Send permission, and how many connected users' sign-ins carry it.
type RepliesInfo struct {
	// RegistrationKnown is false when the registration could not be read (Application.Read.All missing).
	RegistrationKnown  bool `json:"registration_known"`
	RegistrationAllows bool `json:"registration_allows"`
	Connected          int  `json:"connected"`
	CanReply           int  `json:"can_reply"`
	// Unknown counts users whose token does not show its permissions (not a readable JWT).
	Unknown int `json:"unknown"`
}

// OfficialImport is what the switch from the official MS Teams plugin took over, or why it could not.
type OfficialImport struct {
	ImportedAt   *time.Time          `json:"imported_at,omitempty"`
	Connected    int                 `json:"connected"`
	Disconnected int                 `json:"disconnected"`
	Whitelist    int                 `json:"whitelist"`
	Invites      int                 `json:"invites"`
	NotImported  []store.NotImported `json:"not_imported,omitempty"`
	Error        string              `json:"error,omitempty"`
}

// Diagnostics builds reports and runs admin actions.
type Diagnostics struct{ d Deps }

// New returns a Diagnostics.
func New(d Deps) (*Diagnostics, error) {
	if d.Store == nil || d.Settings == nil {
		return nil, errors.New("diagnostics: Store and Settings are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.MaxParked <= 0 {
		d.MaxParked = 20
	}
	return &Diagnostics{d: d}, nil
}

// Report is the admin status. Field names are the JSON of the support packet.
type Report struct {
	GeneratedAt   time.Time         `json:"generated_at"`
	PluginVersion string            `json:"plugin_version,omitempty"`
	Settings      SettingsSummary   `json:"settings"`
	AppToken      TokenCheck        `json:"app_token"`
	SecretExpiry  *time.Time        `json:"client_secret_expires_at,omitempty"`
	SecretError   string            `json:"client_secret_expiry_error,omitempty"`
	Subscription  *SubscriptionInfo `json:"subscription,omitempty"`
	SubscriptionE string            `json:"subscription_error,omitempty"`
	// ChannelSubscription is the Teams channel message subscription, while Teams channel notifications are on.
	ChannelSubscription  *SubscriptionInfo `json:"channel_subscription,omitempty"`
	ChannelSubscriptionE string            `json:"channel_subscription_error,omitempty"`
	// ChannelPermissionMissing: channel notifications are on but the app lacks ChannelMessage.Read.All (its
	// token does not carry the role, or Graph refused the subscription with 403).
	ChannelPermissionMissing bool         `json:"channel_permission_missing,omitempty"`
	Inbox                    []QueueInfo  `json:"inbox"`
	InboxError               string       `json:"inbox_error,omitempty"`
	Parked                   []ParkedItem `json:"parked_items"`
	Users                    UserCounts   `json:"users"`
	// UnverifiedRich is set when rich notifications arrived without valid validation tokens on this node.
	UnverifiedRich *UnverifiedRichInfo `json:"unverified_rich_notifications,omitempty"`
	// OfficialImport is the switch from the official MS Teams plugin, when its data was found.
	OfficialImport *OfficialImport `json:"official_plugin_import,omitempty"`
	// Replies is whether users can answer Teams from Mattermost.
	Replies      *RepliesInfo `json:"replies,omitempty"`
	RepliesError string       `json:"replies_error,omitempty"`
	// Problems are the findings an admin should act on, most important first; empty when all is well.
	Problems []string `json:"problems"`
}

// SettingsSummary is the configuration without its secrets: those only say whether they are set.
type SettingsSummary struct {
	Cloud                    string `json:"cloud"`
	TenantID                 string `json:"tenant_id"`
	ClientID                 string `json:"client_id"`
	ClientSecretSet          bool   `json:"client_secret_set"`
	EncryptionKeySet         bool   `json:"encryption_key_set"`
	WebhookSecretSet         bool   `json:"webhook_secret_set"`
	CustomAuthorityURL       string `json:"custom_authority_url,omitempty"`
	CustomGraphURL           string `json:"custom_graph_url,omitempty"`
	CustomCACertificateSet   bool   `json:"custom_ca_certificate_set"`
	SyncNotifications        bool   `json:"sync_notifications"`
	RichNotifications        bool   `json:"rich_notifications"`
	ChannelNotifications     bool   `json:"channel_notifications"`
	ConnectedUsersAllowed    int    `json:"connected_users_allowed"`
	MaxPendingInvites        int    `json:"max_pending_invites"`
	ConnectedUsersRestricted bool   `json:"connected_users_restricted"`
	ValidationError          string `json:"validation_error,omitempty"`
	// Warnings are settings that work but should be changed (e.g. a weak webhook secret carried over).
	Warnings []string `json:"warnings,omitempty"`
}

// TokenCheck says whether an app token could be obtained and which permissions it carries.
type TokenCheck struct {
	Checked         bool     `json:"checked"`
	OK              bool     `json:"ok"`
	Error           string   `json:"error,omitempty"`
	Roles           []string `json:"roles,omitempty"`
	MissingRequired []string `json:"missing_required,omitempty"`
	MissingOptional []string `json:"missing_optional,omitempty"`
}

// SubscriptionInfo is the Graph subscription as the database records it.
type SubscriptionInfo struct {
	ID                 string     `json:"id,omitempty"`
	ExpiresAt          *time.Time `json:"expires_at,omitempty"`
	Active             bool       `json:"active"`
	LastRenewedAt      *time.Time `json:"last_renewed_at,omitempty"`
	LastGoodAt         *time.Time `json:"last_good_at,omitempty"`
	LastError          string     `json:"last_error,omitempty"`
	LastErrorAt        *time.Time `json:"last_error_at,omitempty"`
	LastNotificationAt *time.Time `json:"last_notification_at,omitempty"`
	Leader             string     `json:"leader,omitempty"`
	LeaderUntil        *time.Time `json:"leader_until,omitempty"`
	ThisNode           string     `json:"this_node,omitempty"`
}

// QueueInfo is one inbox queue.
type QueueInfo struct {
	Queue            string  `json:"queue"`
	Depth            int64   `json:"depth"`
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	Parked           int64   `json:"parked"`
}

// ParkedItem is a parked inbox item without its payload.
type ParkedItem struct {
	ID         int64     `json:"id"`
	Queue      string    `json:"queue"`
	Attempts   int       `json:"attempts"`
	EnqueuedAt time.Time `json:"enqueued_at"`
	ParkedAt   time.Time `json:"parked_at"`
	// ExpiresAt is when maintenance deletes the item undelivered unless it is requeued first.
	ExpiresAt time.Time `json:"expires_at"`
	LastError string    `json:"last_error"`
}

// UnverifiedRichInfo counts rich notifications whose validation tokens were missing or invalid, so their
// messages were fetched from Graph instead of decrypted (on this node, since the plugin started).
type UnverifiedRichInfo struct {
	Count      int64     `json:"count"`
	LastAt     time.Time `json:"last_at"`
	LastReason string    `json:"last_reason"` // no_tokens or invalid_tokens
	HowToFix   string    `json:"how_to_fix"`
}

// UserCounts are the seat figures.
type UserCounts struct {
	Connected      int    `json:"connected"`
	PendingInvites int    `json:"pending_invites"`
	Whitelisted    int    `json:"whitelisted"`
	Error          string `json:"error,omitempty"`
}

// callTimeout bounds each external check, so a hanging Graph or database call cannot hang the command.
const callTimeout = 20 * time.Second

// Report gathers the status. Failures of individual checks are part of the report, not errors.
func (d *Diagnostics) Report(ctx context.Context) Report {
	now := d.d.Now()
	cfg := d.d.Settings()
	scrub := newScrubber(cfg)
	r := Report{GeneratedAt: now.UTC(), PluginVersion: d.d.Version, Settings: summarize(cfg, scrub), Inbox: []QueueInfo{}, Parked: []ParkedItem{}}

	r.AppToken = d.checkToken(ctx, scrub)
	if d.d.SecretExpiry != nil {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		t, err := d.d.SecretExpiry(cctx)
		cancel()
		switch {
		case graph.IsForbidden(err):
			r.SecretError = "unknown: the app lacks the Application.Read.All permission needed to read it"
		case errors.Is(err, graph.ErrSecretNotListed):
			r.SecretError = "unknown: the configured secret is not among the app registration's secrets (wrong client ID?)"
		case err != nil:
			r.SecretError = scrub.clean(err.Error())
		case !t.IsZero():
			t = t.UTC()
			r.SecretExpiry = &t
		}
	}

	if d.d.Subscriptions != nil {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		st, err := d.d.Subscriptions.Status(cctx)
		cancel()
		if err != nil {
			r.SubscriptionE = scrub.clean(err.Error())
		} else {
			r.Subscription = &SubscriptionInfo{
				ID: st.SubscriptionID, ExpiresAt: tp(st.ExpiresAt), Active: st.SubscriptionID != "" && st.ExpiresAt.After(now),
				LastRenewedAt: tp(st.LastRenewedAt), LastGoodAt: tp(st.LastGoodAt), LastError: scrub.clean(st.LastError),
				LastErrorAt: tp(st.LastErrorAt), LastNotificationAt: tp(st.LastNotificationAt),
				Leader: st.Leader, LeaderUntil: tp(st.LeaderUntil), ThisNode: st.ThisNode,
			}
		}
	}

	if r.Settings.ChannelNotifications {
		d.channelSubscription(ctx, &r, now, scrub)
	}

	sctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if stats, err := d.d.Store.InboxStats(sctx); err != nil {
		r.InboxError = scrub.clean(err.Error())
	} else {
		for _, q := range stats {
			age := 0.0
			if q.Depth > 0 && !q.OldestEnqueuedAt.IsZero() {
				age = max(now.Sub(q.OldestEnqueuedAt).Seconds(), 0)
			}
			r.Inbox = append(r.Inbox, QueueInfo{Queue: q.Queue, Depth: q.Depth, OldestAgeSeconds: age, Parked: q.Parked})
		}
	}
	if items, err := d.d.Store.ListParkedInbox(sctx, "", d.d.MaxParked); err != nil {
		if r.InboxError == "" {
			r.InboxError = scrub.clean(err.Error())
		}
	} else {
		for _, it := range items {
			r.Parked = append(r.Parked, ParkedItem{ID: it.ID, Queue: it.Queue, Attempts: it.Attempts,
				EnqueuedAt: it.EnqueuedAt.UTC(), ParkedAt: it.ParkedAt.UTC(), ExpiresAt: it.ParkedAt.Add(store.ParkedInboxRetention).UTC(), LastError: scrub.clean(it.LastError)})
		}
	}

	var errs []string
	var err error
	if r.Users.Connected, err = d.d.Store.CountConnectedUsers(sctx); err != nil {
		errs = append(errs, err.Error())
	}
	if r.Users.PendingInvites, err = d.d.Store.CountPendingInvites(sctx, now); err != nil {
		errs = append(errs, err.Error())
	}
	if r.Users.Whitelisted, err = d.d.Store.CountWhitelist(sctx); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		r.Users.Error = scrub.clean(strings.Join(errs, "; "))
	}

	if d.d.UnverifiedRich != nil {
		if u := d.d.UnverifiedRich(); u.Count > 0 {
			r.UnverifiedRich = &UnverifiedRichInfo{Count: u.Count, LastAt: u.LastAt.UTC(), LastReason: u.LastReason, HowToFix: webhook.TokenFallbackHelp}
		}
	}
	if d.d.OfficialImport != nil {
		if imp := d.d.OfficialImport(); imp != nil {
			copied := *imp
			copied.Error = scrub.clean(copied.Error)
			r.OfficialImport = &copied
		}
	}

	if d.d.Replies != nil {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		info, err := d.d.Replies(cctx)
		cancel()
		if err != nil {
			r.RepliesError = scrub.clean(err.Error())
		} else {
			r.Replies = &info
		}
	}

	r.Problems = problems(r, now)
	return r
}

func (d *Diagnostics) checkToken(ctx context.Context, scrub scrubber) TokenCheck {
	if d.d.AppToken == nil {
		return TokenCheck{}
	}
	c := TokenCheck{Checked: true}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	tok, err := d.d.AppToken(cctx)
	if err != nil {
		c.Error = scrub.clean(describeTokenError(err))
		return c
	}
	c.OK = true
	c.Roles = rolesOf(tok)
	for _, r := range RequiredRoles {
		if !slices.Contains(c.Roles, r) {
			c.MissingRequired = append(c.MissingRequired, r)
		}
	}
	for _, r := range OptionalRoles {
		if !slices.Contains(c.Roles, r) {
			c.MissingOptional = append(c.MissingOptional, r)
		}
	}
	return c
}

// describeTokenError keeps the identity platform's error code and description (AADSTS codes tell the admin
// what is wrong) and drops the raw response.
func describeTokenError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := re.ErrorCode
		if re.ErrorDescription != "" {
			msg += ": " + firstLine(re.ErrorDescription)
		}
		if msg != "" {
			return msg
		}
		if re.Response != nil {
			return "the token endpoint answered " + re.Response.Status
		}
	}
	return err.Error()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(line)
}

// rolesOf decodes the roles claim of an access token without verifying it: the token came straight from the
// identity platform over TLS, and the result is only shown to an admin.
func rolesOf(tok string) []string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return nil
	}
	sort.Strings(claims.Roles)
	return claims.Roles
}

func summarize(cfg config.Configuration, scrub scrubber) SettingsSummary {
	s := SettingsSummary{
		Cloud: cfg.Cloud, TenantID: cfg.TenantID, ClientID: cfg.ClientID,
		ClientSecretSet: cfg.ClientSecret != "", EncryptionKeySet: cfg.EncryptionKey != "", WebhookSecretSet: cfg.WebhookSecret != "",
		CustomAuthorityURL: scrub.clean(cfg.CustomAuthorityURL), CustomGraphURL: scrub.clean(cfg.CustomGraphURL),
		CustomCACertificateSet: cfg.CustomCACertificate != "",
		SyncNotifications:      cfg.SyncNotifications, RichNotifications: cfg.RichNotifications,
		ChannelNotifications:  cfg.ChannelNotifications,
		ConnectedUsersAllowed: cfg.ConnectedUsersAllowed, MaxPendingInvites: cfg.ConnectedUsersMaxPendingInvites,
		ConnectedUsersRestricted: cfg.ConnectedUsersRestricted,
	}
	if err := cfg.Validate(); err != nil {
		s.ValidationError = scrub.clean(err.Error())
	}
	for _, w := range cfg.Warnings() {
		s.Warnings = append(s.Warnings, scrub.clean(w))
	}
	return s
}

// channelPermission is what Teams channel notifications need (issue 17).
const channelPermission = subscription.ChannelPermission

// channelSubscription fills the channel subscription part of r while Teams channel notifications are on.
func (d *Diagnostics) channelSubscription(ctx context.Context, r *Report, now time.Time, scrub scrubber) {
	if r.AppToken.Checked && r.AppToken.OK && !slices.Contains(r.AppToken.Roles, channelPermission) {
		r.ChannelPermissionMissing = true
	}
	if d.d.ChannelSubscriptions == nil {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	st, err := d.d.ChannelSubscriptions.Status(cctx)
	cancel()
	if err != nil {
		r.ChannelSubscriptionE = scrub.clean(err.Error())
		return
	}
	r.ChannelPermissionMissing = r.ChannelPermissionMissing || st.PermissionMissing()
	r.ChannelSubscription = &SubscriptionInfo{
		ID: st.SubscriptionID, ExpiresAt: tp(st.ExpiresAt), Active: st.SubscriptionID != "" && st.ExpiresAt.After(now),
		LastRenewedAt: tp(st.LastRenewedAt), LastGoodAt: tp(st.LastGoodAt), LastError: scrub.clean(st.LastError),
		LastErrorAt: tp(st.LastErrorAt), LastNotificationAt: tp(st.LastNotificationAt),
		Leader: st.Leader, LeaderUntil: tp(st.LeaderUntil), ThisNode: st.ThisNode,
	}
}

// ChannelPermissionHelp says what to grant for Teams channel notifications.
const ChannelPermissionHelp = "Teams channel notifications are on, but the app lacks the Microsoft Graph application permission " +
	channelPermission + ", so no channel messages arrive. In the Microsoft Entra admin center, open App registrations > this app > " +
	"API permissions > Add a permission > Microsoft Graph > Application permissions, add " + channelPermission +
	", then Grant admin consent. The plugin retries the subscription every few minutes; turn the setting off to stop."

func problems(r Report, now time.Time) []string {
	var out []string
	if r.Settings.ValidationError != "" {
		out = append(out, "The settings are invalid: "+r.Settings.ValidationError)
	}
	out = append(out, r.Settings.Warnings...)
	if !r.Settings.SyncNotifications {
		out = append(out, "Notification sync is switched off in the plugin settings: messages are consumed but not delivered.")
	}
	if r.AppToken.Checked && !r.AppToken.OK {
		out = append(out, "The plugin cannot sign in as the app (check the tenant ID, client ID and client secret): "+r.AppToken.Error)
	}
	if len(r.AppToken.MissingRequired) > 0 {
		out = append(out, "Application permissions not granted (grant admin consent in Entra): "+strings.Join(r.AppToken.MissingRequired, ", "))
	}
	if r.SecretExpiry != nil && r.SecretExpiry.Sub(now) < 14*24*time.Hour {
		out = append(out, "The client secret expires on "+r.SecretExpiry.Format("2006-01-02")+": create a new one and update the settings.")
	}
	switch {
	case r.SubscriptionE != "":
		out = append(out, "The subscription state could not be read: "+r.SubscriptionE)
	case r.Subscription != nil && !r.Subscription.Active:
		msg := "There is no live Graph subscription, so Microsoft sends no notifications."
		if r.Subscription.LastError != "" {
			msg += " Last error: " + r.Subscription.LastError
		}
		out = append(out, msg)
	case r.Subscription != nil && r.Subscription.ExpiresAt != nil && r.Subscription.ExpiresAt.Sub(now) < time.Hour:
		out = append(out, "The Graph subscription expires within an hour; renewals are failing.")
	}
	if r.Settings.ChannelNotifications {
		switch {
		case r.ChannelPermissionMissing:
			out = append(out, ChannelPermissionHelp)
		case r.ChannelSubscriptionE != "":
			out = append(out, "The channel subscription state could not be read: "+r.ChannelSubscriptionE)
		case r.ChannelSubscription != nil && !r.ChannelSubscription.Active && r.ChannelSubscription.LastError != "":
			out = append(out, "There is no live Graph subscription for Teams channel messages. Last error: "+r.ChannelSubscription.LastError)
		}
	}
	var parked int64
	for _, q := range r.Inbox {
		parked += q.Parked
		if q.OldestAgeSeconds > 600 {
			out = append(out, "The "+q.Queue+" queue is behind: its oldest item has waited "+
				(time.Duration(q.OldestAgeSeconds)*time.Second).String()+".")
		}
	}
	if parked > 0 {
		out = append(out, "Some items are parked (listed below); fix the cause, then run `/msteams admin retry-parked`.")
	}
	if r.InboxError != "" {
		out = append(out, "The inbox could not be read: "+r.InboxError)
	}
	if u := r.UnverifiedRich; u != nil {
		what := "without validation tokens (validationTokens: null)"
		if u.LastReason == webhook.UnverifiedInvalidTokens {
			what = "with validation tokens that did not verify"
		}
		out = append(out, fmt.Sprintf("%d rich notification(s) arrived %s since the plugin started on this node, the latest at %s. %s",
			u.Count, what, u.LastAt.Format("2006-01-02 15:04:05 MST"), u.HowToFix))
	}
	if imp := r.OfficialImport; imp != nil {
		switch {
		case imp.Error != "":
			out = append(out, "The switch from the official MS Teams plugin is not complete: "+imp.Error)
		case len(imp.NotImported) > 0:
			out = append(out, fmt.Sprintf("%d users of the official MS Teams plugin were not taken over as they were (listed below).", len(imp.NotImported)))
		}
	}
	return out
}

// RetryParked makes the parked items of queue ("" for all queues) due again and returns how many.
func (d *Diagnostics) RetryParked(ctx context.Context, queue string) (int64, error) {
	n, err := d.d.Store.RequeueParkedInbox(ctx, queue, d.d.Now())
	if err != nil {
		return 0, errors.Wrap(err, "requeue parked items")
	}
	if n > 0 && d.d.AfterRequeue != nil {
		d.d.AfterRequeue(queue)
	}
	return n, nil
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// scrubber removes anything secret-looking from free text that came from elsewhere (errors, URLs): the
// configured secrets verbatim, bearer tokens, JWTs, and query strings of URLs (pre-authenticated download
// links carry their credential there).
type scrubber struct{ secrets []string }

var (
	jwtRe    = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
	bearerRe = regexp.MustCompile(`(?i)bearer\s+[A-Za-z0-9._~+/=-]+`)
	queryRe  = regexp.MustCompile(`(https?://[^\s?"']+)\?[^\s"']*`)
	secretKV = regexp.MustCompile(`(?i)(client_secret|password|access_token|refresh_token|code|clientstate)=([^&\s"']+)`)
)

const maxText = 500

func newScrubber(cfg config.Configuration) scrubber {
	var s scrubber
	for _, v := range []string{cfg.ClientSecret, cfg.EncryptionKey, cfg.WebhookSecret} {
		if len(v) >= 4 {
			s.secrets = append(s.secrets, v)
		}
	}
	return s
}

func (s scrubber) clean(text string) string {
	for _, v := range s.secrets {
		text = strings.ReplaceAll(text, v, "[redacted]")
	}
	text = jwtRe.ReplaceAllString(text, "[token]")
	text = bearerRe.ReplaceAllString(text, "Bearer [token]")
	text = secretKV.ReplaceAllString(text, "$1=[redacted]")
	text = queryRe.ReplaceAllString(text, "$1?[redacted]")
	if len(text) > maxText {
		text = text[:maxText] + "…"
	}
	return text
}
