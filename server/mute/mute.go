// Package mute keeps what each user chose to hear from Teams: the chats they muted, and whether they want every
// message or, in group and meeting chats, only the messages that mention them. It records the choices (with a
// chat title read from Graph, so lists need no Graph call) and answers /msteams mute, unmute, muted and mode;
// delivery reads the choices straight from the store when it picks a message's recipients.
package mute

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// Errors the user is told about in plain words by the command and the REST routes.
var (
	ErrNotConnected = errors.New("not connected to Microsoft Teams")
	// ErrNotMember: the chat does not exist or the user is not in it; muting it would only reveal its title.
	ErrNotMember = errors.New("not a member of that Teams chat")
	// ErrUnavailable: Graph could not be asked about the chat; trying again later may work.
	ErrUnavailable = errors.New("Microsoft Teams could not be reached")
)

// Store keeps the choices; *store.Store implements it.
type Store interface {
	GetUser(ctx context.Context, mmUserID string) (store.User, error)
	MuteChat(ctx context.Context, c store.MutedChat) error
	UnmuteChat(ctx context.Context, mmUserID, chatID string) (bool, error)
	UnmuteAllChats(ctx context.Context, mmUserID string) (int, error)
	ListMutedChats(ctx context.Context, mmUserID string) ([]store.MutedChat, error)
	SetMessageMode(ctx context.Context, mmUserID string, mode store.MessageMode) error
	GetMessageMode(ctx context.Context, mmUserID string) (store.MessageMode, error)
}

// Graph reads a chat with the app's own permission; *graph.Client implements it.
type Graph interface {
	GetChat(ctx context.Context, chatID string) (graph.Chat, error)
}

// Service records and reads the choices.
type Service struct {
	store Store
	graph func() Graph
	now   func() time.Time
}

// New returns the service. graph returns the current app-only client, nil while the plugin is not configured.
func New(st Store, g func() Graph, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: st, graph: g, now: now}
}

// connectedUser returns the user's row, or ErrNotConnected.
func (s *Service) connectedUser(ctx context.Context, mmUserID string) (store.User, error) {
	u, err := s.store.GetUser(ctx, mmUserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !u.Connected()) {
		return store.User{}, ErrNotConnected
	}
	return u, err
}

// Mute mutes the chat for the user. The chat is read from Graph first: the user must be one of its members (a
// chat id sent by a client proves nothing), and its title is kept for lists.
func (s *Service) Mute(ctx context.Context, mmUserID, chatID string) (store.MutedChat, error) {
	u, err := s.connectedUser(ctx, mmUserID)
	if err != nil {
		return store.MutedChat{}, err
	}
	if strings.TrimSpace(chatID) == "" {
		return store.MutedChat{}, ErrNotMember
	}
	g := s.graph()
	if g == nil {
		return store.MutedChat{}, ErrUnavailable
	}
	chat, err := g.GetChat(ctx, chatID)
	switch {
	case graph.IsNotFound(err):
		return store.MutedChat{}, ErrNotMember
	case err != nil:
		return store.MutedChat{}, errors.Wrap(ErrUnavailable, err.Error())
	}
	if !isMember(chat, u.TeamsUserID) {
		return store.MutedChat{}, ErrNotMember
	}
	c := store.MutedChat{MMUserID: mmUserID, ChatID: chatID, Title: Title(chat, u.TeamsUserID), MutedAt: s.now().UTC()}
	if err := s.store.MuteChat(ctx, c); err != nil {
		return store.MutedChat{}, err
	}
	return c, nil
}

// Unmute unmutes the chat; false when it was not muted.
func (s *Service) Unmute(ctx context.Context, mmUserID, chatID string) (bool, error) {
	return s.store.UnmuteChat(ctx, mmUserID, chatID)
}

// UnmuteAll unmutes every chat of the user and returns how many there were.
func (s *Service) UnmuteAll(ctx context.Context, mmUserID string) (int, error) {
	return s.store.UnmuteAllChats(ctx, mmUserID)
}

// Muted lists the user's muted chats, oldest first: the order the numbers of /msteams muted follow.
func (s *Service) Muted(ctx context.Context, mmUserID string) ([]store.MutedChat, error) {
	return s.store.ListMutedChats(ctx, mmUserID)
}

// Mode returns which messages the user wants.
func (s *Service) Mode(ctx context.Context, mmUserID string) (store.MessageMode, error) {
	return s.store.GetMessageMode(ctx, mmUserID)
}

// SetMode sets which messages the user wants; ErrNotConnected for a user who is not connected.
func (s *Service) SetMode(ctx context.Context, mmUserID string, mode store.MessageMode) error {
	if !mode.Valid() {
		return errors.Errorf("unknown message mode %q", mode)
	}
	if _, err := s.connectedUser(ctx, mmUserID); err != nil {
		return err
	}
	return s.store.SetMessageMode(ctx, mmUserID, mode)
}

func isMember(chat graph.Chat, teamsUserID string) bool {
	for _, m := range chat.Members {
		if strings.EqualFold(m.UserID, teamsUserID) {
			return true
		}
	}
	return false
}

// maxNames is how many member names a title without a topic shows before "and N others".
const maxNames = 3

// Title is what a list shows for a chat: its topic, else the other members' names ("Bob Brown", "Bob Brown,
// Carol Chen and 2 others"), else "a Teams chat".
func Title(chat graph.Chat, selfTeamsID string) string {
	if t := strings.TrimSpace(chat.Topic); t != "" {
		return t
	}
	var names []string
	for _, m := range chat.Members {
		if strings.EqualFold(m.UserID, selfTeamsID) {
			continue
		}
		if n := strings.TrimSpace(m.DisplayName); n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	switch {
	case len(names) == 0:
		return "a Teams chat"
	case len(names) <= maxNames:
		if len(names) == 1 {
			return names[0]
		}
		return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	}
	return strings.Join(names[:maxNames-1], ", ") + " and " + strconv.Itoa(len(names)-maxNames+1) + " others"
}
