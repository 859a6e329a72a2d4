package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/connect/connectenv"
	"github.com/teamsnotify/msteams-sync/server/mute"
	"github.com/teamsnotify/msteams-sync/server/store"
)

func TestMutedChatsAndMessageMode(t *testing.T) {
	env := connectenv.New(t)
	// The app reads chats with its own permission to check membership and find the title.
	require.NoError(t, env.Sim.AddApp(graphsim.AppRegistration{TenantID: connectenv.TenantID, ClientID: connectenv.ClientID,
		ClientSecret: connectenv.Secret, RedirectURIs: []string{connectenv.PluginURL + "/oauth-redirect"}, AppRoles: []string{"Chat.Read.All"}}))
	a := &testAPI{Env: env, handler: New(Deps{
		Connections: env.Service, Store: env.Store, Links: env.Store, Mattermost: env.MM, Settings: env.Settings,
		Muting: mute.New(env.Store, func() mute.Graph { return env.Graph.App() }, nil),
	})}
	ctx := context.Background()
	env.AddAccount("ms-ada", "ada@contoso.com")
	env.AddAccount("ms-bob", "bob@contoso.com")
	require.NoError(t, env.Store.SaveConnection(ctx, store.Connection{MMUserID: "u1", TeamsUserID: "ms-ada", Token: []byte("x"), TokenKeyID: "k", ConnectedAt: time.Now()}))
	chatID, err := env.Sim.CreateChat(graphsim.ChatSpec{TenantID: connectenv.TenantID, ChatType: "group", Topic: "Launch", Members: []string{"ms-ada", "ms-bob"}})
	require.NoError(t, err)
	chatPath := "/api/v1/me/muted-chats/" + url.PathEscape(chatID)

	assert.Equal(t, http.StatusUnauthorized, a.do("GET", "/api/v1/me/muted-chats", "", nil).Code)
	rec := a.do("GET", "/api/v1/me/muted-chats", "u1", nil)
	assert.JSONEq(t, `{"chats":[]}`, rec.Body.String())

	rec = a.do("PUT", chatPath, "u1", nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	got := decode[mutedChat](t, rec)
	assert.Equal(t, chatID, got.ChatID)
	assert.Equal(t, "Launch", got.Title)
	rec = a.do("GET", "/api/v1/me/muted-chats", "u1", nil)
	list := decode[map[string][]mutedChat](t, rec)["chats"]
	require.Len(t, list, 1)
	assert.Equal(t, "Launch", list[0].Title)

	rec = a.do("PUT", chatPath, "u2", nil)
	assert.Equal(t, http.StatusConflict, rec.Code, "not connected")
	assert.Contains(t, decode[errorBody](t, rec).Error, "/msteams connect")
	rec = a.do("PUT", "/api/v1/me/muted-chats/19:nope@thread.v2", "u1", nil)
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Contains(t, decode[errorBody](t, rec).Error, "not a member")

	rec = a.do("DELETE", chatPath, "u1", nil)
	assert.JSONEq(t, `{"unmuted":true}`, rec.Body.String())
	rec = a.do("DELETE", chatPath, "u1", nil)
	assert.JSONEq(t, `{"unmuted":false}`, rec.Body.String())

	rec = a.do("GET", "/api/v1/me/message-mode", "u1", nil)
	assert.JSONEq(t, `{"mode":"all"}`, rec.Body.String())
	rec = a.do("PUT", "/api/v1/me/message-mode", "u1", strings.NewReader(`{"mode":"mentions"}`))
	assert.JSONEq(t, `{"mode":"mentions"}`, rec.Body.String())
	rec = a.do("GET", "/api/v1/me/message-mode", "u1", nil)
	assert.JSONEq(t, `{"mode":"mentions"}`, rec.Body.String())
	rec = a.do("PUT", "/api/v1/me/message-mode", "u1", strings.NewReader(`{"mode":"some"}`))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	rec = a.do("PUT", "/api/v1/me/message-mode", "u2", strings.NewReader(`{"mode":"all"}`))
	assert.Equal(t, http.StatusConflict, rec.Code)
}
