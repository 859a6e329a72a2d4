package changes

import (
	"compress/gzip"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"
)

const (
	minLifetime          = 45 * time.Minute
	maxLifetimeMinutes   = 4320
	lifecycleRequiredAt  = time.Hour
	maxClientStateLength = 128
	listPageSize         = 100

	msgLifecycleRequired = "lifecycleNotificationUrl is a required property for subscription creation on this resource when the expirationDateTime value is set to greater than 1 hour"
	msgValidationFailed  = "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request."
)

type resourceKind int

const (
	kindTenantMessages  resourceKind = iota + 1 // /chats/getAllMessages
	kindUserMessages                            // /users/{id}/chats/getAllMessages
	kindChatMessages                            // /chats/{id}/messages
	kindTeamMessages                            // /teams/getAllMessages (channel messages and replies)
	kindChannelMessages                         // /teams/{id}/channels/{id}/messages
)

type subscription struct {
	seq         int64
	id          string
	tenantID    string
	appID       string
	creatorID   string
	appOnly     bool
	resource    string // as the client sent it
	kind        resourceKind
	chatID      string
	teamID      string // with chatID holding the channel id, for kindChannelMessages
	userID      string
	changeType  string
	changeTypes map[string]bool
	clientState string
	notifyURL   string
	lifecycle   string
	expires     time.Time
	tlsVersion  string

	includeData bool
	certB64     string
	certID      string
	certPub     *rsa.PublicKey
	certThumb   string

	paused bool
	held   []*item // change items waiting for the app to reauthorize
}

// SubscriptionInfo is a read-only view of a subscription for the sim's control API and tests.
type SubscriptionInfo struct {
	ID, TenantID, AppID, CreatorID, Resource, ChangeType string
	NotificationURL, LifecycleNotificationURL            string
	ExpirationDateTime                                   time.Time
	IncludeResourceData                                  bool
	Paused                                               bool
	HeldItems                                            int
}

func (s *subscription) info() SubscriptionInfo {
	return SubscriptionInfo{
		ID: s.id, TenantID: s.tenantID, AppID: s.appID, CreatorID: s.creatorID, Resource: s.resource,
		ChangeType: s.changeType, NotificationURL: s.notifyURL, LifecycleNotificationURL: s.lifecycle,
		ExpirationDateTime: s.expires, IncludeResourceData: s.includeData, Paused: s.paused, HeldItems: len(s.held),
	}
}

// Subscriptions lists the live subscriptions of every tenant.
func (m *Manager) Subscriptions() []SubscriptionInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.purgeExpiredLocked()
	var out []SubscriptionInfo
	for _, s := range m.sortedLocked() {
		out = append(out, s.info())
	}
	return out
}

func (m *Manager) sortedLocked() []*subscription {
	list := make([]*subscription, 0, len(m.subs))
	for _, s := range m.subs {
		list = append(list, s)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].seq < list[j].seq })
	return list
}

// purgeExpiredLocked forgets subscriptions past their expiry: Graph answers 404 for them.
func (m *Manager) purgeExpiredLocked() {
	now := m.d.Now()
	for id, s := range m.subs {
		if !now.Before(s.expires) {
			m.stats.ItemsExpired += int64(len(s.held))
			delete(m.subs, id)
		}
	}
}

func (s *subscription) json(base string) map[string]any {
	body := map[string]any{
		"@odata.context":            base + "/v1.0/$metadata#subscriptions/$entity",
		"id":                        s.id,
		"resource":                  s.resource,
		"applicationId":             s.appID,
		"changeType":                s.changeType,
		"clientState":               nullable(s.clientState),
		"notificationUrl":           s.notifyURL,
		"notificationQueryOptions":  nil,
		"lifecycleNotificationUrl":  nullable(s.lifecycle),
		"expirationDateTime":        graphTime(s.expires),
		"creatorId":                 s.creatorID,
		"includeResourceData":       s.includeData,
		"latestSupportedTlsVersion": s.tlsVersion,
		"encryptionCertificate":     nullable(s.certB64),
		"encryptionCertificateId":   nullable(s.certID),
		"notificationUrlAppId":      nil,
	}
	return body
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// subBody is a subscription as clients send it; pointers tell absent fields from empty ones.
type subBody struct {
	ChangeType                *string `json:"changeType"`
	Resource                  *string `json:"resource"`
	NotificationURL           *string `json:"notificationUrl"`
	LifecycleNotificationURL  *string `json:"lifecycleNotificationUrl"`
	ExpirationDateTime        *string `json:"expirationDateTime"`
	ClientState               *string `json:"clientState"`
	IncludeResourceData       *bool   `json:"includeResourceData"`
	EncryptionCertificate     *string `json:"encryptionCertificate"`
	EncryptionCertificateID   *string `json:"encryptionCertificateId"`
	LatestSupportedTLSVersion *string `json:"latestSupportedTlsVersion"`
}

// apiError is a ready-to-send OData error.
type apiError struct {
	status        int
	code, message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func badRequest(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidRequest", msg}
}

func readBody(r *http.Request) ([]byte, error) {
	var rd io.Reader = io.LimitReader(r.Body, 1<<20)
	// The Go SDK gzips request bodies by default.
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, errors.Wrap(err, "open gzip request body")
		}
		defer zr.Close()
		rd = zr
	}
	b, err := io.ReadAll(rd)
	return b, errors.Wrap(err, "read request body")
}

func baseURL(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host
}

func (m *Manager) serveCollection(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		m.handleCreate(w, r)
	case http.MethodGet:
		m.handleList(w, r)
	default:
		writeError(w, r, http.StatusMethodNotAllowed, "BadRequest", "Unsupported HTTP method "+r.Method+".")
	}
}

func (m *Manager) serveItem(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/v1.0/subscriptions/")
	id, action, _ := strings.Cut(rest, "/")
	if unescaped, err := url.PathUnescape(id); err == nil {
		id = unescaped
	}
	if id == "" {
		m.serveCollection(w, r)
		return
	}
	switch {
	case action == "" && r.Method == http.MethodGet:
		m.handleGet(w, r, id)
	case action == "" && r.Method == http.MethodPatch:
		m.handlePatch(w, r, id)
	case action == "" && r.Method == http.MethodDelete:
		m.handleDelete(w, r, id)
	case action == "reauthorize" && r.Method == http.MethodPost:
		m.handleReauthorize(w, r, id)
	default:
		writeError(w, r, http.StatusBadRequest, "BadRequest", "Unsupported request: "+r.Method+" "+r.URL.Path)
	}
}

func (m *Manager) authorize(w http.ResponseWriter, r *http.Request) (TokenInfo, bool) {
	if m.d.Authorize == nil {
		writeError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
		return TokenInfo{}, false
	}
	return m.d.Authorize(w, r)
}

// writeRequest authorizes and throttles a subscription write and decodes its body, answering the error itself
// when any step fails.
func (m *Manager) writeRequest(w http.ResponseWriter, r *http.Request) (TokenInfo, subBody, bool) {
	var body subBody
	tok, ok := m.authorize(w, r)
	if !ok || m.throttled(w, r, tok, "write") {
		return tok, body, false
	}
	raw, err := readBody(r)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "BadRequest", "Unable to read the request body.")
		return tok, body, false
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		writeError(w, r, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
		return tok, body, false
	}
	return tok, body, true
}

func (m *Manager) handleCreate(w http.ResponseWriter, r *http.Request) {
	tok, body, ok := m.writeRequest(w, r)
	if !ok {
		return
	}
	sub, apiErr := m.newSubscription(tok, body)
	if apiErr != nil {
		writeError(w, r, apiErr.status, apiErr.code, apiErr.message)
		return
	}

	m.mu.Lock()
	apiErr = m.admitLocked(sub)
	m.mu.Unlock()
	if apiErr != nil {
		writeError(w, r, apiErr.status, apiErr.code, apiErr.message)
		return
	}

	// Graph validates both endpoints before the subscription exists; a URL used for both gets two requests.
	if err := m.handshake(r.Context(), sub.notifyURL); err != nil {
		writeError(w, r, http.StatusBadRequest, "InvalidRequest", msgValidationFailed)
		return
	}
	if sub.lifecycle != "" {
		if err := m.handshake(r.Context(), sub.lifecycle); err != nil {
			writeError(w, r, http.StatusBadRequest, "InvalidRequest", msgValidationFailed)
			return
		}
	}

	m.mu.Lock()
	// Re-check: another create may have won while the handshake ran.
	apiErr = m.admitLocked(sub)
	if apiErr == nil {
		m.seq++
		sub.seq = m.seq
		m.subs[sub.id] = sub
	}
	body2 := sub.json(baseURL(r))
	m.mu.Unlock()
	if apiErr != nil {
		writeError(w, r, apiErr.status, apiErr.code, apiErr.message)
		return
	}
	writeJSON(w, http.StatusCreated, body2)
}

// admitLocked applies the duplicate and quota rules to a subscription about to be created.
func (m *Manager) admitLocked(sub *subscription) *apiError {
	m.purgeExpiredLocked()
	inTenant := 0
	for _, s := range m.subs {
		if s.tenantID != sub.tenantID {
			continue
		}
		inTenant++
		if s.appID == sub.appID && s.kind == sub.kind && s.chatID == sub.chatID && s.teamID == sub.teamID &&
			strings.EqualFold(s.userID, sub.userID) && s.changeType == sub.changeType {
			return &apiError{http.StatusConflict, "ExtensionError",
				fmt.Sprintf("Subscription Id %s already exists for the requested combination", s.id)}
		}
	}
	if inTenant >= m.settings.QuotaPerTenant {
		return &apiError{http.StatusForbidden, "ExtensionError",
			fmt.Sprintf("Operation: Create; Exception: [Status Code: Forbidden; Reason: The number of subscriptions in the organization has reached the limit of %d.]", m.settings.QuotaPerTenant)}
	}
	return nil
}

// newSubscription validates a create body and the caller's permissions.
func (m *Manager) newSubscription(tok TokenInfo, b subBody) (*subscription, *apiError) {
	now := m.d.Now()
	sub := &subscription{
		id:         newUUID(),
		tenantID:   tok.TenantID,
		appID:      tok.AppID,
		appOnly:    tok.AppOnly,
		creatorID:  tok.UserID,
		tlsVersion: "v1_2",
	}
	if sub.creatorID == "" {
		sub.creatorID = tok.AppID
	}
	if b.ChangeType == nil || strings.TrimSpace(*b.ChangeType) == "" {
		return nil, badRequest("changeType is a required property for subscription creation.")
	}
	ct, cts, err := parseChangeType(*b.ChangeType)
	if err != nil {
		return nil, err
	}
	sub.changeType, sub.changeTypes = ct, cts
	if b.Resource == nil || strings.TrimSpace(*b.Resource) == "" {
		return nil, badRequest("resource is a required property for subscription creation.")
	}
	sub.resource = *b.Resource
	if err := sub.parseResource(*b.Resource); err != nil {
		return nil, err
	}
	if err := sub.checkPermission(tok); err != nil {
		return nil, err
	}
	if b.NotificationURL == nil || *b.NotificationURL == "" {
		return nil, badRequest("notificationUrl is a required property for subscription creation.")
	}
	if err := checkURL("notificationUrl", *b.NotificationURL); err != nil {
		return nil, err
	}
	sub.notifyURL = *b.NotificationURL
	if b.LifecycleNotificationURL != nil && *b.LifecycleNotificationURL != "" {
		if err := checkURL("lifecycleNotificationUrl", *b.LifecycleNotificationURL); err != nil {
			return nil, err
		}
		sub.lifecycle = *b.LifecycleNotificationURL
	}
	if b.ClientState != nil {
		if len(*b.ClientState) > maxClientStateLength {
			return nil, badRequest("clientState must not exceed 128 characters.")
		}
		sub.clientState = *b.ClientState
	}
	if b.LatestSupportedTLSVersion != nil && *b.LatestSupportedTLSVersion != "" {
		switch *b.LatestSupportedTLSVersion {
		case "v1_0", "v1_1", "v1_2", "v1_3":
			sub.tlsVersion = *b.LatestSupportedTLSVersion
		default:
			return nil, badRequest("Invalid value for latestSupportedTlsVersion: " + *b.LatestSupportedTLSVersion)
		}
	}
	if b.ExpirationDateTime == nil || *b.ExpirationDateTime == "" {
		return nil, badRequest("expirationDateTime is a required property for subscription creation.")
	}
	exp, apiErr := sub.checkExpiration(now, *b.ExpirationDateTime, sub.lifecycle)
	if apiErr != nil {
		return nil, apiErr
	}
	sub.expires = exp
	if b.EncryptionCertificateID != nil {
		if len(*b.EncryptionCertificateID) > 128 {
			return nil, badRequest("encryptionCertificateId must not exceed 128 characters.")
		}
		sub.certID = *b.EncryptionCertificateID
	}
	if b.EncryptionCertificate != nil && *b.EncryptionCertificate != "" {
		if err := sub.setCertificate(*b.EncryptionCertificate); err != nil {
			return nil, err
		}
	}
	if b.IncludeResourceData != nil && *b.IncludeResourceData {
		if sub.certPub == nil {
			return nil, badRequest("A valid encryptionCertificate must be provided when includeResourceData is true.")
		}
		if sub.certID == "" {
			return nil, badRequest("encryptionCertificateId must be provided when includeResourceData is true.")
		}
		sub.includeData = true
	}
	return sub, nil
}

func parseChangeType(raw string) (string, map[string]bool, *apiError) {
	set := map[string]bool{}
	var parts []string
	for _, p := range strings.Split(raw, ",") {
		p = strings.TrimSpace(p)
		switch p {
		case "created", "updated", "deleted":
		default:
			return "", nil, badRequest(fmt.Sprintf("Invalid 'changeType' attribute: '%s'.", p))
		}
		if !set[p] {
			set[p] = true
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ","), set, nil
}

func checkURL(field, raw string) *apiError {
	u, err := url.Parse(raw)
	// Real Graph insists on https; the emulator also takes http so tests can use plain listeners.
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return badRequest(fmt.Sprintf("Invalid %s: '%s'. The URL must be an absolute https URL.", field, raw))
	}
	return nil
}

// checkExpiration applies the floor (silently raised), the ceiling and the lifecycle-URL rule.
func (s *subscription) checkExpiration(now time.Time, raw, lifecycle string) (time.Time, *apiError) {
	exp, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return time.Time{}, badRequest(fmt.Sprintf("Invalid expirationDateTime: '%s'.", raw))
	}
	if exp.Before(now.Add(minLifetime)) {
		exp = now.Add(minLifetime)
	}
	if exp.After(now.Add(maxLifetimeMinutes * time.Minute)) {
		return time.Time{}, &apiError{http.StatusBadRequest, "ExtensionError",
			fmt.Sprintf("Subscription expiration can only be %d minutes in the future.", maxLifetimeMinutes)}
	}
	if lifecycle == "" && exp.After(now.Add(lifecycleRequiredAt)) {
		return time.Time{}, badRequest(msgLifecycleRequired)
	}
	return exp.UTC(), nil
}

// parseResource recognises the chat-message resources, percent-encoded or in OData key syntax,
// with the (ignored) ?model=A|B suffix.
func (s *subscription) parseResource(raw string) *apiError {
	p, query, _ := strings.Cut(raw, "?")
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return badRequest("Invalid resource query: " + query)
		}
		if model := q.Get("model"); model != "" && model != "A" && model != "B" {
			return &apiError{http.StatusBadRequest, "InvalidRequest", "Invalid model parameter: '" + model + "'. Supported values are A and B."}
		}
		if q.Has("$select") {
			return badRequest("$select is not supported for this resource.")
		}
	}
	p = strings.Trim(p, "/")
	var segs []string
	for _, seg := range strings.Split(p, "/") {
		if u, err := url.PathUnescape(seg); err == nil {
			seg = u
		}
		// chats('id') → chats, id
		if name, key, ok := strings.Cut(seg, "('"); ok && strings.HasSuffix(key, "')") {
			segs = append(segs, name, strings.TrimSuffix(key, "')"))
			continue
		}
		segs = append(segs, seg)
	}
	eq := strings.EqualFold
	switch {
	case len(segs) == 2 && eq(segs[0], "chats") && eq(segs[1], "getAllMessages"):
		s.kind = kindTenantMessages
	case len(segs) == 2 && eq(segs[0], "teams") && eq(segs[1], "getAllMessages"):
		s.kind = kindTeamMessages
	case len(segs) == 5 && eq(segs[0], "teams") && eq(segs[2], "channels") && eq(segs[4], "messages") && segs[1] != "" && segs[3] != "":
		s.kind, s.teamID, s.chatID = kindChannelMessages, segs[1], segs[3]
	case len(segs) == 4 && eq(segs[0], "users") && eq(segs[2], "chats") && eq(segs[3], "getAllMessages") && segs[1] != "":
		s.kind, s.userID = kindUserMessages, segs[1]
	case len(segs) == 3 && eq(segs[0], "chats") && eq(segs[2], "messages") && segs[1] != "":
		s.kind, s.chatID = kindChatMessages, segs[1]
	default:
		return badRequest(fmt.Sprintf("Resource '%s' is not supported by this emulator for change notifications.", raw))
	}
	return nil
}

func hasAny(have []string, want ...string) bool {
	for _, h := range have {
		for _, w := range want {
			if strings.EqualFold(h, w) {
				return true
			}
		}
	}
	return false
}

func (s *subscription) checkPermission(tok TokenInfo) *apiError {
	forbidden := func(reason string) *apiError {
		return &apiError{http.StatusForbidden, "ExtensionError",
			"Operation: Create; Exception: [Status Code: Forbidden; Reason: " + reason + "]"}
	}
	switch s.kind {
	case kindTenantMessages:
		if !tok.AppOnly {
			return forbidden("This resource is only supported with application permissions.")
		}
		if !hasAny(tok.Roles, "Chat.Read.All") {
			return forbidden("Caller does not have the required application permission Chat.Read.All.")
		}
	case kindTeamMessages:
		// Documented: application ChannelMessage.Read.All only; delegated is not supported.
		if !tok.AppOnly {
			return forbidden("This resource is only supported with application permissions.")
		}
		if !hasAny(tok.Roles, "ChannelMessage.Read.All") {
			return forbidden("Caller does not have the required application permission ChannelMessage.Read.All.")
		}
	case kindChannelMessages:
		// Documented: ChannelMessage.Read.All, delegated or application.
		if tok.AppOnly && !hasAny(tok.Roles, "ChannelMessage.Read.All") {
			return forbidden("Caller does not have the required application permission ChannelMessage.Read.All.")
		}
		if !tok.AppOnly && !hasAny(tok.Scopes, "ChannelMessage.Read.All") {
			return forbidden("Caller does not have the required delegated permission ChannelMessage.Read.All.")
		}
	case kindUserMessages:
		if tok.AppOnly {
			if !hasAny(tok.Roles, "Chat.Read.All", "Chat.ReadWrite.All") {
				return forbidden("Caller does not have the required application permission Chat.Read.All.")
			}
		} else {
			if !hasAny(tok.Scopes, "Chat.Read", "Chat.ReadWrite") {
				return forbidden("Caller does not have the required delegated permission Chat.Read.")
			}
			if !strings.EqualFold(s.userID, tok.UserID) {
				return forbidden("A delegated caller can only subscribe to its own chats.")
			}
		}
	case kindChatMessages:
		if tok.AppOnly {
			if !hasAny(tok.Roles, "Chat.Read.All", "Chat.ReadWrite.All") {
				return forbidden("Caller does not have the required application permission Chat.Read.All.")
			}
		} else if !hasAny(tok.Scopes, "Chat.Read", "Chat.ReadWrite") {
			return forbidden("Caller does not have the required delegated permission Chat.Read.")
		}
	}
	return nil
}

// setCertificate takes base64 DER (what Microsoft's samples send) or base64 of PEM text.
func (s *subscription) setCertificate(b64 string) *apiError {
	invalid := badRequest("The encryptionCertificate is not a valid base64-encoded X.509 certificate with an RSA public key of 2048 to 4096 bits.")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return invalid
	}
	if block, _ := pem.Decode(raw); block != nil {
		raw = block.Bytes
	}
	cert, err := x509.ParseCertificate(raw)
	if err != nil {
		return invalid
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() < 2048 || pub.N.BitLen() > 4096 {
		return invalid
	}
	sum := sha1.Sum(cert.Raw)
	s.certB64, s.certPub, s.certThumb = b64, pub, strings.ToUpper(hex.EncodeToString(sum[:]))
	return nil
}

// ownedLocked finds a live subscription of the caller's app and tenant; others' are invisible (404).
func (m *Manager) ownedLocked(tok TokenInfo, id string) *subscription {
	m.purgeExpiredLocked()
	s := m.subs[id]
	if s == nil || s.appID != tok.AppID || s.tenantID != tok.TenantID {
		return nil
	}
	if !tok.AppOnly && s.creatorID != tok.UserID {
		return nil
	}
	return s
}

func notFound(w http.ResponseWriter, r *http.Request, id string) {
	writeError(w, r, http.StatusNotFound, "ResourceNotFound",
		fmt.Sprintf("The object was not found. Subscription Id '%s'.", id))
}

func (m *Manager) handleGet(w http.ResponseWriter, r *http.Request, id string) {
	tok, ok := m.authorize(w, r)
	if !ok {
		return
	}
	if m.throttled(w, r, tok, "get") {
		return
	}
	m.mu.Lock()
	s := m.ownedLocked(tok, id)
	var body map[string]any
	if s != nil {
		body = s.json(baseURL(r))
	}
	m.mu.Unlock()
	if s == nil {
		notFound(w, r, id)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (m *Manager) handleList(w http.ResponseWriter, r *http.Request) {
	tok, ok := m.authorize(w, r)
	if !ok {
		return
	}
	if m.throttled(w, r, tok, "list") {
		return
	}
	skip := 0
	if t := r.URL.Query().Get("$skiptoken"); t != "" {
		n, err := decodeSkipToken(t)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "BadRequest", "Invalid $skiptoken.")
			return
		}
		skip = n
	}
	base := baseURL(r)
	m.mu.Lock()
	m.purgeExpiredLocked()
	var mine []map[string]any
	for _, s := range m.sortedLocked() {
		if s.appID != tok.AppID || s.tenantID != tok.TenantID || (!tok.AppOnly && s.creatorID != tok.UserID) {
			continue
		}
		item := s.json(base)
		delete(item, "@odata.context")
		mine = append(mine, item)
	}
	m.mu.Unlock()
	if skip > len(mine) {
		skip = len(mine)
	}
	page := mine[skip:]
	resp := map[string]any{"@odata.context": base + "/v1.0/$metadata#subscriptions"}
	if len(page) > listPageSize {
		page = page[:listPageSize]
		resp["@odata.nextLink"] = base + "/v1.0/subscriptions?$skiptoken=" + encodeSkipToken(skip+listPageSize)
	}
	if page == nil {
		page = []map[string]any{}
	}
	resp["value"] = page
	writeJSON(w, http.StatusOK, resp)
}

func encodeSkipToken(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("subs:" + strconv.Itoa(n)))
}

func decodeSkipToken(t string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return 0, errors.Wrap(err, "decode skip token")
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "subs:"))
	if err != nil || n < 0 {
		return 0, errors.New("bad skip token")
	}
	return n, nil
}

func (m *Manager) handleDelete(w http.ResponseWriter, r *http.Request, id string) {
	tok, ok := m.authorize(w, r)
	if !ok {
		return
	}
	if m.throttled(w, r, tok, "write") {
		return
	}
	m.mu.Lock()
	s := m.ownedLocked(tok, id)
	if s != nil {
		m.stats.ItemsExpired += int64(len(s.held))
		delete(m.subs, id)
	}
	m.mu.Unlock()
	if s == nil {
		notFound(w, r, id)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (m *Manager) handleReauthorize(w http.ResponseWriter, r *http.Request, id string) {
	tok, ok := m.authorize(w, r)
	if !ok {
		return
	}
	if m.throttled(w, r, tok, "reauthorize") {
		return
	}
	m.mu.Lock()
	s := m.ownedLocked(tok, id)
	if s != nil {
		m.resumeLocked(s)
	}
	m.mu.Unlock()
	if s == nil {
		notFound(w, r, id)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (m *Manager) handlePatch(w http.ResponseWriter, r *http.Request, id string) {
	tok, b, ok := m.writeRequest(w, r)
	if !ok {
		return
	}

	m.mu.Lock()
	s := m.ownedLocked(tok, id)
	if s == nil {
		m.mu.Unlock()
		notFound(w, r, id)
		return
	}
	// Work on a copy so a failed PATCH (including a failed handshake) changes nothing.
	next := *s
	apiErr := m.applyPatch(&next, b)
	m.mu.Unlock()
	if apiErr != nil {
		writeError(w, r, apiErr.status, apiErr.code, apiErr.message)
		return
	}
	if next.notifyURL != s.notifyURL {
		// Whether Graph revalidates on PATCH is unconfirmed; the emulator does, for a changed URL.
		if err := m.handshake(r.Context(), next.notifyURL); err != nil {
			writeError(w, r, http.StatusBadRequest, "InvalidRequest", msgValidationFailed)
			return
		}
	}

	m.mu.Lock()
	cur := m.ownedLocked(tok, id)
	if cur == nil {
		m.mu.Unlock()
		notFound(w, r, id)
		return
	}
	cur.notifyURL, cur.expires = next.notifyURL, next.expires
	cur.certB64, cur.certID, cur.certPub, cur.certThumb = next.certB64, next.certID, next.certPub, next.certThumb
	cur.includeData = next.includeData
	// Renewing also reauthorizes.
	m.resumeLocked(cur)
	body := cur.json(baseURL(r))
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func (m *Manager) applyPatch(s *subscription, b subBody) *apiError {
	now := m.d.Now()
	if b.Resource != nil && *b.Resource != s.resource {
		return badRequest("resource cannot be changed; create a new subscription instead.")
	}
	if b.ChangeType != nil {
		ct, _, err := parseChangeType(*b.ChangeType)
		if err != nil {
			return err
		}
		if ct != s.changeType {
			return badRequest("changeType cannot be changed; create a new subscription instead.")
		}
	}
	if b.LifecycleNotificationURL != nil && *b.LifecycleNotificationURL != s.lifecycle {
		return badRequest("lifecycleNotificationUrl cannot be added or changed on an existing subscription; create a new subscription instead.")
	}
	if b.NotificationURL != nil {
		if err := checkURL("notificationUrl", *b.NotificationURL); err != nil {
			return err
		}
		s.notifyURL = *b.NotificationURL
	}
	if b.ExpirationDateTime != nil {
		exp, err := s.checkExpiration(now, *b.ExpirationDateTime, s.lifecycle)
		if err != nil {
			if err.message == msgLifecycleRequired {
				// On update Graph cannot suggest adding the URL, since PATCH cannot add it.
				err = badRequest("lifecycleNotificationUrl is a required property when the expirationDateTime value is set to greater than 1 hour, and it cannot be added by PATCH; create a new subscription instead.")
			}
			return err
		}
		s.expires = exp
	}
	if b.EncryptionCertificateID != nil {
		if len(*b.EncryptionCertificateID) > 128 {
			return badRequest("encryptionCertificateId must not exceed 128 characters.")
		}
		s.certID = *b.EncryptionCertificateID
	}
	if b.EncryptionCertificate != nil && *b.EncryptionCertificate != "" {
		if err := s.setCertificate(*b.EncryptionCertificate); err != nil {
			return err
		}
	}
	if b.IncludeResourceData != nil {
		s.includeData = *b.IncludeResourceData
	}
	if s.includeData && (s.certPub == nil || s.certID == "") {
		return badRequest("A valid encryptionCertificate and encryptionCertificateId must be provided when includeResourceData is true.")
	}
	return nil
}
