package graphsim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const graphTime = "2006-01-02T15:04:05.000Z"

func fmtTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(graphTime)
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeODataError writes Graph's error envelope.
func writeODataError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	reqID := newID()
	w.Header().Set("request-id", reqID)
	if c := r.Header.Get("client-request-id"); c != "" {
		w.Header().Set("client-request-id", c)
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code":    code,
		"message": message,
		"innerError": map[string]any{
			"date":              time.Now().UTC().Format("2006-01-02T15:04:05"),
			"request-id":        reqID,
			"client-request-id": r.Header.Get("client-request-id"),
		},
	}})
}

func pathEscape(s string) string { return url.PathEscape(s) }

// graphBase is the Graph root as the client addressed it, so next/delta links
// stay on the host the client uses (real host names through DNS, or loopback).
func (s *Sim) graphBase(r *http.Request) string {
	if r == nil || r.Host == "" {
		return s.GraphURL()
	}
	scheme := "https"
	if s.opts.PlainHTTP {
		scheme = "http"
	}
	return scheme + "://" + r.Host + "/v1.0"
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// peekToken verifies the bearer token without answering; used for counters and throttling.
func (s *Sim) peekToken(r *http.Request) (TokenInfo, bool) {
	ti, _, ok := s.verifyToken(bearer(r))
	return ti, ok
}

// verifyToken returns the token info or the InvalidAuthenticationToken message.
func (s *Sim) verifyToken(raw string) (TokenInfo, string, bool) {
	if raw == "" {
		return TokenInfo{}, "Access token is empty.", false
	}
	if strings.Count(raw, ".") != 2 {
		return TokenInfo{}, "IDX14100: JWT is not well formed, there are no dots (.).", false
	}
	now := s.now()
	claims, err := s.sig.parse(raw, now)
	if err != nil {
		if strings.Contains(err.Error(), "expired") {
			return TokenInfo{}, "Lifetime validation failed, the token is expired.", false
		}
		return TokenInfo{}, "Access token validation failure. Invalid signature.", false
	}
	if aud, _ := claims["aud"].(string); aud != graphAudience && aud != "00000003-0000-0000-c000-000000000000" {
		return TokenInfo{}, "Access token validation failure. Invalid audience.", false
	}
	ti := tokenInfoFromClaims(claims)
	gen, _ := claims["sim_gen"].(float64)
	s.mu.Lock()
	cur := s.tokenGen
	s.mu.Unlock()
	if int64(gen) < cur {
		return TokenInfo{}, "Lifetime validation failed, the token is expired.", false
	}
	return ti, "", true
}

// authorize answers 401 InvalidAuthenticationToken itself when the bearer is
// missing or bad.
func (s *Sim) authorize(w http.ResponseWriter, r *http.Request) (TokenInfo, bool) {
	ti, msg, ok := s.verifyToken(bearer(r))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+s.baseURL()+`/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		writeODataError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
		return ti, false
	}
	return ti, true
}

// requirePerm answers 403 unless the token carries one of the permissions
// (roles for app tokens, scp for delegated ones).
func requirePerm(w http.ResponseWriter, r *http.Request, ti TokenInfo, app, delegated []string) bool {
	perms := delegated
	if ti.AppOnly {
		perms = app
	}
	if len(perms) > 0 && ti.has(perms...) {
		return true
	}
	have := strings.Join(ti.Scopes, " ")
	kind := "scopes"
	if ti.AppOnly {
		have, kind = strings.Join(ti.Roles, " "), "roles"
	}
	if len(perms) == 0 {
		writeODataError(w, r, http.StatusForbidden, "Forbidden", "This API is not supported for this token type.")
		return false
	}
	writeODataError(w, r, http.StatusForbidden, "Forbidden", "Missing "+kind+" permissions on the request. API requires one of '"+strings.Join(perms, ", ")+"'. "+kind+" on the request '"+have+"'.")
	return false
}

var (
	chatReadApp       = []string{"Chat.Read.All", "Chat.ReadWrite.All", "ChatMessage.Read.All", "Chat.ReadBasic.All"}
	chatReadDelegated = []string{"Chat.Read", "Chat.ReadWrite", "ChatMessage.Read", "Chat.ReadBasic"}
	msgReadApp        = []string{"Chat.Read.All", "Chat.ReadWrite.All", "ChatMessage.Read.All"}
	msgReadDelegated  = []string{"Chat.Read", "Chat.ReadWrite", "ChatMessage.Read"}
	memberReadApp     = []string{"ChatMember.Read.All", "ChatMember.ReadWrite.All", "Chat.ReadBasic.All", "Chat.Read.All", "Chat.ReadWrite.All"}
	memberReadDeleg   = []string{"ChatMember.Read", "ChatMember.ReadWrite", "Chat.ReadBasic", "Chat.Read", "Chat.ReadWrite"}
	userReadApp       = []string{"User.Read.All", "User.ReadBasic.All", "User.ReadWrite.All", "Directory.Read.All"}
	userReadDelegated = []string{"User.Read", "User.ReadBasic.All", "User.Read.All", "Directory.Read.All"}
	presenceApp       = []string{"Presence.Read.All", "Presence.ReadWrite.All"}
	presenceDelegated = []string{"Presence.Read", "Presence.Read.All"}
	filesApp          = []string{"Files.Read.All", "Files.ReadWrite.All", "Sites.Read.All", "Sites.ReadWrite.All"}
	filesDelegated    = []string{"Files.Read", "Files.Read.All", "Files.ReadWrite.All", "Sites.Read.All"}
	appReadPerms      = []string{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All"}
)

// graphPath splits the request path after /v1.0 into unescaped segments. The
// Go SDK percent-encodes ids (":" → %3A, "@" → %40).
func graphPath(r *http.Request) []string {
	raw := strings.TrimPrefix(r.URL.EscapedPath(), "/v1.0")
	raw = strings.Trim(raw, "/")
	if raw == "" {
		return nil
	}
	parts := strings.Split(raw, "/")
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			parts[i] = u
		}
		// OData functions may be called with empty parentheses: getAllMessages() ≡ getAllMessages.
		parts[i] = strings.TrimSuffix(parts[i], "()")
	}
	return parts
}

func (s *Sim) serveGraph(w http.ResponseWriter, r *http.Request) {
	ti, ok := s.authorize(w, r)
	if !ok {
		return
	}
	p := graphPath(r)
	if len(p) == 0 {
		writeODataError(w, r, http.StatusNotFound, "BadRequest", "Resource not found for the segment ''.")
		return
	}
	// /me/... and /users/{id}/chats/{c}/... are the same chat resources.
	if p[0] == "me" {
		if ti.AppOnly {
			writeODataError(w, r, http.StatusBadRequest, "BadRequest", "/me request is only valid with delegated authentication flow.")
			return
		}
		p = append([]string{"users", ti.UserID}, p[1:]...)
	}
	get := r.Method == http.MethodGet
	post := r.Method == http.MethodPost
	// /users/{me}/chats/{c}/... writes are the signed-in user's own chats.
	if post && p[0] == "users" && len(p) >= 5 && p[2] == "chats" {
		if !ti.AppOnly && p[1] != ti.UserID {
			writeODataError(w, r, http.StatusForbidden, "Forbidden", "A delegated caller can only write to their own chats.")
			return
		}
		p = p[2:]
	}
	switch {
	case p[0] == "chats" && len(p) == 3 && p[2] == "messages" && post:
		s.servePostMessage(w, r, ti, p[1])
	case p[0] == "chats" && len(p) == 5 && p[2] == "messages" && (p[4] == "setReaction" || p[4] == "unsetReaction") && post:
		s.serveReaction(w, r, ti, p[1], p[3], p[4] == "setReaction")
	case p[0] == "$batch" && len(p) == 1 && r.Method == http.MethodPost:
		s.serveBatch(w, r)
	case p[0] == "chats" && len(p) == 1 && get:
		s.serveUserChats(w, r, ti, ti.UserID)
	case p[0] == "chats" && len(p) >= 2 && get:
		s.serveChatTree(w, r, ti, p[1], p[2:])
	case p[0] == "teams" && len(p) >= 2 && get:
		s.serveTeamTree(w, r, ti, p[1], p[2:])
	case p[0] == "users" && len(p) == 1 && get:
		s.serveUserList(w, r, ti)
	case p[0] == "users" && len(p) == 2 && get:
		s.serveUser(w, r, ti, p[1])
	case p[0] == "users" && len(p) == 3 && p[2] == "presence" && get:
		s.servePresence(w, r, ti, p[1])
	case p[0] == "users" && len(p) == 3 && p[2] == "chats" && get:
		s.serveUserChats(w, r, ti, p[1])
	case p[0] == "users" && len(p) >= 4 && p[2] == "chats" && p[3] == "getAllMessages" && get:
		s.serveGetAllMessages(w, r, ti, p[1], len(p) == 5 && p[4] == "delta")
	case p[0] == "users" && len(p) >= 4 && p[2] == "chats" && get:
		if !ti.AppOnly && p[1] != ti.UserID {
			writeODataError(w, r, http.StatusForbidden, "Forbidden", "A delegated caller can only read their own chats.")
			return
		}
		s.serveChatTree(w, r, ti, p[3], p[4:])
	case p[0] == "communications" && len(p) == 3 && p[1] == "presences" && get:
		s.servePresence(w, r, ti, p[2])
	case p[0] == "communications" && len(p) == 2 && p[1] == "getPresencesByUserId" && r.Method == http.MethodPost:
		s.servePresenceBatch(w, r, ti)
	case p[0] == "shares" && len(p) >= 3 && p[2] == "driveItem" && get:
		s.serveShare(w, r, ti, p[1], len(p) == 4 && p[3] == "content")
	case strings.HasPrefix(p[0], "applications(") && len(p) == 1 && get:
		s.serveAppRegistration(w, r, ti, p[0])
	default:
		writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+p[0]+"'.")
	}
}

// serveChatTree dispatches /chats/{c}[/members|/messages[/{m}[/hostedContents/{h}[/$value]]]].
func (s *Sim) serveChatTree(w http.ResponseWriter, r *http.Request, ti TokenInfo, chatID string, rest []string) {
	switch {
	case len(rest) == 0:
		s.serveChat(w, r, ti, chatID)
	case len(rest) == 1 && rest[0] == "members":
		s.serveMembers(w, r, ti, chatID)
	case len(rest) == 1 && rest[0] == "messages":
		s.serveMessageList(w, r, ti, chatID)
	case len(rest) == 2 && rest[0] == "messages":
		s.serveMessage(w, r, ti, chatID, rest[1])
	case len(rest) >= 4 && rest[0] == "messages" && rest[2] == "hostedContents":
		s.serveHostedContent(w, r, ti, chatID, rest[1], rest[3], len(rest) == 5 && rest[4] == "$value")
	default:
		writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+strings.Join(rest, "/")+"'.")
	}
}

// readLocked is the prologue the Graph reads of one chat or team (and, through readChannel, one
// channel) share, kept in one place so that they all answer in the same order: the permission check
// first (a 403 before any lookup, so a token without the permission learns nothing of the id), then,
// with s.mu held, find (chatFor or teamFor), which writes the 404 or 403 itself; serve answers only
// when the resource is found, still under the lock. Reads that check more of the request between the
// permission and the lookup ($top, $orderby, $filter, model) keep their own order and do not use it.
func readLocked[T any](s *Sim, w http.ResponseWriter, r *http.Request, ti TokenInfo, app, delegated []string,
	find func(http.ResponseWriter, *http.Request, TokenInfo, string) (T, bool), id string, serve func(T)) {
	if !requirePerm(w, r, ti, app, delegated) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := find(w, r, ti, id); ok {
		serve(v)
	}
}

// chatFor loads a chat the token may see: 404 when unknown or in another
// tenant, 403 when a delegated user is not a member.
func (s *Sim) chatFor(w http.ResponseWriter, r *http.Request, ti TokenInfo, chatID string) (*chat, bool) {
	c, ok := s.chats[chatID]
	if !ok || c.tenantID != ti.TenantID {
		writeODataError(w, r, http.StatusNotFound, "NotFound", "Chat not found or the caller does not have access to it.")
		return nil, false
	}
	if !ti.AppOnly && !c.hasMember(ti.UserID) {
		writeODataError(w, r, http.StatusForbidden, "Forbidden", "Forbidden: the signed-in user is not a member of this chat.")
		return nil, false
	}
	return c, true
}

// paging parses $top (≤ max) and $skiptoken (an opaque offset).
func paging(w http.ResponseWriter, r *http.Request, def, max int) (top, offset int, ok bool) {
	q := r.URL.Query()
	top = def
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > max {
			writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Invalid page size requested. Page size must be between 1 and "+strconv.Itoa(max)+".")
			return 0, 0, false
		}
		top = n
	}
	if v := q.Get("$skiptoken"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "o="))
		if err != nil || err2 != nil || n < 0 {
			writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Invalid skip token.")
			return 0, 0, false
		}
		offset = n
	}
	return top, offset, true
}

// nextLink is an absolute link to the next page carrying the same query.
func (s *Sim) nextLink(r *http.Request, offset int) string {
	q := r.URL.Query()
	q.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte("o="+strconv.Itoa(offset))))
	return s.graphBase(r) + strings.TrimPrefix(r.URL.EscapedPath(), "/v1.0") + "?" + q.Encode()
}

func includeUnknownEnums(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		if strings.Contains(strings.ToLower(v), "include-unknown-enum-members") {
			return true
		}
	}
	return false
}

// selectFields applies $select to a rendered entity (id is always kept).
func selectFields(r *http.Request, m map[string]any) map[string]any {
	sel := r.URL.Query().Get("$select")
	if sel == "" {
		return m
	}
	out := map[string]any{}
	for k, v := range m {
		if strings.HasPrefix(k, "@odata") || k == "id" {
			out[k] = v
		}
	}
	for _, f := range strings.Split(sel, ",") {
		f = strings.TrimSpace(f)
		if v, ok := m[f]; ok {
			out[f] = v
		}
	}
	return out
}
