package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/format"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// MessageSource lists the chat messages a user can see that were created or changed after since (app-only).
type MessageSource interface {
	MessagesSince(ctx context.Context, teamsUserID string, since time.Time) ([]graph.Message, error)
}

// PageGetter reads one page of a getAllMessages listing; *graph.Client satisfies it.
type PageGetter interface {
	GetAllMessagesDelta(ctx context.Context, userID, link string) (graph.DeltaPage, error)
}

// GraphSource is the MessageSource on Graph: GET /users/{id}/chats/getAllMessages filtered on
// lastModifiedDateTime, following nextLinks. graph.Client has no call for the filtered listing, but its delta
// call reads any getAllMessages URL (same response shape), so GraphSource hands it the filtered URL.
type GraphSource struct {
	// Client returns the current app-only client.
	Client func() PageGetter
	// BaseURL returns the Graph base URL of the configured cloud (config.Endpoints.GraphBaseURL).
	BaseURL func() string
	// MaxPages bounds one user's listing (50 messages a page); default 40.
	MaxPages int
}

// MessagesSince implements MessageSource.
func (s GraphSource) MessagesSince(ctx context.Context, teamsUserID string, since time.Time) ([]graph.Message, error) {
	c := s.Client()
	if c == nil {
		return nil, errors.New("list messages: Graph is not configured")
	}
	maxPages := s.MaxPages
	if maxPages <= 0 {
		maxPages = 40
	}
	q := url.Values{}
	q.Set("$top", "50")
	q.Set("$filter", "lastModifiedDateTime gt "+since.UTC().Format("2006-01-02T15:04:05.000Z"))
	link := strings.TrimRight(s.BaseURL(), "/") + "/users/" + url.PathEscape(teamsUserID) + "/chats/getAllMessages?" + q.Encode()
	var out []graph.Message
	for page := 0; page < maxPages && link != ""; page++ {
		p, err := getPage(ctx, c, teamsUserID, link)
		if err != nil {
			return nil, errors.Wrap(err, "list messages since")
		}
		for _, m := range p.Messages {
			// Graph may ignore a filter it cannot apply; enforce it.
			if m.LastModifiedAt.IsZero() || m.LastModifiedAt.After(since) {
				out = append(out, m)
			}
		}
		link = p.NextLink
	}
	return out, nil
}

// throttleRetries is how often one listing page is retried after Graph throttles it; catch-up runs in the
// background, so waiting out Retry-After is cheaper than abandoning the user until the next gap.
const throttleRetries = 3

// maxThrottleWait caps one wait, whatever Retry-After says.
const maxThrottleWait = 2 * time.Minute

func getPage(ctx context.Context, c PageGetter, teamsUserID, link string) (graph.DeltaPage, error) {
	for attempt := 0; ; attempt++ {
		p, err := c.GetAllMessagesDelta(ctx, teamsUserID, link)
		if err == nil || !graph.IsThrottled(err) || attempt == throttleRetries {
			return p, err
		}
		wait := min(max(graph.RetryAfterOf(err), time.Second), maxThrottleWait)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return p, errors.Wrap(ctx.Err(), "wait for Graph throttling to end")
		case <-timer.C:
		}
	}
}

const catchUpPageSize = 100

// CatchUp looks for messages every connected user may have missed since the given time (or, when since is
// zero, since that user's last delivery) and delivers them: recent ones through the inbox like any
// notification (deduplicated by the posts map), older ones (Options.SummaryAge) as one summary DM per user.
// It goes on with the other users when one fails and returns the first failure.
func (p *Processor) CatchUp(ctx context.Context, since time.Time) error {
	if p.d.Source == nil || p.d.Enqueuer == nil {
		return errors.New("catch up: no message source or inbox configured")
	}
	if !p.d.Settings().SyncNotifications {
		return nil
	}
	// Each user's catch-up starts at their last delivery: write the times still held in memory first.
	if err := p.Flush(ctx); err != nil {
		p.d.Logger.LogWarn("Could not record delivery times before catching up; the catch-up may start earlier than needed", "error", err.Error())
	}
	queued := map[store.MessageKey]bool{}
	var first error
	failed := 0
	after := ""
	for {
		users, err := p.d.Store.ListConnectedUsers(ctx, after, catchUpPageSize)
		if err != nil {
			return errors.Wrap(err, "catch up")
		}
		for _, u := range users {
			if err := p.catchUpUser(ctx, u, since, queued); err != nil {
				p.d.Logger.LogWarn("Teams catch-up failed for a user", "user_id", u.MMUserID, "error", err.Error())
				failed++
				if first == nil {
					first = err
				}
				if ctx.Err() != nil {
					return errors.Wrap(ctx.Err(), "catch up")
				}
			}
		}
		if len(users) < catchUpPageSize {
			break
		}
		after = users[len(users)-1].MMUserID
	}
	if first != nil {
		return errors.Wrapf(first, "catch up failed for %d users; first failure", failed)
	}
	return nil
}

func (p *Processor) catchUpUser(ctx context.Context, u store.User, since time.Time, queued map[store.MessageKey]bool) error {
	now := p.o.Now()
	from := since
	if from.IsZero() {
		from = u.LastDeliveredAt
	}
	// Nothing from before the user connected, and nothing older than MaxCatchUp.
	if from.Before(u.ConnectedAt) {
		from = u.ConnectedAt
	}
	if floor := now.Add(-p.o.MaxCatchUp); from.Before(floor) {
		from = floor
	}
	msgs, err := p.d.Source.MessagesSince(ctx, u.TeamsUserID, from)
	if err != nil {
		return err
	}
	keys := make([]store.MessageKey, 0, len(msgs))
	for _, m := range msgs {
		keys = append(keys, store.MessageKey{ChatID: m.ChatID, MessageID: m.ID})
	}
	known, err := p.d.Store.KnownMessages(ctx, u.MMUserID, keys)
	if err != nil {
		return err
	}
	oldBefore := now.Add(-p.o.SummaryAge)
	var old []graph.Message
	var items []store.InboxItem
	var keysQueued []store.MessageKey
	for _, m := range msgs {
		key := store.MessageKey{ChatID: m.ChatID, MessageID: m.ID}
		if m.ChatID == "" || m.ID == "" || queued[key] {
			continue
		}
		changeType := "created"
		switch {
		case !m.DeletedAt.IsZero():
			if !known[key] {
				continue // never shown to this user: nothing to mark
			}
			changeType = "deleted"
		case m.MessageType != "message" && m.MessageType != "",
			m.From.IsApplication, m.From.UserID == "", m.From.UserID == u.TeamsUserID:
			continue
		case known[key]:
			if m.LastEditedAt.IsZero() || !m.LastEditedAt.After(from) {
				continue
			}
			changeType = "updated" // edited during the gap: bring the DM up to date
		case m.CreatedAt.Before(oldBefore):
			old = append(old, m)
			continue
		}
		item, err := changeItem(changeType, m, now)
		if err != nil {
			return err
		}
		items = append(items, item)
		keysQueued = append(keysQueued, key)
	}
	// One insert for the user's whole backlog, through the runner when wired, so workers wake at once.
	if len(items) > 0 {
		if err := p.d.Enqueuer.EnqueueInbox(ctx, items); err != nil {
			return errors.Wrap(err, "queue missed messages")
		}
		for _, k := range keysQueued {
			queued[k] = true
		}
	}
	if old, err = p.withoutMuted(ctx, u.MMUserID, old); err != nil {
		return err
	}
	if err := p.summarize(ctx, u, old, now); err != nil {
		return err
	}
	return p.d.Store.SetLastDeliveredAt(ctx, u.MMUserID, now)
}

// changeItem is the inbox item for a message catch-up found: a Change carrying the message itself, so the
// worker needs no fetch.
func changeItem(changeType string, m graph.Message, now time.Time) (store.InboxItem, error) {
	raw, err := encodeMessage(m)
	if err != nil {
		return store.InboxItem{}, errors.Wrap(err, "encode message for catch-up")
	}
	ch := inbox.Change{
		ChangeType: changeType, ChatID: m.ChatID, MessageID: m.ID, TenantID: m.From.TenantID,
		Message: raw, Source: inbox.SourceCatchup, ReceivedAt: now.UTC(),
	}
	payload, err := json.Marshal(ch)
	if err != nil {
		return store.InboxItem{}, errors.Wrap(err, "encode change for catch-up")
	}
	return store.InboxItem{Queue: inbox.QueueChanges, DedupeKey: ch.DedupeKey(), Payload: payload, EnqueuedAt: now.UTC()}, nil
}

// maxSummaryLines bounds the links listed in a catch-up summary.
const maxSummaryLines = 15

// summarize tells a user, in one DM, about older messages they missed. Messages are recorded as summarised
// before the DM is posted, so a crash can lose a summary but never repeat one.
func (p *Processor) summarize(ctx context.Context, u store.User, msgs []graph.Message, now time.Time) error {
	if len(msgs) == 0 {
		return nil
	}
	who, err := p.account(u.MMUserID)
	if err != nil || who.skip != "" {
		return err
	}
	keys := make([]store.MessageKey, 0, len(msgs))
	for _, m := range msgs {
		keys = append(keys, store.MessageKey{ChatID: m.ChatID, MessageID: m.ID})
	}
	fresh, err := p.d.Store.RecordSummarized(ctx, u.MMUserID, keys, now)
	if err != nil || len(fresh) == 0 {
		return err
	}
	include := map[store.MessageKey]bool{}
	for _, k := range fresh {
		include[k] = true
	}
	var list []graph.Message
	for _, m := range msgs {
		if include[store.MessageKey{ChatID: m.ChatID, MessageID: m.ID}] {
			list = append(list, m)
		}
	}
	channelID, err := p.directChannel(u.MMUserID)
	if err != nil {
		return err
	}
	post := &model.Post{
		UserId: p.o.BotUserID, ChannelId: channelID, Message: summaryText(list),
		Props: model.StringInterface{PropFromBot: "true", format.PropRemoveLinkPreview: "true"},
	}
	if _, appErr := p.d.Mattermost.CreatePost(post); appErr != nil {
		return errors.Wrap(appErr, "post catch-up summary")
	}
	p.d.Metrics.Updated("summarized")
	return nil
}

func summaryText(msgs []graph.Message) string {
	sort.SliceStable(msgs, func(i, j int) bool { return msgs[i].CreatedAt.Before(msgs[j].CreatedAt) })
	var senders []string
	seen := map[string]bool{}
	for _, m := range msgs {
		name := firstNonEmpty(m.From.DisplayName, "someone")
		if !seen[name] {
			seen[name] = true
			senders = append(senders, "**"+inlineText(name)+"**")
		}
	}
	from := senders[0]
	switch {
	case len(senders) == 2:
		from = senders[0] + " and " + senders[1]
	case len(senders) > 2 && len(senders) <= 4:
		from = strings.Join(senders[:len(senders)-1], ", ") + " and " + senders[len(senders)-1]
	case len(senders) > 4:
		from = strings.Join(senders[:3], ", ") + fmt.Sprintf(" and %d others", len(senders)-3)
	}
	noun := "message"
	if len(msgs) != 1 {
		noun = "messages"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d older Teams %s from %s arrived while Mattermost was not receiving notifications:\n", len(msgs), noun, from)
	for i, m := range msgs {
		if i == maxSummaryLines {
			fmt.Fprintf(&b, "- …and %d more\n", len(msgs)-maxSummaryLines)
			break
		}
		fmt.Fprintf(&b, "- **%s**, %s UTC · [Open in Teams](%s)\n", inlineText(firstNonEmpty(m.From.DisplayName, "someone")),
			m.CreatedAt.UTC().Format("Jan 2 15:04"), markdownURL(teamsLink(m)))
	}
	return strings.TrimRight(b.String(), "\n")
}
