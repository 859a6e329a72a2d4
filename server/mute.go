package main

import (
	"time"

	"github.com/teamsnotify/msteams-sync/server/mute"
)

// setUpMute builds the muting service and registers /msteams mute, unmute, muted and mode. Delivery reads the
// choices from the store itself (pipeline.go), so the service is only for the user's commands and routes.
func (p *Plugin) setUpMute() *mute.Service {
	svc := mute.New(p.store, func() mute.Graph { return p.graphFactory().App() }, time.Now)
	for _, s := range mute.NewCommands(svc, p.API, p.botID).Subcommands() {
		p.commands.Register(s)
	}
	return svc
}
