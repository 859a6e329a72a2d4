// Package reply is the way back from Mattermost to Microsoft Teams: what a user writes in the thread of a Teams
// DM from the bot is posted into that Teams chat as the user (POST /chats/{id}/messages with their delegated
// token), through the durable inbox queue "replies" so that a reply caught by a plugin stop or a Teams outage is
// sent later, and once; the emoji reactions they put on such a DM are set or unset on the Teams message (setReaction /
// unsetReaction). It also decides, from the scp claim of each user's token and from the app registration, whether
// replies are possible, tells users what to do when they are not, and asks users whose sign-in predates the
// ChatMessage.Send permission, once, to sign in again.
//
// It is deliberately not a two-way sync: only replies in a DM thread and reactions on DMs go back, nothing else
// of Mattermost reaches Teams. The plugin's own posts are never sent: the bot's posts are ignored, and so is
// everything outside a user's DM channel with the bot.
package reply

import (
	"context"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// Post props the delivery package sets on every DM (server/delivery/render.go), naming the Teams message.
const (
	PropChatID    = "msteams_chat_id"
	PropMessageID = "msteams_message_id"
)

// SentEmoji is the reaction the bot puts on a reply once Teams accepted it.
const SentEmoji = "white_check_mark"

// Mattermost is the part of plugin.API the package uses; *plugin.API satisfies it.
type Mattermost interface {
	GetChannel(channelID string) (*model.Channel, *model.AppError)
	GetPost(postID string) (*model.Post, *model.AppError)
	GetUserByUsername(name string) (*model.User, *model.AppError)
	GetFileInfo(fileID string) (*model.FileInfo, *model.AppError)
	GetFile(fileID string) ([]byte, *model.AppError)
	SendEphemeralPost(userID string, post *model.Post) *model.Post
	AddReaction(reaction *model.Reaction) (*model.Reaction, *model.AppError)
	GetDirectChannel(userID1, userID2 string) (*model.Channel, *model.AppError)
	CreatePost(post *model.Post) (*model.Post, *model.AppError)
}

// Store is the database access the package needs; *store.Store satisfies it.
type Store interface {
	GetUser(ctx context.Context, mmUserID string) (store.User, error)
	ListConnectedUsers(ctx context.Context, afterMMUserID string, limit int) ([]store.User, error)
	SaveReplyThread(ctx context.Context, chatID, mmUserID, rootPostID string, at time.Time) error
	MarkReplyConsentAsked(ctx context.Context, mmUserID string, at time.Time) (bool, error)
	ReserveReply(ctx context.Context, r store.SentReply) (store.SentReply, bool, error)
	MarkReplySent(ctx context.Context, postID, teamsMessageID string, at time.Time) error
	ForgetReply(ctx context.Context, postID string) error
}

// UserGraph is what the package asks of Graph as the user; *graph.Client satisfies it.
type UserGraph interface {
	SendChatMessage(ctx context.Context, chatID string, m graph.OutgoingMessage) (string, error)
	ListMessagesSince(ctx context.Context, chatID string, since time.Time) ([]graph.Message, error)
	SetReaction(ctx context.Context, chatID, messageID, reactionType string) error
	UnsetReaction(ctx context.Context, chatID, messageID, reactionType string) error
}

// AppGraph is what the package asks of Graph as the app; *graph.Client satisfies it.
type AppGraph interface {
	GetChat(ctx context.Context, chatID string) (graph.Chat, error)
	RegistrationAllowsSend(ctx context.Context) (bool, error)
}

// Users gives access to a connected user's Microsoft account (the connect package).
type Users interface {
	// CallGraph runs fn with a Graph client acting as the user, refreshing and detecting revoked grants (the user
	// is then disconnected and told, and the error is ErrNotConnected).
	CallGraph(ctx context.Context, mmUserID string, fn func(ctx context.Context, g UserGraph) error) error
	// AccessToken returns the user's current access token (refreshed when about to expire); only its claims are
	// read.
	AccessToken(ctx context.Context, mmUserID string) (string, error)
	// StoredAccessToken opens the access token stored for the user without refreshing it.
	StoredAccessToken(u store.User) (string, error)
	// IsNotConnected reports the error CallGraph and AccessToken return for a user without a usable connection.
	IsNotConnected(err error) bool
}

// Logger is the part of the plugin logger the package uses. Messages carry ids, never message text or tokens.
type Logger interface {
	LogDebug(msg string, keyValuePairs ...any)
	LogInfo(msg string, keyValuePairs ...any)
	LogWarn(msg string, keyValuePairs ...any)
}

// Deps are the collaborators of a Service; all are required but Logger and Now.
type Deps struct {
	Mattermost Mattermost
	Store      Store
	// Queue stores reply jobs (queue "replies"); the plugin's inbox runner, which wakes its workers at once.
	Queue inbox.Enqueuer
	Users Users
	// App returns the current app-only Graph client (nil while not configured).
	App    func() AppGraph
	Logger Logger
	Now    func() time.Time
}

// Options tune a Service.
type Options struct {
	// BotUserID is the plugin bot whose DMs carry Teams messages. Required.
	BotUserID string
	// ConnectURL is the link that starts a new Microsoft sign-in for a connected user (renewal), put in the
	// message asking users to sign in again.
	ConnectURL func() string
	// ThrottleRetries is how often a send throttled beyond the Graph client's own retries is tried again
	// (default 2), each after the Retry-After Graph asked for, capped at MaxThrottleWait (default 30 s).
	ThrottleRetries int
	MaxThrottleWait time.Duration
	// Sleep waits between throttled attempts (default: a timer that honours ctx).
	Sleep func(ctx context.Context, d time.Duration) error
	// GiveUpAfter is the attempt of a reply job from which a reply Teams keeps refusing for a passing reason
	// (throttling, an outage) is given up and the user told (default 6; with the inbox's backoff, a few minutes).
	GiveUpAfter int
	// MaxAge: a reply still unsent this long after it was written is not sent any more, and its author is told
	// (default 1 h): an answer that late could surprise the chat.
	MaxAge time.Duration
}

// Service handles the post and reaction hooks. Safe for concurrent use.
type Service struct {
	d Deps
	o Options

	channels channelKinds
}

// New checks the dependencies and returns a Service.
func New(d Deps, o Options) (*Service, error) {
	switch {
	case d.Mattermost == nil || d.Store == nil || d.Queue == nil || d.Users == nil || d.App == nil:
		return nil, errors.New("reply: Mattermost, Store, Queue, Users and App are required")
	case o.BotUserID == "":
		return nil, errors.New("reply: the bot user id is required")
	}
	if d.Logger == nil {
		d.Logger = nopLogger{}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if o.ConnectURL == nil {
		o.ConnectURL = func() string { return "" }
	}
	if o.ThrottleRetries == 0 {
		o.ThrottleRetries = 2
	}
	if o.MaxThrottleWait <= 0 {
		o.MaxThrottleWait = 30 * time.Second
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.GiveUpAfter <= 0 {
		o.GiveUpAfter = 6
	}
	if o.MaxAge <= 0 {
		o.MaxAge = time.Hour
	}
	return &Service{d: d, o: o, channels: channelKinds{m: map[string]string{}}}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type nopLogger struct{}

func (nopLogger) LogDebug(string, ...any) {}
func (nopLogger) LogInfo(string, ...any)  {}
func (nopLogger) LogWarn(string, ...any)  {}

// channelKinds remembers, per channel id, the user whose DM with the bot it is ("" for any other channel). The
// post hook sees every post of the server; a channel's kind never changes, so each channel costs one lookup.
type channelKinds struct {
	mu sync.Mutex
	m  map[string]string
}

const maxChannelKinds = 20000

func (c *channelKinds) get(id string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[id]
	return v, ok
}

func (c *channelKinds) put(id, owner string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxChannelKinds {
		c.m = map[string]string{} // rare; the next lookups refill it
	}
	c.m[id] = owner
}

// botDMOwner returns the user whose DM channel with the bot channelID is, or "".
func (s *Service) botDMOwner(channelID string) (string, error) {
	if owner, ok := s.channels.get(channelID); ok {
		return owner, nil
	}
	ch, appErr := s.d.Mattermost.GetChannel(channelID)
	if appErr != nil {
		return "", errors.Wrap(appErr, "get channel")
	}
	owner := ""
	if ch.Type == model.ChannelTypeDirect {
		if other := ch.GetOtherUserIdForDM(s.o.BotUserID); other != "" && other != s.o.BotUserID &&
			ch.Name == model.GetDMNameFromIds(s.o.BotUserID, other) {
			owner = other
		}
	}
	s.channels.put(channelID, owner)
	return owner, nil
}

// ephemeral shows a line only the user sees, in the thread of rootID when set.
func (s *Service) ephemeral(userID, channelID, rootID, message string) {
	s.d.Mattermost.SendEphemeralPost(userID, &model.Post{UserId: s.o.BotUserID, ChannelId: channelID, RootId: rootID, Message: message})
}
