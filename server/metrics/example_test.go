package metrics_test

import (
	"context"
	"net/http"
	"time"

	"github.com/mattermost/mattermost/server/public/plugin"

	"github.com/teamsnotify/msteams-sync/server/config"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/metrics"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/subscription"
)

// Example shows how the plugin wires the package (compiled, not run).
func Example() {
	var (
		api plugin.API
		cfg config.Configuration
		st  *store.Store
	)
	m := metrics.New("1.0.0")

	// Graph and identity-platform calls: wrap the transport under the SDK middleware.
	base, _ := graph.NewTransport(cfg.CustomCACertificate)
	factory, _ := graph.NewFactory(cfg, graph.Options{Transport: m.GraphTransport(base)})

	// Gauges read from the database on scrape, and the client secret's expiry in the background.
	_, _ = m.NewCollector(metrics.CollectorOptions{
		Stats:        st,
		Subscription: subscription.StateName,
		Queues:       []string{inbox.QueueChanges, inbox.QueueAttachments},
		Limits: func() metrics.Limits {
			return metrics.Limits{ConnectedUsersAllowed: cfg.ConnectedUsersAllowed, MaxPendingInvites: cfg.ConnectedUsersMaxPendingInvites}
		},
		SecretExpiry: func(ctx context.Context) (time.Time, error) { return factory.App().GetApplicationSecretExpiry(ctx) },
	})

	// Observers: webhook.Options.Metrics, inbox.Options.Metrics, delivery.Deps.Metrics, attach.Deps.Metrics.
	_ = inbox.Options{Metrics: m}
	// Plugin API calls of delivery and attach: delivery.Deps.Mattermost / attach.Deps.Mattermost.
	_ = m.WrapAPI(api)

	// The ServeMetrics hook.
	var w http.ResponseWriter
	var r *http.Request
	m.Handler().ServeHTTP(w, r)
}
