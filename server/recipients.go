package main

import (
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin"

	"github.com/teamsnotify/msteams-sync/server/connect"
)

// Delivery keeps each recipient's account state and notifications preference for a few seconds rather than
// asking the server for every message. These hooks tell it at once when either changes on this node; changes
// made on another node reach it when its short cache entry expires.

// PreferencesHaveChanged runs after any preference of a user changed, whoever changed it (the webapp, a
// client, this plugin).
func (p *Plugin) PreferencesHaveChanged(_ *plugin.Context, prefs []model.Preference) {
	forgetNotificationPreferences(prefs, p.forgetRecipient)
}

// forgetNotificationPreferences calls forget for the users whose plugin preferences are among prefs; other
// preferences (theme, display settings...) change nothing delivery remembers.
func forgetNotificationPreferences(prefs []model.Preference, forget func(mmUserID string)) {
	for _, pref := range prefs {
		if pref.Category == connect.PreferenceCategory {
			forget(pref.UserId)
		}
	}
}

// UserHasBeenDeactivated: a deactivated user gets no more DMs.
func (p *Plugin) UserHasBeenDeactivated(_ *plugin.Context, user *model.User) {
	if user != nil {
		p.forgetRecipient(user.Id)
	}
}

// forgetRecipient may run before OnActivate has built the pipeline, or after a refused activation.
func (p *Plugin) forgetRecipient(mmUserID string) {
	if pl := p.pipeline; pl != nil && pl.delivery != nil {
		pl.delivery.Forget(mmUserID)
	}
}

// preferenceWatch is connect's Mattermost adapter, telling delivery when the plugin itself changes a user's
// notifications preference: the preferences hook comes asynchronously, and `/msteams notifications off`
// must hold for the very next message.
type preferenceWatch struct {
	*connect.PluginAdapter
	changed func(mmUserID string)
}

// SetPreference forgets after writing: a message read in between would otherwise cache the old value again.
func (w preferenceWatch) SetPreference(userID, category, name, value string) error {
	err := w.PluginAdapter.SetPreference(userID, category, name, value)
	w.changed(userID)
	return err
}
