package main

import (
	"context"
	"net/http"

	"github.com/teamsnotify/msteams-sync/server/config"
)

// pipeline owns the notification path: webhook intake → inbox → delivery workers, and the Graph subscription.
type pipeline struct {
	p *Plugin
}

func (p *Plugin) newPipeline(_ config.Configuration) (*pipeline, error) {
	return &pipeline{p: p}, nil
}

func (pl *pipeline) routes(_ *http.ServeMux)                                          {}
func (pl *pipeline) start(_ context.Context)                                          {}
func (pl *pipeline) stop()                                                            {}
func (pl *pipeline) configurationChanged(_, _ config.Configuration, _ config.Changes) {}
