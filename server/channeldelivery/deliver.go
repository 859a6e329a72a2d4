package channeldelivery

import (
	"context"
	"net/http"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/attach"
	"github.com/teamsnotify/msteams-sync/server/channelaudience"
	"github.com/teamsnotify/msteams-sync/server/delivery"
	"github.com/teamsnotify/msteams-sync/server/format"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// target is one person the audience names, with the chat rule that stops their DM ("" = deliver).
type target struct {
	channelaudience.Recipient
	skip string
}

// deliver posts the message to the recipients who have not had it and brings earlier DMs up to date.
func (p *Processor) deliver(ctx context.Context, msg graph.Message, changeType string) error {
	key := chatKey(msg.TeamID, msg.ChannelID)
	// An update of an older message (a reaction, a late edit) only edits the DMs already sent: nobody gets it
	// as new, so its audience, and the Graph calls behind it, are not needed.
	old := changeType == "updated" && !msg.CreatedAt.IsZero() && msg.CreatedAt.Before(p.o.Now().Add(-p.o.UpdateWindow))
	var audience []channelaudience.Recipient
	if !old {
		var err error
		if audience, err = p.audience(ctx, msg); err != nil {
			return err
		}
	}
	if len(audience) == 0 && changeType == "created" {
		return skipped(SkipNoAudience) // nothing to post and no earlier DM to edit: no lock to take
	}
	// For a repeated or later change, a first look without the lock spares the account and presence reads of
	// recipients already handled; the decision is taken again under the lock. A "created" change usually finds
	// no rows: the look would be a wasted query.
	handled := map[string]bool{}
	if changeType != "created" {
		rows, err := p.d.Store.GetMessagePosts(ctx, key, msg.ID)
		if err != nil {
			return err
		}
		for _, row := range rows {
			handled[row.MMUserID] = true
		}
		if handled[""] {
			return skipped(delivery.SkipDeletedBefore)
		}
	}
	var targets []target
	var ask []string
	for _, r := range audience {
		if handled[r.MMUserID] {
			continue
		}
		skip, _, err := p.d.Recipients.Account(r.MMUserID)
		if err != nil {
			return err
		}
		if skip == delivery.SkipInactiveUser {
			p.d.Metrics.Skipped(skip)
			continue
		}
		targets = append(targets, target{Recipient: r, skip: skip})
		if skip == "" {
			ask = append(ask, r.TeamsUserID)
		}
	}
	if len(ask) > 0 {
		active := p.d.Recipients.ActiveInTeams(ctx, ask)
		for i := range targets {
			if targets[i].skip == "" && active[targets[i].TeamsUserID] {
				targets[i].skip = delivery.SkipActiveInTeams
			}
		}
	}

	info, err := p.channel(ctx, msg.TeamID, msg.ChannelID)
	if err != nil {
		return err
	}
	rootID := firstNonEmpty(msg.ReplyToID, msg.ID)
	thread := p.threadTitle(ctx, msg, rootID)
	settings := p.d.Settings()
	res, err := format.Convert(delivery.FormatMessage(msg), format.Options{ResolveUser: p.resolver(ctx, msg), GraphHosts: settings.GraphHosts})
	if err != nil {
		return inbox.Park(errors.Wrap(err, "convert message"))
	}
	withFiles := len(res.Files) > 0 && p.d.Attacher != nil
	text := body(msg, res, withFiles)
	marker := p.senderMarker(ctx, msg, settings.TenantID)
	heads := map[string]string{}
	for _, r := range audience { // all of it: a reservation left by an earlier attempt needs its reasons too
		heads[r.MMUserID] = header(msg, marker, info, thread, r.Reasons)
	}
	tKey := threadKey(msg.TeamID, msg.ChannelID, rootID)
	var users []string
	for _, t := range targets {
		users = append(users, t.MMUserID)
	}
	// Read outside the lock, as chat delivery does; a failure costs only the threading.
	threads, err := p.d.Store.ReplyThreads(ctx, tKey, users)
	if err != nil {
		p.d.Logger.LogWarn("Could not read channel DM threads; DMs start new threads", "error", err.Error())
		threads = map[string]string{}
	}

	posted := 0
	var pendingFiles []store.DeliveredPost
	err = p.d.Store.WithMessageLock(ctx, key, msg.ID, p.o.LockWait, func(ctx context.Context) error {
		rows, err := p.d.Store.GetMessagePosts(ctx, key, msg.ID)
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, row := range rows {
			have[row.MMUserID] = true
		}
		if have[""] {
			return skipped(delivery.SkipDeletedBefore)
		}
		for _, row := range rows {
			switch row.State {
			case store.PostReserved:
				head := firstNonEmpty(heads[row.MMUserID], header(msg, marker, info, thread, nil))
				row, err := p.recoverReserved(ctx, row, msg, compose(head, text), tKey, threads[row.MMUserID])
				if err != nil {
					return err
				}
				posted++
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
		for _, t := range targets {
			if have[t.MMUserID] {
				continue
			}
			if t.skip != "" {
				if _, err := p.d.Store.InsertPost(ctx, store.DeliveredPost{
					ChatID: key, MessageID: msg.ID, MMUserID: t.MMUserID, State: store.PostSkipped, Reason: t.skip,
					MessageCreated: msg.CreatedAt, ReservedAt: p.o.Now(),
				}); err != nil {
					return err
				}
				p.d.Metrics.Skipped(t.skip)
				continue
			}
			row, err := p.post(ctx, t.MMUserID, msg, compose(heads[t.MMUserID], text), withFiles, tKey, threads[t.MMUserID])
			if err != nil {
				return err
			}
			posted++
			if row.FilesPending {
				pendingFiles = append(pendingFiles, row)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.d.Logger.LogDebug("Teams channel message handled", "team_id", msg.TeamID, "channel_id", msg.ChannelID,
		"message_id", msg.ID, "new_dms", posted, "audience", len(audience))
	if len(pendingFiles) > 0 && p.d.Attacher != nil {
		return p.queueFiles(ctx, msg, res.Files, pendingFiles)
	}
	return nil
}

// senderMarker marks a guest or external sender. Guests are known from the channel's member list, which the
// audience has just read (cached; read again for a sender who joined since); when it cannot be read the DM goes
// without the marker.
func (p *Processor) senderMarker(ctx context.Context, msg graph.Message, tenant string) string {
	readers, err := p.readersWith(ctx, msg.TeamID, msg.ChannelID, []string{msg.From.UserID})
	return delivery.SenderMarker(msg, err == nil && readers.guests[msg.From.UserID], "", tenant)
}

// queueFiles hands the message's files and images to the attacher for the DMs that do not have them yet: each
// recipient then gets the images of the message and the shared files their own account can read. On failure
// the rows stay pending and the job's retry queues them again.
func (p *Processor) queueFiles(ctx context.Context, msg graph.Message, files []format.FileRef, rows []store.DeliveredPost) error {
	key := chatKey(msg.TeamID, msg.ChannelID)
	job := attach.Job{ChatID: key, MessageID: msg.ID, SenderTeamsID: msg.From.UserID, Files: files, Link: teamsLink(msg),
		Channel: &attach.ChannelMessage{TeamID: msg.TeamID, ChannelID: msg.ChannelID, RootID: msg.ReplyToID}}
	users := make([]string, 0, len(rows))
	for _, r := range rows {
		job.Targets = append(job.Targets, attach.Target{MMUserID: r.MMUserID, ChannelID: r.ChannelID, PostID: r.PostID})
		users = append(users, r.MMUserID)
	}
	if err := p.d.Attacher.EnqueueJob(ctx, job); err != nil {
		return errors.Wrap(err, "queue attachments")
	}
	return p.d.Store.ClearFilesPending(ctx, key, msg.ID, users)
}

// threadTitle names the message's thread: a thread's first message only by its subject (its words follow
// anyway), a reply by its root's subject or first words (read once per MemberTTL). A failed read only leaves
// the DM without it.
func (p *Processor) threadTitle(ctx context.Context, msg graph.Message, rootID string) string {
	if msg.ReplyToID == "" {
		return strings.TrimSpace(msg.Subject)
	}
	key := threadKey(msg.TeamID, msg.ChannelID, rootID)
	if t, ok := p.threads.get(key, p.o.Now()); ok {
		return t
	}
	g := p.d.Graph()
	if g == nil {
		return ""
	}
	root, err := g.GetChannelMessage(ctx, msg.TeamID, msg.ChannelID, rootID, "")
	if err != nil {
		return ""
	}
	t := threadTitle(root)
	p.threads.put(key, t, 1, p.o.Now())
	return t
}

// resolver maps mentioned Teams users to the usernames of their connected, active Mattermost accounts.
func (p *Processor) resolver(ctx context.Context, msg graph.Message) func(string) string {
	var ids []string
	for _, m := range msg.Mentions {
		if m.UserID != "" {
			ids = append(ids, m.UserID)
		}
	}
	users := map[string]store.ChannelListener{}
	if len(ids) > 0 {
		if u, err := p.d.Store.ChannelListeners(ctx, ids); err == nil {
			users = u
		}
	}
	return func(teamsID string) string {
		u, ok := users[teamsID]
		if !ok {
			return ""
		}
		skip, name, err := p.d.Recipients.Account(u.MMUserID)
		if err != nil || skip == delivery.SkipInactiveUser {
			return ""
		}
		return name
	}
}

// post reserves the row, then creates the DM, so a crash in between is recognised on retry instead of posting
// twice. withFiles marks the row until the message's files are queued for the DM.
func (p *Processor) post(ctx context.Context, mmUserID string, msg graph.Message, text string, withFiles bool, tKey, rootPostID string) (store.DeliveredPost, error) {
	channelID, err := p.d.Recipients.DirectChannel(mmUserID)
	if err != nil {
		return store.DeliveredPost{}, err
	}
	row := store.DeliveredPost{
		ChatID: chatKey(msg.TeamID, msg.ChannelID), MessageID: msg.ID, MMUserID: mmUserID, State: store.PostReserved,
		ChannelID: channelID, LastModified: msg.LastModifiedAt, LastEdited: msg.LastEditedAt, MessageCreated: msg.CreatedAt,
		FilesPending: withFiles, ReservedAt: p.o.Now(),
	}
	if _, err := p.d.Store.InsertPost(ctx, row); err != nil {
		return store.DeliveredPost{}, err
	}
	return p.create(ctx, row, msg, text, tKey, rootPostID)
}

// create posts the DM in the user's thread of the Teams thread, or starts that thread with it.
func (p *Processor) create(ctx context.Context, row store.DeliveredPost, msg graph.Message, text, tKey, rootPostID string) (store.DeliveredPost, error) {
	post := &model.Post{UserId: p.o.BotUserID, ChannelId: row.ChannelID, Message: text, Props: postProps(msg, row.ChatID), RootId: rootPostID}
	created, appErr := p.d.Mattermost.CreatePost(post)
	if appErr != nil && rootPostID != "" && appErr.StatusCode == http.StatusBadRequest {
		// The thread's root is gone (the user deleted it): this DM starts a new thread.
		post.RootId, rootPostID = "", ""
		created, appErr = p.d.Mattermost.CreatePost(post)
	}
	if appErr != nil {
		return row, errors.Wrap(appErr, "create DM")
	}
	row.State, row.PostID = store.PostPosted, created.Id
	if err := p.d.Store.SavePost(ctx, row); err != nil {
		return row, err
	}
	if rootPostID == "" {
		// Later replies of the Teams thread continue this DM's thread; a failure costs only the threading.
		if err := p.d.Store.SaveReplyThread(ctx, tKey, row.MMUserID, created.Id, p.o.Now()); err != nil {
			p.d.Logger.LogWarn("Could not record the thread of a channel DM", "user_id", row.MMUserID, "error", err.Error())
		}
	}
	p.d.Metrics.Delivered(p.o.Now().Sub(msg.CreatedAt))
	return row, nil
}

// recoverReserved settles a row an earlier attempt left reserved: it records the DM that attempt created, or
// creates it now.
func (p *Processor) recoverReserved(ctx context.Context, row store.DeliveredPost, msg graph.Message, text, tKey, rootPostID string) (store.DeliveredPost, error) {
	found, err := p.records.FindPost(row)
	if err != nil {
		return row, err
	}
	if found == nil {
		return p.create(ctx, row, msg, text, tKey, rootPostID)
	}
	row.State, row.PostID = store.PostPosted, found.Id
	return row, p.d.Store.SavePost(ctx, row)
}

// updateIfNewer rewrites a DM when the message was edited after the version it shows, keeping the DM's header.
func (p *Processor) updateIfNewer(ctx context.Context, row store.DeliveredPost, msg graph.Message, text string) error {
	return p.records.EditIfNewer(ctx, row, msg, func(shown string) string { return rehead(shown, text) })
}

// deleteMessage marks every DM of the message deleted in Teams (delivery.DMRecords.MarkDeleted).
func (p *Processor) deleteMessage(ctx context.Context, key, messageID string) error {
	dms, err := p.records.MarkDeleted(ctx, key, messageID)
	if err != nil {
		return err
	}
	if dms == 0 {
		return skipped(delivery.SkipDeletedBefore)
	}
	return nil
}
