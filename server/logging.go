package main

import (
	"strings"
	"sync/atomic"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin"
)

// serverLogger is the plugin's logger: the plugin API's, except that debug messages are dropped in the plugin
// process when the server would discard them anyway. Every log call is an RPC to the server, and delivery logs
// one debug line per message: on a server that logs INFO and above (Mattermost's defaults keep DEBUG on the
// console only), that was a round trip per message for nothing.
type serverLogger struct {
	api   plugin.API
	debug atomic.Bool
}

func newServerLogger(api plugin.API) *serverLogger {
	l := &serverLogger{api: api}
	l.debug.Store(true)
	return l
}

// follow reads the server's log levels; call it on activation and whenever the configuration changes.
func (l *serverLogger) follow(cfg *model.Config) {
	l.debug.Store(logsDebug(cfg))
}

// logsDebug tells whether any of the server's log targets keeps debug lines. An advanced logging
// configuration cannot be judged here, so it keeps them.
func logsDebug(cfg *model.Config) bool {
	if cfg == nil {
		return true
	}
	ls := cfg.LogSettings
	isDebug := func(level *string) bool {
		return level != nil && (strings.EqualFold(*level, "debug") || strings.EqualFold(*level, "trace"))
	}
	switch advanced := strings.TrimSpace(string(ls.AdvancedLoggingJSON)); {
	case advanced != "" && advanced != "{}" && advanced != "null" && advanced != `""`:
		return true
	case ls.EnableConsole != nil && *ls.EnableConsole && isDebug(ls.ConsoleLevel):
		return true
	case ls.EnableFile != nil && *ls.EnableFile && isDebug(ls.FileLevel):
		return true
	}
	return false
}

func (l *serverLogger) LogDebug(msg string, keyValuePairs ...any) {
	if l.debug.Load() {
		l.api.LogDebug(msg, keyValuePairs...)
	}
}
func (l *serverLogger) LogInfo(msg string, keyValuePairs ...any) {
	l.api.LogInfo(msg, keyValuePairs...)
}
func (l *serverLogger) LogWarn(msg string, keyValuePairs ...any) {
	l.api.LogWarn(msg, keyValuePairs...)
}
func (l *serverLogger) LogError(msg string, keyValuePairs ...any) {
	l.api.LogError(msg, keyValuePairs...)
}
