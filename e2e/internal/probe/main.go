// Command probe is a minimal plugin that reports what the server gives plugins, so that the server contract
// tests can pin down behaviour the msteams plugin relies on: its ServeMetrics hook answers a fixed Prometheus
// line, and GET /plugins/e2e.probe/config answers the settings as GetPluginConfig and LoadPluginConfiguration
// return them.
package main

import (
	"encoding/json"
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
	_, _ = w.Write([]byte("probe_up 1\n"))
}

// ServeHTTP answers /config with both views of the plugin's settings.
func (p *probe) ServeHTTP(_ *plugin.Context, w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/config" {
		http.NotFound(w, r)
		return
	}
	loaded := map[string]any{}
	if err := p.API.LoadPluginConfiguration(&loaded); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"GetPluginConfig":         p.API.GetPluginConfig(),
		"LoadPluginConfiguration": loaded,
	})
}

func main() {
	plugin.ClientMain(&probe{})
}
