// Command dmprobe is a plugin that creates bot DMs as fast as the server takes them, through the same plugin
// API calls the msteams plugin makes. The bench uses it for its baseline: what the Mattermost server (and its
// database) alone can do on the machine, measured in the same run as the plugin.
//
// POST /plugins/e2e.dmprobe/dms {"users": [...], "count": N, "workers": W} creates N DMs, round robin over the
// users, from W goroutines, and answers {"created", "failed", "seconds"}.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin"
)

type dmprobe struct {
	plugin.MattermostPlugin
	botID string
}

func (p *dmprobe) OnActivate() error {
	id, err := p.API.EnsureBotUser(&model.Bot{Username: "dmprobe", DisplayName: "DM probe"})
	if err != nil {
		return err
	}
	p.botID = id
	return nil
}

type request struct {
	Users   []string `json:"users"`
	Count   int      `json:"count"`
	Workers int      `json:"workers"`
}

type response struct {
	Created int64   `json:"created"`
	Failed  int64   `json:"failed"`
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
}

func (p *dmprobe) ServeHTTP(_ *plugin.Context, w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/dms" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Users) == 0 || req.Count <= 0 || req.Workers <= 0 {
		http.Error(w, "body must be {users, count, workers}", http.StatusBadRequest)
		return
	}
	// The msteams plugin remembers its DM channels; so does the probe, outside the timed part.
	channels := make([]string, len(req.Users))
	for i, u := range req.Users {
		ch, appErr := p.API.GetDirectChannel(u, p.botID)
		if appErr != nil {
			writeJSON(w, response{Error: appErr.Error()})
			return
		}
		channels[i] = ch.Id
	}
	var created, failed atomic.Int64
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range req.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				// Text and props shaped like a msteams DM, so the server does the same work per post.
				post := &model.Post{
					UserId: p.botID, ChannelId: channels[i%len(channels)],
					Message: fmt.Sprintf("**Bench User %03d** sent you a message in a Teams chat · [Open in Teams](https://teams.microsoft.com/l/message/19:bench@unq.gbl.spaces/%d?context=%%7B%%22contextType%%22%%3A%%22chat%%22%%7D)\n\nbench message %d from the server baseline", i%240, 1700000000000+i, i),
					Props: model.StringInterface{"msteams_chat_id": "19:bench@unq.gbl.spaces", "msteams_message_id": fmt.Sprint(1700000000000 + i),
						"msteams_sender_id": "00000000-0000-4000-8000-000000000000", "from_bot": "true", "remove_link_preview": "true"},
				}
				if _, appErr := p.API.CreatePost(post); appErr != nil {
					failed.Add(1)
					continue
				}
				created.Add(1)
			}
		}()
	}
	for i := range req.Count {
		next <- i
	}
	close(next)
	wg.Wait()
	writeJSON(w, response{Created: created.Load(), Failed: failed.Load(), Seconds: time.Since(start).Seconds()})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func main() {
	plugin.ClientMain(&dmprobe{})
}
