package main

import (
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"

	"github.com/teamsnotify/msteams-sync/server/connect"
)

func TestOnlyThePluginsPreferencesMakeDeliveryForgetAUser(t *testing.T) {
	pref := func(user, category string) model.Preference {
		return model.Preference{UserId: user, Category: category, Name: "notifications", Value: "on"}
	}
	for _, tc := range []struct {
		name  string
		prefs []model.Preference
		want  []string
	}{
		{"the notifications preference", []model.Preference{pref("u1", connect.PreferenceCategory)}, []string{"u1"}},
		{"display settings", []model.Preference{pref("u1", model.PreferenceCategoryDisplaySettings)}, nil},
		{"a mixed batch of several users", []model.Preference{
			pref("u1", model.PreferenceCategoryTheme), pref("u2", connect.PreferenceCategory), pref("u3", connect.PreferenceCategory),
		}, []string{"u2", "u3"}},
		{"nothing", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var forgot []string
			forgetNotificationPreferences(tc.prefs, func(id string) { forgot = append(forgot, id) })
			assert.Equal(t, tc.want, forgot)
		})
	}
}

func TestHooksBeforeActivationAreHarmless(t *testing.T) {
	p := &Plugin{}
	assert.NotPanics(t, func() {
		p.PreferencesHaveChanged(nil, []model.Preference{{UserId: "u1", Category: connect.PreferenceCategory}})
		p.UserHasBeenDeactivated(nil, &model.User{Id: "u1"})
		p.UserHasBeenDeactivated(nil, nil)
	})
}

// preferenceServer stands in for the server's preference store: the plugin API calls the adapter makes.
type preferenceServer struct {
	connect.PluginAPI // other calls are not made by SetPreference
	value             string
	fail              bool
}

func (s *preferenceServer) UpdatePreferencesForUser(_ string, prefs []model.Preference) *model.AppError {
	if s.fail {
		return model.NewAppError("UpdatePreferencesForUser", "store.sql_preference.save.app_error", nil, "", 500)
	}
	s.value = prefs[0].Value
	return nil
}

func TestThePluginsOwnPreferenceWriteIsForgottenAfterItLands(t *testing.T) {
	server := &preferenceServer{value: "on"}
	var seenAtForget []string
	w := preferenceWatch{
		PluginAdapter: &connect.PluginAdapter{API: server},
		changed:       func(id string) { seenAtForget = append(seenAtForget, id+"="+server.value) },
	}
	assert.NoError(t, w.SetPreference("u1", connect.PreferenceCategory, "notifications", "off"))
	assert.Equal(t, []string{"u1=off"}, seenAtForget, "forgotten once, after the server holds the new value")

	server.fail = true
	assert.Error(t, w.SetPreference("u1", connect.PreferenceCategory, "notifications", "on"))
	assert.Equal(t, []string{"u1=off", "u1=off"}, seenAtForget, "a failed write still forgets: the next message reads the truth")
}
