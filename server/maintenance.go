package main

import (
	"context"
	"fmt"
	"time"

	"github.com/teamsnotify/msteams-sync/server/delivery"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// Housekeeping that every node may run: each step is an idempotent delete, so nodes need not coordinate.
const (
	maintenanceInterval = time.Hour
	attachmentRetention = 30 * 24 * time.Hour
	// postsRetention must stay above delivery's catch-up reach (7 days), or a catch-up could deliver again;
	// delivery also never sends an update of a message older than this as a new DM.
	postsRetention = delivery.PostsRetention
	// chatMembersRetention: far beyond delivery's member cache lifetime (10 minutes), so a removed record can
	// only cost a node one extra read of the chat's members.
	chatMembersRetention = 24 * time.Hour
	// replyThreadRetention: a chat the user has not answered from Mattermost for this long starts new threads.
	replyThreadRetention = 30 * 24 * time.Hour
	// sentReplyRetention keeps the records of replies sent to Teams well past the last retry of their jobs.
	sentReplyRetention = 7 * 24 * time.Hour
)

func (p *Plugin) startMaintenance() {
	p.runBackground(func(ctx context.Context) {
		t := time.NewTicker(maintenanceInterval)
		defer t.Stop()
		for {
			p.maintain(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

func (p *Plugin) maintain(ctx context.Context) {
	now := time.Now()
	if _, err := p.store.PurgeExpiredOAuthStates(ctx, now); err != nil && ctx.Err() == nil {
		p.API.LogWarn("Could not remove expired sign-in states; will retry in an hour.", "error", err.Error())
	}
	// Attachment records hold file names and snippet text; they are only needed while retries can happen.
	if _, err := p.store.DeleteAttachmentsBefore(ctx, now.Add(-attachmentRetention)); err != nil && ctx.Err() == nil {
		p.API.LogWarn("Could not remove old attachment records; will retry in an hour.", "error", err.Error())
	}
	if _, err := p.store.DeletePostsBefore(ctx, now.Add(-postsRetention)); err != nil && ctx.Err() == nil {
		p.API.LogWarn("Could not remove old delivered-message records; will retry in an hour.", "error", err.Error())
	}
	if _, err := p.store.DeleteChatMembersBefore(ctx, now.Add(-chatMembersRetention)); err != nil && ctx.Err() == nil {
		p.API.LogWarn("Could not remove old chat membership records; will retry in an hour.", "error", err.Error())
	}
	if _, err := p.store.DeleteReplyThreadsBefore(ctx, now.Add(-replyThreadRetention)); err != nil && ctx.Err() == nil {
		p.API.LogWarn("Could not remove old reply threads; will retry in an hour.", "error", err.Error())
	}
	// A reply's record only matters while its job may still run (an hour at most, Options.MaxAge).
	if _, err := p.store.DeleteSentRepliesBefore(ctx, now.Add(-sentReplyRetention)); err != nil && ctx.Err() == nil {
		p.API.LogWarn("Could not remove old records of replies sent to Teams; will retry in an hour.", "error", err.Error())
	}
	expired, err := p.store.DeleteParkedInboxBefore(ctx, now.Add(-store.ParkedInboxRetention))
	if err != nil && ctx.Err() == nil {
		p.API.LogWarn("Could not remove expired parked notifications; will retry in an hour.", "error", err.Error())
	}
	for queue, n := range expired {
		p.metrics.ParkedExpired(queue, n)
		p.API.LogWarn(fmt.Sprintf("%d parked notifications expired without delivery.", n), "queue", queue, "parked_for_over", store.ParkedInboxRetention.String())
	}
}
