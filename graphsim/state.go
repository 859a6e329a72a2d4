package graphsim

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"
)

// AppRegistration is an Entra app registration living in one tenant.
type AppRegistration struct {
	TenantID     string   `json:"tenantId"`
	ClientID     string   `json:"clientId"`
	ClientSecret string   `json:"clientSecret"`
	DisplayName  string   `json:"displayName,omitempty"`
	RedirectURIs []string `json:"redirectUris,omitempty"`
	// AppRoles are the application permissions admin-granted to the app
	// (Chat.Read.All, Presence.Read.All, ...); they become the token's roles.
	AppRoles []string `json:"appRoles,omitempty"`
	// DelegatedScopes are the consented delegated permissions; "/.default"
	// requests get all of them. Nil means DefaultDelegatedScopes.
	DelegatedScopes []string `json:"delegatedScopes,omitempty"`
	// SecretExpires is the passwordCredential endDateTime; zero means a year from creation.
	SecretExpires time.Time `json:"secretExpires,omitempty"`
}

// DefaultDelegatedScopes is what an app registration without explicit
// DelegatedScopes has been consented to.
var DefaultDelegatedScopes = []string{"User.Read", "User.ReadBasic.All", "Chat.Read", "ChatMessage.Read", "Presence.Read.All", "Files.Read.All", "ChatMessage.Send", "offline_access", "openid", "profile"}

// User is an Entra user.
type User struct {
	ID                string   `json:"id"`
	TenantID          string   `json:"tenantId"`
	DisplayName       string   `json:"displayName"`
	Mail              string   `json:"mail,omitempty"`
	UserPrincipalName string   `json:"userPrincipalName,omitempty"`
	ProxyAddresses    []string `json:"proxyAddresses,omitempty"`
	// IdentityType is the userIdentityType Graph reports for the user as a
	// message sender: "" means aadUser; federatedUser, emailUser, … make an
	// external sender.
	IdentityType string `json:"userIdentityType,omitempty"`
	// Guest makes the user a guest of its tenant: chat memberships carry
	// the "guest" role, as Teams gives B2B guests.
	Guest bool `json:"guest,omitempty"`
}

func (u User) identityType() string {
	if u.IdentityType == "" {
		return "aadUser"
	}
	return u.IdentityType
}

// Presence is a user's Teams presence.
type Presence struct {
	Availability string `json:"availability"`
	Activity     string `json:"activity"`
}

// ChatSpec describes a chat to create. A oneOnOne chat has exactly two members
// (or one for a self-chat); a group chat has a topic.
type ChatSpec struct {
	ID       string   `json:"id,omitempty"` // optional; generated in Teams' format when empty
	TenantID string   `json:"tenantId,omitempty"`
	ChatType string   `json:"chatType"` // oneOnOne | group | meeting
	Topic    string   `json:"topic,omitempty"`
	Members  []string `json:"members"` // user ids
}

// Mention is an @-mention inside a message body (<at id="N">text</at>).
type Mention struct {
	ID          int    `json:"id"`
	MentionText string `json:"mentionText"`
	UserID      string `json:"userId"`
	// In channel messages a mention may instead name the team, a channel of it or one of its tags
	// (exactly one of UserID, TeamID, ChannelID, TagID).
	TeamID    string `json:"teamId,omitempty"`
	ChannelID string `json:"channelId,omitempty"`
	TagID     string `json:"tagId,omitempty"`
}

// HostedContent is an inline image carried by a message. Reference it from the
// HTML as {{hosted:ID}} (rendered as the Graph $value URL); unreferenced ones
// are appended as <img> tags.
type HostedContent struct {
	ID          string `json:"id,omitempty"`
	ContentType string `json:"contentType"`
	Bytes       []byte `json:"bytes"`
}

// FileRef attaches a file: graphsim stores it at a SharePoint-like URL it
// serves itself, and the message gets a "reference" attachment pointing there.
type FileRef struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType,omitempty"`
	Bytes       []byte `json:"bytes"`
	// SharedWith limits who can read the file with a delegated token: the sender plus these user ids. Empty means
	// everyone in the tenant (an organisation-wide sharing link). Others get 403 accessDenied from /shares.
	SharedWith []string `json:"sharedWith,omitempty"`
}

// Attachment is a raw chatMessage attachment (cards, code snippets, ...).
type Attachment struct {
	ID           string `json:"id,omitempty"`
	ContentType  string `json:"contentType"`
	ContentURL   string `json:"contentUrl,omitempty"`
	Content      string `json:"content,omitempty"`
	Name         string `json:"name,omitempty"`
	ThumbnailURL string `json:"thumbnailUrl,omitempty"`
	TeamsAppID   string `json:"teamsAppId,omitempty"`
}

// Bot is an application identity sending messages.
type Bot struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// CodeSnippet is a Teams code block shared as a card.
type CodeSnippet struct {
	Language string `json:"language"`
	Code     string `json:"code"`
}

// NewMessage is a message sent by a user (or, with MessageType
// "systemEventMessage", a system event).
type NewMessage struct {
	From string `json:"from"` // user id; empty for system events and bots
	// FromBot sends as an application (a bot): from.user is null.
	FromBot     *Bot            `json:"fromBot,omitempty"`
	HTML        string          `json:"html"`
	ContentType string          `json:"contentType,omitempty"` // html (default) | text
	Subject     string          `json:"subject,omitempty"`
	Importance  string          `json:"importance,omitempty"`
	MessageType string          `json:"messageType,omitempty"`
	Mentions    []Mention       `json:"mentions,omitempty"`
	Hosted      []HostedContent `json:"hostedContents,omitempty"`
	Files       []FileRef       `json:"files,omitempty"`
	// ReplyTo quotes an earlier message of the same chat (messageReference attachment).
	ReplyTo     string       `json:"replyTo,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	// CodeSnippets become "application/vnd.microsoft.card.codesnippet"
	// attachments whose content points at the snippet (a hosted content).
	CodeSnippets []CodeSnippet `json:"codeSnippets,omitempty"`
	// EventDetail is raw JSON for systemEventMessage.
	EventDetail map[string]any `json:"eventDetail,omitempty"`
}

type member struct {
	id      string // membership id, distinct from the user id
	userID  string
	roles   []string
	visible time.Time
}

type reaction struct {
	reactionType string
	displayName  string
	userID       string
	created      time.Time
}

type message struct {
	id          string
	chatID      string
	from        string
	created     time.Time
	modified    time.Time
	edited      time.Time
	deleted     time.Time
	contentType string
	html        string
	subject     string
	importance  string
	messageType string
	mentions    []Mention
	bot         *Bot
	hosted      map[string]HostedContent
	attachments []Attachment
	reactions   []reaction
	eventDetail map[string]any
	seq         int64  // global change sequence, drives delta
	replyToID   string // channel replies: the thread's root message
}

type chat struct {
	id       string
	tenantID string
	chatType string
	topic    string
	created  time.Time
	updated  time.Time
	members  []member
	messages []*message
	byID     map[string]*message
}

type storedFile struct {
	id          string
	url         string
	name        string
	contentType string
	bytes       []byte
	created     time.Time
	// readers are the users a delegated token may read the file as; nil means every user of the tenant.
	readers map[string]bool
	// canRead, when set, replaces readers: a channel's file follows the channel's membership at the time of
	// the read, as the team's SharePoint site does. Called with Sim.mu held.
	canRead func(userID string) bool
}

// readableBy says whether a caller may read the file: app-only tokens (Files.Read.All application) read
// everything, delegated callers only what is shared with them. Called with Sim.mu held.
func (f *storedFile) readableBy(ti TokenInfo) bool {
	switch {
	case ti.AppOnly:
		return true
	case f.canRead != nil:
		return f.canRead(ti.UserID)
	}
	return f.readers == nil || f.readers[ti.UserID]
}

func (c *chat) hasMember(userID string) bool {
	for _, m := range c.members {
		if m.userID == userID {
			return true
		}
	}
	return false
}

func (c *chat) memberIDs() []string {
	out := make([]string, 0, len(c.members))
	for _, m := range c.members {
		out = append(out, m.userID)
	}
	return out
}

// AddApp registers an application.
func (s *Sim) AddApp(a AppRegistration) error {
	if a.TenantID == "" || a.ClientID == "" {
		return errors.New("app registration needs tenantId and clientId")
	}
	if a.DelegatedScopes == nil {
		a.DelegatedScopes = DefaultDelegatedScopes
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.SecretExpires.IsZero() {
		a.SecretExpires = s.now().AddDate(1, 0, 0)
	}
	s.apps[a.ClientID] = &appState{AppRegistration: a, secretKeyID: newID(), created: s.now()}
	return nil
}

// AddUser creates a user.
func (s *Sim) AddUser(u User) error {
	if u.ID == "" || u.TenantID == "" {
		return errors.New("user needs id and tenantId")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = &userState{User: u, presence: Presence{Availability: "Offline", Activity: "Offline"}}
	return nil
}

// Users lists all users, sorted by id.
func (s *Sim) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u.User)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ChatInfo summarises a chat for the control API.
type ChatInfo struct {
	ID       string   `json:"id"`
	TenantID string   `json:"tenantId"`
	ChatType string   `json:"chatType"`
	Topic    string   `json:"topic,omitempty"`
	Members  []string `json:"members"`
}

// Chats lists all chats.
func (s *Sim) Chats() []ChatInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ChatInfo, 0, len(s.chats))
	for _, c := range s.chats {
		out = append(out, ChatInfo{ID: c.id, TenantID: c.tenantID, ChatType: c.chatType, Topic: c.topic, Members: c.memberIDs()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// CreateChat creates a chat and returns its id (19:…@unq.gbl.spaces for
// oneOnOne, 19:<hex>@thread.v2 otherwise).
func (s *Sim) CreateChat(spec ChatSpec) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if spec.ChatType == "" {
		spec.ChatType = "group"
		if len(spec.Members) <= 2 && spec.Topic == "" {
			spec.ChatType = "oneOnOne"
		}
	}
	switch spec.ChatType {
	case "oneOnOne", "group", "meeting":
	default:
		return "", errors.Errorf("unknown chatType %q", spec.ChatType)
	}
	if len(spec.Members) == 0 {
		return "", errors.New("chat needs members")
	}
	if spec.ChatType == "oneOnOne" && len(spec.Members) > 2 {
		return "", errors.New("oneOnOne chat has at most two members")
	}
	for _, id := range spec.Members {
		u, ok := s.users[id]
		if !ok {
			return "", errors.Errorf("unknown user %q", id)
		}
		if spec.TenantID == "" {
			spec.TenantID = u.TenantID
		}
	}
	id := spec.ID
	if id == "" {
		if spec.ChatType == "oneOnOne" {
			a, b := spec.Members[0], spec.Members[len(spec.Members)-1]
			if b < a {
				a, b = b, a
			}
			id = "19:" + a + "_" + b + "@unq.gbl.spaces"
		} else {
			id = "19:" + strings.ReplaceAll(newID(), "-", "") + "@thread.v2"
		}
	}
	if _, dup := s.chats[id]; dup {
		return "", errors.Errorf("chat %s already exists", id)
	}
	now := s.now()
	c := &chat{id: id, tenantID: spec.TenantID, chatType: spec.ChatType, topic: spec.Topic, created: now, updated: now, byID: map[string]*message{}}
	for i, uid := range spec.Members {
		roles := []string{"owner"}
		if spec.ChatType == "group" && i > 0 {
			roles = []string{"owner"}
		}
		// Membership ids look like Teams' base64 MCMj… ids and never equal the user id.
		c.members = append(c.members, member{id: "MCMjMSMj" + strings.ReplaceAll(newID(), "-", "") + "=", userID: uid, roles: roles})
	}
	s.chats[id] = c
	return id, nil
}

// nextMessageID returns an epoch-ms id that is unique and increasing: when
// two messages share a millisecond the later id moves forward (only the id;
// createdDateTime stays the real creation time).
func (s *Sim) nextMessageID(now time.Time) string {
	ms := now.UnixMilli()
	if ms <= s.lastMsgMS {
		ms = s.lastMsgMS + 1
	}
	s.lastMsgMS = ms
	return strconv.FormatInt(ms, 10)
}

// SendMessage posts a message into a chat as a user and returns its id.
func (s *Sim) SendMessage(chatID string, m NewMessage) (string, error) {
	s.mu.Lock()
	c, ok := s.chats[chatID]
	if !ok {
		s.mu.Unlock()
		return "", errors.Errorf("unknown chat %q", chatID)
	}
	if m.MessageType == "" {
		m.MessageType = "message"
	}
	if m.MessageType == "message" && m.FromBot == nil && !c.hasMember(m.From) {
		s.mu.Unlock()
		return "", errors.Errorf("user %q is not a member of chat %s", m.From, chatID)
	}
	for _, mn := range m.Mentions {
		if mn.TeamID != "" || mn.ChannelID != "" || mn.TagID != "" {
			s.mu.Unlock()
			return "", errors.Errorf("mention %d: team, channel and tag mentions are for channel messages", mn.ID)
		}
	}
	var parent *message
	if m.ReplyTo != "" {
		if parent, ok = c.byID[m.ReplyTo]; !ok {
			s.mu.Unlock()
			return "", errors.Errorf("replyTo message %q not found", m.ReplyTo)
		}
	}
	now := s.now().UTC()
	msg := s.buildMessageLocked(c.tenantID, m, now, func(msg *message) {
		if parent == nil {
			return
		}
		preview := parent.html
		if len(preview) > 100 {
			preview = preview[:100]
		}
		sender := map[string]any{"application": nil, "device": nil, "user": nil}
		if u, ok := s.users[parent.from]; ok {
			sender["user"] = map[string]any{"@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": u.ID, "displayName": u.DisplayName, "userIdentityType": u.identityType(), "tenantId": u.TenantID}
		}
		content, _ := jsonString(map[string]any{"messageId": parent.id, "messagePreview": stripTags(preview), "messageSender": sender})
		msg.attachments = append(msg.attachments, Attachment{ID: parent.id, ContentType: "messageReference", Content: content})
		msg.html = `<attachment id="` + parent.id + `"></attachment>` + msg.html
	}, nil)
	msg.chatID = chatID
	s.seq++
	msg.seq = s.seq
	c.messages = append(c.messages, msg)
	c.byID[msg.id] = msg
	c.updated = now
	ev := s.eventLocked("created", c, msg)
	s.mu.Unlock()
	s.publish(ev)
	return msg.id, nil
}

// buildMessageLocked turns a NewMessage into a stored message (id, defaults, hosted contents, code
// snippets, files) for a chat or a channel; the caller files it. beforeFiles (a chat's quoting) runs
// before the file attachments are added, so attachments keep their historical order. site, for a channel
// message, is where its uploaded files live (nil: the sender's OneDrive, as in chats).
func (s *Sim) buildMessageLocked(tenantID string, m NewMessage, now time.Time, beforeFiles func(*message), site *fileSite) *message {
	// The id is the creation time in epoch ms (as in Teams), moved forward in a
	// burst so ids stay unique; createdDateTime is the real time, so a client
	// measuring delay from it is not misled by the id's shift.
	id := s.nextMessageID(now)
	msg := &message{
		id: id, from: m.From, created: now, modified: now,
		contentType: m.ContentType, html: m.HTML, subject: m.Subject, importance: m.Importance,
		messageType: m.MessageType, mentions: m.Mentions, hosted: map[string]HostedContent{},
		attachments: append([]Attachment(nil), m.Attachments...), eventDetail: m.EventDetail, bot: m.FromBot,
	}
	if m.FromBot != nil {
		msg.from = ""
	}
	if msg.contentType == "" {
		msg.contentType = "html"
	}
	if msg.importance == "" {
		msg.importance = "normal"
	}
	if len(m.Mentions) > 0 {
		msg.contentType = "html"
	}
	for i, h := range m.Hosted {
		if h.ID == "" {
			h.ID = fmt.Sprintf("aWQ9eF8w%s%d", randomToken(6), i)
		}
		msg.hosted[h.ID] = h
		if !strings.Contains(msg.html, "{{hosted:"+h.ID+"}}") {
			msg.html += `<p><img src="{{hosted:` + h.ID + `}}" alt="image" itemtype="http://schema.skype.com/AMSImage"></p>`
		}
	}
	for i, cs := range m.CodeSnippets {
		hid := fmt.Sprintf("c25pcHBldA%s%d", randomToken(6), i)
		msg.hosted[hid] = HostedContent{ID: hid, ContentType: "text/plain", Bytes: []byte(cs.Code)}
		content, _ := jsonString(map[string]any{"language": cs.Language, "wrap": false, "codeSnippetUrl": "{{hosted:" + hid + "}}"})
		aid := strings.ReplaceAll(newID(), "-", "")
		msg.attachments = append(msg.attachments, Attachment{ID: aid, ContentType: "application/vnd.microsoft.card.codesnippet", Content: content})
		msg.html += `<attachment id="` + aid + `"></attachment>`
	}
	if beforeFiles != nil {
		beforeFiles(msg)
	}
	for _, f := range m.Files {
		sf := s.storeFileLocked(tenantID, m.From, f, now, site)
		id := strings.ToUpper(strings.ReplaceAll(sf.id, "-", ""))
		msg.attachments = append(msg.attachments, Attachment{ID: id, ContentType: "reference", ContentURL: sf.url, Name: sf.name})
		msg.html += `<attachment id="` + id + `"></attachment>`
	}
	return msg
}

func (s *Sim) findMessageLocked(chatID, msgID string) (*chat, *message, error) {
	c, ok := s.chats[chatID]
	if !ok {
		return nil, nil, errors.Errorf("unknown chat %q", chatID)
	}
	m, ok := c.byID[msgID]
	if !ok {
		return nil, nil, errors.Errorf("unknown message %q in chat %s", msgID, chatID)
	}
	return c, m, nil
}

// errUnchanged, returned by a mutate callback, means the request was valid but
// left the message as it was: nothing is bumped or notified.
var errUnchanged = errors.New("unchanged")

// mutate applies f to a message, bumps its change sequence and publishes an
// "updated" (or "deleted") change.
func (s *Sim) mutate(chatID, msgID, changeType string, f func(now time.Time, m *message) error) error {
	s.mu.Lock()
	c, m, err := s.findMessageLocked(chatID, msgID)
	if err == nil {
		// Every change moves lastModifiedDateTime (and so the etag) forward, even
		// on a frozen test clock.
		now := s.now()
		if !now.After(m.modified) {
			now = m.modified.Add(time.Millisecond)
		}
		err = f(now, m)
	}
	if err != nil {
		s.mu.Unlock()
		if errors.Is(err, errUnchanged) {
			return nil
		}
		return err
	}
	s.seq++
	m.seq = s.seq
	ev := s.eventLocked(changeType, c, m)
	s.mu.Unlock()
	s.publish(ev)
	return nil
}

// EditMessage replaces a message's HTML body; it sets lastEditedDateTime and
// lastModifiedDateTime (and so the etag).
func (s *Sim) EditMessage(chatID, msgID, html string) error {
	return s.mutate(chatID, msgID, "updated", func(now time.Time, m *message) error {
		if !m.deleted.IsZero() {
			return errors.New("message is deleted")
		}
		m.html = html
		m.edited = now
		m.modified = now
		return nil
	})
}

// DeleteMessage soft-deletes a message: deletedDateTime is set and the body emptied.
func (s *Sim) DeleteMessage(chatID, msgID string) error {
	return s.mutate(chatID, msgID, "deleted", func(now time.Time, m *message) error {
		m.deleted = now
		m.modified = now
		m.html = ""
		m.attachments = nil
		m.mentions = nil
		m.reactions = nil
		return nil
	})
}

// React adds a reaction by a user; it bumps only lastModifiedDateTime.
func (s *Sim) React(chatID, msgID, userID, reactionType string) error {
	return s.mutate(chatID, msgID, "updated", func(now time.Time, m *message) error {
		u, ok := s.users[userID]
		if !ok {
			return errors.Errorf("unknown user %q", userID)
		}
		m.reactions = append(m.reactions, reaction{reactionType: reactionType, displayName: reactionDisplayName(reactionType), userID: u.ID, created: now})
		m.modified = now
		return nil
	})
}

// Unreact removes a user's reaction; it bumps only lastModifiedDateTime.
func (s *Sim) Unreact(chatID, msgID, userID, reactionType string) error {
	return s.mutate(chatID, msgID, "updated", func(now time.Time, m *message) error {
		kept := m.reactions[:0]
		found := false
		for _, r := range m.reactions {
			if !found && r.userID == userID && r.reactionType == reactionType {
				found = true
				continue
			}
			kept = append(kept, r)
		}
		if !found {
			return errors.New("reaction not found")
		}
		m.reactions = kept
		m.modified = now
		return nil
	})
}

// SetPresence sets a user's availability and activity.
func (s *Sim) SetPresence(userID string, p Presence) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if !ok {
		return errors.Errorf("unknown user %q", userID)
	}
	u.presence = p
	return nil
}

func reactionDisplayName(t string) string {
	switch t {
	case "like", "👍":
		return "Like"
	case "heart", "❤️":
		return "Heart"
	case "laugh", "😆":
		return "Laugh"
	case "surprised", "😮":
		return "Surprised"
	case "sad", "😢":
		return "Sad"
	case "angry", "😡":
		return "Angry"
	}
	return t
}

// fileSite is where a channel's files live: a folder of the team's SharePoint site (a private or shared
// channel's own site), readable by whoever can see the channel.
type fileSite struct {
	path    string // "/sites/{site}/Shared%20Documents/{channel}/", escaped
	canRead func(userID string) bool
}

// storeFileLocked stores an uploaded file: in site when given, unless the file is shared with named people
// only (a link to a file of the sender's OneDrive), else in the sender's OneDrive.
func (s *Sim) storeFileLocked(tenantID, owner string, f FileRef, now time.Time, site *fileSite) *storedFile {
	if f.ContentType == "" {
		f.ContentType = "application/octet-stream"
	}
	id := newID()
	if site != nil && len(f.SharedWith) == 0 {
		u := s.baseURL() + site.path + pathEscape(id[:8]+"_"+f.Name)
		sf := &storedFile{id: id, url: u, name: f.Name, contentType: f.ContentType, bytes: f.Bytes, created: now, canRead: site.canRead}
		s.files[u] = sf
		return sf
	}
	// A SharePoint-like personal OneDrive path, served by graphsim itself.
	u := s.baseURL() + "/personal/" + strings.ReplaceAll(tenantID, "-", "") + "/Documents/Microsoft%20Teams%20Chat%20Files/" + pathEscape(id[:8]+"_"+f.Name)
	sf := &storedFile{id: id, url: u, name: f.Name, contentType: f.ContentType, bytes: f.Bytes, created: now}
	if len(f.SharedWith) > 0 {
		sf.readers = map[string]bool{owner: true}
		for _, id := range f.SharedWith {
			sf.readers[id] = true
		}
	}
	s.files[u] = sf
	return sf
}

func sortUsers(us []User) { sort.Slice(us, func(i, j int) bool { return us[i].ID < us[j].ID }) }

var tagRE = regexp.MustCompile(`<[^>]*>`)

func stripTags(s string) string { return strings.TrimSpace(tagRE.ReplaceAllString(s, "")) }

var errNotFound = errors.New("not found")
