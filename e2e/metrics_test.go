package e2e

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

// TestMetricsEndpointCountsTheNotificationPath scrapes the plugin's Prometheus endpoint on the server's metrics
// listener, as ops would, after a Teams message reached a DM: intake, delivery and Graph calls have moved, and
// the subscription and connected-user gauges read from the database.
func TestMetricsEndpointCountsTheNotificationPath(t *testing.T) {
	w := newWorld(t, newestVersion())
	w.connect(t, w.alice)
	w.Teams.Send(t, w.oneOnOne, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: "<p>metrics check</p>"})
	w.waitForPost(t, w.alice.MM, "metrics check")

	status, body := w.PluginMetrics()
	require.Equal(t, 200, status, body)
	for _, want := range []struct {
		series  string
		atLeast float64
	}{
		{`msteams_notify_webhook_items_accepted_total{endpoint="changes"}`, 1},
		{`msteams_notify_delivery_dms_total`, 1},
		{`msteams_notify_connected_users`, 1},
	} {
		v, ok := sample(body, want.series)
		require.True(t, ok, "the scrape has %s:\n%s", want.series, body)
		require.GreaterOrEqual(t, v, want.atLeast, want.series)
	}
	require.Regexp(t, `msteams_notify_graph_requests_total\{[^}]*\}`, body, "Graph calls are counted")
	require.NotContains(t, body, w.alice.Teams.ID, "no user ids in labels")
}

// sample reads the value of one series (name with its exact label set, or a bare name) from a text scrape.
func sample(body, series string) (float64, bool) {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+-]+)$`).FindStringSubmatch(body)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}
