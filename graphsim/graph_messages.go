package graphsim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

func (s *Sim) userIdentity(userID string) map[string]any {
	u, ok := s.users[userID]
	if !ok {
		return map[string]any{"@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": userID, "displayName": nil, "userIdentityType": "aadUser", "tenantId": nil}
	}
	return map[string]any{"@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": u.ID, "displayName": u.DisplayName, "userIdentityType": u.identityType(), "tenantId": u.TenantID}
}

var hostedRef = regexp.MustCompile(`\{\{hosted:([^}]+)\}\}`)

// renderMessage renders the current state of a message. graphBase roots the
// hostedContents URLs in the body.
func (s *Sim) renderMessage(c *chat, m *message, graphBase string, unknownEnums bool) map[string]any {
	msgType := m.messageType
	if msgType == "systemEventMessage" && !unknownEnums {
		// Without Prefer: include-unknown-enum-members Graph hides evolvable enum members.
		msgType = "unknownFutureValue"
	}
	var from any
	switch {
	case m.bot != nil:
		from = map[string]any{"application": map[string]any{"@odata.type": "#microsoft.graph.teamworkApplicationIdentity", "id": m.bot.ID, "displayName": m.bot.DisplayName, "applicationIdentityType": "bot"}, "device": nil, "user": nil}
	case m.from != "":
		from = map[string]any{"application": nil, "device": nil, "user": s.userIdentity(m.from)}
	}
	hostedURLs := func(text string) string {
		return hostedRef.ReplaceAllStringFunc(text, func(ref string) string {
			id := hostedRef.FindStringSubmatch(ref)[1]
			return graphBase + "/chats/" + c.id + "/messages/" + m.id + "/hostedContents/" + id + "/$value"
		})
	}
	content := hostedURLs(m.html)
	mentions := []any{}
	for _, mn := range m.mentions {
		mentions = append(mentions, map[string]any{
			"id": mn.ID, "mentionText": mn.MentionText,
			"mentioned": map[string]any{"application": nil, "device": nil, "conversation": nil, "tag": nil, "user": s.userIdentity(mn.UserID)},
		})
	}
	reactions := []any{}
	for _, rc := range m.reactions {
		uid := s.userIdentity(rc.userID)
		uid["displayName"] = nil
		reactions = append(reactions, map[string]any{
			"reactionType": rc.reactionType, "displayName": rc.displayName, "reactionContentUrl": nil,
			"createdDateTime": fmtTime(rc.created),
			"user":            map[string]any{"application": nil, "device": nil, "user": uid},
		})
	}
	attachments := []any{}
	for _, a := range m.attachments {
		attachments = append(attachments, map[string]any{
			"id": a.ID, "contentType": a.ContentType, "contentUrl": nilIfEmpty(a.ContentURL), "content": nilIfEmpty(hostedURLs(a.Content)),
			"name": nilIfEmpty(a.Name), "thumbnailUrl": nilIfEmpty(a.ThumbnailURL), "teamsAppId": nilIfEmpty(a.TeamsAppID),
		})
	}
	var eventDetail any
	if m.eventDetail != nil {
		eventDetail = m.eventDetail
	}
	return map[string]any{
		"id":                   m.id,
		"replyToId":            nil,
		"etag":                 strconv.FormatInt(m.modified.UnixMilli(), 10),
		"messageType":          msgType,
		"createdDateTime":      fmtTime(m.created),
		"lastModifiedDateTime": fmtTime(m.modified),
		"lastEditedDateTime":   fmtTime(m.edited),
		"deletedDateTime":      fmtTime(m.deleted),
		"subject":              nilIfEmpty(m.subject),
		"summary":              nil,
		"chatId":               c.id,
		"importance":           m.importance,
		"locale":               "en-us",
		"webUrl":               "https://teams.microsoft.com/l/message/" + url.PathEscape(c.id) + "/" + m.id + "?context=%7B%22contextType%22%3A%22chat%22%7D",
		"channelIdentity":      nil,
		"policyViolation":      nil,
		"eventDetail":          eventDetail,
		"from":                 from,
		"body":                 map[string]any{"contentType": m.contentType, "content": content},
		"attachments":          attachments,
		"mentions":             mentions,
		"reactions":            reactions,
		"messageHistory":       []any{},
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

var resourceRE = regexp.MustCompile(`^/?chats\('([^']+)'\)/messages\('([^']+)'\)$`)

// resourceJSON renders "chats('…')/messages('…')" for the change-notification
// half (rich notifications carry the same JSON as a GET).
func (s *Sim) resourceJSON(resourcePath string) ([]byte, bool) {
	if strings.HasPrefix(strings.TrimPrefix(resourcePath, "/"), "teams(") {
		return s.channelResourceJSON(resourcePath)
	}
	mt := resourceRE.FindStringSubmatch(resourcePath)
	if mt == nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[mt[1]]
	if !ok {
		return nil, false
	}
	m, ok := c.byID[mt[2]]
	if !ok {
		return nil, false
	}
	out := s.renderMessage(c, m, s.GraphURL(), true)
	out["@odata.context"] = s.GraphURL() + "/$metadata#chats('" + url.PathEscape(c.id) + "')/messages/$entity"
	b, err := json.Marshal(out)
	return b, err == nil
}

func (s *Sim) serveMessage(w http.ResponseWriter, r *http.Request, ti TokenInfo, chatID, msgID string) {
	readLocked(s, w, r, ti, msgReadApp, msgReadDelegated, s.chatFor, chatID, func(c *chat) {
		m, ok := c.byID[msgID]
		if !ok {
			writeODataError(w, r, http.StatusNotFound, "NotFound", "Message not found.")
			return
		}
		out := s.renderMessage(c, m, s.graphBase(r), includeUnknownEnums(r))
		out["@odata.context"] = s.graphBase(r) + "/$metadata#chats('" + url.PathEscape(c.id) + "')/messages/$entity"
		writeJSON(w, http.StatusOK, out)
	})
}

// filterClause is one "<property> <op> <value>" term of an and-joined $filter.
type filterClause struct{ prop, op, value string }

func parseFilter(f string) []filterClause {
	var out []filterClause
	for _, term := range regexp.MustCompile(`(?i)\s+and\s+`).Split(strings.TrimSpace(f), -1) {
		parts := strings.Fields(term)
		if len(parts) != 3 {
			continue
		}
		out = append(out, filterClause{prop: parts[0], op: strings.ToLower(parts[1]), value: strings.Trim(parts[2], "'")})
	}
	return out
}

func parseGraphTime(v string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// timeFilter keeps the gt/lt clauses on prop; other clauses are ignored, as
// Graph ignores a $filter on a property other than the $orderby one.
func timeFilter(clauses []filterClause, prop string) func(time.Time) bool {
	var checks []func(time.Time) bool
	for _, c := range clauses {
		if !strings.EqualFold(c.prop, prop) {
			continue
		}
		t, ok := parseGraphTime(c.value)
		if !ok {
			continue
		}
		switch c.op {
		case "gt":
			checks = append(checks, func(x time.Time) bool { return x.After(t) })
		case "lt":
			checks = append(checks, func(x time.Time) bool { return x.Before(t) })
		}
	}
	return func(x time.Time) bool {
		for _, c := range checks {
			if !c(x) {
				return false
			}
		}
		return true
	}
}

func (s *Sim) serveMessageList(w http.ResponseWriter, r *http.Request, ti TokenInfo, chatID string) {
	if !requirePerm(w, r, ti, msgReadApp, msgReadDelegated) {
		return
	}
	top, offset, ok := paging(w, r, 20, 50)
	if !ok {
		return
	}
	orderProp := "lastModifiedDateTime"
	if ob := strings.TrimSpace(r.URL.Query().Get("$orderby")); ob != "" {
		f := strings.Fields(ob)
		if (len(f) == 2 && !strings.EqualFold(f[1], "desc")) || len(f) > 2 ||
			(!strings.EqualFold(f[0], "lastModifiedDateTime") && !strings.EqualFold(f[0], "createdDateTime")) {
			writeODataError(w, r, http.StatusBadRequest, "BadRequest", "$orderby supports only 'lastModifiedDateTime desc' and 'createdDateTime desc'.")
			return
		}
		orderProp = f[0]
	}
	byCreated := strings.EqualFold(orderProp, "createdDateTime")
	keep := timeFilter(parseFilter(r.URL.Query().Get("$filter")), orderProp)

	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chatFor(w, r, ti, chatID)
	if !ok {
		return
	}
	key := func(m *message) time.Time {
		if byCreated {
			return m.created
		}
		return m.modified
	}
	var list []*message
	for _, m := range c.messages {
		if keep(key(m)) {
			list = append(list, m)
		}
	}
	sort.SliceStable(list, func(i, j int) bool {
		if !key(list[i]).Equal(key(list[j])) {
			return key(list[i]).After(key(list[j]))
		}
		return list[i].id > list[j].id
	})
	items := []any{}
	unknown := includeUnknownEnums(r)
	for i := offset; i < len(list) && i < offset+top; i++ {
		items = append(items, s.renderMessage(c, list[i], s.graphBase(r), unknown))
	}
	out := map[string]any{
		"@odata.context": s.graphBase(r) + "/$metadata#chats('" + url.PathEscape(c.id) + "')/messages",
		"@odata.count":   len(items),
		"value":          items,
	}
	if offset+top < len(list) {
		out["@odata.nextLink"] = s.nextLink(r, offset+top)
	}
	writeJSON(w, http.StatusOK, out)
}

// deltaCursor is the opaque state behind $skiptoken/$deltatoken of the
// getAllMessages delta: changes with from < seq ≤ to, already offset delivered.
type deltaCursor struct {
	From, To int64
	Offset   int
}

func encodeCursor(c deltaCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.From, 36) + "." + strconv.FormatInt(c.To, 36) + "." + strconv.Itoa(c.Offset)))
}

func decodeCursor(v string) (deltaCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return deltaCursor{}, false
	}
	p := strings.Split(string(b), ".")
	if len(p) != 3 {
		return deltaCursor{}, false
	}
	from, e1 := strconv.ParseInt(p[0], 36, 64)
	to, e2 := strconv.ParseInt(p[1], 36, 64)
	off, e3 := strconv.Atoi(p[2])
	if e1 != nil || e2 != nil || e3 != nil {
		return deltaCursor{}, false
	}
	return deltaCursor{from, to, off}, true
}

// getAllMessagesTop reads $top of the getAllMessages routes (a user's chats and a team's channels),
// which share Graph's page size rule: 50 by default, 1 to 50 allowed, a 400 otherwise.
func getAllMessagesTop(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("$top")
	if v == "" {
		return 50, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 50 {
		writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Invalid page size requested. Page size must be between 1 and 50.")
		return 0, false
	}
	return n, true
}

// getAllMessagesOffset reads the $skiptoken of a (non-delta) getAllMessages next link, the opaque
// cursor getAllMessagesNextLink writes: the offset of the page, 0 without one, a 400 when it is not
// one of ours.
func getAllMessagesOffset(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("$skiptoken")
	if v == "" {
		return 0, true
	}
	c, ok := decodeCursor(v)
	if !ok {
		writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Invalid skip token.")
		return 0, false
	}
	return c.Offset, true
}

// getAllMessagesNextLink is the @odata.nextLink of a getAllMessages page: base (the route's URL) with the
// request's query ($top, $filter, model) kept and $skiptoken set to an opaque cursor for offset next. The
// chat and channel routes share it so that their next links have the same form.
func getAllMessagesNextLink(base string, q url.Values, next int) string {
	nq := url.Values{}
	for k, v := range q {
		nq[k] = v
	}
	nq.Set("$skiptoken", encodeCursor(deltaCursor{Offset: next}))
	return base + "?" + nq.Encode()
}

// serveGetAllMessages serves /users/{u}/chats/getAllMessages and its /delta
// (app-only, Chat.Read.All).
func (s *Sim) serveGetAllMessages(w http.ResponseWriter, r *http.Request, ti TokenInfo, userID string, delta bool) {
	if !ti.AppOnly {
		writeODataError(w, r, http.StatusPreconditionFailed, "PreconditionFailed", "Requested API is not supported in delegated context")
		return
	}
	if !requirePerm(w, r, ti, []string{"Chat.Read.All", "Chat.ReadWrite.All"}, nil) {
		return
	}
	q := r.URL.Query()
	top, ok := getAllMessagesTop(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if !ok || u.TenantID != ti.TenantID {
		writeODataError(w, r, http.StatusNotFound, "NotFound", "User not found.")
		return
	}
	type item struct {
		c *chat
		m *message
	}
	var all []item
	for _, c := range s.chats {
		if c.tenantID != ti.TenantID || !c.hasMember(userID) {
			continue
		}
		for _, m := range c.messages {
			all = append(all, item{c, m})
		}
	}
	unknown := includeUnknownEnums(r)
	base := s.graphBase(r) + "/users/" + url.PathEscape(userID) + "/chats/getAllMessages"
	out := map[string]any{"@odata.context": s.graphBase(r) + "/$metadata#Collection(chatMessage)"}
	var page []item
	if delta {
		cur := deltaCursor{From: 0, To: s.seq}
		switch {
		case q.Get("$skiptoken") != "":
			c, ok := decodeCursor(q.Get("$skiptoken"))
			if !ok {
				writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Invalid skip token.")
				return
			}
			cur = c
		case q.Get("$deltatoken") != "":
			c, ok := decodeCursor(q.Get("$deltatoken"))
			if !ok {
				writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Invalid delta token.")
				return
			}
			cur = deltaCursor{From: c.To, To: s.seq}
		}
		var changed []item
		for _, it := range all {
			if it.m.seq > cur.From && it.m.seq <= cur.To {
				changed = append(changed, it)
			}
		}
		sort.Slice(changed, func(i, j int) bool { return changed[i].m.seq < changed[j].m.seq })
		for i := cur.Offset; i < len(changed) && i < cur.Offset+top; i++ {
			page = append(page, changed[i])
		}
		if cur.Offset+top < len(changed) {
			out["@odata.nextLink"] = base + "/delta?$skiptoken=" + encodeCursor(deltaCursor{cur.From, cur.To, cur.Offset + top})
		} else {
			out["@odata.deltaLink"] = base + "/delta?$deltatoken=" + encodeCursor(deltaCursor{cur.To, cur.To, 0})
		}
	} else {
		clauses := parseFilter(q.Get("$filter"))
		keep := timeFilter(clauses, "lastModifiedDateTime")
		var list []item
		for _, it := range all {
			if !keep(it.m.modified) {
				continue
			}
			if !matchesGetAllClauses(clauses, it.m) {
				continue
			}
			list = append(list, it)
		}
		sort.Slice(list, func(i, j int) bool {
			if !list[i].m.created.Equal(list[j].m.created) {
				return list[i].m.created.Before(list[j].m.created)
			}
			return list[i].m.id < list[j].m.id
		})
		offset, ok := getAllMessagesOffset(w, r)
		if !ok {
			return
		}
		for i := offset; i < len(list) && i < offset+top; i++ {
			page = append(page, list[i])
		}
		if offset+top < len(list) {
			out["@odata.nextLink"] = getAllMessagesNextLink(base, q, offset+top)
		}
	}
	items := []any{}
	for _, it := range page {
		items = append(items, s.renderMessage(it.c, it.m, s.graphBase(r), unknown))
	}
	out["value"] = items
	writeJSON(w, http.StatusOK, out)
}

// matchesGetAllClauses applies the non-time filters getAllMessages supports:
// from/user/id eq '…' and messageType ne 'systemEventMessage'.
func matchesGetAllClauses(clauses []filterClause, m *message) bool {
	for _, c := range clauses {
		switch {
		case strings.EqualFold(c.prop, "from/user/id") && c.op == "eq":
			if m.from != c.value {
				return false
			}
		case strings.EqualFold(c.prop, "messageType") && c.op == "ne":
			if m.messageType == c.value {
				return false
			}
		case strings.EqualFold(c.prop, "messageType") && c.op == "eq":
			if m.messageType != c.value {
				return false
			}
		}
	}
	return true
}

func (s *Sim) serveHostedContent(w http.ResponseWriter, r *http.Request, ti TokenInfo, chatID, msgID, hcID string, value bool) {
	readLocked(s, w, r, ti, msgReadApp, msgReadDelegated, s.chatFor, chatID, func(c *chat) {
		m, ok := c.byID[msgID]
		if !ok {
			writeODataError(w, r, http.StatusNotFound, "NotFound", "Message not found.")
			return
		}
		writeHosted(w, r, m, hcID, value)
	})
}

// writeHosted answers a hosted content (metadata, or its bytes for $value) of a chat message or of a
// channel message or reply: Graph's hostedContent answers are the same under both, so one writer serves
// serveHostedContent and serveChannelMessages.
func writeHosted(w http.ResponseWriter, r *http.Request, m *message, hcID string, value bool) {
	h, ok := m.hosted[hcID]
	if !ok || !m.deleted.IsZero() {
		writeODataError(w, r, http.StatusNotFound, "NotFound", "Hosted content not found.")
		return
	}
	if !value {
		writeJSON(w, http.StatusOK, map[string]any{"id": h.ID, "contentType": h.ContentType, "contentBytes": nil})
		return
	}
	w.Header().Set("Content-Type", h.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(h.Bytes)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(h.Bytes)
}

// MessageJSON renders a message as Graph would return it (with every enum
// member), for tests and the control API.
func (s *Sim) MessageJSON(chatID, msgID string) ([]byte, bool) {
	return s.resourceJSON("chats('" + chatID + "')/messages('" + msgID + "')")
}
