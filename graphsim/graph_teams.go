package graphsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Permissions of the team, channel, tag and channel-message reads, from Microsoft's API pages
// (least to most privileged; resource-specific consent permissions are not modelled).
var (
	teamReadApp         = []string{"Team.ReadBasic.All", "TeamSettings.Read.All", "TeamSettings.ReadWrite.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	teamReadDelegated   = teamReadApp
	teamMemberApp       = []string{"TeamMember.Read.All", "TeamMember.ReadWrite.All"}
	teamMemberDelegated = teamMemberApp
	channelReadApp      = []string{"Channel.ReadBasic.All", "ChannelSettings.Read.All", "ChannelSettings.ReadWrite.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	channelReadDeleg    = channelReadApp
	channelMemberApp    = []string{"ChannelMember.Read.All", "ChannelMember.ReadWrite.All"}
	channelMemberDeleg  = channelMemberApp
	tagReadApp          = []string{"TeamworkTag.Read.All", "TeamworkTag.ReadWrite.All"}
	tagReadDelegated    = []string{"TeamworkTag.Read", "TeamworkTag.ReadWrite"}
	channelMsgApp       = []string{"ChannelMessage.Read.All", "Group.Read.All", "Group.ReadWrite.All"}
	channelMsgDelegated = channelMsgApp
)

// serveTeamTree dispatches GET /teams/{t}[/members|/channels[...]|/tags[...]].
func (s *Sim) serveTeamTree(w http.ResponseWriter, r *http.Request, ti TokenInfo, teamID string, rest []string) {
	switch {
	case len(rest) == 0:
		s.serveTeam(w, r, ti, teamID)
	case len(rest) == 1 && rest[0] == "members":
		s.serveTeamMembers(w, r, ti, teamID)
	case len(rest) == 1 && rest[0] == "channels":
		s.serveChannelList(w, r, ti, teamID)
	case len(rest) == 2 && rest[0] == "channels" && rest[1] == "getAllMessages":
		s.serveTeamGetAllMessages(w, r, ti, teamID)
	case len(rest) == 2 && rest[0] == "channels":
		s.serveChannel(w, r, ti, teamID, rest[1])
	case len(rest) == 3 && rest[0] == "channels" && rest[2] == "members":
		s.serveChannelMembers(w, r, ti, teamID, rest[1])
	case len(rest) >= 3 && rest[0] == "channels" && rest[2] == "messages":
		s.serveChannelMessages(w, r, ti, teamID, rest[1], rest[3:])
	case len(rest) == 1 && rest[0] == "tags":
		s.serveTags(w, r, ti, teamID, "")
	case len(rest) == 2 && rest[0] == "tags":
		s.serveTags(w, r, ti, teamID, rest[1])
	case len(rest) == 3 && rest[0] == "tags" && rest[2] == "members":
		s.serveTagMembers(w, r, ti, teamID, rest[1], "")
	case len(rest) == 4 && rest[0] == "tags" && rest[2] == "members":
		s.serveTagMembers(w, r, ti, teamID, rest[1], rest[3])
	default:
		writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+strings.Join(rest, "/")+"'.")
	}
}

// teamFor loads a team the token may see: 404 when unknown or in another tenant, 403 when a
// delegated user is not a member.
func (s *Sim) teamFor(w http.ResponseWriter, r *http.Request, ti TokenInfo, teamID string) (*team, bool) {
	t, ok := s.teams[teamID]
	if !ok || t.tenantID != ti.TenantID {
		writeODataError(w, r, http.StatusNotFound, "NotFound", "No team found with Group Id "+teamID)
		return nil, false
	}
	if !ti.AppOnly && !hasUser(t.members, ti.UserID) {
		writeODataError(w, r, http.StatusForbidden, "Forbidden", "Forbidden: the signed-in user is not a member of this team.")
		return nil, false
	}
	return t, true
}

// channelFor loads a channel of a visible team: 404 when unknown, 403 when a delegated user cannot
// see it (a private or shared channel they are not in). App-only tokens see every channel.
func (s *Sim) channelFor(w http.ResponseWriter, r *http.Request, ti TokenInfo, teamID, channelID string) (*team, *channel, bool) {
	t, ok := s.teamFor(w, r, ti, teamID)
	if !ok {
		return nil, nil, false
	}
	c, ok := channelIn(w, r, ti, t, channelID)
	if !ok {
		return nil, nil, false
	}
	return t, c, true
}

// channelIn is the channel half of channelFor, for a team already loaded with teamFor.
func channelIn(w http.ResponseWriter, r *http.Request, ti TokenInfo, t *team, channelID string) (*channel, bool) {
	c := t.channel(channelID)
	if c == nil {
		writeODataError(w, r, http.StatusNotFound, "NotFound", "Channel "+channelID+" not found in team "+t.id+".")
		return nil, false
	}
	if !ti.AppOnly && !t.canSee(c, ti.UserID) {
		writeODataError(w, r, http.StatusForbidden, "Forbidden", "Forbidden: the signed-in user is not a member of this channel.")
		return nil, false
	}
	return c, true
}

// readChannel is readLocked for a channel: the permission check, then under s.mu the team and the
// channel the token may see (channelFor's answers), then serve.
func (s *Sim) readChannel(w http.ResponseWriter, r *http.Request, ti TokenInfo, app, delegated []string, teamID, channelID string, serve func(*team, *channel)) {
	readLocked(s, w, r, ti, app, delegated, s.teamFor, teamID, func(t *team) {
		if c, ok := channelIn(w, r, ti, t, channelID); ok {
			serve(t, c)
		}
	})
}

func (s *Sim) renderTeam(t *team) map[string]any {
	return map[string]any{
		"id":                          t.id,
		"createdDateTime":             fmtTime(t.created),
		"displayName":                 t.displayName,
		"description":                 nilIfEmpty(t.description),
		"internalId":                  t.channels[0].id,
		"classification":              nil,
		"specialization":              "none",
		"visibility":                  "private",
		"webUrl":                      "https://teams.microsoft.com/l/team/" + url.PathEscape(t.channels[0].id) + "/conversations?groupId=" + t.id + "&tenantId=" + t.tenantID,
		"isArchived":                  false,
		"isMembershipLimitedToOwners": false,
		"tenantId":                    t.tenantID,
		"summary":                     s.teamSummary(t),
	}
}

// teamSummary counts owners, guests and the other members, each member once.
func (s *Sim) teamSummary(t *team) map[string]any {
	owners, guests := countOwners(t.members), 0
	for _, m := range t.members {
		if u, ok := s.users[m.userID]; ok && u.Guest {
			guests++
		}
	}
	return map[string]any{"ownersCount": owners, "membersCount": len(t.members) - owners - guests, "guestsCount": guests}
}

func countOwners(ms []member) int {
	n := 0
	for _, m := range ms {
		for _, r := range m.roles {
			if r == "owner" {
				n++
			}
		}
	}
	return n
}

func (s *Sim) renderChannel(t *team, c *channel) map[string]any {
	return map[string]any{
		"id":                  c.id,
		"createdDateTime":     fmtTime(c.created),
		"displayName":         c.displayName,
		"description":         nilIfEmpty(c.description),
		"isFavoriteByDefault": nil,
		"email":               "",
		"tenantId":            t.tenantID,
		"webUrl":              "https://teams.microsoft.com/l/channel/" + url.PathEscape(c.id) + "/" + url.PathEscape(c.displayName) + "?groupId=" + t.id + "&tenantId=" + t.tenantID,
		"membershipType":      c.membershipType,
		"isArchived":          false,
	}
}

// renderTeamMember renders a team or channel membership like a chat's (aadUserConversationMember).
func (s *Sim) renderTeamMember(t *team, m member) map[string]any {
	return s.renderMember(&chat{tenantID: t.tenantID}, m)
}

func (s *Sim) serveTeam(w http.ResponseWriter, r *http.Request, ti TokenInfo, teamID string) {
	readLocked(s, w, r, ti, teamReadApp, teamReadDelegated, s.teamFor, teamID, func(t *team) {
		out := selectFields(r, s.renderTeam(t))
		out["@odata.context"] = s.graphBase(r) + "/$metadata#teams/$entity"
		writeJSON(w, http.StatusOK, out)
	})
}

// memberPageSize pages member lists. Microsoft documents no paging for team and channel members,
// but Graph's paging guidance has clients follow @odata.nextLink on every collection, and large
// teams must not come back in one answer here (see FIDELITY.md).
const memberPageSize = 100

// writeMemberPage answers a page of a member list with the userId $filter Microsoft documents.
func (s *Sim) writeMemberPage(w http.ResponseWriter, r *http.Request, context string, all []any) {
	top, offset, ok := paging(w, r, memberPageSize, 999)
	if !ok {
		return
	}
	items := []any{}
	for i := offset; i < len(all) && i < offset+top; i++ {
		items = append(items, all[i])
	}
	out := map[string]any{"@odata.context": context, "@odata.count": len(items), "value": items}
	if offset+top < len(all) {
		out["@odata.nextLink"] = s.nextLink(r, offset+top)
	}
	writeJSON(w, http.StatusOK, out)
}

var memberUserFilter = regexp.MustCompile(`(?i)userId\s+eq\s+'([^']+)'`)

func filterMembers(r *http.Request, ms []member) []member {
	mt := memberUserFilter.FindStringSubmatch(r.URL.Query().Get("$filter"))
	if mt == nil {
		return ms
	}
	var out []member
	for _, m := range ms {
		if strings.EqualFold(m.userID, mt[1]) {
			out = append(out, m)
		}
	}
	return out
}

func (s *Sim) serveTeamMembers(w http.ResponseWriter, r *http.Request, ti TokenInfo, teamID string) {
	readLocked(s, w, r, ti, teamMemberApp, teamMemberDelegated, s.teamFor, teamID, func(t *team) {
		var all []any
		for _, m := range filterMembers(r, t.members) {
			all = append(all, s.renderTeamMember(t, m))
		}
		s.writeMemberPage(w, r, s.graphBase(r)+"/$metadata#teams('"+t.id+"')/members", all)
	})
}

func (s *Sim) serveChannelList(w http.ResponseWriter, r *http.Request, ti TokenInfo, teamID string) {
	readLocked(s, w, r, ti, channelReadApp, channelReadDeleg, s.teamFor, teamID, func(t *team) {
		// $filter=membershipType eq 'private' is the documented filter.
		want := ""
		for _, c := range parseFilter(r.URL.Query().Get("$filter")) {
			if strings.EqualFold(c.prop, "membershipType") && c.op == "eq" {
				want = c.value
			}
		}
		items := []any{}
		for _, c := range t.channels {
			// A delegated caller lists standard channels and the private/shared ones they are in; app-only
			// callers list them all.
			if !ti.AppOnly && !t.canSee(c, ti.UserID) {
				continue
			}
			if want != "" && !strings.EqualFold(c.membershipType, want) {
				continue
			}
			items = append(items, s.renderChannel(t, c))
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"@odata.context": s.graphBase(r) + "/$metadata#teams('" + t.id + "')/channels",
			"@odata.count":   len(items),
			"value":          items,
		})
	})
}

func (s *Sim) serveChannel(w http.ResponseWriter, r *http.Request, ti TokenInfo, teamID, channelID string) {
	s.readChannel(w, r, ti, channelReadApp, channelReadDeleg, teamID, channelID, func(t *team, c *channel) {
		out := selectFields(r, s.renderChannel(t, c))
		out["@odata.context"] = s.graphBase(r) + "/$metadata#teams('" + t.id + "')/channels/$entity"
		writeJSON(w, http.StatusOK, out)
	})
}

func (s *Sim) serveChannelMembers(w http.ResponseWriter, r *http.Request, ti TokenInfo, teamID, channelID string) {
	s.readChannel(w, r, ti, channelMemberApp, channelMemberDeleg, teamID, channelID, func(t *team, c *channel) {
		var all []any
		for _, m := range filterMembers(r, t.channelMembers(c)) {
			if c.membershipType != "standard" {
				// Channel memberships have their own ids.
				all = append(all, s.renderTeamMember(t, m))
				continue
			}
			all = append(all, s.renderTeamMember(t, member{id: membershipID(c.id, m.userID), userID: m.userID, roles: m.roles}))
		}
		s.writeMemberPage(w, r, s.graphBase(r)+"/$metadata#teams('"+t.id+"')/channels('"+url.PathEscape(c.id)+"')/members", all)
	})
}

func renderTag(t *team, g *teamTag) map[string]any {
	return map[string]any{
		"id": g.id, "teamId": t.id, "displayName": g.displayName, "description": nilIfEmpty(g.description),
		"memberCount": len(g.members), "tagType": "standard",
	}
}

func (s *Sim) serveTags(w http.ResponseWriter, r *http.Request, ti TokenInfo, teamID, tagID string) {
	readLocked(s, w, r, ti, tagReadApp, tagReadDelegated, s.teamFor, teamID, func(t *team) {
		if tagID != "" {
			g := t.tag(tagID)
			if g == nil {
				writeODataError(w, r, http.StatusNotFound, "NotFound", "Tag "+tagID+" not found.")
				return
			}
			out := renderTag(t, g)
			out["@odata.context"] = s.graphBase(r) + "/$metadata#teams('" + t.id + "')/tags/$entity"
			writeJSON(w, http.StatusOK, out)
			return
		}
		// $top is documented for the tag list; pages follow @odata.nextLink.
		top, offset, ok := paging(w, r, 100, 999)
		if !ok {
			return
		}
		items := []any{}
		for i := offset; i < len(t.tags) && i < offset+top; i++ {
			items = append(items, renderTag(t, t.tags[i]))
		}
		out := map[string]any{"@odata.context": s.graphBase(r) + "/$metadata#teams('" + t.id + "')/tags", "@odata.count": len(items), "value": items}
		if offset+top < len(t.tags) {
			out["@odata.nextLink"] = s.nextLink(r, offset+top)
		}
		writeJSON(w, http.StatusOK, out)
	})
}

func (s *Sim) serveTagMembers(w http.ResponseWriter, r *http.Request, ti TokenInfo, teamID, tagID, memberID string) {
	readLocked(s, w, r, ti, tagReadApp, tagReadDelegated, s.teamFor, teamID, func(t *team) {
		g := t.tag(tagID)
		if g == nil {
			writeODataError(w, r, http.StatusNotFound, "NotFound", "Tag "+tagID+" not found.")
			return
		}
		render := func(m member) map[string]any {
			out := map[string]any{"id": m.id, "userId": m.userID, "tenantId": t.tenantID, "displayName": nil}
			if u, ok := s.users[m.userID]; ok {
				out["displayName"] = u.DisplayName
				out["tenantId"] = u.TenantID
			}
			return out
		}
		ctx := s.graphBase(r) + "/$metadata#teams('" + t.id + "')/tags('" + url.PathEscape(g.id) + "')/members"
		if memberID != "" {
			for _, m := range g.members {
				if m.id == memberID {
					out := render(m)
					out["@odata.context"] = ctx + "/$entity"
					writeJSON(w, http.StatusOK, out)
					return
				}
			}
			writeODataError(w, r, http.StatusNotFound, "NotFound", "Tag member "+memberID+" not found.")
			return
		}
		items := []any{}
		for _, m := range g.members {
			items = append(items, render(m))
		}
		writeJSON(w, http.StatusOK, map[string]any{"@odata.context": ctx, "@odata.count": len(items), "value": items})
	})
}

// channelMessagePath is the Graph path of a channel message or reply below the Graph root.
func channelMessagePath(t *team, c *channel, m *message) string {
	p := "/teams/" + t.id + "/channels/" + c.id + "/messages/"
	if m.replyToID != "" {
		return p + m.replyToID + "/replies/" + m.id
	}
	return p + m.id
}

// renderChannelMessage renders a channel message or reply: the chat rendering with the channel's
// identity, replyToId, links and mentions of users, the team, channels and tags.
func (s *Sim) renderChannelMessage(t *team, c *channel, m *message, graphBase string, unknownEnums bool) map[string]any {
	prefix := graphBase + channelMessagePath(t, c, m) + "/hostedContents/"
	rewrite := func(text string) string {
		return hostedRef.ReplaceAllStringFunc(text, func(ref string) string {
			return prefix + hostedRef.FindStringSubmatch(ref)[1] + "/$value"
		})
	}
	cp := *m
	cp.html = rewrite(m.html)
	cp.attachments = make([]Attachment, len(m.attachments))
	for i, a := range m.attachments {
		a.Content = rewrite(a.Content)
		cp.attachments[i] = a
	}
	out := s.renderMessage(&chat{}, &cp, graphBase, unknownEnums)
	root := m.id
	if m.replyToID != "" {
		root = m.replyToID
	}
	out["chatId"] = nil
	out["replyToId"] = nilIfEmpty(m.replyToID)
	out["channelIdentity"] = map[string]any{"teamId": t.id, "channelId": c.id}
	out["webUrl"] = "https://teams.microsoft.com/l/message/" + url.PathEscape(c.id) + "/" + m.id + "?groupId=" + t.id +
		"&tenantId=" + t.tenantID + "&createdTime=" + strconv.FormatInt(m.created.UnixMilli(), 10) + "&parentMessageId=" + root
	mentions := []any{}
	for _, mn := range m.mentions {
		mentioned := map[string]any{"application": nil, "device": nil, "user": nil, "conversation": nil, "tag": nil}
		switch {
		case mn.TeamID != "":
			mentioned["conversation"] = map[string]any{"@odata.type": "#microsoft.graph.teamworkConversationIdentity",
				"id": mn.TeamID, "displayName": t.displayName, "conversationIdentityType": "team"}
		case mn.ChannelID != "":
			name := mn.MentionText
			if mc := t.channel(mn.ChannelID); mc != nil {
				name = mc.displayName
			}
			mentioned["conversation"] = map[string]any{"@odata.type": "#microsoft.graph.teamworkConversationIdentity",
				"id": mn.ChannelID, "displayName": name, "conversationIdentityType": "channel"}
		case mn.TagID != "":
			name := mn.MentionText
			if g := t.tag(mn.TagID); g != nil {
				name = g.displayName
			}
			mentioned["tag"] = map[string]any{"@odata.type": "#microsoft.graph.teamworkTagIdentity", "id": mn.TagID, "displayName": name}
		default:
			mentioned["user"] = s.userIdentity(mn.UserID)
		}
		mentions = append(mentions, map[string]any{"id": mn.ID, "mentionText": mn.MentionText, "mentioned": mentioned})
	}
	out["mentions"] = mentions
	return out
}

func channelMessageContext(graphBase string, t *team, c *channel, m *message) string {
	ctx := graphBase + "/$metadata#teams('" + t.id + "')/channels('" + url.PathEscape(c.id) + "')/messages"
	if m != nil && m.replyToID != "" {
		ctx += "('" + m.replyToID + "')/replies"
	}
	return ctx
}

// serveChannelMessages serves .../messages, .../messages/{m}, .../messages/{m}/replies,
// .../messages/{m}/replies/{r} and their hostedContents.
func (s *Sim) serveChannelMessages(w http.ResponseWriter, r *http.Request, ti TokenInfo, teamID, channelID string, rest []string) {
	if !requirePerm(w, r, ti, channelMsgApp, channelMsgDelegated) {
		return
	}
	var top, offset int
	if len(rest) == 0 || (len(rest) == 2 && rest[1] == "replies") {
		var ok bool
		if top, offset, ok = paging(w, r, 20, 50); !ok {
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, c, ok := s.channelFor(w, r, ti, teamID, channelID)
	if !ok {
		return
	}
	unknown := includeUnknownEnums(r)
	base := s.graphBase(r)
	root := func(id string) (*message, bool) {
		m, ok := c.byID[id]
		if !ok || m.replyToID != "" {
			writeODataError(w, r, http.StatusNotFound, "NotFound", "Message "+id+" not found.")
			return nil, false
		}
		return m, true
	}
	reply := func(parent *message, id string) (*message, bool) {
		m, ok := c.byID[id]
		if !ok || m.replyToID != parent.id {
			writeODataError(w, r, http.StatusNotFound, "NotFound", "Reply "+id+" not found.")
			return nil, false
		}
		return m, true
	}
	page := func(list []*message, ctx string) {
		// Newest first.
		sort.SliceStable(list, func(i, j int) bool { return list[i].id > list[j].id })
		items := []any{}
		for i := offset; i < len(list) && i < offset+top; i++ {
			items = append(items, s.renderChannelMessage(t, c, list[i], base, unknown))
		}
		out := map[string]any{"@odata.context": ctx, "@odata.count": len(items), "value": items}
		if offset+top < len(list) {
			out["@odata.nextLink"] = s.nextLink(r, offset+top)
		}
		writeJSON(w, http.StatusOK, out)
	}
	entity := func(m *message) {
		out := s.renderChannelMessage(t, c, m, base, unknown)
		out["@odata.context"] = channelMessageContext(base, t, c, m) + "/$entity"
		writeJSON(w, http.StatusOK, out)
	}
	switch {
	case len(rest) == 0:
		page(append([]*message(nil), c.messages...), channelMessageContext(base, t, c, nil))
	case len(rest) == 1:
		if m, ok := root(rest[0]); ok {
			entity(m)
		}
	case len(rest) == 2 && rest[1] == "replies":
		m, ok := root(rest[0])
		if !ok {
			return
		}
		var list []*message
		for _, x := range c.byID {
			if x.replyToID == m.id {
				list = append(list, x)
			}
		}
		page(list, channelMessageContext(base, t, c, nil)+"('"+m.id+"')/replies")
	case len(rest) == 3 && rest[1] == "replies":
		if m, ok := root(rest[0]); ok {
			if rp, ok := reply(m, rest[2]); ok {
				entity(rp)
			}
		}
	case len(rest) >= 3 && rest[1] == "hostedContents":
		if m, ok := root(rest[0]); ok {
			writeHosted(w, r, m, rest[2], len(rest) == 4 && rest[3] == "$value")
		}
	case len(rest) >= 5 && rest[1] == "replies" && rest[3] == "hostedContents":
		if m, ok := root(rest[0]); ok {
			if rp, ok := reply(m, rest[2]); ok {
				writeHosted(w, r, rp, rest[4], len(rest) == 6 && rest[5] == "$value")
			}
		}
	default:
		writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+strings.Join(rest, "/")+"'.")
	}
}

var channelResourceRE = regexp.MustCompile(`^/?teams\('([^']+)'\)/channels\('([^']+)'\)/messages\('([^']+)'\)(?:/replies\('([^']+)'\))?$`)

// channelResourceJSON renders "teams('…')/channels('…')/messages('…')[/replies('…')]" for rich
// change notifications, as a GET would.
func (s *Sim) channelResourceJSON(resourcePath string) ([]byte, bool) {
	mt := channelResourceRE.FindStringSubmatch(resourcePath)
	if mt == nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, c, err := s.findChannelLocked(mt[1], mt[2])
	if err != nil {
		return nil, false
	}
	id := mt[3]
	if mt[4] != "" {
		id = mt[4]
	}
	m, ok := c.byID[id]
	if !ok || (mt[4] != "" && m.replyToID != mt[3]) {
		return nil, false
	}
	out := s.renderChannelMessage(t, c, m, s.GraphURL(), true)
	out["@odata.context"] = channelMessageContext(s.GraphURL(), t, c, m) + "/$entity"
	b, err := json.Marshal(out)
	return b, err == nil
}

// ChannelMessageJSON renders a channel message (or, with a parentID, a reply) as Graph would
// return it, for tests and the control API.
func (s *Sim) ChannelMessageJSON(teamID, channelID, parentID, msgID string) ([]byte, bool) {
	p := "teams('" + teamID + "')/channels('" + channelID + "')/messages('"
	if parentID != "" {
		return s.channelResourceJSON(p + parentID + "')/replies('" + msgID + "')")
	}
	return s.channelResourceJSON(p + msgID + "')")
}

// serveTeamGetAllMessages serves GET /teams/{t}/channels/getAllMessages: the roots and replies of the
// team's standard and private channels (the page says "all the public and private channels"), oldest
// first, app-only with ChannelMessage.Read.All, $top and a lastModifiedDateTime range $filter.
func (s *Sim) serveTeamGetAllMessages(w http.ResponseWriter, r *http.Request, ti TokenInfo, teamID string) {
	if !ti.AppOnly {
		writeODataError(w, r, http.StatusPreconditionFailed, "PreconditionFailed", "Requested API is not supported in delegated context")
		return
	}
	if !requirePerm(w, r, ti, []string{"ChannelMessage.Read.All"}, nil) {
		return
	}
	q := r.URL.Query()
	if model := q.Get("model"); model != "" && model != "A" && model != "B" {
		writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Invalid model parameter: '"+model+"'. Supported values are A and B.")
		return
	}
	top, ok := getAllMessagesTop(w, r)
	if !ok {
		return
	}
	offset, ok := getAllMessagesOffset(w, r)
	if !ok {
		return
	}
	keep := timeFilter(parseFilter(q.Get("$filter")), "lastModifiedDateTime")
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.teamFor(w, r, ti, teamID)
	if !ok {
		return
	}
	type item struct {
		c *channel
		m *message
	}
	var list []item
	for _, c := range t.channels {
		if c.membershipType == "shared" {
			continue
		}
		for _, m := range c.byID {
			if keep(m.modified) {
				list = append(list, item{c, m})
			}
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].m.created.Equal(list[j].m.created) {
			return list[i].m.created.Before(list[j].m.created)
		}
		return list[i].m.id < list[j].m.id
	})
	unknown := includeUnknownEnums(r)
	items := []any{}
	for i := offset; i < len(list) && i < offset+top; i++ {
		items = append(items, s.renderChannelMessage(t, list[i].c, list[i].m, s.graphBase(r), unknown))
	}
	out := map[string]any{"@odata.context": s.graphBase(r) + "/$metadata#Collection(chatMessage)", "@odata.count": len(items), "value": items}
	if offset+top < len(list) {
		out["@odata.nextLink"] = getAllMessagesNextLink(s.graphBase(r)+"/teams/"+url.PathEscape(t.id)+"/channels/getAllMessages", q, offset+top)
	}
	writeJSON(w, http.StatusOK, out)
}
