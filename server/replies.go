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
)

// replyTimeout bounds the handling of one reply or reaction, Graph's throttling waits included.
const replyTimeout = 2 * time.Minute

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
		Users:      reply.ConnectUsers{Service: p.connect, Factory: func() connect.GraphFactory { return p.graphFactory() }},
		App:        func() reply.AppGraph { return p.graphFactory().App() },
		Logger:     p.log,
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

// MessageHasBeenPosted sends a reply written in a bot DM thread to Teams. It sees every post of the server, so
// it returns at once for anything that cannot be a reply; the work runs in the background.
func (p *Plugin) MessageHasBeenPosted(_ *plugin.Context, post *model.Post) {
	if p.replies == nil || !p.replies.Relevant(post) {
		return
	}
	p.runBackground(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, replyTimeout)
		defer cancel()
		p.replies.MessagePosted(ctx, post)
	})
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
