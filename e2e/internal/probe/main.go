// Command metricsprobe is a minimal plugin whose ServeMetrics hook answers with a fixed Prometheus text line. The
// metrics test installs it to learn whether a server routes /plugins/<id>/metrics on its metrics listener to the
// plugin without a license.
package main

import (
	"net/http"

	"github.com/mattermost/mattermost/server/public/plugin"
)

type probe struct {
	plugin.MattermostPlugin
}

// ServeMetrics answers every metrics request with one gauge, so the test can tell the plugin's answer apart from
// the server's 404s.
func (p *probe) ServeMetrics(_ *plugin.Context, w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte("metricsprobe_up 1\n"))
}

func main() {
	plugin.ClientMain(&probe{})
}
