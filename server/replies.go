package main

import (
	"context"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/connect"
	"github.com/teamsnotify/msteams-sync/server/diagnostics"
	"github.com/teamsnotify/msteams-sync/server/reply"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// replyTimeout bounds the handling of one reply or reaction, Graph's throttling waits included; acceptTimeout
// the hook's check and queueing of a reply.
const (
	replyTimeout  = 2 * time.Minute
	acceptTimeout = 10 * time.Second
)

// Users whose sign-in predates ChatMessage.Send are asked to sign in again shortly after a start (an admin who
// added the permission usually restarts or reconfigures the plugin) and then daily; each user at most once.
const (
	consentAskDelay = time.Minute
	consentAskEvery = 24 * time.Hour
)

// setUpReplies wires package reply: replies and reactions in the bot DMs go back to Teams as the user.
func (p *Plugin) setUpReplies() error {
	svc, err := reply.New(reply.Deps{
		Mattermost: p.API,
		Store:      p.store,
		// Through the pipeline's runner once it runs, so a reply wakes this node's reply workers at once.
		Queue: enqueuerFunc(func(ctx context.Context, items []store.InboxItem) error {
			if pl := p.pipeline; pl != nil && pl.runner != nil {
				return pl.runner.EnqueueInbox(ctx, items)
			}
			return p.store.EnqueueInbox(ctx, items)
		}),
		Users:  reply.ConnectUsers{Service: p.connect, Factory: func() connect.GraphFactory { return p.graphFactory() }},
		App:    func() reply.AppGraph { return p.graphFactory().App() },
		Logger: p.log,
	}, reply.Options{
		BotUserID:  p.botID,
		ConnectURL: func() string { return p.pluginURL() + "/connect?renew=1" },
	})
	if err != nil {
		return errors.Wrap(err, "set up replies to Teams")
	}
	p.replies = svc
	p.runBackground(func(ctx context.Context) {
		wait := consentAskDelay
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = consentAskEvery
			n, err := svc.AskToSignInAgain(ctx)
			if err != nil {
				p.API.LogWarn("Could not ask users to sign in again for replies to Teams; will try again.", "error", err.Error())
				continue
			}
			if n > 0 {
				p.API.LogInfo("Asked users whose Microsoft sign-in predates the ChatMessage.Send permission to sign in again.", "users", n)
			}
		}
	})
	return nil
}

// repliesStatus is the admin status' view of replies.
func (p *Plugin) repliesStatus(ctx context.Context) (diagnostics.RepliesInfo, error) {
	st, err := p.replies.Status(ctx)
	return diagnostics.RepliesInfo{RegistrationKnown: st.RegistrationKnown, RegistrationAllows: st.RegistrationAllows,
		Connected: st.Connected, CanReply: st.CanReply, Unknown: st.Unknown}, err
}

// MessageHasBeenPosted queues a reply written in a bot DM thread for Teams (queue "replies", sent by the inbox
// workers, so a plugin stop loses nothing). It sees every post of the server, so it returns at once for anything
// that cannot be a reply; the server runs the hook apart from the post's own request.
func (p *Plugin) MessageHasBeenPosted(_ *plugin.Context, post *model.Post) {
	if p.replies == nil || !p.replies.Relevant(post) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), acceptTimeout)
	defer cancel()
	p.replies.Accept(ctx, post)
}

// ReactionHasBeenAdded sets the user's reaction on the Teams message of a bot DM.
func (p *Plugin) ReactionHasBeenAdded(_ *plugin.Context, r *model.Reaction) {
	p.reactionChanged(r, true)
}

// ReactionHasBeenRemoved unsets it.
func (p *Plugin) ReactionHasBeenRemoved(_ *plugin.Context, r *model.Reaction) {
	p.reactionChanged(r, false)
}

func (p *Plugin) reactionChanged(r *model.Reaction, added bool) {
	if p.replies == nil || r == nil || r.UserId == p.botID {
		return
	}
	p.runBackground(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, replyTimeout)
		defer cancel()
		p.replies.ReactionChanged(ctx, r, added)
	})
}
