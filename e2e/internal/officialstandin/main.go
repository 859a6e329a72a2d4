// Command officialstandin stands in for the official MS Teams plugin in the switch-over test: it has the same
// plugin id and answers Microsoft Graph's validation handshake on /changes and /lifecycle, so that a subscription
// can be created exactly as the official plugin's was (its URL, its secret as clientState). Notifications it
// receives are accepted and dropped, as an official plugin that stopped delivering would lose them; the real plugin
// replaces it by being uploaded over it.
package main

import (
	"net/http"

	"github.com/mattermost/mattermost/server/public/plugin"
)

type standin struct {
	plugin.MattermostPlugin
}

func (p *standin) ServeHTTP(_ *plugin.Context, w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/changes" && r.URL.Path != "/lifecycle" {
		http.NotFound(w, r)
		return
	}
	if token := r.URL.Query().Get("validationToken"); token != "" {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(token))
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func main() {
	plugin.ClientMain(&standin{})
}
