package connect

import (
	"net/http"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin"
	"github.com/pkg/errors"
)

// PluginAPI is the part of plugin.API the adapter calls.
type PluginAPI interface {
	GetUser(userID string) (*model.User, *model.AppError)
	GetUserByEmail(email string) (*model.User, *model.AppError)
	GetPreferencesForUser(userID string) ([]model.Preference, *model.AppError)
	UpdatePreferencesForUser(userID string, preferences []model.Preference) *model.AppError
	GetDirectChannel(userID1, userID2 string) (*model.Channel, *model.AppError)
	CreatePost(post *model.Post) (*model.Post, *model.AppError)
	SendEphemeralPost(userID string, post *model.Post) *model.Post
	PublishWebSocketEvent(event string, payload map[string]any, broadcast *model.WebsocketBroadcast)
	HasPermissionTo(userID string, permission *model.Permission) bool
}

// PluginAdapter implements Mattermost (and the command and api packages' Mattermost interfaces) on the plugin API.
type PluginAdapter struct {
	API       PluginAPI
	BotUserID string
}

// GetUser returns the user.
func (a *PluginAdapter) GetUser(userID string) (*model.User, error) {
	u, appErr := a.API.GetUser(userID)
	if appErr != nil {
		return nil, errors.Wrap(appErr, "get user")
	}
	return u, nil
}

// GetUserByEmail returns the user with that email, or ErrNotFound.
func (a *PluginAdapter) GetUserByEmail(email string) (*model.User, error) {
	u, appErr := a.API.GetUserByEmail(email)
	if appErr != nil {
		if appErr.StatusCode == http.StatusNotFound {
			return nil, ErrNotFound
		}
		return nil, errors.Wrap(appErr, "get user by email")
	}
	return u, nil
}

// GetPreference returns one preference; found is false when the user never set it. It reads the user's
// whole list because the single-preference call answers "not found" and database failures alike (400).
func (a *PluginAdapter) GetPreference(userID, category, name string) (string, bool, error) {
	prefs, appErr := a.API.GetPreferencesForUser(userID)
	if appErr != nil {
		return "", false, errors.Wrap(appErr, "get preferences")
	}
	for _, p := range prefs {
		if p.Category == category && p.Name == name {
			return p.Value, true, nil
		}
	}
	return "", false, nil
}

// SetPreference writes one preference.
func (a *PluginAdapter) SetPreference(userID, category, name, value string) error {
	appErr := a.API.UpdatePreferencesForUser(userID, []model.Preference{{UserId: userID, Category: category, Name: name, Value: value}})
	if appErr != nil {
		return errors.Wrap(appErr, "update preference")
	}
	return nil
}

// DM posts message in the direct channel between the bot and the user.
func (a *PluginAdapter) DM(userID, message string) error {
	ch, appErr := a.API.GetDirectChannel(userID, a.BotUserID)
	if appErr != nil {
		return errors.Wrap(appErr, "get direct channel with bot")
	}
	if _, appErr := a.API.CreatePost(&model.Post{UserId: a.BotUserID, ChannelId: ch.Id, Message: message}); appErr != nil {
		return errors.Wrap(appErr, "create bot post")
	}
	return nil
}

// PublishToUser sends a websocket event to one user's sessions.
func (a *PluginAdapter) PublishToUser(userID, event string, payload map[string]any) {
	a.API.PublishWebSocketEvent(event, payload, &model.WebsocketBroadcast{UserId: userID})
}

// SendEphemeral shows message to the user only, in the channel where they ran a command.
func (a *PluginAdapter) SendEphemeral(userID, channelID, rootID, message string) {
	a.API.SendEphemeralPost(userID, &model.Post{UserId: a.BotUserID, ChannelId: channelID, RootId: rootID, Message: message})
}

// IsSystemAdmin tells whether the user may manage the system.
func (a *PluginAdapter) IsSystemAdmin(userID string) bool {
	return a.API.HasPermissionTo(userID, model.PermissionManageSystem)
}

var _ PluginAPI = (plugin.API)(nil)
