package channeldelivery

import (
	"context"

	"github.com/pkg/errors"
	"golang.org/x/sync/singleflight"

	"github.com/teamsnotify/msteams-sync/server/channelaudience"
	"github.com/teamsnotify/msteams-sync/server/delivery"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
)

// Processor implements inbox.Handler for inbox.QueueChannelChanges. Safe for concurrent use by many workers.
type Processor struct {
	d           Deps
	o           Options
	memberLists *ttlCache[memberSet]
	channels    *ttlCache[channelInfo]
	threads     *ttlCache[string] // thread title by thread key: replies name their thread without a Graph call
	records     delivery.DMRecords
	fetches     singleflight.Group
}

var _ inbox.Handler = (*Processor)(nil)

// New checks the dependencies and returns a Processor.
func New(d Deps, o Options) (*Processor, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("channeldelivery: a store is required")
	case d.Graph == nil:
		return nil, errors.New("channeldelivery: a Graph client source is required")
	case d.Mattermost == nil:
		return nil, errors.New("channeldelivery: the Mattermost API is required")
	case d.Recipients == nil:
		return nil, errors.New("channeldelivery: the recipient rules (chat delivery) are required")
	case d.Settings == nil:
		return nil, errors.New("channeldelivery: settings are required")
	case o.BotUserID == "":
		return nil, errors.New("channeldelivery: the bot user id is required")
	}
	if d.Logger == nil {
		d.Logger = nopLogger{}
	}
	if d.Metrics == nil {
		d.Metrics = nopMetrics{}
	}
	o.setDefaults()
	return &Processor{
		d: d, o: o,
		memberLists: newTTLCache[memberSet](o.MemberCacheSize, o.MemberTTL),
		channels:    newTTLCache[channelInfo](smallCacheSize, o.MemberTTL),
		threads:     newTTLCache[string](smallCacheSize, o.MemberTTL),
		records: delivery.DMRecords{Store: d.Store, Mattermost: d.Mattermost, Metrics: d.Metrics, BotUserID: o.BotUserID,
			ChatProp: PropChannelKey, MessageProp: PropMessageID, LockWait: o.LockWait, Now: o.Now},
	}, nil
}

// smallCacheSize bounds the channels and thread titles kept: small entries, one per active channel or thread.
const smallCacheSize = 10000

// skipped ends a change on purpose: the job is done, and the reason is counted.
type skipped string

func (s skipped) Error() string { return "skipped: " + string(s) }

func classify(err error) error { return delivery.ClassifyGraphError(err) }

// Process handles one inbox.ChannelChange. See inbox.Handler for what its errors mean.
func (p *Processor) Process(ctx context.Context, job inbox.Job) error {
	var ch inbox.ChannelChange
	if err := job.Decode(&ch); err != nil {
		return inbox.Park(err)
	}
	ids := []any{"job_id", job.ID, "team_id", ch.TeamID, "channel_id", ch.ChannelID, "message_id", ch.MessageID,
		"change_type", ch.ChangeType, "source", ch.Source}
	if !p.d.Settings().SyncNotifications {
		p.d.Metrics.Skipped(delivery.SkipSyncDisabled)
		return nil
	}
	if ch.TeamID == "" || ch.ChannelID == "" || ch.MessageID == "" {
		p.d.Metrics.Skipped(SkipNotChannelMessage)
		return nil
	}
	err := p.process(ctx, ch)
	var skip skipped
	if errors.As(err, &skip) {
		p.d.Metrics.Skipped(string(skip))
		p.d.Logger.LogDebug("Teams channel message not delivered", append(ids, "reason", string(skip))...)
		return nil
	}
	if err != nil {
		p.d.Logger.LogWarn("Could not deliver Teams channel message", append(ids, "attempt", job.Attempts, "error", err.Error())...)
	}
	return err
}

func (p *Processor) process(ctx context.Context, ch inbox.ChannelChange) error {
	if ch.ChangeType == "deleted" {
		return p.confirmDeleted(ctx, ch)
	}
	msg, fetched, err := p.message(ctx, ch)
	if err != nil {
		return err
	}
	// The notification's ids are authoritative: the content must describe the same message.
	msg.TeamID, msg.ChannelID, msg.ID = ch.TeamID, ch.ChannelID, ch.MessageID
	if msg.ReplyToID == "" {
		msg.ReplyToID = ch.RootID
	}
	if !msg.DeletedAt.IsZero() {
		if !fetched {
			return p.confirmDeleted(ctx, ch)
		}
		return p.deleteMessage(ctx, chatKey(ch.TeamID, ch.ChannelID), ch.MessageID)
	}
	if msg.MessageType != "message" && msg.MessageType != "" {
		return skipped(delivery.SkipSystemMessage)
	}
	if msg.From.IsApplication || msg.From.UserID == "" {
		return skipped(delivery.SkipBotSender)
	}
	return p.deliver(ctx, msg, ch.ChangeType)
}

// get reads the message or reply from Graph.
func (p *Processor) get(ctx context.Context, ch inbox.ChannelChange) (graph.Message, error) {
	g := p.d.Graph()
	if g == nil {
		return graph.Message{}, errors.New("Graph is not configured")
	}
	if ch.RootID != "" && ch.RootID != ch.MessageID {
		return g.GetChannelMessage(ctx, ch.TeamID, ch.ChannelID, ch.RootID, ch.MessageID)
	}
	return g.GetChannelMessage(ctx, ch.TeamID, ch.ChannelID, ch.MessageID, "")
}

// confirmDeleted marks the DMs deleted only when Graph says the message is gone, as chat delivery does: a
// replayed or forged notification must not blank a live message.
func (p *Processor) confirmDeleted(ctx context.Context, ch inbox.ChannelChange) error {
	msg, err := p.get(ctx, ch)
	if graph.IsNotFound(err) && ch.RootID == "" {
		// A reply is not found by its id alone: a change that lacks the thread's root must not pass for a
		// deletion. The DMs already sent know the root.
		if root := p.knownRoot(ctx, ch); root != "" && root != ch.MessageID {
			ch.RootID = root
			msg, err = p.get(ctx, ch)
		}
	}
	switch {
	case graph.IsNotFound(err):
	case err != nil:
		return classify(errors.Wrap(err, "confirm deletion"))
	case msg.DeletedAt.IsZero():
		return skipped(delivery.SkipNotDeleted)
	}
	return p.deleteMessage(ctx, chatKey(ch.TeamID, ch.ChannelID), ch.MessageID)
}

// message obtains the content: decrypted rich content, catch-up JSON, or a Graph GET (fetched).
func (p *Processor) message(ctx context.Context, ch inbox.ChannelChange) (msg graph.Message, fetched bool, err error) {
	fallback := "no_rich_content"
	switch {
	case ch.Encrypted != nil && p.d.Decrypter == nil:
		fallback = "no_decrypter"
	case ch.Encrypted != nil:
		data, err := p.d.Decrypter.Decrypt(ctx, ch.Encrypted)
		if err == nil {
			if msg, err = graph.MessageFromJSON(data); err == nil {
				return msg, false, nil
			}
		}
		fallback = "decrypt_failed"
	case len(ch.Message) > 0:
		if msg, err := graph.MessageFromJSON(ch.Message); err == nil {
			return msg, false, nil
		}
		fallback = "unparsable"
	}
	p.d.Metrics.ContentFallback(fallback)
	msg, err = p.get(ctx, ch)
	switch {
	case err == nil:
		return msg, true, nil
	case graph.IsNotFound(err):
		return graph.Message{}, false, skipped(delivery.SkipMessageNotFound)
	}
	return graph.Message{}, false, classify(errors.Wrap(err, "fetch channel message"))
}

// audience asks channelaudience who hears of msg.
func (p *Processor) audience(ctx context.Context, msg graph.Message) ([]channelaudience.Recipient, error) {
	in := channelaudience.Message{SenderID: msg.From.UserID, Mentions: mentions(msg), IsReply: msg.ReplyToID != ""}
	if in.IsReply {
		g := p.d.Graph()
		if g == nil {
			return nil, errors.New("Graph is not configured")
		}
		ids, err := g.ThreadParticipants(ctx, msg.TeamID, msg.ChannelID, msg.ReplyToID)
		switch {
		case graph.IsNotFound(err):
			// The thread's root is gone: mentions still count, participation cannot be known.
		case err != nil:
			return nil, classify(errors.Wrap(err, "read thread participants"))
		}
		in.ThreadParticipants = ids
	}
	return channelaudience.Decide(ctx, in, lookup{p: p, teamID: msg.TeamID, channelID: msg.ChannelID})
}

// knownRoot returns the thread root recorded on a DM of the message, "" when there is none to read.
func (p *Processor) knownRoot(ctx context.Context, ch inbox.ChannelChange) string {
	rows, err := p.d.Store.GetMessagePosts(ctx, chatKey(ch.TeamID, ch.ChannelID), ch.MessageID)
	if err != nil {
		return ""
	}
	for _, row := range rows {
		if row.PostID == "" {
			continue
		}
		if post, appErr := p.d.Mattermost.GetPost(row.PostID); appErr == nil {
			if root, _ := post.GetProp(PropRootID).(string); root != "" {
				return root
			}
		}
	}
	return ""
}
