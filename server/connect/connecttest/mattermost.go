// Package connecttest is an in-memory stand-in for the Mattermost server side of the connect, command and api
// packages (users, preferences, bot posts, websocket events, permissions), so their tests can run on real
// PostgreSQL and a real Graph emulator without a Mattermost server.
package connecttest

import (
	"strings"
	"sync"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/store"
)

// Post is a message the bot sent.
type Post struct {
	UserID    string
	ChannelID string // empty for DMs
	Message   string
	Ephemeral bool
}

// Event is a websocket event published to one user.
type Event struct {
	UserID  string
	Event   string
	Payload map[string]any
}

// Mattermost is a tiny Mattermost: safe for concurrent use.
type Mattermost struct {
	mu     sync.Mutex
	users  map[string]*model.User
	prefs  map[string]string
	posts  []Post
	events []Event
	admins map[string]bool
}

// New returns an empty Mattermost.
func New() *Mattermost {
	return &Mattermost{users: map[string]*model.User{}, prefs: map[string]string{}, admins: map[string]bool{}}
}

// AddUser adds a regular user and returns it.
func (m *Mattermost) AddUser(id, email string) *model.User {
	u := &model.User{Id: id, Username: strings.Split(email, "@")[0], Email: email, Roles: model.SystemUserRoleId}
	m.Put(u)
	return u
}

// Put stores u as is (bots, guests, deactivated users).
func (m *Mattermost) Put(u *model.User) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := *u
	m.users[u.Id] = &cp
}

// MakeAdmin grants manage_system to the user.
func (m *Mattermost) MakeAdmin(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.admins[id] = true
}

// GetUser returns a copy of the user.
func (m *Mattermost) GetUser(id string) (*model.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return nil, errors.Errorf("user %s not found", id)
	}
	cp := *u
	return &cp, nil
}

// GetUserByEmail finds a user by email, case-insensitively as Mattermost does.
func (m *Mattermost) GetUserByEmail(email string) (*model.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range m.users {
		if strings.EqualFold(u.Email, email) {
			cp := *u
			return &cp, nil
		}
	}
	return nil, store.ErrNotFound
}

func prefKey(userID, category, name string) string { return userID + "/" + category + "/" + name }

// GetPreference returns one preference.
func (m *Mattermost) GetPreference(userID, category, name string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.prefs[prefKey(userID, category, name)]
	return v, ok, nil
}

// SetPreference stores one preference.
func (m *Mattermost) SetPreference(userID, category, name, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prefs[prefKey(userID, category, name)] = value
	return nil
}

// DM records a bot direct message.
func (m *Mattermost) DM(userID, message string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.posts = append(m.posts, Post{UserID: userID, Message: message})
	return nil
}

// SendEphemeral records an ephemeral bot post.
func (m *Mattermost) SendEphemeral(userID, channelID, _, message string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.posts = append(m.posts, Post{UserID: userID, ChannelID: channelID, Message: message, Ephemeral: true})
}

// PublishToUser records a websocket event.
func (m *Mattermost) PublishToUser(userID, event string, payload map[string]any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, Event{UserID: userID, Event: event, Payload: payload})
}

// IsSystemAdmin tells whether MakeAdmin was called for the user.
func (m *Mattermost) IsSystemAdmin(userID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.admins[userID]
}

// DMs returns the bot's direct messages to the user, oldest first.
func (m *Mattermost) DMs(userID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, p := range m.posts {
		if p.UserID == userID && !p.Ephemeral {
			out = append(out, p.Message)
		}
	}
	return out
}

// Events returns the websocket events sent to the user, oldest first.
func (m *Mattermost) Events(userID string) []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Event
	for _, e := range m.events {
		if e.UserID == userID {
			out = append(out, e)
		}
	}
	return out
}

// Ephemerals returns the ephemeral posts shown to the user, oldest first.
func (m *Mattermost) Ephemerals(userID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, p := range m.posts {
		if p.UserID == userID && p.Ephemeral {
			out = append(out, p.Message)
		}
	}
	return out
}
