package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"github.com/teamsnotify/msteams-sync/server/switchover"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/attach"
	"github.com/teamsnotify/msteams-sync/server/backpressure"
	"github.com/teamsnotify/msteams-sync/server/channelcatchup"
	"github.com/teamsnotify/msteams-sync/server/channeldelivery"
	"github.com/teamsnotify/msteams-sync/server/config"
	"github.com/teamsnotify/msteams-sync/server/delivery"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/richnotify"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/subscription"
	"github.com/teamsnotify/msteams-sync/server/webhook"
)

// Worker counts per node. A change job spends most of its time waiting (database commits, the server's
// CreatePost), so throughput follows the jobs in flight until the machine is busy: on the 2-core bench machine
// 8 workers drained 141 DMs/s and 32 drain 195 (docs/performance.md); the backpressure governor lowers the
// number running while intake is slow. Attachments cost the server about 150 ms of preview CPU each, so they get
// few workers (and a rate limit in the attach package) and never hold up text.
const (
	changeWorkers     = 32
	attachmentWorkers = 2
	// channelWorkers consume channel_changes (when a ChannelHandler is set): channel traffic is a fraction of
	// chat traffic, and a mention of a large team fans out inside one job.
	channelWorkers = 8
	// replyWorkers send users' replies to Teams: a person types them, so a few at once is plenty.
	replyWorkers = 4
)

// changeLease is how long a node may hold a change job. A job takes well under a second, or up to a minute
// when Graph throttles it (the client's retry budget); a node that dies leaves its jobs to the others (or to
// itself, restarted) for this long. A job outliving its lease may run twice, which delivery makes harmless.
const changeLease = 90 * time.Second

// Shutdown (see shutdownBudget): jobs are cancelled at once; those that ignore it get jobStopTimeout before
// the runner stops waiting for them, and recording the last delivery times gets flushTimeout.
const (
	jobStopTimeout = 2 * time.Second
	flushTimeout   = 1500 * time.Millisecond
)

// storeMaxConns sizes the plugin's pool: each change worker holds one connection for its message lock, plus
// room for the webhook's inbox inserts, claims, attachments and maintenance, so intake never waits for
// delivery. Connections open only when needed.
const storeMaxConns = changeWorkers + 8

// previousSecretGrace is how long notifications signed with the previous webhook secret are still accepted
// after it changed: the old subscription may deliver a few more items before it is replaced.
const previousSecretGrace = 15 * time.Minute

// pipeline owns the notification path: webhook intake → inbox → delivery workers → bot DMs, the attachment
// path beside it, and the Graph subscription that feeds it.
type pipeline struct {
	p *Plugin

	runner *inbox.Runner
	keys   *subscription.Keys
	subs   *subscription.Manager
	// chsubs keeps the Teams channel message subscription (issue 17) while the ChannelNotifications setting is
	// on, and deletes it when it goes off.
	chsubs *subscription.Manager
	// ChannelHandler consumes queue channel_changes (package channeldelivery); nil = the queue is not consumed.
	ChannelHandler inbox.Handler
	// ChannelTeams lists the teams whose channel messages are caught up after a gap of the channel
	// subscription; nil = gaps are logged, not caught up.
	ChannelTeams func(ctx context.Context) ([]string, error)
	delivery     *delivery.Processor
	attach       *attach.Service
	changes      *webhook.ChangesHandler
	lifecycle    *webhook.LifecycleHandler
	// governor holds delivery back while notification POSTs are slow to answer (a saturated machine).
	governor *backpressure.Governor

	mu            sync.RWMutex
	validator     *richnotify.Validator
	oldSecret     string
	oldSecretTill time.Time
}

func (p *Plugin) newPipeline(cfg config.Configuration) (*pipeline, error) {
	pl := &pipeline{p: p}
	st := p.store
	app := func() *graph.Client { return p.graphFactory().App() }

	if err := pl.rebuildValidator(cfg); err != nil {
		return nil, err
	}

	pl.keys = subscription.NewKeys(st, func() subscription.Sealer { return keyringCipher{p} })

	var err error
	pl.attach, err = attach.New(attach.Deps{
		Store:      st,
		Mattermost: p.metrics.WrapAPI(p.API),
		App:        appGraph{app},
		Users: attach.UserGraphFunc(func(ctx context.Context, mmUserID string, fn func(ctx context.Context, c *graph.Client) error) error {
			return p.connect.CallGraph(ctx, mmUserID, p.graphFactory(), fn)
		}),
		Download: doerFunc(func(r *http.Request) (*http.Response, error) { return p.graphFactory().HTTPClient().Do(r) }),
		Logger:   p.log,
		Metrics:  p.metrics,
	}, attach.Options{BotUserID: p.botID, GraphBaseURL: func() string { return p.graphFactory().Endpoints().GraphBaseURL }})
	if err != nil {
		return nil, errors.Wrap(err, "set up the attachment path")
	}

	pl.delivery, err = delivery.New(delivery.Deps{
		Store:      st,
		Graph:      func() delivery.Graph { return app() },
		Decrypter:  pl.keys,
		Mattermost: p.metrics.WrapAPI(p.API),
		Attacher:   pl.attach,
		Choices:    st,
		// Through the runner, so catch-up work wakes this node's workers at once.
		Enqueuer: enqueuerFunc(func(ctx context.Context, items []store.InboxItem) error {
			return pl.runner.EnqueueInbox(ctx, items)
		}),
		Source: delivery.GraphSource{
			Client:  func() delivery.PageGetter { return app() },
			BaseURL: func() string { return p.graphFactory().Endpoints().GraphBaseURL },
		},
		Settings: func() delivery.Settings {
			cfg := p.settings()
			return delivery.Settings{SyncNotifications: cfg.SyncNotifications, GraphHosts: pl.graphHosts(), TenantID: cfg.TenantID}
		},
		Logger:  p.log,
		Metrics: p.metrics,
		Threads: st,
	}, delivery.Options{BotUserID: p.botID})
	if err != nil {
		return nil, errors.Wrap(err, "set up delivery")
	}

	channels, err := channeldelivery.New(channeldelivery.Deps{
		Store:      st,
		Graph:      func() channeldelivery.Graph { return app() },
		Decrypter:  pl.keys,
		Mattermost: p.metrics.WrapAPI(p.API),
		Recipients: pl.delivery, // shares the account and presence caches (and Forget) with chats
		Attacher:   pl.attach,
		Settings: func() delivery.Settings {
			cfg := p.settings()
			return delivery.Settings{SyncNotifications: cfg.SyncNotifications && cfg.ChannelNotifications, GraphHosts: pl.graphHosts(), TenantID: cfg.TenantID}
		},
		Logger:  p.log,
		Metrics: p.metrics,
	}, channeldelivery.Options{BotUserID: p.botID})
	if err != nil {
		return nil, errors.Wrap(err, "set up channel delivery")
	}
	pl.ChannelHandler = channels
	// After a gap, the teams whose channel messages concerned a connected user within the delivery records'
	// retention are caught up: the plugin has no tenant-wide list of teams, and a team whose messages never
	// concerned anyone here would cost a listing for nothing.
	pl.ChannelTeams = func(ctx context.Context) ([]string, error) {
		return st.ChannelTeamsSince(ctx, time.Now().Add(-delivery.PostsRetention))
	}
	pl.governor = backpressure.New(backpressure.Options{Max: changeWorkers})
	queues := []inbox.QueueOptions{
		{Name: inbox.QueueChanges, Handler: pl.delivery, Workers: changeWorkers, Lease: changeLease, OrderKey: inbox.ChatOrder, Limit: pl.governor.Limit},
		{Name: inbox.QueueAttachments, Handler: pl.attach, Workers: attachmentWorkers},
	}
	if p.replies != nil {
		// A reply's job may wait out Teams' throttling (replyTimeout); the lease outlasts it.
		queues = append(queues, inbox.QueueOptions{Name: inbox.QueueReplies, Workers: replyWorkers, Lease: replyTimeout + time.Minute,
			Handler: inbox.HandlerFunc(func(ctx context.Context, job inbox.Job) error {
				ctx, cancel := context.WithTimeout(ctx, replyTimeout)
				defer cancel()
				return p.replies.Process(ctx, job)
			})})
	}
	if pl.ChannelHandler != nil {
		// ChatOrder keeps one channel's changes in order (ChannelChange.DedupeKey has the chat key's shape).
		queues = append(queues, inbox.QueueOptions{Name: inbox.QueueChannelChanges, Handler: pl.ChannelHandler,
			Workers: channelWorkers, Lease: changeLease, OrderKey: inbox.ChatOrder, Limit: pl.governor.Limit})
	}
	pl.runner, err = inbox.NewRunner(st, inbox.Options{
		Queues:      queues,
		Claimer:     inboxClaimer(),
		StopTimeout: jobStopTimeout,
		Logger:      p.log,
		Metrics:     p.metrics,
	})
	if err != nil {
		return nil, errors.Wrap(err, "set up the inbox workers")
	}

	settings := func() subscription.Settings {
		c := p.settings()
		return subscription.Settings{
			PluginURL:         p.pluginURL(),
			WebhookSecret:     c.WebhookSecret,
			RichNotifications: c.RichNotifications,
			GraphURL:          p.graphFactory().Endpoints().GraphBaseURL,
		}
	}
	channelsOn := func() bool { return p.settings().ChannelNotifications }
	// Both subscriptions share the key, URLs and clientState; only what they watch and how a gap is caught up
	// differ.
	manager := func(target subscription.Target, onGap func(context.Context, time.Time)) (*subscription.Manager, error) {
		return subscription.New(subscription.Deps{Target: target, Store: st, Graph: func() subscription.Graph { return app() },
			Settings: settings, Keys: pl.keys, OnGap: onGap, Logger: p.log, Metrics: p.metrics}, subscription.Options{})
	}
	// With the setting off the chat target behaves as the zero Target: the chat subscription exactly as before.
	if pl.subs, err = manager(subscription.ChatTarget(channelsOn), pl.catchUp); err != nil {
		return nil, errors.Wrap(err, "set up the subscription manager")
	}
	if pl.chsubs, err = manager(subscription.ChannelTarget(channelsOn), pl.channelCatchUp); err != nil {
		return nil, errors.Wrap(err, "set up the channel subscription manager")
	}

	// The sink goes through the runner so that this node's workers wake at once for what it accepts.
	opts := webhook.Options{ClientStates: webhook.ClientStateFunc(pl.clientStateOK), Logger: p.log, Metrics: p.metrics,
		// The official plugin's subscription, when this plugin replaced it, until ours takes over (package switchover).
		Subscriptions: webhook.AnySubscription(pl.subs, &switchover.InheritedSubscriptions{Store: st}, pl.channelSubscriptions()),
		TenantID:      func() string { return p.settings().TenantID },
		// Off: channel notifications are acknowledged, counted and not stored.
		ChannelMessages: channelsOn}
	sink := inbox.NewSink(pl.runner).AcceptChannels(channelsOn).OnAccepted(pl.subs.NotificationReceived)
	pl.changes, err = webhook.NewChangesHandler(sink, validatorFunc(pl.validateTokens), opts)
	if err != nil {
		return nil, errors.Wrap(err, "set up the change notification route")
	}
	pl.lifecycle, err = webhook.NewLifecycleHandler(subscription.LifecycleRouter(pl.subs, pl.chsubs, channelsOn), opts)
	if err != nil {
		return nil, errors.Wrap(err, "set up the lifecycle notification route")
	}
	return pl, nil
}

func (pl *pipeline) routes(mux *http.ServeMux) {
	mux.Handle("/changes", pl.governor.Measure(pl.changes))
	mux.Handle("/lifecycle", pl.lifecycle)
}

func (pl *pipeline) start(ctx context.Context) {
	if err := pl.runner.Start(ctx); err != nil {
		pl.p.API.LogError("Could not start the notification workers; notifications wait in the inbox until the plugin restarts.", "error", err.Error())
	}
	pl.subs.Start(ctx)
	pl.chsubs.Start(ctx)
}

func (pl *pipeline) stop() {
	pl.subs.Stop()
	pl.chsubs.Stop()
	pl.runner.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	if err := pl.delivery.Flush(ctx); err != nil {
		pl.p.API.LogWarn("Could not record the last delivery times at shutdown; a later catch-up may start earlier than needed.", "error", err.Error())
	}
}

// configurationChanged reacts to new settings. The subscription manager compares a fingerprint of what the
// subscription carries (notification URL from the Site URL, secret, rich on/off, cloud) and recreates it when
// that changed, so waking it is enough.
func (pl *pipeline) configurationChanged(prev, next config.Configuration, changes config.Changes) {
	if prev.WebhookSecret != next.WebhookSecret {
		pl.mu.Lock()
		pl.oldSecret, pl.oldSecretTill = prev.WebhookSecret, time.Now().Add(previousSecretGrace)
		pl.mu.Unlock()
	}
	if changes.CredentialsChanged {
		if err := pl.rebuildValidator(next); err != nil {
			pl.p.API.LogError("Could not set up validation of rich notifications with the new settings.", "error", err.Error())
		}
	}
	pl.subs.Wake()
	pl.chsubs.Wake()
}

// graphHosts is the configured cloud's Graph host (with port), from which inline images may be fetched.
func (pl *pipeline) graphHosts() []string {
	u, err := url.Parse(pl.p.graphFactory().Endpoints().GraphBaseURL)
	if err != nil || u.Host == "" {
		return nil
	}
	return []string{u.Host}
}

// clientStateOK accepts the current webhook secret, and the previous one for a short while after a change.
func (pl *pipeline) clientStateOK(_ string, clientState string) bool {
	current := pl.p.settings().WebhookSecret
	pl.mu.RLock()
	old, till := pl.oldSecret, pl.oldSecretTill
	pl.mu.RUnlock()
	if old != "" && time.Now().Before(till) {
		return webhook.MatchesAny(clientState, current, old)
	}
	return webhook.MatchesAny(clientState, current)
}

func (pl *pipeline) rebuildValidator(cfg config.Configuration) error {
	iss, err := cfg.TokenIssuers()
	if err != nil {
		return err
	}
	vc := richnotify.ValidatorConfig{
		ClientID:      cfg.ClientID,
		JWKSURL:       iss.JWKSURL,
		AuthorityHost: iss.V2Prefix,
		V1IssuerHost:  iss.V1Prefix,
		HTTPClient:    pl.p.graphFactory().HTTPClient(),
	}
	v, err := richnotify.NewValidator(vc)
	if err != nil {
		return errors.Wrap(err, "set up validation of rich notifications")
	}
	pl.mu.Lock()
	pl.validator = v
	pl.mu.Unlock()
	return nil
}

func (pl *pipeline) validateTokens(ctx context.Context, tokens, tenantIDs []string) error {
	pl.mu.RLock()
	v := pl.validator
	pl.mu.RUnlock()
	return v.ValidateBatch(ctx, tokens, tenantIDs)
}

// catchUp is the subscription manager's gap callback: it must return quickly, so the listing runs in the
// background and feeds the same inbox as the webhook. A failed listing is tried again with backoff: the gap is
// known only here, and duplicates are harmless because delivery is idempotent.
func (pl *pipeline) catchUp(_ context.Context, since time.Time) {
	pl.p.runBackground(func(ctx context.Context) {
		pl.p.API.LogInfo("Catching up on Teams messages that may have been missed.", "since", since.UTC().Format(time.RFC3339))
		for attempt := 1; ; attempt++ {
			err := pl.delivery.CatchUp(ctx, since)
			if err == nil {
				return
			}
			if attempt == catchUpAttempts {
				pl.p.API.LogError("Catch-up of missed Teams messages failed; users may miss messages sent while notifications were interrupted.", "attempts", attempt, "error", err.Error())
				return
			}
			wait := inbox.Backoff(30*time.Second, 10*time.Minute, attempt, 0.2)
			pl.p.API.LogWarn("Catch-up of missed Teams messages failed; trying again.", "attempt", attempt, "retry_in", wait.String(), "error", err.Error())
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	})
}

const catchUpAttempts = 6

type validatorFunc func(ctx context.Context, tokens, tenantIDs []string) error

func (f validatorFunc) ValidateBatch(ctx context.Context, tokens, tenantIDs []string) error {
	return f(ctx, tokens, tenantIDs)
}

type enqueuerFunc func(ctx context.Context, items []store.InboxItem) error

func (f enqueuerFunc) EnqueueInbox(ctx context.Context, items []store.InboxItem) error {
	return f(ctx, items)
}

type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// appGraph follows credential changes: each call uses the app-only client current at that moment.
type appGraph struct{ app func() *graph.Client }

func (a appGraph) GetHostedContent(ctx context.Context, chatID, messageID, hostedContentID string, maxBytes int64) (graph.HostedContent, error) {
	return a.app().GetHostedContent(ctx, chatID, messageID, hostedContentID, maxBytes)
}

func (a appGraph) GetChannelHostedContent(ctx context.Context, teamID, channelID, rootID, messageID, hostedContentID string, maxBytes int64) (graph.HostedContent, error) {
	return a.app().GetChannelHostedContent(ctx, teamID, channelID, rootID, messageID, hostedContentID, maxBytes)
}

// inboxClaimer names this node by its host name, which survives a plugin restart (kill -9, then the server
// starting the plugin again) and differs between the nodes of a cluster, and this process by a random id, so a
// restarted plugin takes back its own leased jobs at once. Without a host name, jobs wait out their lease.
func inboxClaimer() store.InboxClaimer {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return store.InboxClaimer{}
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return store.InboxClaimer{Node: host, Instance: hex.EncodeToString(b[:])}
}

// channelSubscriptions accepts the channel subscription's id while Teams channel notifications are on; off, it
// accepts nothing (and reads nothing), so plain items are checked exactly as before.
func (pl *pipeline) channelSubscriptions() webhook.SubscriptionChecker {
	return webhook.SubscriptionFunc(func(ctx context.Context, id string) bool {
		return pl.p.settings().ChannelNotifications && pl.chsubs.OwnsSubscription(ctx, id)
	})
}

// channelCatchUp is the channel subscription manager's gap callback: like catchUp it returns at once and lists
// in the background, with the same retries, the teams ChannelTeams names; while it is nil the gap is only
// logged, so the admin knows channel messages of that period may be missed.
func (pl *pipeline) channelCatchUp(_ context.Context, since time.Time) {
	if pl.ChannelTeams == nil {
		pl.p.API.LogWarn("Teams channel notifications may have been missed; channel messages are not caught up yet.",
			"since", since.UTC().Format(time.RFC3339))
		return
	}
	deps := channelcatchup.Deps{
		Graph: func() channelcatchup.Graph {
			if c := pl.p.graphFactory().App(); c != nil {
				return c
			}
			return nil
		},
		Teams: pl.ChannelTeams,
		// Through the runner, so this node's workers wake at once.
		Enqueuer: enqueuerFunc(func(ctx context.Context, items []store.InboxItem) error { return pl.runner.EnqueueInbox(ctx, items) }),
		Logger:   pl.p.log,
	}
	pl.p.runBackground(func(ctx context.Context) {
		pl.p.API.LogInfo("Catching up on Teams channel messages that may have been missed.", "since", since.UTC().Format(time.RFC3339))
		for attempt := 1; ; attempt++ {
			res, err := channelcatchup.Run(ctx, deps, since)
			if err == nil {
				pl.p.API.LogInfo("Caught up on Teams channel messages.", "teams", res.Teams, "queued", res.Queued)
				return
			}
			if attempt == catchUpAttempts {
				pl.p.API.LogError("Catch-up of missed Teams channel messages failed; users may miss channel messages sent while notifications were interrupted.", "attempts", attempt, "error", err.Error())
				return
			}
			wait := inbox.Backoff(30*time.Second, 10*time.Minute, attempt, 0.2)
			pl.p.API.LogWarn("Catch-up of missed Teams channel messages failed; trying again.", "attempt", attempt, "retry_in", wait.String(), "error", err.Error())
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	})
}
