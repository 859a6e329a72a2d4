package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/connect/connectenv"
	"github.com/teamsnotify/msteams-sync/server/store"
)

func TestChannelNotificationChoices(t *testing.T) {
	env := connectenv.New(t)
	var on atomic.Bool
	a := &testAPI{Env: env, handler: New(Deps{
		Connections: env.Service, Store: env.Store, Links: env.Store, Mattermost: env.MM, Settings: env.Settings,
		Channels: env.Store, ChannelNotificationsOn: on.Load,
	})}
	ctx := context.Background()
	const path = "/api/v1/me/channel-notifications"
	require.NoError(t, env.Store.SaveConnection(ctx, store.Connection{MMUserID: "u1", TeamsUserID: "ms-ada", Token: []byte("x"), TokenKeyID: "k", ConnectedAt: time.Now()}))
	put := func(user, body string) *httptest.ResponseRecorder {
		return a.do("PUT", path, user, strings.NewReader(body))
	}

	assert.Equal(t, http.StatusUnauthorized, a.do("GET", path, "", nil).Code)
	rec := a.do("GET", path, "u1", nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"enabled":false,"group_mentions":false,"thread_replies":true}`, rec.Body.String(), "the defaults, setting off")

	on.Store(true)
	rec = put("u1", `{"group_mentions":true}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"enabled":true,"group_mentions":true,"thread_replies":true}`, rec.Body.String(), "a partial update keeps the other choice")
	rec = put("u1", `{"thread_replies":false}`)
	assert.JSONEq(t, `{"enabled":true,"group_mentions":true,"thread_replies":false}`, rec.Body.String())
	got, err := env.Store.GetChannelChoice(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, store.ChannelChoice{GroupMentions: true, ThreadReplies: false}, got, "what /msteams channels and delivery read")
	rec = put("u1", `{"group_mentions":false,"thread_replies":true}`)
	assert.JSONEq(t, `{"enabled":true,"group_mentions":false,"thread_replies":true}`, rec.Body.String())
	assert.JSONEq(t, rec.Body.String(), a.do("GET", path, "u1", nil).Body.String())

	for _, body := range []string{``, `{}`, `not json`, `{"group_mentions":"yes"}`, `{"group_mention":true}`, `{"thread_replies":null}`} {
		rec = put("u1", body)
		assert.Equal(t, http.StatusBadRequest, rec.Code, "body %q", body)
		assert.Contains(t, decode[errorBody](t, rec).Error, `{"group_mentions": true}`, "body %q", body)
	}

	// Never connected: the defaults to read, and a refusal that says what to do.
	rec = a.do("GET", path, "u2", nil)
	assert.JSONEq(t, `{"enabled":true,"group_mentions":false,"thread_replies":true}`, rec.Body.String())
	rec = put("u2", `{"group_mentions":true}`)
	assert.Equal(t, http.StatusConflict, rec.Code)
	assert.Equal(t, "Your account is not connected to Microsoft Teams. Run `/msteams connect` first.", decode[errorBody](t, rec).Error)

	// Disconnected: the row (and the choice) stays for a reconnect, but nothing can be changed meanwhile.
	require.NoError(t, put("u1", `{"group_mentions":true}`).Result().Body.Close())
	require.NoError(t, env.Store.DisconnectUser(ctx, "u1", time.Now()))
	rec = put("u1", `{"group_mentions":false}`)
	assert.Equal(t, http.StatusConflict, rec.Code)
	assert.Contains(t, decode[errorBody](t, rec).Error, "/msteams connect")
	got, err = env.Store.GetChannelChoice(ctx, "u1")
	require.NoError(t, err)
	assert.True(t, got.GroupMentions, "a refused change changes nothing")
}

func TestChannelNotificationRoutesNeedTheStore(t *testing.T) {
	a := newTestAPI(t)
	assert.Equal(t, http.StatusNotFound, a.do("GET", "/api/v1/me/channel-notifications", "u1", nil).Code)
}
