package connect

import (
	"net/http"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeAPI records what the adapter asks of the plugin API.
type fakeAPI struct {
	prefs     map[string][]model.Preference
	saved     []model.Preference
	posts     []*model.Post
	ephemeral []*model.Post
	events    []*model.WebsocketBroadcast
	admins    map[string]bool
}

func (f *fakeAPI) GetUser(string) (*model.User, *model.AppError) { return &model.User{}, nil }
func (f *fakeAPI) GetUserByEmail(string) (*model.User, *model.AppError) {
	return nil, model.NewAppError("GetUserByEmail", "missing", nil, "", http.StatusNotFound)
}
func (f *fakeAPI) GetPreferencesForUser(id string) ([]model.Preference, *model.AppError) {
	return f.prefs[id], nil
}
func (f *fakeAPI) UpdatePreferencesForUser(_ string, p []model.Preference) *model.AppError {
	f.saved = append(f.saved, p...)
	return nil
}
func (f *fakeAPI) GetDirectChannel(a, b string) (*model.Channel, *model.AppError) {
	return &model.Channel{Id: "dm-" + a + "-" + b}, nil
}
func (f *fakeAPI) CreatePost(p *model.Post) (*model.Post, *model.AppError) {
	f.posts = append(f.posts, p)
	return p, nil
}
func (f *fakeAPI) SendEphemeralPost(_ string, p *model.Post) *model.Post {
	f.ephemeral = append(f.ephemeral, p)
	return p
}
func (f *fakeAPI) PublishWebSocketEvent(_ string, _ map[string]any, b *model.WebsocketBroadcast) {
	f.events = append(f.events, b)
}
func (f *fakeAPI) HasPermissionTo(id string, p *model.Permission) bool {
	return p == model.PermissionManageSystem && f.admins[id]
}

func TestPluginAdapter(t *testing.T) {
	api := &fakeAPI{prefs: map[string][]model.Preference{"u1": {
		{UserId: "u1", Category: "other", Name: PreferenceNotifications, Value: "x"},
		{UserId: "u1", Category: PreferenceCategory, Name: PreferenceNotifications, Value: "off"},
	}}, admins: map[string]bool{"admin": true}}
	a := &PluginAdapter{API: api, BotUserID: "bot"}

	v, found, err := a.GetPreference("u1", PreferenceCategory, PreferenceNotifications)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "off", v)
	_, found, err = a.GetPreference("u2", PreferenceCategory, PreferenceNotifications)
	require.NoError(t, err)
	assert.False(t, found)

	require.NoError(t, SetNotifications(a, "u1", true))
	assert.Equal(t, []model.Preference{{UserId: "u1", Category: "pp_com.mattermost.msteams-sync", Name: "notifications", Value: "on"}}, api.saved)

	require.NoError(t, a.DM("u1", "hello"))
	require.Len(t, api.posts, 1)
	assert.Equal(t, []string{"bot", "dm-u1-bot", "hello"}, []string{api.posts[0].UserId, api.posts[0].ChannelId, api.posts[0].Message})

	a.SendEphemeral("u1", "c1", "root", "only you")
	require.Len(t, api.ephemeral, 1)
	e := api.ephemeral[0]
	assert.Equal(t, []string{"bot", "c1", "root", "only you"}, []string{e.UserId, e.ChannelId, e.RootId, e.Message})

	a.PublishToUser("u1", EventConnectionChanged, map[string]any{"connected": true})
	require.Len(t, api.events, 1)
	assert.Equal(t, "u1", api.events[0].UserId, "the event goes to the user only")

	_, err = a.GetUserByEmail("nobody@contoso.com")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.True(t, a.IsSystemAdmin("admin"))
	assert.False(t, a.IsSystemAdmin("u1"))
}

var _ PluginAPI = (*fakeAPI)(nil)
