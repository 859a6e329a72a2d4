package connect

import (
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"
)

// Preference names shared with the official plugin, so existing users keep their choice.
const (
	PreferenceCategory      = "pp_" + PluginID
	PreferenceNotifications = "notifications"
	PreferenceOn            = "on"
	PreferenceOff           = "off"
)

// EventConnectionChanged is published as custom_<plugin id>_connection_changed with {connected: bool}.
const EventConnectionChanged = "connection_changed"

// Users reads Mattermost users.
type Users interface {
	GetUser(userID string) (*model.User, error)
}

// Preferences stores the notifications preference.
type Preferences interface {
	// GetPreference returns the value, or found=false if the user never set it.
	GetPreference(userID, category, name string) (value string, found bool, err error)
	SetPreference(userID, category, name, value string) error
}

// Bot sends direct messages from the plugin's bot.
type Bot interface {
	DM(userID, message string) error
}

// Events publishes websocket events to one user.
type Events interface {
	PublishToUser(userID, event string, payload map[string]any)
}

// Mattermost is the part of the Mattermost server the Service uses.
type Mattermost interface {
	Users
	Preferences
	Bot
	Events
}

// SetNotifications writes the user's notifications preference.
func SetNotifications(p Preferences, userID string, enabled bool) error {
	v := PreferenceOff
	if enabled {
		v = PreferenceOn
	}
	return errors.Wrap(p.SetPreference(userID, PreferenceCategory, PreferenceNotifications, v), "save notifications preference")
}
