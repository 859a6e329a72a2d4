// Package delivery turns Teams chat message changes into Mattermost bot DMs: it is the inbox handler of queue
// "changes". Per change it obtains the message (decrypted rich content, catch-up JSON, or an app-only Graph GET),
// finds the chat's members (cached), picks the recipients (connected, active, notifications on, not the sender,
// not active in Teams), and posts, edits or marks one DM per recipient, exactly once per (chat, message,
// recipient) thanks to the posts map in the store. It also catches up after gaps in notifications.
package delivery

import (
	"context"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/teamsnotify/msteams-sync/server/format"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/richnotify"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// Mattermost is the part of plugin.API delivery uses; *plugin.API satisfies it as is.
type Mattermost interface {
	GetUser(userID string) (*model.User, *model.AppError)
	GetPreferenceForUser(userID, category, name string) (model.Preference, *model.AppError)
	GetPreferencesForUser(userID string) ([]model.Preference, *model.AppError)
	GetDirectChannel(userID1, userID2 string) (*model.Channel, *model.AppError)
	CreatePost(post *model.Post) (*model.Post, *model.AppError)
	UpdatePost(post *model.Post) (*model.Post, *model.AppError)
	GetPost(postID string) (*model.Post, *model.AppError)
	GetPostsSince(channelID string, time int64) (*model.PostList, *model.AppError)
}

// Graph is the app-only Graph access delivery needs; *graph.Client satisfies it.
type Graph interface {
	GetMessage(ctx context.Context, chatID, messageID string) (graph.Message, error)
	GetChat(ctx context.Context, chatID string) (graph.Chat, error)
	GetPresences(ctx context.Context, userIDs []string) ([]graph.Presence, error)
}

// Choices are what recipients chose to hear (package mute keeps them): the chats they muted and their message
// mode. ChatChoices is asked once per message for all its recipients, ListMutedChats once per user whose
// catch-up summarises old messages; *store.Store satisfies it.
type Choices interface {
	ChatChoices(ctx context.Context, chatID string, mmUserIDs []string) (map[string]store.ChatChoice, error)
	ListMutedChats(ctx context.Context, mmUserID string) ([]store.MutedChat, error)
}

// Decrypter opens rich notification content (the subscription package's key store).
type Decrypter interface {
	Decrypt(ctx context.Context, content *richnotify.EncryptedContent) ([]byte, error)
}

// AttachTarget is one DM that should receive a message's files.
type AttachTarget struct {
	MMUserID  string
	ChannelID string
	PostID    string
}

// AttachJob asks for the files of one Teams message to be fetched and attached to the DMs already posted for it.
type AttachJob struct {
	ChatID        string
	MessageID     string
	SenderTeamsID string
	Files         []format.FileRef
	Targets       []AttachTarget
}

// Attacher queues attachment work; the text DM never waits for it.
type Attacher interface {
	Enqueue(ctx context.Context, job AttachJob) error
}

// Threads knows which users answered a chat from Mattermost (package reply): their DMs from that chat continue
// the thread they answered in, so the conversation reads in order. *store.Store satisfies it.
type Threads interface {
	// ReplyThreads returns the thread root post of those of mmUserIDs who answered the chat, by user id.
	ReplyThreads(ctx context.Context, chatID string, mmUserIDs []string) (map[string]string, error)
	// ForgetReplyThread drops a user's thread whose root post is gone.
	ForgetReplyThread(ctx context.Context, chatID, mmUserID, rootPostID string) error
}

// Logger is the part of the plugin logger delivery uses. Messages carry ids, never message bodies or tokens.
type Logger interface {
	LogDebug(msg string, keyValuePairs ...any)
	LogInfo(msg string, keyValuePairs ...any)
	LogWarn(msg string, keyValuePairs ...any)
	LogError(msg string, keyValuePairs ...any)
}

// Metrics observes deliveries; implementations must be safe for concurrent use.
type Metrics interface {
	// Delivered is called once per DM created, with the time from the Teams message's creation to the post.
	Delivered(delay time.Duration)
	// Skipped counts a change or a recipient not delivered to, by reason (the Skip* constants).
	Skipped(reason string)
	// Updated counts DMs changed after the fact: "edited" or "deleted".
	Updated(kind string)
	// ContentFallback counts changes whose content had to be fetched from Graph, by reason
	// ("no_rich_content", "decrypt_failed", "no_decrypter", "unparsable").
	ContentFallback(reason string)
}

// Reasons passed to Metrics.Skipped.
const (
	SkipSyncDisabled     = "sync_disabled"
	SkipNotChat          = "not_a_chat_message"
	SkipMessageNotFound  = "message_not_found"
	SkipChatNotFound     = "chat_not_found"
	SkipBotSender        = "bot_sender"
	SkipSystemMessage    = "system_message"
	SkipDeletedBefore    = "deleted_before_delivery"
	SkipUnchanged        = "unchanged"
	SkipNotificationsOff = "notifications_off"
	SkipActiveInTeams    = "active_in_teams"
	SkipInactiveUser     = "mm_user_inactive"
	// SkipMuted: the recipient muted the chat. SkipNotMentioned: the recipient wants only messages that mention
	// them in group and meeting chats. Both are final for the message, like SkipNotificationsOff.
	SkipMuted        = "muted"
	SkipNotMentioned = "not_mentioned"
	// SkipNotDeleted: a change said the message was deleted, Graph says it is not.
	SkipNotDeleted = "not_deleted_in_graph"
	// SkipOldMessage: an update of a message from before the user connected or older than PostsRetention.
	SkipOldMessage = "update_of_old_message"
)

// PostsRetention is how long the record of what became of a message for each user (its DM, or why none) is
// kept. Updates of messages older than this never send a new DM: nothing records whether one was sent.
const PostsRetention = 30 * 24 * time.Hour

// Settings are the live plugin settings delivery obeys.
type Settings struct {
	// SyncNotifications is the global switch: when off, changes are consumed without posting.
	SyncNotifications bool
	// GraphHosts are the hosts (host or host:port) of the configured cloud's Graph: inline images are fetched
	// (with the app's token) only from these. Empty means Microsoft's public and national Graph hosts.
	GraphHosts []string
	// TenantID is the configured Entra tenant: senders of other tenants are marked "(External)".
	TenantID string
}

// Options tune a Processor; zero values take the defaults.
type Options struct {
	// BotUserID is the plugin bot that sends the DMs. Required.
	BotUserID string
	// ChatCacheTTL is how long a chat's members are trusted (default 10 min); a message from a non-member or a
	// membership event seen by any node (the store's chat membership version) refreshes them earlier.
	// ChatCacheSize bounds the cache (default 2000 chats).
	ChatCacheTTL  time.Duration
	ChatCacheSize int
	// PresenceTTL is how long a presence answer is reused (default 20 s), so a busy chat costs one presence call
	// per TTL rather than one per message. PresenceCacheSize bounds it (default 10000 users).
	PresenceTTL       time.Duration
	PresenceCacheSize int
	// PresenceWait bounds one presence call, Graph's retry waits included (default 5 s). PresenceBackoff is how
	// long presence is not asked after a call failed, everyone counting as away meanwhile (default 30 s).
	PresenceWait    time.Duration
	PresenceBackoff time.Duration
	// RecipientTTL is how long a recipient's account state and notifications preference are reused (default
	// 30 s; Processor.Forget drops them at once when the plugin learns of a change). The recipient caches share
	// PresenceCacheSize.
	RecipientTTL time.Duration
	// SummaryAge: catch-up summarises messages older than this in one DM per user (default 24 h).
	SummaryAge time.Duration
	// MaxCatchUp bounds how far back a catch-up reaches (default 7 days).
	MaxCatchUp time.Duration
	// LockWait bounds the wait for another worker handling the same message (default 30 s).
	LockWait time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *Options) setDefaults() {
	if o.ChatCacheTTL <= 0 {
		o.ChatCacheTTL = 10 * time.Minute
	}
	if o.ChatCacheSize <= 0 {
		o.ChatCacheSize = 2000
	}
	if o.PresenceTTL <= 0 {
		o.PresenceTTL = 20 * time.Second
	}
	if o.PresenceWait <= 0 {
		o.PresenceWait = 5 * time.Second
	}
	if o.PresenceBackoff <= 0 {
		o.PresenceBackoff = 30 * time.Second
	}
	if o.PresenceCacheSize <= 0 {
		o.PresenceCacheSize = 10000
	}
	if o.RecipientTTL <= 0 {
		o.RecipientTTL = 30 * time.Second
	}
	if o.SummaryAge <= 0 {
		o.SummaryAge = 24 * time.Hour
	}
	if o.MaxCatchUp <= 0 {
		o.MaxCatchUp = 7 * 24 * time.Hour
	}
	if o.LockWait <= 0 {
		o.LockWait = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// directChannelTTL: a user's DM channel with the bot never changes once created; an hour bounds the memory
// of users who stopped receiving messages.
const directChannelTTL = time.Hour

type nopMetrics struct{}

func (nopMetrics) Delivered(time.Duration) {}
func (nopMetrics) Skipped(string)          {}
func (nopMetrics) Updated(string)          {}
func (nopMetrics) ContentFallback(string)  {}

type nopLogger struct{}

func (nopLogger) LogDebug(string, ...any) {}
func (nopLogger) LogInfo(string, ...any)  {}
func (nopLogger) LogWarn(string, ...any)  {}
func (nopLogger) LogError(string, ...any) {}
