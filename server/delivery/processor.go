package delivery

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"
	"golang.org/x/sync/singleflight"

	"github.com/teamsnotify/msteams-sync/server/format"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// The notifications preference, shared with the connect package and the official plugin.
const (
	preferenceCategory      = "pp_com.mattermost.msteams-sync"
	preferenceNotifications = "notifications"
	preferenceOn            = "on"
)

// recoveryWindow is how far before a reservation the crash-recovery search for an already created DM starts,
// to absorb clock differences between this node, the database and the Mattermost server.
const recoveryWindow = 5 * time.Minute

// Deps are the collaborators of a Processor. Store, Graph, Mattermost and Settings are required.
type Deps struct {
	Store *store.Store
	// Graph returns the current app-only client (nil while the plugin is not configured).
	Graph      func() Graph
	Decrypter  Decrypter // nil: rich content is never opened, messages are fetched
	Mattermost Mattermost
	Attacher   Attacher // nil: files are not attached
	Choices    Choices  // nil: no recipient's choices filter messages
	// Enqueuer and Source are needed by CatchUp only.
	Enqueuer inbox.Enqueuer
	Source   MessageSource
	Settings func() Settings
	Logger   Logger
	Metrics  Metrics
	// Threads continues the reply threads of package reply; nil: DMs never continue a thread.
	Threads Threads
}

// Processor implements inbox.Handler for inbox.QueueChanges. Safe for concurrent use by many workers.
type Processor struct {
	d        Deps
	o        Options
	chats    *ttlCache[cachedChat]
	presence *ttlCache[graph.Presence]
	accounts *ttlCache[account]
	channels *ttlCache[string] // bot DM channel id by Mattermost user id
	records  DMRecords
	fetches  singleflight.Group
	marks    deliveryMarks
	// presenceDownUntil (unix ns) is when presence may be asked again after a failure; presenceDown remembers
	// that the outage was logged.
	presenceDownUntil atomic.Int64
	presenceDown      atomic.Bool
}

var _ inbox.Handler = (*Processor)(nil)

// New checks the dependencies and returns a Processor.
func New(d Deps, o Options) (*Processor, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("delivery: a store is required")
	case d.Graph == nil:
		return nil, errors.New("delivery: a Graph client source is required")
	case d.Mattermost == nil:
		return nil, errors.New("delivery: the Mattermost API is required")
	case d.Settings == nil:
		return nil, errors.New("delivery: settings are required")
	case o.BotUserID == "":
		return nil, errors.New("delivery: the bot user id is required")
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
		chats:    newTTLCache[cachedChat](o.ChatCacheSize, o.ChatCacheTTL),
		presence: newTTLCache[graph.Presence](o.PresenceCacheSize, o.PresenceTTL),
		accounts: newTTLCache[account](o.PresenceCacheSize, o.RecipientTTL),
		channels: newTTLCache[string](o.PresenceCacheSize, directChannelTTL),
		records: DMRecords{Store: d.Store, Mattermost: d.Mattermost, Metrics: d.Metrics, BotUserID: o.BotUserID,
			ChatProp: PropChatID, MessageProp: PropMessageID, LockWait: o.LockWait, Now: o.Now},
	}, nil
}

// skipped ends a change (or a recipient) on purpose: the job is done, and the reason is counted.
type skipped string

func (s skipped) Error() string { return "skipped: " + string(s) }

// Process handles one inbox.Change. See inbox.Handler for what its errors mean.
func (p *Processor) Process(ctx context.Context, job inbox.Job) error {
	var ch inbox.Change
	if err := job.Decode(&ch); err != nil {
		return inbox.Park(err)
	}
	ids := []any{"job_id", job.ID, "chat_id", ch.ChatID, "message_id", ch.MessageID, "change_type", ch.ChangeType, "source", ch.Source}
	if !p.d.Settings().SyncNotifications {
		p.d.Metrics.Skipped(SkipSyncDisabled)
		return nil
	}
	if ch.ChatID == "" || ch.MessageID == "" {
		p.d.Metrics.Skipped(SkipNotChat)
		return nil
	}
	err := p.process(ctx, ch, ids)
	var skip skipped
	if errors.As(err, &skip) {
		p.d.Metrics.Skipped(string(skip))
		p.d.Logger.LogDebug("Teams message not delivered", append(ids, "reason", string(skip))...)
		return nil
	}
	if err != nil {
		p.d.Logger.LogWarn("Could not deliver Teams message", append(ids, "attempt", job.Attempts, "error", err.Error())...)
	}
	return err
}

func (p *Processor) process(ctx context.Context, ch inbox.Change, ids []any) error {
	if ch.ChangeType == "deleted" {
		return p.confirmDeleted(ctx, ch, ids)
	}
	msg, fetched, err := p.message(ctx, ch, ids)
	if err != nil {
		return err
	}
	// The notification's ids are authoritative: the content must describe the same message.
	msg.ChatID, msg.ID = ch.ChatID, ch.MessageID
	if !msg.DeletedAt.IsZero() {
		if !fetched {
			return p.confirmDeleted(ctx, ch, ids)
		}
		return p.deleteMessage(ctx, msg.ChatID, msg.ID)
	}
	if msg.MessageType != "message" && msg.MessageType != "" {
		if isMembershipEvent(msg) {
			// Every node checks this version before trusting its cached members, so the change holds at once
			// cluster-wide; the job is retried until it is recorded.
			if _, err := p.d.Store.ChatMembersChanged(ctx, msg.ChatID); err != nil {
				return err
			}
			p.chats.remove(msg.ChatID)
		}
		return skipped(SkipSystemMessage)
	}
	if msg.From.IsApplication || msg.From.UserID == "" {
		return skipped(SkipBotSender)
	}
	chat, err := p.chat(ctx, msg.ChatID, msg.From.UserID)
	if err != nil {
		return err
	}
	return p.deliver(ctx, msg, chat, ch.ChangeType, ids)
}

// confirmDeleted marks the message's DMs deleted only when Graph itself says the message is gone (404, or
// deletedDateTime set). What a change claims is not enough: DMs, once marked, cannot be restored, and a replayed
// or forged notification (or one carrying forged rich content) must not be able to blank a live message.
func (p *Processor) confirmDeleted(ctx context.Context, ch inbox.Change, ids []any) error {
	g := p.d.Graph()
	if g == nil {
		return errors.New("confirm deletion: Graph is not configured")
	}
	msg, err := g.GetMessage(ctx, ch.ChatID, ch.MessageID)
	switch {
	case graph.IsNotFound(err):
	case err != nil:
		return classify(errors.Wrap(err, "confirm deletion"))
	case msg.DeletedAt.IsZero():
		p.d.Logger.LogWarn("A change says a Teams message was deleted but Graph still has it; its DMs are left as they are", ids...)
		return skipped(SkipNotDeleted)
	}
	return p.deleteMessage(ctx, ch.ChatID, ch.MessageID)
}

func isMembershipEvent(msg graph.Message) bool {
	t := strings.ToLower(msg.EventDetailType)
	return strings.Contains(t, "membersadded") || strings.Contains(t, "membersdeleted") ||
		strings.Contains(t, "membersjoined") || strings.Contains(t, "membersleft")
}

// message obtains the message content: decrypted rich content, the JSON a catch-up stored, or a Graph GET.
// fetched reports the last: content read from Graph by this job rather than carried by the change.
func (p *Processor) message(ctx context.Context, ch inbox.Change, ids []any) (msg graph.Message, fetched bool, err error) {
	var fallback string
	switch {
	case ch.Encrypted != nil && p.d.Decrypter == nil:
		fallback = "no_decrypter"
	case ch.Encrypted != nil:
		data, err := p.d.Decrypter.Decrypt(ctx, ch.Encrypted)
		if err == nil {
			msg, perr := graph.MessageFromJSON(data)
			if perr == nil {
				return msg, false, nil
			}
			err = perr
		}
		// Decryption errors name the certificate at most, never content.
		p.d.Logger.LogWarn("Could not open rich notification content; fetching the message", append(ids, "error", err.Error())...)
		fallback = "decrypt_failed"
	case len(ch.Message) > 0:
		msg, err := graph.MessageFromJSON(ch.Message)
		if err == nil {
			return msg, false, nil
		}
		fallback = "unparsable"
	default:
		fallback = "no_rich_content"
	}
	p.d.Metrics.ContentFallback(fallback)
	g := p.d.Graph()
	if g == nil {
		return graph.Message{}, false, errors.New("fetch message: Graph is not configured")
	}
	msg, err = g.GetMessage(ctx, ch.ChatID, ch.MessageID)
	switch {
	case err == nil:
		return msg, true, nil
	case graph.IsNotFound(err):
		return graph.Message{}, false, skipped(SkipMessageNotFound)
	case fallback == "decrypt_failed" && permanent(err):
		return graph.Message{}, false, inbox.Park(errors.Wrap(err, "rich content could not be decrypted and the message could not be fetched"))
	}
	return graph.Message{}, false, classify(err)
}

// permanent reports a Graph refusal that retrying will not change (missing permission, bad request).
func permanent(err error) bool {
	switch graph.StatusOf(err) {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	return false
}

// classify maps a Graph error onto the inbox's retry rules.
func classify(err error) error {
	switch {
	case graph.IsThrottled(err):
		if d := graph.RetryAfterOf(err); d > 0 {
			return inbox.RetryAfter(err, d)
		}
		return err
	case permanent(err):
		return inbox.Park(err)
	}
	return err // 5xx, timeouts: exponential backoff
}

// cachedChat is a chat's members as read from Graph while the chat's membership version was version.
type cachedChat struct {
	chat    graph.Chat
	version int64
}

// chat returns the chat with its members. The cached copy serves while the chat's membership version (one
// primary-key read, bumped by whichever node saw a membership change) is the one it was read under, and the
// sender is among its members (someone joined since); otherwise Graph is asked again.
func (p *Processor) chat(ctx context.Context, chatID, senderID string) (graph.Chat, error) {
	version, err := p.d.Store.ChatMembersVersion(ctx, chatID)
	if err != nil {
		return graph.Chat{}, err
	}
	if c, ok := p.chats.get(chatID, p.o.Now()); ok && c.version == version && hasMember(c.chat, senderID) {
		return c.chat, nil
	}
	// The version is read before Graph is: a change recorded meanwhile makes the next job read again.
	v, err, _ := p.fetches.Do(fmt.Sprintf("chat:%d:%s", version, chatID), func() (any, error) {
		g := p.d.Graph()
		if g == nil {
			return graph.Chat{}, errors.New("fetch chat: Graph is not configured")
		}
		c, err := g.GetChat(ctx, chatID)
		if err != nil {
			return graph.Chat{}, err
		}
		if c.ID == "" {
			c.ID = chatID
		}
		p.chats.put(chatID, cachedChat{chat: c, version: version}, p.o.Now())
		return c, nil
	})
	if err != nil {
		if graph.IsNotFound(err) {
			return graph.Chat{}, skipped(SkipChatNotFound)
		}
		return graph.Chat{}, classify(errors.Wrap(err, "fetch chat members"))
	}
	return v.(graph.Chat), nil
}

func hasMember(c graph.Chat, userID string) bool {
	for _, m := range c.Members {
		if m.UserID == userID {
			return true
		}
	}
	return false
}

// presences returns the presence of each user, asking Graph only about users not seen within PresenceTTL, in
// one batched call. Users Graph says nothing about, or all of them when the call fails, count as away: a
// missed notification is worse than an extra one. After a failure (Graph throttling or down) presence is not
// asked for PresenceBackoff, and a call never waits longer than PresenceWait, so that an outage of presence
// costs extra DMs rather than delaying every DM by Graph's retry waits.
func (p *Processor) presences(ctx context.Context, userIDs []string, ids []any) map[string]graph.Presence {
	now := p.o.Now()
	out := make(map[string]graph.Presence, len(userIDs))
	var missing []string
	for _, id := range userIDs {
		if pr, ok := p.presence.get(id, now); ok {
			out[id] = pr
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return out
	}
	g := p.d.Graph()
	if g == nil {
		return out
	}
	if now.UnixNano() < p.presenceDownUntil.Load() {
		return out // Graph refused presence moments ago: do not make every message wait to hear it again
	}
	askCtx, cancel := context.WithTimeout(ctx, p.o.PresenceWait)
	list, err := g.GetPresences(askCtx, missing)
	cancel()
	if err != nil {
		p.presenceDownUntil.Store(now.Add(p.o.PresenceBackoff).UnixNano())
		if !p.presenceDown.Swap(true) {
			p.d.Logger.LogWarn("Could not read Teams presence; notifying everyone as if away until Graph answers again",
				append(ids, "retry_in", p.o.PresenceBackoff.String(), "error", err.Error())...)
		}
		return out
	}
	if p.presenceDown.Load() && p.presenceDown.Swap(false) { // a plain read on the usual path
		p.d.Logger.LogInfo("Teams presence readable again; users active in Teams are no longer notified here")
	}
	got := make(map[string]graph.Presence, len(list))
	for _, pr := range list {
		got[strings.ToLower(pr.UserID)] = pr
	}
	for _, id := range missing {
		pr := got[strings.ToLower(id)]
		pr.UserID = id
		p.presence.put(id, pr, now)
		out[id] = pr
	}
	return out
}

// activeInTeams: the user is at their Teams client, so Teams itself notifies them.
func activeInTeams(pr graph.Presence) bool {
	switch pr.Availability {
	case "Available", "Busy", "DoNotDisturb":
	default:
		return false
	}
	switch pr.Activity {
	case "Away", "BeRightBack", "Offline", "OffWork", "Inactive", "PresenceUnknown":
		return false
	}
	return true
}

// resolver maps mentioned Teams users to the usernames of their connected, active Mattermost accounts.
func (p *Processor) resolver(users map[string]store.User) func(string) string {
	names := map[string]string{}
	return func(teamsID string) string {
		u, ok := users[teamsID]
		if !ok || !u.Connected() {
			return ""
		}
		if name, ok := names[u.MMUserID]; ok {
			return name
		}
		name := ""
		if who, err := p.account(u.MMUserID); err == nil {
			name = who.username
		}
		names[u.MMUserID] = name
		return name
	}
}

type recipient struct {
	user   store.User
	reason string // "" = deliver; SkipNotificationsOff / SkipActiveInTeams are recorded as final
}

// deliver posts the message to recipients who have not had it yet and brings earlier DMs up to date.
//
// For any change but "created", the message's rows are read before deciding anything, which spares the
// Mattermost and Graph calls when the change repeats one already handled (updates, reactions); the decision is
// taken again under the lock either way. A "created" change usually finds no rows yet: that look would be a
// wasted query.
func (p *Processor) deliver(ctx context.Context, msg graph.Message, chat graph.Chat, changeType string, ids []any) error {
	firstLook := changeType != "created"
	sender := msg.From.UserID
	teamsIDs := make([]string, 0, len(chat.Members)+len(msg.Mentions))
	for _, m := range chat.Members {
		teamsIDs = append(teamsIDs, m.UserID)
	}
	for _, m := range msg.Mentions {
		if m.UserID != "" {
			teamsIDs = append(teamsIDs, m.UserID)
		}
	}
	users, err := p.d.Store.GetUsersByTeamsIDs(ctx, teamsIDs)
	if err != nil {
		return err
	}

	// A first look without the lock spares Mattermost and Graph calls for recipients already handled (repeated
	// notifications); the decision itself is taken again under the lock.
	var before []store.DeliveredPost
	if firstLook {
		if before, err = p.d.Store.GetMessagePosts(ctx, msg.ChatID, msg.ID); err != nil {
			return err
		}
	}
	handled := map[string]bool{}
	for _, r := range before {
		handled[r.MMUserID] = true
	}
	if handled[""] {
		return skipped(SkipDeletedBefore)
	}

	var fresh []recipient
	seen := map[string]bool{}
	for _, m := range chat.Members {
		u, ok := users[m.UserID]
		if m.UserID == sender || seen[m.UserID] || !ok || !u.Connected() || handled[u.MMUserID] {
			continue
		}
		seen[m.UserID] = true
		if changeType == "updated" && p.predates(msg, u) {
			p.d.Metrics.Skipped(SkipOldMessage)
			continue
		}
		who, err := p.account(u.MMUserID)
		if err != nil {
			return err
		}
		reason := who.skip
		if reason == SkipInactiveUser {
			p.d.Metrics.Skipped(reason)
			continue
		}
		fresh = append(fresh, recipient{user: u, reason: reason})
	}
	if err := p.applyChoices(ctx, msg, chat, fresh); err != nil {
		return err
	}
	var ask []string
	for _, r := range fresh {
		if r.reason == "" {
			ask = append(ask, r.user.TeamsUserID)
		}
	}
	if len(ask) > 0 {
		pres := p.presences(ctx, ask, ids)
		for i := range fresh {
			if fresh[i].reason == "" && activeInTeams(pres[fresh[i].user.TeamsUserID]) {
				fresh[i].reason = SkipActiveInTeams
			}
		}
	}

	threads := p.replyThreads(ctx, msg.ChatID, fresh, before, ids)

	if firstLook && len(fresh) == 0 && !needsWork(before, msg) {
		// Repeats and reactions on a message everyone already has: nothing to write, no lock to take.
		return skipped(SkipUnchanged)
	}

	settings := p.d.Settings()
	res, err := format.Convert(formatMessage(msg), format.Options{ResolveUser: p.resolver(users), GraphHosts: settings.GraphHosts})
	if err != nil {
		return inbox.Park(errors.Wrap(err, "convert message"))
	}
	senderName := msg.From.DisplayName
	for _, m := range chat.Members {
		if m.UserID == sender && m.DisplayName != "" {
			senderName = m.DisplayName
		}
	}
	text := messageText(header(msg, chat, senderName, settings.TenantID), res, !msg.LastEditedAt.IsZero())
	withFiles := len(res.Files) > 0 && p.d.Attacher != nil

	var posted []store.DeliveredPost
	var pendingFiles []store.DeliveredPost
	err = p.d.Store.WithMessageLock(ctx, msg.ChatID, msg.ID, p.o.LockWait, func(ctx context.Context) error {
		rows, err := p.d.Store.GetMessagePosts(ctx, msg.ChatID, msg.ID)
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, row := range rows {
			have[row.MMUserID] = true
		}
		if have[""] {
			return skipped(SkipDeletedBefore)
		}
		for _, row := range rows {
			switch row.State {
			case store.PostReserved:
				row, created, err := p.recoverReserved(ctx, row, msg, text, threads[row.MMUserID])
				if err != nil {
					return err
				}
				// Either way the DM is recorded only now: it counts as delivered by this job.
				posted = append(posted, row)
				if !created {
					if err := p.updateIfNewer(ctx, row, msg, text); err != nil {
						return err
					}
				}
				if row.FilesPending {
					pendingFiles = append(pendingFiles, row)
				}
			case store.PostPosted:
				if err := p.updateIfNewer(ctx, row, msg, text); err != nil {
					return err
				}
				if row.FilesPending {
					pendingFiles = append(pendingFiles, row)
				}
			}
		}
		for _, r := range fresh {
			if have[r.user.MMUserID] {
				continue
			}
			if r.reason != "" {
				if _, err := p.d.Store.InsertPost(ctx, store.DeliveredPost{
					ChatID: msg.ChatID, MessageID: msg.ID, MMUserID: r.user.MMUserID, State: store.PostSkipped,
					Reason: r.reason, MessageCreated: msg.CreatedAt, ReservedAt: p.o.Now(),
				}); err != nil {
					return err
				}
				p.d.Metrics.Skipped(r.reason)
				continue
			}
			row, err := p.post(ctx, r.user.MMUserID, msg, text, withFiles, threads[r.user.MMUserID])
			if err != nil {
				return err
			}
			posted = append(posted, row)
			if row.FilesPending {
				pendingFiles = append(pendingFiles, row)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	if !msg.CreatedAt.IsZero() {
		for _, row := range posted {
			p.marks.add(row.MMUserID, msg.CreatedAt)
		}
	}
	if err := p.writeDeliveryMarks(ctx, false); err != nil {
		p.d.Logger.LogWarn("Could not record delivery times; will try again", "error", err.Error())
	}
	p.d.Logger.LogDebug("Teams message handled", append(ids, "new_dms", len(posted), "recipients_considered", len(fresh))...)
	if len(pendingFiles) > 0 && p.d.Attacher != nil {
		return p.queueFiles(ctx, msg, res.Files, pendingFiles)
	}
	return nil
}

// replyThreads reads, in one query, the reply threads of the users who may get a new DM of the message: the
// recipients about to be posted to and reservations left by an earlier attempt. A failed read costs only the
// threading: the DMs go out on their own.
func (p *Processor) replyThreads(ctx context.Context, chatID string, fresh []recipient, rows []store.DeliveredPost, ids []any) map[string]string {
	if p.d.Threads == nil {
		return nil
	}
	var users []string
	for _, r := range fresh {
		if r.reason == "" {
			users = append(users, r.user.MMUserID)
		}
	}
	for _, row := range rows {
		if row.State == store.PostReserved && row.MMUserID != "" {
			users = append(users, row.MMUserID)
		}
	}
	if len(users) == 0 {
		return nil
	}
	threads, err := p.d.Threads.ReplyThreads(ctx, chatID, users)
	if err != nil {
		p.d.Logger.LogWarn("Could not read reply threads; DMs start new threads", append(ids, "error", err.Error())...)
		return nil
	}
	return threads
}

// predates reports that a message is too old for an update (a reaction, an edit) to send it to a user who
// never got it: it was written before they connected, or before the retention of delivery records, whose
// rows, already removed, could no longer tell whether they had it. Without this, reacting to an old message
// would deliver it as if new.
func (p *Processor) predates(msg graph.Message, u store.User) bool {
	if msg.CreatedAt.IsZero() {
		return false
	}
	return msg.CreatedAt.Before(u.ConnectedAt) || msg.CreatedAt.Before(p.o.Now().Add(-PostsRetention))
}

// needsWork reports whether any existing row of the message asks for action: a reservation to settle, a DM
// showing an older edit, or files still to queue.
func needsWork(rows []store.DeliveredPost, msg graph.Message) bool {
	for _, r := range rows {
		switch r.State {
		case store.PostReserved:
			return true
		case store.PostPosted:
			if r.FilesPending || newerEdit(msg, r) {
				return true
			}
		}
	}
	return false
}

func newerEdit(msg graph.Message, row store.DeliveredPost) bool {
	return !msg.LastEditedAt.IsZero() && msg.LastEditedAt.UTC().Truncate(time.Microsecond).After(row.LastEdited)
}

// queueFiles hands the message's files to the attacher for the DMs that do not have them yet. On failure the
// rows stay pending and the job's retry queues them again.
func (p *Processor) queueFiles(ctx context.Context, msg graph.Message, files []format.FileRef, rows []store.DeliveredPost) error {
	job := AttachJob{ChatID: msg.ChatID, MessageID: msg.ID, SenderTeamsID: msg.From.UserID, Files: files}
	users := make([]string, 0, len(rows))
	for _, r := range rows {
		job.Targets = append(job.Targets, AttachTarget{MMUserID: r.MMUserID, ChannelID: r.ChannelID, PostID: r.PostID})
		users = append(users, r.MMUserID)
	}
	if err := p.d.Attacher.Enqueue(ctx, job); err != nil {
		return errors.Wrap(err, "queue attachments")
	}
	return p.d.Store.ClearFilesPending(ctx, msg.ChatID, msg.ID, users)
}

// post creates one DM, reserving its row first so that a crash between CreatePost and recording the post id is
// recognised on retry (recoverReserved) instead of posting twice.
func (p *Processor) post(ctx context.Context, mmUserID string, msg graph.Message, text string, withFiles bool, rootID string) (store.DeliveredPost, error) {
	channelID, err := p.directChannel(mmUserID)
	if err != nil {
		return store.DeliveredPost{}, err
	}
	row := store.DeliveredPost{
		ChatID: msg.ChatID, MessageID: msg.ID, MMUserID: mmUserID, State: store.PostReserved, ChannelID: channelID,
		LastModified: msg.LastModifiedAt, LastEdited: msg.LastEditedAt, MessageCreated: msg.CreatedAt,
		FilesPending: withFiles, ReservedAt: p.o.Now(),
	}
	if _, err := p.d.Store.InsertPost(ctx, row); err != nil {
		return store.DeliveredPost{}, err
	}
	return p.create(ctx, row, msg, text, rootID)
}

// create posts the DM, in the thread of rootID when the user answered the chat from there.
func (p *Processor) create(ctx context.Context, row store.DeliveredPost, msg graph.Message, text, rootID string) (store.DeliveredPost, error) {
	post := &model.Post{UserId: p.o.BotUserID, ChannelId: row.ChannelID, Message: text, Props: postProps(msg), RootId: rootID}
	created, appErr := p.d.Mattermost.CreatePost(post)
	if appErr != nil && rootID != "" && appErr.StatusCode == http.StatusBadRequest {
		// The thread's root is gone (the user deleted it): Mattermost refuses the reply and created nothing, so
		// the DM goes on its own and the thread is forgotten.
		post.RootId = ""
		if created, appErr = p.d.Mattermost.CreatePost(post); appErr == nil {
			if err := p.d.Threads.ForgetReplyThread(ctx, row.ChatID, row.MMUserID, rootID); err != nil {
				p.d.Logger.LogWarn("Could not forget a reply thread whose root is gone", "chat_id", row.ChatID, "user_id", row.MMUserID, "error", err.Error())
			}
		}
	}
	if appErr != nil {
		// The cached channel may be what failed (a channel removed by an admin): look it up again next time.
		p.channels.remove(row.MMUserID)
		return store.DeliveredPost{}, errors.Wrap(appErr, "create DM")
	}
	row.State, row.PostID = store.PostPosted, created.Id
	row.LastModified, row.LastEdited = msg.LastModifiedAt, msg.LastEditedAt
	if err := p.d.Store.SavePost(ctx, row); err != nil {
		return store.DeliveredPost{}, err
	}
	p.d.Metrics.Delivered(p.o.Now().Sub(msg.CreatedAt))
	return row, nil
}

// recoverReserved settles a row left reserved by an earlier attempt: if that attempt created the DM, the DM is
// recorded; otherwise it is created now. created reports the latter.
func (p *Processor) recoverReserved(ctx context.Context, row store.DeliveredPost, msg graph.Message, text, rootID string) (store.DeliveredPost, bool, error) {
	found, err := p.records.FindPost(row)
	if err != nil {
		return row, false, err
	}
	if found == nil {
		row, err := p.create(ctx, row, msg, text, rootID)
		return row, err == nil, err
	}
	// The DM shows the version the reservation recorded; updateIfNewer brings it up to date.
	row.State, row.PostID = store.PostPosted, found.Id
	if err := p.d.Store.SavePost(ctx, row); err != nil {
		return row, false, err
	}
	p.d.Metrics.Delivered(p.o.Now().Sub(msg.CreatedAt))
	return row, false, nil
}

// updateIfNewer rewrites a DM with text when the message was edited after the version it shows.
func (p *Processor) updateIfNewer(ctx context.Context, row store.DeliveredPost, msg graph.Message, text string) error {
	return p.records.EditIfNewer(ctx, row, msg, func(string) string { return text })
}

// deleteMessage marks every DM of a message as deleted in Teams (DMRecords.MarkDeleted).
func (p *Processor) deleteMessage(ctx context.Context, chatID, messageID string) error {
	dms, err := p.records.MarkDeleted(ctx, chatID, messageID)
	if err != nil {
		return err
	}
	if dms == 0 {
		return skipped(SkipDeletedBefore)
	}
	return nil
}
