// Package channelcatchup queues the Teams channel messages that may have been missed while the channel message
// subscription was down (issue 17): for each team it lists the channel messages and replies changed since the
// gap (GET /teams/{id}/channels/getAllMessages) and enqueues them as inbox.ChannelChange with Source catchup and
// the message itself, so the consumer needs no fetch. Duplicates of what the webhook already stored collapse on
// the dedupe key while waiting, and delivery is idempotent.
package channelcatchup

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/delivery"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// DefaultMaxPages bounds one team's listing (50 messages a page).
const DefaultMaxPages = 40

// Graph lists a team's channel messages; *graph.Client implements it.
type Graph interface {
	ChannelMessagesSince(ctx context.Context, teamID string, since time.Time, maxPages int) ([]graph.Message, bool, error)
}

// Logger is the part of the plugin logger used. It never logs message content.
type Logger interface {
	LogInfo(msg string, keyValuePairs ...any)
	LogWarn(msg string, keyValuePairs ...any)
}

// Deps are the catch-up's collaborators.
type Deps struct {
	// Graph returns the current app-only client, or nil while Graph is not configured.
	Graph func() Graph
	// Teams returns the ids of the teams to catch up on.
	Teams    func(ctx context.Context) ([]string, error)
	Enqueuer inbox.Enqueuer
	Logger   Logger
	Now      func() time.Time // time.Now when nil
	MaxPages int              // DefaultMaxPages when zero
}

// Result says what one run queued.
type Result struct {
	Teams, Queued int
	// Truncated lists the teams whose listing stopped at MaxPages.
	Truncated []string
}

// Run queues every channel message and reply of the teams changed after since. A team that fails is skipped
// and named in the returned error; the others are still queued (running again is harmless).
func Run(ctx context.Context, d Deps, since time.Time) (Result, error) {
	var res Result
	if d.Graph == nil || d.Teams == nil || d.Enqueuer == nil {
		return res, errors.New("channel catch-up: graph, teams and enqueuer are required")
	}
	g := d.Graph()
	if g == nil {
		return res, errors.New("channel catch-up: Microsoft Graph is not configured")
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	maxPages := d.MaxPages
	if maxPages <= 0 {
		maxPages = DefaultMaxPages
	}
	teams, err := d.Teams(ctx)
	if err != nil {
		return res, errors.Wrap(err, "channel catch-up: list teams")
	}
	var failed []string
	var firstErr error
	for _, teamID := range teams {
		msgs, more, err := g.ChannelMessagesSince(ctx, teamID, since, maxPages)
		if err != nil {
			if graph.IsForbidden(err) {
				return res, errors.Wrap(err, "channel catch-up: the app lacks ChannelMessage.Read.All")
			}
			failed = append(failed, teamID)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		res.Teams++
		if more {
			res.Truncated = append(res.Truncated, teamID)
		}
		items := make([]store.InboxItem, 0, len(msgs))
		at := now().UTC()
		for _, m := range msgs {
			it, err := Item(m, since, at)
			if err != nil {
				return res, err
			}
			items = append(items, it)
		}
		if len(items) == 0 {
			continue
		}
		if err := d.Enqueuer.EnqueueInbox(ctx, items); err != nil {
			return res, errors.Wrap(err, "channel catch-up: store")
		}
		res.Queued += len(items)
	}
	if d.Logger != nil && len(res.Truncated) > 0 {
		d.Logger.LogWarn("Channel catch-up stopped at its page limit for some teams; older missed channel messages are not delivered",
			"teams", strings.Join(res.Truncated, ","), "max_pages", maxPages)
	}
	if firstErr != nil {
		return res, errors.Wrapf(firstErr, "channel catch-up failed for teams %s", strings.Join(failed, ","))
	}
	return res, nil
}

// Item is the inbox item for a channel message catch-up found: created when it was created after since,
// deleted when Graph marks it deleted, updated otherwise.
func Item(m graph.Message, since, now time.Time) (store.InboxItem, error) {
	changeType := "updated"
	switch {
	case !m.DeletedAt.IsZero():
		changeType = "deleted"
	case m.CreatedAt.After(since):
		changeType = "created"
	}
	raw, err := delivery.EncodeMessage(m)
	if err != nil {
		return store.InboxItem{}, errors.Wrap(err, "encode channel message for catch-up")
	}
	c := inbox.ChannelChange{
		ChangeType: changeType, TeamID: m.TeamID, ChannelID: m.ChannelID, MessageID: m.ID, RootID: m.ReplyToID,
		TenantID: m.From.TenantID, Message: raw, Source: inbox.SourceCatchup, ReceivedAt: now,
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return store.InboxItem{}, errors.Wrap(err, "encode channel change for catch-up")
	}
	return store.InboxItem{Queue: inbox.QueueChannelChanges, DedupeKey: c.DedupeKey(), Payload: payload, EnqueuedAt: now}, nil
}
