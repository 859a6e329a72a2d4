// Package attach forwards the files of Teams chat messages (inline images, shared SharePoint/OneDrive files,
// code snippets) to the Mattermost users who were sent the text DM.
//
// Attachments travel on their own path because they are expensive: Mattermost spends ~150 ms of CPU building
// previews for one small PNG against ~2 ms for a text post. Delivery posts the text DM first and hands the files
// over through Enqueue, which only stores a job in the inbox queue "attachments". Process, run by a few inbox
// workers, downloads each file once per message, uploads it once to Mattermost (rate-limited, so previews never
// starve text delivery) and shares it with the other recipients by copying its file info. Inline images and code
// snippets belong to the message: every recipient gets them, and only the message's own hosted contents on the
// configured Graph host are fetched. A shared SharePoint/OneDrive file is attached only for recipients whose own
// delegated token may read it (one metadata call each). Each recipient then gets one follow-up bot post, a reply
// to the text DM, carrying the files and code snippets and naming whatever could not be attached for them, with a
// link to the message in Teams.
//
// Everything is idempotent: outcomes per file and follow-ups per recipient are recorded in the database, so a
// retried job neither downloads nor uploads nor posts again what it already did.
package attach

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/delivery"
	"github.com/teamsnotify/msteams-sync/server/format"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// MaxFilesPerPost is how many file ids Mattermost accepts on one post.
const MaxFilesPerPost = 10

// Props set on every follow-up post, so a retried job can find a post it created before a crash.
const (
	PropAttachmentsOf = "msteams_attachments_of" // "chatID|messageID"
	PropFromBot       = "from_bot"
)

// Target is one recipient whose text DM (PostID in ChannelID) gets the files as a reply.
type Target struct {
	MMUserID  string
	ChannelID string
	PostID    string
}

// Job is the payload of queue "attachments": the files of one Teams message and the DMs they go to.
type Job struct {
	// ChatID keys the job's records: a chat's id, or for a channel message the posts map's "teamID/channelID".
	ChatID        string
	MessageID     string
	SenderTeamsID string
	// Channel locates a channel message in Graph; nil for a chat message.
	Channel *ChannelMessage `json:",omitempty"`
	// Link is the message in Teams, named next to files that could not be attached (default: the chat link
	// Options.TeamsLink builds).
	Link    string `json:",omitempty"`
	Files   []format.FileRef
	Targets []Target
}

// ChannelMessage is where a channel message lives: its team and channel, and for a reply its thread's first
// message. Its inline images are that message's hosted contents, nobody else's.
type ChannelMessage struct {
	TeamID    string
	ChannelID string
	RootID    string `json:",omitempty"`
}

// hostedPrefix is the Graph path of the job's message, as alternating names and ids: a hosted content of the
// message is this path followed by hostedContents/{id}/$value.
func (j Job) hostedPrefix() []string {
	if c := j.Channel; c != nil {
		p := []string{"teams", c.TeamID, "channels", c.ChannelID, "messages"}
		if c.RootID != "" && c.RootID != j.MessageID {
			return append(p, c.RootID, "replies", j.MessageID)
		}
		return append(p, j.MessageID)
	}
	return []string{"chats", j.ChatID, "messages", j.MessageID}
}

// MessageKey names the job's Teams message: "chatID|messageID".
func (j Job) MessageKey() string { return j.ChatID + "|" + j.MessageID }

// DedupeKey collapses waiting jobs of the same message for the same recipients: "chatID|messageID|" plus a
// hash of the recipients. The inbox keeps only the newest payload of a key, so a job naming other recipients
// must not share it, or those recipients would silently lose their files; two jobs of one message are cheap
// anyway, since files are fetched and uploaded once per message whatever the job.
func (j Job) DedupeKey() string {
	users := make([]string, 0, len(j.Targets))
	for _, t := range j.Targets {
		users = append(users, t.MMUserID)
	}
	sort.Strings(users)
	sum := sha256.Sum256([]byte(strings.Join(users, ",")))
	return j.MessageKey() + "|" + hex.EncodeToString(sum[:8])
}

// Mattermost is the part of plugin.API the package uses; plugin.API satisfies it as is.
type Mattermost interface {
	GetConfig() *model.Config
	UploadFile(data []byte, channelID string, filename string) (*model.FileInfo, *model.AppError)
	CreateUploadSession(us *model.UploadSession) (*model.UploadSession, error)
	UploadData(us *model.UploadSession, rd io.Reader) (*model.FileInfo, error)
	CopyFileInfos(userID string, fileIDs []string) ([]string, *model.AppError)
	CreatePost(post *model.Post) (*model.Post, *model.AppError)
	GetPostThread(postID string) (*model.PostList, *model.AppError)
}

// AppGraph fetches hosted contents (inline images, code snippets) of chat and channel messages as the
// application; *graph.Client from Factory.App satisfies it.
type AppGraph interface {
	GetHostedContent(ctx context.Context, chatID, messageID, hostedContentID string, maxBytes int64) (graph.HostedContent, error)
	GetChannelHostedContent(ctx context.Context, teamID, channelID, rootID, messageID, hostedContentID string, maxBytes int64) (graph.HostedContent, error)
}

// UserGraph runs fn with a delegated Graph client acting as a connected Mattermost user: shared files need
// Files.Read.All, which the app registration holds as a delegated permission only. connect.Service.CallGraph
// with the current graph.Factory fits (see UserGraphFunc). An error that is neither a Graph answer
// (graph.StatusOf(err) != 0) nor a network error means the user's account cannot be used (not connected, token
// refused): that recipient gets no shared file.
type UserGraph interface {
	CallGraph(ctx context.Context, mmUserID string, fn func(ctx context.Context, c *graph.Client) error) error
}

// UserGraphFunc adapts a function to UserGraph.
type UserGraphFunc func(ctx context.Context, mmUserID string, fn func(ctx context.Context, c *graph.Client) error) error

// CallGraph calls f.
func (f UserGraphFunc) CallGraph(ctx context.Context, mmUserID string, fn func(ctx context.Context, c *graph.Client) error) error {
	return f(ctx, mmUserID, fn)
}

// Doer fetches pre-authenticated download URLs. It must not add a Graph token: use graph.Factory.HTTPClient.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Store is the database access the package needs; *store.Store satisfies it.
type Store interface {
	inbox.Enqueuer
	TryAttachmentLock(ctx context.Context, chatID, messageID string) (unlock func(), ok bool, err error)
	GetAttachmentFiles(ctx context.Context, chatID, messageID string) (map[string]store.AttachmentFile, error)
	SaveAttachmentFile(ctx context.Context, f store.AttachmentFile) (store.AttachmentFile, error)
	GetAttachmentPosts(ctx context.Context, chatID, messageID string) (map[string]store.AttachmentPost, error)
	ReserveAttachmentPost(ctx context.Context, chatID, messageID, mmUserID string) (store.AttachmentPost, error)
	MarkAttachmentPosted(ctx context.Context, chatID, messageID, mmUserID, postID string) error
}

// Logger is the part of the plugin logger the package uses. Messages carry ids, never file names or contents.
type Logger interface {
	LogWarn(msg string, keyValuePairs ...any)
}

// Metrics observes attachment work; implementations must be safe for concurrent use.
type Metrics interface {
	// FileResolved counts a file handled for the first time, by kind (format.FileKind) and problem ("" when it
	// was attached or, for a code snippet, fetched).
	FileResolved(kind, problem string)
	// FollowUpPosted counts a follow-up post, with the number of files it carries.
	FollowUpPosted(files int)
	// FollowUpRefused counts a follow-up Mattermost refused for good.
	FollowUpRefused()
}

// Deps are the collaborators of a Service. Logger and Metrics are optional.
type Deps struct {
	Store      Store
	Mattermost Mattermost
	App        AppGraph
	Users      UserGraph
	Download   Doer
	Logger     Logger
	Metrics    Metrics
}

// Options tune a Service; zero values take the defaults.
type Options struct {
	// BotUserID is the plugin bot that posts the follow-ups and owns the shared file copies. Required.
	BotUserID string
	// UploadsPerSecond and UploadBurst shape the token bucket in front of every Mattermost upload (default 4/s,
	// burst 4). The bucket is per node.
	UploadsPerSecond float64
	UploadBurst      int
	// MemoryLimit is the largest download kept in memory (default 8 MiB); larger ones are spooled to a
	// temporary file in TempDir and uploaded through an upload session, so memory per worker stays bounded.
	MemoryLimit int64
	TempDir     string
	// MaxHostedBytes bounds an inline image (default 32 MiB; never above Mattermost's MaxFileSize). The Graph
	// client reads hosted contents into memory, so this is the memory bound for them.
	MaxHostedBytes int64
	// MaxSnippetBytes bounds a code snippet (default 256 KiB; the post truncates long ones anyway).
	MaxSnippetBytes int64
	// GiveUpAfter is the attempt from which a file that keeps failing for a transient reason is named as not
	// attached instead of failing the job again (default 5). Throttling never counts as giving up.
	GiveUpAfter int
	// BusyRetry is how long a job waits when another worker holds its message (default 10 s).
	BusyRetry time.Duration
	// ThrottleRetry is the wait after a throttled Graph answer without Retry-After (default 30 s).
	ThrottleRetry time.Duration
	// GraphBaseURL is the configured cloud's Graph base URL (default https://graph.microsoft.com/v1.0): the only
	// place inline images and code snippets are fetched from.
	GraphBaseURL func() string
	// TeamsLink builds the link to a message in Teams (default teams.microsoft.com/l/message/...).
	TeamsLink func(chatID, messageID string) string
	// Clock drives the upload rate limiter (default: the real clock).
	Clock Clock
}

func (o *Options) setDefaults() {
	if o.UploadsPerSecond <= 0 {
		o.UploadsPerSecond = 4
	}
	if o.UploadBurst <= 0 {
		o.UploadBurst = 4
	}
	if o.MemoryLimit <= 0 {
		o.MemoryLimit = 8 << 20
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if o.MaxHostedBytes <= 0 {
		o.MaxHostedBytes = 32 << 20
	}
	if o.MaxSnippetBytes <= 0 {
		o.MaxSnippetBytes = 256 << 10
	}
	if o.GiveUpAfter <= 0 {
		o.GiveUpAfter = 5
	}
	if o.BusyRetry <= 0 {
		o.BusyRetry = 10 * time.Second
	}
	if o.ThrottleRetry <= 0 {
		o.ThrottleRetry = 30 * time.Second
	}
	if o.GraphBaseURL == nil {
		o.GraphBaseURL = func() string { return "https://graph.microsoft.com/v1.0" }
	}
	if o.TeamsLink == nil {
		o.TeamsLink = TeamsMessageLink
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
}

// TeamsMessageLink is the teams.microsoft.com deep link to a chat message.
func TeamsMessageLink(chatID, messageID string) string {
	return "https://teams.microsoft.com/l/message/" + chatID + "/" + messageID + "?context=%7B%22contextType%22%3A%22chat%22%7D"
}

// Service queues attachment jobs (delivery.Attacher) and processes them (inbox.Handler for QueueAttachments).
type Service struct {
	d       Deps
	opt     Options
	limiter *Limiter
}

// New builds a Service.
func New(d Deps, opt Options) (*Service, error) {
	if d.Store == nil || d.Mattermost == nil || d.App == nil || d.Users == nil || d.Download == nil {
		return nil, errors.New("attach: store, mattermost, app graph, user graph and downloader are required")
	}
	if opt.BotUserID == "" {
		return nil, errors.New("attach: bot user id is required")
	}
	opt.setDefaults()
	if d.Logger == nil {
		d.Logger = nopLogger{}
	}
	if d.Metrics == nil {
		d.Metrics = nopMetrics{}
	}
	return &Service{d: d, opt: opt, limiter: NewLimiter(opt.UploadsPerSecond, opt.UploadBurst, opt.Clock)}, nil
}

// Enqueue implements delivery.Attacher: it stores the job in the inbox queue "attachments" and returns.
func (s *Service) Enqueue(ctx context.Context, job delivery.AttachJob) error {
	j := Job{ChatID: job.ChatID, MessageID: job.MessageID, SenderTeamsID: job.SenderTeamsID, Files: job.Files}
	for _, t := range job.Targets {
		j.Targets = append(j.Targets, Target{MMUserID: t.MMUserID, ChannelID: t.ChannelID, PostID: t.PostID})
	}
	return s.EnqueueJob(ctx, j)
}

// EnqueueJob stores j in the inbox queue "attachments" under j.DedupeKey(). A job without files or targets is
// dropped.
func (s *Service) EnqueueJob(ctx context.Context, j Job) error {
	if len(j.Files) == 0 || len(j.Targets) == 0 {
		return nil
	}
	if j.ChatID == "" || j.MessageID == "" {
		return errors.New("enqueue attachments: chat and message ids are required")
	}
	if c := j.Channel; c != nil && (c.TeamID == "" || c.ChannelID == "") {
		return errors.New("enqueue attachments: a channel message needs its team and channel ids")
	}
	return errors.Wrap(inbox.Enqueue(ctx, s.d.Store, inbox.QueueAttachments, j.DedupeKey(), j), "enqueue attachments")
}

type nopMetrics struct{}

func (nopMetrics) FileResolved(string, string) {}
func (nopMetrics) FollowUpPosted(int)          {}
func (nopMetrics) FollowUpRefused()            {}

type nopLogger struct{}

func (nopLogger) LogWarn(string, ...any) {}
