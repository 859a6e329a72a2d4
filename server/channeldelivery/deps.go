// Package channeldelivery turns Teams channel message changes into Mattermost bot DMs: it is the inbox handler
// of queue "channel_changes" (issue 17). Per change it obtains the message (decrypted rich content, catch-up
// JSON, or an app-only Graph GET), asks package channelaudience who should hear of it (personal mentions; team,
// channel and tag mentions for users who chose them; replies in threads they are in; only people who can read
// the channel), applies the rules of chat delivery (connected, active account, notifications on, not active in
// Teams), and posts, edits or marks one DM per recipient, exactly once per (message, recipient) thanks to the
// store's posts map. Replies continue one Mattermost thread per Teams thread in each user's bot DM.
package channeldelivery

import (
	"context"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/teamsnotify/msteams-sync/server/attach"
	"github.com/teamsnotify/msteams-sync/server/delivery"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// Graph is the app-only Graph access channel delivery needs; *graph.Client satisfies it.
type Graph interface {
	GetTeam(ctx context.Context, teamID string) (graph.Team, error)
	GetChannel(ctx context.Context, teamID, channelID string) (graph.Channel, error)
	GetChannelMessage(ctx context.Context, teamID, channelID, messageID, replyID string) (graph.Message, error)
	ThreadParticipants(ctx context.Context, teamID, channelID, messageID string) ([]string, error)
	TeamMembers(ctx context.Context, teamID string) ([]graph.TeamMember, error)
	ChannelMembers(ctx context.Context, teamID, channelID string) ([]graph.TeamMember, error)
	TagMembers(ctx context.Context, teamID, tagID string) ([]string, error)
}

// Mattermost is the part of plugin.API channel delivery uses; *plugin.API satisfies it.
type Mattermost interface {
	CreatePost(post *model.Post) (*model.Post, *model.AppError)
	UpdatePost(post *model.Post) (*model.Post, *model.AppError)
	GetPost(postID string) (*model.Post, *model.AppError)
	GetPostsSince(channelID string, time int64) (*model.PostList, *model.AppError)
}

// Recipients are the chat delivery rules applied to each person the audience names; *delivery.Processor
// satisfies it, so both paths share its caches and its Forget.
type Recipients interface {
	Account(mmUserID string) (skip, username string, err error)
	ActiveInTeams(ctx context.Context, teamsUserIDs []string) map[string]bool
	DirectChannel(mmUserID string) (string, error)
}

// Attacher queues the files and images of a message for the DMs posted for it, each recipient getting what
// their own rights let them read; *attach.Service satisfies it.
type Attacher interface {
	EnqueueJob(ctx context.Context, j attach.Job) error
}

// Deps are the collaborators of a Processor. All but Decrypter, Attacher, Logger and Metrics are required.
type Deps struct {
	Store      *store.Store
	Graph      func() Graph // nil result while the plugin is not configured
	Decrypter  delivery.Decrypter
	Mattermost Mattermost
	Recipients Recipients
	Attacher   Attacher // nil: the DM says the message has files to open in Teams
	Settings   func() delivery.Settings
	Logger     delivery.Logger
	Metrics    delivery.Metrics
}

// Options tune a Processor; zero values take the defaults.
type Options struct {
	// BotUserID is the plugin bot that sends the DMs. Required.
	BotUserID string
	// MemberTTL is how long the members of a team, channel or tag (and a channel's name and membership type,
	// a thread's title) are reused (default 10 min): a team mention in a 1,000-member team then costs one member
	// listing per TTL, not one per message. MemberCacheSize bounds the member ids kept across all lists (default
	// 200,000, about 20 MB); a list longer than that is read from Graph each time.
	MemberTTL       time.Duration
	MemberCacheSize int
	// RecheckAfter: a channel's reader list older than this is read again when it lacks someone the message
	// concerns (its sender, a person it mentions), who may have just joined (default 1 min). At most one extra
	// read per list per RecheckAfter, whoever keeps being missing.
	RecheckAfter time.Duration
	// UpdateWindow: an update (an edit adding a mention) sends a first DM only for a message younger than this
	// (default 1 h), so that reactions on old messages never deliver them as new.
	UpdateWindow time.Duration
	// LockWait bounds the wait for another worker handling the same message (default 30 s).
	LockWait time.Duration
	Now      func() time.Time
}

func (o *Options) setDefaults() {
	if o.MemberTTL <= 0 {
		o.MemberTTL = 10 * time.Minute
	}
	if o.MemberCacheSize <= 0 {
		o.MemberCacheSize = 200000
	}
	if o.RecheckAfter <= 0 {
		o.RecheckAfter = time.Minute
	}
	if o.UpdateWindow <= 0 {
		o.UpdateWindow = time.Hour
	}
	if o.LockWait <= 0 {
		o.LockWait = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Reasons passed to Metrics.Skipped besides delivery's.
const (
	SkipNotChannelMessage = "not_a_channel_message"
	SkipNoAudience        = "no_audience"
)

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
