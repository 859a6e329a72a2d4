package graphsim

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// renderChat renders a chat; graphBase (the Graph root the client addressed)
// roots the expanded members' @odata.context.
func (s *Sim) renderChat(c *chat, ti TokenInfo, withMembers bool, graphBase string) map[string]any {
	var topic any
	if c.chatType != "oneOnOne" && c.topic != "" {
		topic = c.topic
	}
	out := map[string]any{
		"id":                    c.id,
		"topic":                 topic,
		"createdDateTime":       fmtTime(c.created),
		"lastUpdatedDateTime":   fmtTime(c.updated),
		"chatType":              c.chatType,
		"webUrl":                "https://teams.microsoft.com/l/chat/" + url.PathEscape(c.id) + "/0?tenantId=" + c.tenantID,
		"tenantId":              c.tenantID,
		"onlineMeetingInfo":     nil,
		"isHiddenForAllMembers": false,
	}
	if !ti.AppOnly {
		out["viewpoint"] = map[string]any{"isHidden": false, "lastMessageReadDateTime": fmtTime(c.updated)}
	}
	if withMembers {
		members := make([]any, 0, len(c.members))
		for _, m := range c.members {
			members = append(members, s.renderMember(c, m))
		}
		out["members"] = members
		out["members@odata.context"] = graphBase + "/$metadata#chats('" + url.PathEscape(c.id) + "')/members"
	}
	return out
}

func (s *Sim) renderMember(c *chat, m member) map[string]any {
	out := map[string]any{
		"@odata.type":                 "#microsoft.graph.aadUserConversationMember",
		"id":                          m.id,
		"roles":                       m.roles,
		"displayName":                 nil,
		"visibleHistoryStartDateTime": "0001-01-01T00:00:00Z",
		"userId":                      m.userID,
		"email":                       nil,
		"tenantId":                    c.tenantID,
	}
	if !m.visible.IsZero() {
		out["visibleHistoryStartDateTime"] = fmtTime(m.visible)
	}
	if u, ok := s.users[m.userID]; ok {
		out["displayName"] = u.DisplayName
		if u.Mail != "" {
			out["email"] = u.Mail
		}
		out["tenantId"] = u.TenantID
		if u.Guest {
			out["roles"] = append(append([]string{}, m.roles...), "guest")
		}
	}
	return out
}

func renderUser(u *userState) map[string]any {
	var mail any
	if u.Mail != "" {
		mail = u.Mail
	}
	given, sur := u.DisplayName, ""
	if i := strings.LastIndex(u.DisplayName, " "); i > 0 {
		given, sur = u.DisplayName[:i], u.DisplayName[i+1:]
	}
	proxy := u.ProxyAddresses
	if proxy == nil {
		proxy = []string{}
	}
	return map[string]any{
		"id":                u.ID,
		"displayName":       u.DisplayName,
		"givenName":         given,
		"surname":           sur,
		"mail":              mail,
		"userPrincipalName": u.UserPrincipalName,
		"businessPhones":    []string{},
		"jobTitle":          nil,
		"mobilePhone":       nil,
		"officeLocation":    nil,
		"preferredLanguage": nil,
		"proxyAddresses":    proxy,
	}
}

// defaultUserFields are the properties Graph returns without $select.
var defaultUserFields = []string{"id", "displayName", "givenName", "surname", "mail", "userPrincipalName", "businessPhones", "jobTitle", "mobilePhone", "officeLocation", "preferredLanguage"}

func userView(r *http.Request, u *userState) map[string]any {
	full := renderUser(u)
	if r.URL.Query().Get("$select") != "" {
		return selectFields(r, full)
	}
	out := map[string]any{}
	for _, f := range defaultUserFields {
		out[f] = full[f]
	}
	return out
}

func (s *Sim) serveChat(w http.ResponseWriter, r *http.Request, ti TokenInfo, chatID string) {
	readLocked(s, w, r, ti, chatReadApp, chatReadDelegated, s.chatFor, chatID, func(c *chat) {
		expand := strings.Contains(r.URL.Query().Get("$expand"), "members")
		out := s.renderChat(c, ti, expand, s.graphBase(r))
		out["@odata.context"] = s.graphBase(r) + "/$metadata#chats/$entity"
		writeJSON(w, http.StatusOK, out)
	})
}

func (s *Sim) serveMembers(w http.ResponseWriter, r *http.Request, ti TokenInfo, chatID string) {
	readLocked(s, w, r, ti, memberReadApp, memberReadDeleg, s.chatFor, chatID, func(c *chat) {
		items := make([]any, 0, len(c.members))
		for _, m := range c.members {
			items = append(items, s.renderMember(c, m))
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"@odata.context": s.graphBase(r) + "/$metadata#chats('" + url.PathEscape(c.id) + "')/members",
			"@odata.count":   len(items),
			"value":          items,
		})
	})
}

// serveUserChats lists a user's chats (delegated only, the signed-in user; app
// permissions cannot list chats).
func (s *Sim) serveUserChats(w http.ResponseWriter, r *http.Request, ti TokenInfo, userID string) {
	if ti.AppOnly {
		writeODataError(w, r, http.StatusForbidden, "Forbidden", "Requested API is not supported in application-only context")
		return
	}
	if !requirePerm(w, r, ti, nil, chatReadDelegated) {
		return
	}
	if userID != ti.UserID {
		writeODataError(w, r, http.StatusForbidden, "Forbidden", "A user can only list their own chats.")
		return
	}
	top, offset, ok := paging(w, r, 50, 50)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var mine []*chat
	for _, c := range s.chats {
		if c.tenantID == ti.TenantID && c.hasMember(userID) {
			mine = append(mine, c)
		}
	}
	sort.Slice(mine, func(i, j int) bool {
		if !mine[i].updated.Equal(mine[j].updated) {
			return mine[i].updated.After(mine[j].updated)
		}
		return mine[i].id < mine[j].id
	})
	expand := strings.Contains(r.URL.Query().Get("$expand"), "members")
	items := []any{}
	for i := offset; i < len(mine) && i < offset+top; i++ {
		items = append(items, s.renderChat(mine[i], ti, expand, s.graphBase(r)))
	}
	out := map[string]any{"@odata.context": s.graphBase(r) + "/$metadata#chats", "value": items}
	if offset+top < len(mine) {
		out["@odata.nextLink"] = s.nextLink(r, offset+top)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) findUserLocked(tenantID, idOrUPN string) *userState {
	if u, ok := s.users[idOrUPN]; ok && u.TenantID == tenantID {
		return u
	}
	for _, u := range s.users {
		if u.TenantID == tenantID && (strings.EqualFold(u.UserPrincipalName, idOrUPN) || strings.EqualFold(u.Mail, idOrUPN)) {
			return u
		}
	}
	return nil
}

func (s *Sim) serveUser(w http.ResponseWriter, r *http.Request, ti TokenInfo, id string) {
	self := !ti.AppOnly && id == ti.UserID
	if !self && !requirePerm(w, r, ti, userReadApp, userReadDelegated[1:]) {
		return
	}
	if self && !requirePerm(w, r, ti, nil, userReadDelegated) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.findUserLocked(ti.TenantID, id)
	if u == nil {
		writeODataError(w, r, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
		return
	}
	out := userView(r, u)
	out["@odata.context"] = s.graphBase(r) + "/$metadata#users/$entity"
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) serveUserList(w http.ResponseWriter, r *http.Request, ti TokenInfo) {
	if !requirePerm(w, r, ti, userReadApp, userReadDelegated[1:]) {
		return
	}
	top, offset, ok := paging(w, r, 100, 999)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*userState
	for _, u := range s.users {
		if u.TenantID == ti.TenantID {
			all = append(all, u)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	items := []any{}
	for i := offset; i < len(all) && i < offset+top; i++ {
		items = append(items, userView(r, all[i]))
	}
	out := map[string]any{"@odata.context": s.graphBase(r) + "/$metadata#users", "value": items}
	if offset+top < len(all) {
		out["@odata.nextLink"] = s.nextLink(r, offset+top)
	}
	writeJSON(w, http.StatusOK, out)
}
