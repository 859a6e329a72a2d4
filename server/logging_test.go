package main

import (
	"encoding/json"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
)

func TestDebugLinesCrossToTheServerOnlyWhenItKeepsThem(t *testing.T) {
	config := func(edit func(*model.LogSettings)) *model.Config {
		c := &model.Config{}
		c.SetDefaults()
		edit(&c.LogSettings)
		return c
	}
	for _, tc := range []struct {
		name string
		cfg  *model.Config
		want bool
	}{
		{"defaults: the console keeps DEBUG", config(func(*model.LogSettings) {}), true},
		{"console at ERROR, file at INFO", config(func(l *model.LogSettings) { *l.ConsoleLevel = "ERROR" }), false},
		{"console off, file at INFO", config(func(l *model.LogSettings) { *l.EnableConsole = false }), false},
		{"file at DEBUG", config(func(l *model.LogSettings) { *l.ConsoleLevel = "ERROR"; *l.FileLevel = "DEBUG" }), true},
		{"file at DEBUG but off", config(func(l *model.LogSettings) { *l.ConsoleLevel = "ERROR"; *l.FileLevel = "DEBUG"; *l.EnableFile = false }), false},
		{"advanced logging, which cannot be judged", config(func(l *model.LogSettings) {
			l.AdvancedLoggingJSON = json.RawMessage(`{"file":{"Type":"file"}}`)
		}), true},
		{"empty advanced logging", config(func(l *model.LogSettings) {
			*l.ConsoleLevel = "ERROR"
			l.AdvancedLoggingJSON = json.RawMessage(`{}`)
		}), false},
		{"no configuration", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, logsDebug(tc.cfg))
		})
	}
}
