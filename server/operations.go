package main

import (
	"context"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/diagnostics"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/metrics"
	"github.com/teamsnotify/msteams-sync/server/subscription"
)

// setUpOperations registers what ops and admins look at: the store-backed gauges of the metrics endpoint,
// `/msteams admin status|retry-parked`, and the support packet diagnostics.
func (p *Plugin) setUpOperations() error {
	secretExpiry := func(ctx context.Context) (time.Time, error) {
		return p.graphFactory().App().GetApplicationSecretExpiry(ctx)
	}
	col, err := p.metrics.NewCollector(metrics.CollectorOptions{
		Stats:        p.store,
		Subscription: subscription.StateName,
		Queues:       []string{inbox.QueueChanges, inbox.QueueAttachments, inbox.QueueChannelChanges, inbox.QueueReplies},
		Limits: func() metrics.Limits {
			c := p.settings()
			return metrics.Limits{ConnectedUsersAllowed: c.ConnectedUsersAllowed, MaxPendingInvites: c.ConnectedUsersMaxPendingInvites}
		},
		SecretExpiry: secretExpiry,
	})
	if err != nil {
		return errors.Wrap(err, "set up the metrics collector")
	}

	pl := p.pipeline
	p.diag, err = diagnostics.New(diagnostics.Deps{
		Store:         p.store,
		Subscriptions: pl.subs,
		// Reported only while the ChannelNotifications setting is on.
		ChannelSubscriptions: pl.chsubs,
		Settings:             p.settings,
		AppToken: func(ctx context.Context) (string, error) {
			return diagnostics.AppTokenFunc(p.graphFactory(), p.settings())(ctx)
		},
		SecretExpiry:   secretExpiry,
		UnverifiedRich: pl.changes.UnverifiedRich,
		AfterRequeue: func(string) {
			pl.runner.Wake(inbox.QueueChanges)
			pl.runner.Wake(inbox.QueueAttachments)
			pl.runner.Wake(inbox.QueueChannelChanges)
			pl.runner.Wake(inbox.QueueReplies)
			col.Invalidate()
		},
		Version:        version,
		OfficialImport: p.officialImport.get,
		Replies:        p.repliesStatus,
	})
	if err != nil {
		return errors.Wrap(err, "set up the admin diagnostics")
	}
	p.commands.Register(p.diag.AdminSubcommand(func(userID string) bool {
		return p.API.HasPermissionTo(userID, model.PermissionManageSystem)
	}))
	return nil
}
