package graphsim

import (
	"encoding/base64"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/graphsim/changes"
)

// TeamSpec describes a team to create. Owners are members too (with the "owner" role).
type TeamSpec struct {
	ID          string   `json:"id,omitempty"` // optional; a GUID (the team's group id) when empty
	TenantID    string   `json:"tenantId,omitempty"`
	DisplayName string   `json:"displayName"`
	Description string   `json:"description,omitempty"`
	Members     []string `json:"members"` // user ids
	Owners      []string `json:"owners,omitempty"`
	// Channels are created after the team; a "General" standard channel always exists.
	Channels []ChannelSpec `json:"channels,omitempty"`
	Tags     []TagSpec     `json:"tags,omitempty"`
}

// ChannelSpec describes a channel. Standard channels are visible to every team member; private and
// shared channels only to their own Members (who must be team members, as graphsim has no
// cross-team or cross-tenant sharing).
type ChannelSpec struct {
	ID             string   `json:"id,omitempty"` // optional; 19:<hex>@thread.tacv2 when empty
	DisplayName    string   `json:"displayName"`
	Description    string   `json:"description,omitempty"`
	MembershipType string   `json:"membershipType,omitempty"` // standard (default) | private | shared
	Members        []string `json:"members,omitempty"`        // private/shared only
	Owners         []string `json:"owners,omitempty"`
}

// TagSpec describes a team tag and the users it is assigned to.
type TagSpec struct {
	ID          string   `json:"id,omitempty"`
	DisplayName string   `json:"displayName"`
	Description string   `json:"description,omitempty"`
	Members     []string `json:"members,omitempty"` // user ids, team members only
}

type team struct {
	id, tenantID, displayName, description string
	created                                time.Time
	members                                []member
	channels                               []*channel
	tags                                   []*teamTag
}

type channel struct {
	id, displayName, description, membershipType string
	created                                      time.Time
	members                                      []member // private/shared only
	messages                                     []*message
	byID                                         map[string]*message // roots and replies
}

type teamTag struct {
	id, displayName, description string
	members                      []member // member.id is the tag-membership id
}

func hasUser(ms []member, userID string) bool {
	for _, m := range ms {
		if m.userID == userID {
			return true
		}
	}
	return false
}

func userIDs(ms []member) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.userID)
	}
	return out
}

// membershipID mimics Teams' opaque base64 membership ids ("<container>##<user>"), never a user id.
func membershipID(container, userID string) string {
	return base64.StdEncoding.EncodeToString([]byte(container + "##" + userID))
}

// teamMembership is a team's or a private/shared channel's membership of a user (container is the team
// or channel id), made in one place so that team and channel members get the same ids and roles: "owner"
// for an owner, none (an empty list, which Graph answers as []) otherwise.
func teamMembership(container, userID string, owner bool) member {
	roles := []string{}
	if owner {
		roles = []string{"owner"}
	}
	return member{id: membershipID(container, userID), userID: userID, roles: roles}
}

func (t *team) channel(id string) *channel {
	for _, c := range t.channels {
		if c.id == id {
			return c
		}
	}
	return nil
}

func (t *team) tag(id string) *teamTag {
	for _, g := range t.tags {
		if g.id == id {
			return g
		}
	}
	return nil
}

// channelMembers are the users who can see a channel: the team for a standard channel, its own
// roster otherwise.
func (t *team) channelMembers(c *channel) []member {
	if c.membershipType == "standard" {
		return t.members
	}
	return c.members
}

func (t *team) canSee(c *channel, userID string) bool { return hasUser(t.channelMembers(c), userID) }

// CreateTeam creates a team with its General channel and returns the team id.
func (s *Sim) CreateTeam(spec TeamSpec) (string, error) {
	if spec.DisplayName == "" {
		return "", errors.New("team needs a displayName")
	}
	s.mu.Lock()
	id := spec.ID
	if id == "" {
		id = newID()
	}
	if _, dup := s.teams[id]; dup {
		s.mu.Unlock()
		return "", errors.Errorf("team %s already exists", id)
	}
	t := &team{id: id, tenantID: spec.TenantID, displayName: spec.DisplayName, description: spec.Description, created: s.now()}
	owners := map[string]bool{}
	for _, o := range spec.Owners {
		owners[o] = true
	}
	seen := map[string]bool{} // large teams: no quadratic duplicate check
	for _, uid := range append(append([]string{}, spec.Owners...), spec.Members...) {
		u, ok := s.users[uid]
		if !ok {
			s.mu.Unlock()
			return "", errors.Errorf("unknown user %q", uid)
		}
		if t.tenantID == "" {
			t.tenantID = u.TenantID
		}
		if seen[uid] {
			continue
		}
		seen[uid] = true
		t.members = append(t.members, teamMembership(id, uid, owners[uid]))
	}
	if t.tenantID == "" {
		s.mu.Unlock()
		return "", errors.New("team needs a tenantId or members")
	}
	// Every team has a General channel; its id is the team's thread id in real Teams.
	t.channels = append(t.channels, &channel{id: "19:" + strings.ReplaceAll(newID(), "-", "") + "@thread.tacv2", displayName: "General",
		membershipType: "standard", created: t.created, byID: map[string]*message{}})
	s.teams[id] = t
	s.mu.Unlock()
	for _, c := range spec.Channels {
		if _, err := s.CreateChannel(id, c); err != nil {
			return "", errors.Wrapf(err, "team %s", id)
		}
	}
	for _, g := range spec.Tags {
		if _, err := s.CreateTag(id, g); err != nil {
			return "", errors.Wrapf(err, "team %s", id)
		}
	}
	return id, nil
}

// AddTeamMember adds a user to a team (and so to its standard channels).
func (s *Sim) AddTeamMember(teamID, userID string, owner bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTeamLocked(teamID)
	if err != nil {
		return err
	}
	if _, ok := s.users[userID]; !ok {
		return errors.Errorf("unknown user %q", userID)
	}
	if hasUser(t.members, userID) {
		return errors.Errorf("user %q is already a member of team %s", userID, teamID)
	}
	t.members = append(t.members, teamMembership(teamID, userID, owner))
	return nil
}

// RemoveTeamMember takes a user out of a team and every private/shared channel and tag of it.
func (s *Sim) RemoveTeamMember(teamID, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTeamLocked(teamID)
	if err != nil {
		return err
	}
	if !hasUser(t.members, userID) {
		return errors.Errorf("user %q is not a member of team %s", userID, teamID)
	}
	t.members = withoutUser(t.members, userID)
	for _, c := range t.channels {
		c.members = withoutUser(c.members, userID)
	}
	for _, g := range t.tags {
		g.members = withoutUser(g.members, userID)
	}
	return nil
}

func withoutUser(ms []member, userID string) []member {
	kept := ms[:0:0]
	for _, m := range ms {
		if m.userID != userID {
			kept = append(kept, m)
		}
	}
	return kept
}

// CreateChannel adds a channel to a team and returns its id.
func (s *Sim) CreateChannel(teamID string, spec ChannelSpec) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTeamLocked(teamID)
	if err != nil {
		return "", err
	}
	if spec.DisplayName == "" {
		return "", errors.New("channel needs a displayName")
	}
	if spec.MembershipType == "" {
		spec.MembershipType = "standard"
	}
	switch spec.MembershipType {
	case "standard":
		if len(spec.Members) > 0 || len(spec.Owners) > 0 {
			return "", errors.New("a standard channel's members are the team's; members apply to private and shared channels")
		}
	case "private", "shared":
	default:
		return "", errors.Errorf("unknown membershipType %q (standard, private, shared)", spec.MembershipType)
	}
	id := spec.ID
	if id == "" {
		id = "19:" + strings.ReplaceAll(newID(), "-", "") + "@thread.tacv2"
	}
	for _, other := range s.teams {
		if other.channel(id) != nil {
			return "", errors.Errorf("channel %s already exists", id)
		}
	}
	c := &channel{id: id, displayName: spec.DisplayName, description: spec.Description, membershipType: spec.MembershipType, created: s.now(), byID: map[string]*message{}}
	owners := map[string]bool{}
	for _, o := range spec.Owners {
		owners[o] = true
	}
	for _, uid := range append(append([]string{}, spec.Owners...), spec.Members...) {
		if !hasUser(t.members, uid) {
			return "", errors.Errorf("user %q is not a member of team %s", uid, teamID)
		}
		if hasUser(c.members, uid) {
			continue
		}
		c.members = append(c.members, teamMembership(id, uid, owners[uid]))
	}
	t.channels = append(t.channels, c)
	return id, nil
}

// AddChannelMember adds a team member to a private or shared channel.
func (s *Sim) AddChannelMember(teamID, channelID, userID string, owner bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, c, err := s.findChannelLocked(teamID, channelID)
	if err != nil {
		return err
	}
	if c.membershipType == "standard" {
		return errors.New("a standard channel's members are the team's: add the user to the team")
	}
	if !hasUser(t.members, userID) {
		return errors.Errorf("user %q is not a member of team %s", userID, teamID)
	}
	if hasUser(c.members, userID) {
		return errors.Errorf("user %q is already a member of channel %s", userID, channelID)
	}
	c.members = append(c.members, teamMembership(channelID, userID, owner))
	return nil
}

// RemoveChannelMember takes a user out of a private or shared channel.
func (s *Sim) RemoveChannelMember(teamID, channelID, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, c, err := s.findChannelLocked(teamID, channelID)
	if err != nil {
		return err
	}
	if !hasUser(c.members, userID) {
		return errors.Errorf("user %q is not a member of channel %s", userID, channelID)
	}
	c.members = withoutUser(c.members, userID)
	return nil
}

// CreateTag adds a standard tag to a team and returns its id.
func (s *Sim) CreateTag(teamID string, spec TagSpec) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTeamLocked(teamID)
	if err != nil {
		return "", err
	}
	if spec.DisplayName == "" {
		return "", errors.New("tag needs a displayName")
	}
	id := spec.ID
	if id == "" {
		// Teams' tag ids are base64 of "<tenant>##<team>##<tag>".
		id = base64.StdEncoding.EncodeToString([]byte(t.tenantID + "##" + teamID + "##" + randomToken(8)))
	}
	if t.tag(id) != nil {
		return "", errors.Errorf("tag %s already exists", id)
	}
	g := &teamTag{id: id, displayName: spec.DisplayName, description: spec.Description}
	t.tags = append(t.tags, g)
	for _, uid := range spec.Members {
		if err := s.addTagMemberLocked(t, g, uid); err != nil {
			t.tags = t.tags[:len(t.tags)-1]
			return "", err
		}
	}
	return id, nil
}

// AddTagMember assigns a team's tag to a team member.
func (s *Sim) AddTagMember(teamID, tagID, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, g, err := s.findTagLocked(teamID, tagID)
	if err != nil {
		return err
	}
	return s.addTagMemberLocked(t, g, userID)
}

// maxTagMembers is Microsoft's documented limit of members per tag.
const maxTagMembers = 200

func (s *Sim) addTagMemberLocked(t *team, g *teamTag, userID string) error {
	if !hasUser(t.members, userID) {
		return errors.Errorf("user %q is not a member of team %s", userID, t.id)
	}
	if hasUser(g.members, userID) {
		return errors.Errorf("user %q already has tag %s", userID, g.id)
	}
	if len(g.members) >= maxTagMembers {
		return errors.Errorf("a tag has at most %d members", maxTagMembers)
	}
	g.members = append(g.members, member{id: membershipID(g.id, userID), userID: userID})
	return nil
}

// RemoveTagMember unassigns a tag from a user.
func (s *Sim) RemoveTagMember(teamID, tagID, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, g, err := s.findTagLocked(teamID, tagID)
	if err != nil {
		return err
	}
	if !hasUser(g.members, userID) {
		return errors.Errorf("user %q does not have tag %s", userID, tagID)
	}
	g.members = withoutUser(g.members, userID)
	return nil
}

// TeamInfo summarises a team for the control API.
type TeamInfo struct {
	ID          string        `json:"id"`
	TenantID    string        `json:"tenantId"`
	DisplayName string        `json:"displayName"`
	Members     []string      `json:"members"`
	Channels    []ChannelInfo `json:"channels"`
	Tags        []TagInfo     `json:"tags"`
}

// ChannelInfo summarises a channel; Members are the users who can see it.
type ChannelInfo struct {
	ID             string   `json:"id"`
	DisplayName    string   `json:"displayName"`
	MembershipType string   `json:"membershipType"`
	Members        []string `json:"members"`
}

// TagInfo summarises a tag.
type TagInfo struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName"`
	Members     []string `json:"members"`
}

// Teams lists all teams, sorted by id.
func (s *Sim) Teams() []TeamInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TeamInfo, 0, len(s.teams))
	for _, t := range s.teams {
		ti := TeamInfo{ID: t.id, TenantID: t.tenantID, DisplayName: t.displayName, Members: userIDs(t.members), Channels: []ChannelInfo{}, Tags: []TagInfo{}}
		for _, c := range t.channels {
			ti.Channels = append(ti.Channels, ChannelInfo{ID: c.id, DisplayName: c.displayName, MembershipType: c.membershipType, Members: userIDs(t.channelMembers(c))})
		}
		for _, g := range t.tags {
			ti.Tags = append(ti.Tags, TagInfo{ID: g.id, DisplayName: g.displayName, Members: userIDs(g.members)})
		}
		out = append(out, ti)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// findTeamLocked is the lookup every control operation on a team starts with (s.mu held), so that
// they all refuse an unknown team with the same error.
func (s *Sim) findTeamLocked(teamID string) (*team, error) {
	t, ok := s.teams[teamID]
	if !ok {
		return nil, errors.Errorf("unknown team %q", teamID)
	}
	return t, nil
}

// findTagLocked is findTeamLocked and then the team's tag, for the tag member operations.
func (s *Sim) findTagLocked(teamID, tagID string) (*team, *teamTag, error) {
	t, err := s.findTeamLocked(teamID)
	if err != nil {
		return nil, nil, err
	}
	g := t.tag(tagID)
	if g == nil {
		return nil, nil, errors.Errorf("unknown tag %q in team %s", tagID, teamID)
	}
	return t, g, nil
}

// findChannelLocked is findTeamLocked and then the team's channel.
func (s *Sim) findChannelLocked(teamID, channelID string) (*team, *channel, error) {
	t, err := s.findTeamLocked(teamID)
	if err != nil {
		return nil, nil, err
	}
	c := t.channel(channelID)
	if c == nil {
		return nil, nil, errors.Errorf("unknown channel %q in team %s", channelID, teamID)
	}
	return t, c, nil
}

// checkMentionsLocked makes sure each mention names exactly one thing that exists in the team.
func (s *Sim) checkMentionsLocked(t *team, ms []Mention) error {
	for _, mn := range ms {
		n := 0
		for _, v := range []string{mn.UserID, mn.TeamID, mn.ChannelID, mn.TagID} {
			if v != "" {
				n++
			}
		}
		if n != 1 {
			return errors.Errorf("mention %d must name exactly one of userId, teamId, channelId, tagId", mn.ID)
		}
		switch {
		case mn.UserID != "":
			if _, ok := s.users[mn.UserID]; !ok {
				return errors.Errorf("mention %d: unknown user %q", mn.ID, mn.UserID)
			}
		case mn.TeamID != "" && mn.TeamID != t.id:
			return errors.Errorf("mention %d: a channel message can mention only its own team", mn.ID)
		case mn.ChannelID != "" && t.channel(mn.ChannelID) == nil:
			return errors.Errorf("mention %d: unknown channel %q in team %s", mn.ID, mn.ChannelID, t.id)
		case mn.TagID != "" && t.tag(mn.TagID) == nil:
			return errors.Errorf("mention %d: unknown tag %q in team %s", mn.ID, mn.TagID, t.id)
		}
	}
	return nil
}

// SendChannelMessage posts a new thread (a root message) into a channel and returns its id.
func (s *Sim) SendChannelMessage(teamID, channelID string, m NewMessage) (string, error) {
	return s.postChannel(teamID, channelID, "", m)
}

// ReplyChannelMessage posts a reply in the thread whose root is parentID and returns its id.
func (s *Sim) ReplyChannelMessage(teamID, channelID, parentID string, m NewMessage) (string, error) {
	if parentID == "" {
		return "", errors.New("a reply needs the thread's root message id")
	}
	return s.postChannel(teamID, channelID, parentID, m)
}

func (s *Sim) postChannel(teamID, channelID, parentID string, m NewMessage) (string, error) {
	s.mu.Lock()
	t, c, err := s.findChannelLocked(teamID, channelID)
	if err != nil {
		s.mu.Unlock()
		return "", err
	}
	if m.ReplyTo != "" {
		s.mu.Unlock()
		return "", errors.New("replyTo (a quote) is for chats; reply in a channel thread with the replies route")
	}
	if m.MessageType == "" {
		m.MessageType = "message"
	}
	if m.MessageType == "message" && m.FromBot == nil && !t.canSee(c, m.From) {
		s.mu.Unlock()
		return "", errors.Errorf("user %q is not a member of channel %s", m.From, channelID)
	}
	if parentID != "" {
		p, ok := c.byID[parentID]
		if !ok || p.replyToID != "" {
			s.mu.Unlock()
			return "", errors.Errorf("thread root %q not found in channel %s", parentID, channelID)
		}
	}
	if err := s.checkMentionsLocked(t, m.Mentions); err != nil {
		s.mu.Unlock()
		return "", err
	}
	now := s.now().UTC()
	msg := s.buildMessageLocked(t.tenantID, m, now, nil, channelSite(t, c))
	msg.replyToID = parentID
	s.seq++
	msg.seq = s.seq
	if parentID == "" {
		c.messages = append(c.messages, msg)
	}
	c.byID[msg.id] = msg
	ev := s.channelEventLocked("created", t, c, msg)
	s.mu.Unlock()
	s.publish(ev)
	return msg.id, nil
}

// channelSite is where Teams keeps a channel's files: a folder named after the channel in the team's site, or
// for a private or shared channel the channel's own site. Whoever can see the channel reads them, as its
// membership is at the time of the read.
func channelSite(t *team, c *channel) *fileSite {
	site := siteName(t.displayName)
	if c.membershipType != "standard" {
		site += "-" + siteName(c.displayName)
	}
	return &fileSite{
		path:    "/sites/" + site + "/Shared%20Documents/" + pathEscape(c.displayName) + "/",
		canRead: func(userID string) bool { return t.canSee(c, userID) },
	}
}

// siteName is a SharePoint site URL name: the display name without spaces and punctuation.
func siteName(displayName string) string {
	var b strings.Builder
	for _, r := range displayName {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "team"
	}
	return b.String()
}

func (s *Sim) channelEventLocked(changeType string, t *team, c *channel, m *message) *changes.Event {
	return &changes.Event{ChangeType: changeType, TenantID: t.tenantID, TeamID: t.id, ChannelID: c.id, MessageID: m.id,
		ReplyToID: m.replyToID, SenderUserID: m.from, MemberUserIDs: userIDs(t.channelMembers(c))}
}

// mutateChannel is mutate for channel messages and replies.
func (s *Sim) mutateChannel(teamID, channelID, msgID, changeType string, f func(now time.Time, m *message) error) error {
	s.mu.Lock()
	t, c, err := s.findChannelLocked(teamID, channelID)
	var m *message
	if err == nil {
		var ok bool
		if m, ok = c.byID[msgID]; !ok {
			err = errors.Errorf("unknown message %q in channel %s", msgID, channelID)
		}
	}
	if err == nil {
		now := s.now()
		if !now.After(m.modified) {
			now = m.modified.Add(time.Millisecond)
		}
		err = f(now, m)
	}
	if err != nil {
		s.mu.Unlock()
		return err
	}
	s.seq++
	m.seq = s.seq
	ev := s.channelEventLocked(changeType, t, c, m)
	s.mu.Unlock()
	s.publish(ev)
	return nil
}

// EditChannelMessage replaces a channel message's (or reply's) HTML, as EditMessage does for chats.
func (s *Sim) EditChannelMessage(teamID, channelID, msgID, html string) error {
	return s.mutateChannel(teamID, channelID, msgID, "updated", func(now time.Time, m *message) error {
		if !m.deleted.IsZero() {
			return errors.New("message is deleted")
		}
		m.html = html
		m.edited = now
		m.modified = now
		return nil
	})
}

// DeleteChannelMessage soft-deletes a channel message or reply, as DeleteMessage does for chats.
func (s *Sim) DeleteChannelMessage(teamID, channelID, msgID string) error {
	return s.mutateChannel(teamID, channelID, msgID, "deleted", func(now time.Time, m *message) error {
		m.deleted = now
		m.modified = now
		m.html = ""
		m.attachments = nil
		m.mentions = nil
		m.reactions = nil
		return nil
	})
}

// SetAppRoles replaces the application permissions admin-granted to an app, as an admin granting
// (say) ChannelMessage.Read.All would. Tokens issued afterwards carry the new roles; tokens already
// issued keep theirs until they expire, as Entra's do.
func (s *Sim) SetAppRoles(clientID string, roles []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	app, ok := s.apps[clientID]
	if !ok {
		return errors.Errorf("unknown app %q", clientID)
	}
	app.AppRoles = append([]string{}, roles...)
	return nil
}
