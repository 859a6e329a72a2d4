package main

import (
	"net/http"

	"github.com/mattermost/mattermost/server/public/plugin"
)

// Plugin wires the packages together and implements the Mattermost plugin hooks.
type Plugin struct {
	plugin.MattermostPlugin
}

// ServeHTTP serves the plugin's routes under /plugins/com.mattermost.msteams-sync.
func (p *Plugin) ServeHTTP(_ *plugin.Context, w http.ResponseWriter, r *http.Request) {
	http.NotFound(w, r)
}
