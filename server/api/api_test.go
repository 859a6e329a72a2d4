package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/connect"
	"github.com/teamsnotify/msteams-sync/server/connect/connectenv"
)

type testAPI struct {
	*connectenv.Env
	handler http.Handler
}

func newTestAPI(t *testing.T) *testAPI {
	env := connectenv.New(t)
	return &testAPI{Env: env, handler: New(Deps{
		Connections: env.Service, Store: env.Store, Links: env.Store, Mattermost: env.MM, Settings: env.Settings,
	})}
}

// do sends a request as the Mattermost user (none when userID is empty).
func (a *testAPI) do(method, target, userID string, body io.Reader, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, body)
	if userID != "" {
		req.Header.Set(UserHeader, userID)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	return rec
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v), rec.Body.String())
	return v
}

func TestSignInThroughTheRoutes(t *testing.T) {
	a := newTestAPI(t)
	a.MM.AddUser("u1", "ada@contoso.com")
	a.AddAccount("ms-ada", "ada@contoso.com")

	rec := a.do("GET", "/connect", "", nil)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Contains(t, rec.Body.String(), "Log in to Mattermost")

	rec = a.do("GET", "/connect", "u1", nil)
	require.Equal(t, http.StatusFound, rec.Code, rec.Body.String())
	back := a.Authorize(rec.Header().Get("Location"), "ms-ada")

	rec = a.do("GET", "/oauth-redirect?"+back.RawQuery, "u1", nil)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Body.String(), "Your account is connected")
	assert.Contains(t, rec.Body.String(), "ada@contoso.com")
	assert.Contains(t, rec.Body.String(), "You can close this page.")
	assert.NotContains(t, rec.Body.String(), back.Query().Get("code"))

	// The same redirect again is refused: the state was used.
	rec = a.do("GET", "/oauth-redirect?"+back.RawQuery, "u1", nil)
	assert.Equal(t, http.StatusForbidden, rec.Code)
	assert.Contains(t, rec.Body.String(), "already used")

	// Once connected, a connect link says so instead of starting over.
	rec = a.do("GET", "/connect", "u1", nil)
	assert.Equal(t, http.StatusForbidden, rec.Code)
	assert.Contains(t, rec.Body.String(), "already connected")

	// A renewal link signs a connected user in again (to pick up a permission granted since); they stay
	// connected meanwhile.
	rec = a.do("GET", "/connect?renew=1", "u1", nil)
	require.Equal(t, http.StatusFound, rec.Code, rec.Body.String())
	back = a.Authorize(rec.Header().Get("Location"), "ms-ada")
	rec = a.do("GET", "/oauth-redirect?"+back.RawQuery, "u1", nil)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "Your account is connected")
}

func TestMismatchPageNamesBothAddresses(t *testing.T) {
	a := newTestAPI(t)
	a.MM.AddUser("u1", "ada@fabrikam.com")
	a.AddAccount("ms-ada", "<b>ada</b>@contoso.com")

	rec := a.do("GET", "/connect", "u1", nil)
	require.Equal(t, http.StatusFound, rec.Code)
	back := a.Authorize(rec.Header().Get("Location"), "ms-ada")
	rec = a.do("GET", "/oauth-redirect?"+back.RawQuery, "u1", nil)
	assert.Equal(t, http.StatusForbidden, rec.Code)
	body := rec.Body.String()
	assert.Contains(t, body, "ada@fabrikam.com")
	assert.Contains(t, body, "&lt;b&gt;ada&lt;/b&gt;@contoso.com", "addresses are HTML-escaped")
	assert.Contains(t, body, "Your account was not connected")
}

func TestRedirectCompletedByAnotherUserIsRefused(t *testing.T) {
	a := newTestAPI(t)
	a.MM.AddUser("u1", "ada@contoso.com")
	a.MM.AddUser("u2", "eve@contoso.com")
	a.AddAccount("ms-ada", "ada@contoso.com")
	rec := a.do("GET", "/connect", "u1", nil)
	require.Equal(t, http.StatusFound, rec.Code)
	back := a.Authorize(rec.Header().Get("Location"), "ms-ada")
	rec = a.do("GET", "/oauth-redirect?"+back.RawQuery, "u2", nil)
	assert.Equal(t, http.StatusForbidden, rec.Code)
	assert.Contains(t, rec.Body.String(), "started by a different Mattermost user")
}

func TestMe(t *testing.T) {
	a := newTestAPI(t)
	a.MM.AddUser("u2", "bob@contoso.com")

	rec := a.do("GET", "/api/v1/me", "", nil)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.NotEmpty(t, decode[errorBody](t, rec).Error)

	rec = a.do("GET", "/api/v1/me", "u2", nil)
	assert.JSONEq(t, `{"connected":false,"teams_email":"","connected_at":null,"notifications":false}`, rec.Body.String())
	rec = a.do("POST", "/api/v1/me/notifications", "u2", strings.NewReader(`{"enabled":true}`))
	assert.Equal(t, http.StatusConflict, rec.Code)

	a.Connect("u1", "ada@contoso.com")
	rec = a.do("GET", "/api/v1/me", "u1", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	me := decode[meResponse](t, rec)
	assert.True(t, me.Connected)
	assert.Equal(t, "ada@contoso.com", me.TeamsEmail)
	require.NotNil(t, me.ConnectedAt)
	assert.WithinDuration(t, time.Now(), *me.ConnectedAt, time.Minute)
	assert.True(t, me.Notifications)

	rec = a.do("POST", "/api/v1/me/notifications", "u1", strings.NewReader(`{"enabled":false}`))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.False(t, decode[meResponse](t, a.do("GET", "/api/v1/me", "u1", nil)).Notifications)
	rec = a.do("POST", "/api/v1/me/notifications", "u1", strings.NewReader(`{"on":1}`))
	assert.Equal(t, http.StatusBadRequest, rec.Code)

	rec = a.do("POST", "/api/v1/me/disconnect", "u1", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.False(t, decode[meResponse](t, a.do("GET", "/api/v1/me", "u1", nil)).Connected)
	rec = a.do("POST", "/api/v1/me/disconnect", "u1", nil)
	assert.Equal(t, http.StatusConflict, rec.Code)

	rec = a.do("GET", "/api/v1/me/disconnect", "u1", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

func TestInviteRoute(t *testing.T) {
	a := newTestAPI(t)
	a.Set(func(s *connect.Settings) { s.MaxPendingInvites = 1 })
	a.MM.AddUser("u1", "ada@contoso.com")
	assert.JSONEq(t, `{"invited":true}`, a.do("POST", "/api/v1/me/invite", "u1", nil).Body.String())
	assert.JSONEq(t, `{"invited":false}`, a.do("POST", "/api/v1/me/invite", "u1", nil).Body.String())
	assert.Len(t, a.MM.DMs("u1"), 1)
}

func TestAdminRoutesAreForSystemAdminsOnly(t *testing.T) {
	a := newTestAPI(t)
	a.MM.AddUser("user", "user@contoso.com")
	a.MM.AddUser("admin", "admin@contoso.com")
	a.MM.MakeAdmin("admin")
	routes := []struct{ method, path string }{
		{"GET", "/api/v1/admin/connected-users"},
		{"GET", "/api/v1/admin/connected-users.csv"},
		{"PUT", "/api/v1/admin/whitelist"},
		{"GET", "/api/v1/admin/whitelist.csv"},
		{"GET", "/api/v1/admin/stats"},
		{"GET", "/api/v1/admin/account-links.csv"},
	}
	for _, r := range routes {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			rec := a.do(r.method, r.path, "user", strings.NewReader("email\nuser@contoso.com\n"))
			assert.Equal(t, http.StatusForbidden, rec.Code)
			assert.Equal(t, "Only system administrators can do this.", decode[errorBody](t, rec).Error)
			rec = a.do(r.method, r.path, "", strings.NewReader("email\n"))
			assert.Equal(t, http.StatusUnauthorized, rec.Code)
			rec = a.do(r.method, r.path, "admin", strings.NewReader("email\nuser@contoso.com\n"))
			assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		})
	}
	wl, err := a.Store.ListWhitelist(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"user"}, wl, "the non-admin's upload changed nothing; the admin's did")
}

func TestConnectedUsersReport(t *testing.T) {
	a := newTestAPI(t)
	a.MM.AddUser("admin", "admin@contoso.com")
	a.MM.MakeAdmin("admin")
	for _, id := range []string{"u1", "u2", "u3"} {
		a.Connect(id, id+"@contoso.com")
	}
	require.NoError(t, a.Service.Disconnect(context.Background(), "u2"))

	type page struct {
		Users []connectedUser `json:"users"`
		Total int             `json:"total"`
	}
	p0 := decode[page](t, a.do("GET", "/api/v1/admin/connected-users?page=0&per_page=1", "admin", nil))
	p1 := decode[page](t, a.do("GET", "/api/v1/admin/connected-users?page=1&per_page=1", "admin", nil))
	p2 := decode[page](t, a.do("GET", "/api/v1/admin/connected-users?page=2&per_page=1", "admin", nil))
	assert.Equal(t, 2, p0.Total)
	require.Len(t, p0.Users, 1)
	require.Len(t, p1.Users, 1)
	assert.Empty(t, p2.Users)
	assert.Equal(t, "u1", p0.Users[0].MMUserID)
	assert.Equal(t, "u1@contoso.com", p0.Users[0].Email)
	assert.Equal(t, "ms-u1", p0.Users[0].TeamsUserID)
	assert.Equal(t, "u3", p1.Users[0].MMUserID)
	assert.Equal(t, http.StatusBadRequest, a.do("GET", "/api/v1/admin/connected-users?per_page=0", "admin", nil).Code)

	rec := a.do("GET", "/api/v1/admin/connected-users.csv", "admin", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/csv")
	rows, err := csv.NewReader(rec.Body).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
	assert.Equal(t, "Email", rows[0][2])
	assert.Equal(t, []string{"u1@contoso.com", "u3@contoso.com"}, []string{rows[1][2], rows[2][2]})
}

func TestWhitelistUpload(t *testing.T) {
	a := newTestAPI(t)
	ctx := context.Background()
	a.MM.AddUser("admin", "admin@contoso.com")
	a.MM.MakeAdmin("admin")
	a.MM.AddUser("u1", "ada@contoso.com")
	a.MM.AddUser("u2", "bob@contoso.com")
	require.NoError(t, a.Store.ReplaceWhitelist(ctx, []string{"admin"}, time.Now()))

	t.Run("bad lines are each reported and nothing is applied", func(t *testing.T) {
		body := "email\nada@contoso.com\nnot-an-email\nnobody@contoso.com\n\"a,b\",c\nADA@contoso.com\nbob@contoso.com\n"
		rec := a.do("PUT", "/api/v1/admin/whitelist", "admin", strings.NewReader(body), "Content-Type", "text/csv")
		require.Equal(t, http.StatusBadRequest, rec.Code)
		got := decode[struct {
			Errors []lineError `json:"errors"`
		}](t, rec)
		var lines []int
		for _, e := range got.Errors {
			lines = append(lines, e.Line)
			assert.NotEmpty(t, e.Message)
		}
		assert.Equal(t, []int{3, 4, 5, 6}, lines)
		assert.Contains(t, got.Errors[1].Message, "No Mattermost user")
		assert.Contains(t, got.Errors[3].Message, "line 2")
		wl, err := a.Store.ListWhitelist(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"admin"}, wl)
	})
	t.Run("a wrong header is reported", func(t *testing.T) {
		rec := a.do("PUT", "/api/v1/admin/whitelist", "admin", strings.NewReader("mail\nada@contoso.com\n"))
		require.Equal(t, http.StatusBadRequest, rec.Code)
		assert.Contains(t, rec.Body.String(), `"line":1`)
	})
	t.Run("an empty file is reported", func(t *testing.T) {
		rec := a.do("PUT", "/api/v1/admin/whitelist", "admin", strings.NewReader(""))
		require.Equal(t, http.StatusBadRequest, rec.Code)
		assert.Contains(t, rec.Body.String(), `"line":1`)
	})
	t.Run("a good file replaces the list", func(t *testing.T) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, err := mw.CreateFormFile("file", "whitelist.csv")
		require.NoError(t, err)
		_, _ = fw.Write([]byte("\ufeffEmail\r\nada@contoso.com\r\n\r\nbob@contoso.com\r\n"))
		require.NoError(t, mw.Close())
		rec := a.do("PUT", "/api/v1/admin/whitelist", "admin", &buf, "Content-Type", mw.FormDataContentType())
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		assert.JSONEq(t, `{"count":2}`, rec.Body.String())
		wl, err := a.Store.ListWhitelist(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"u1", "u2"}, wl)

		rec = a.do("GET", "/api/v1/admin/whitelist.csv", "admin", nil)
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, "email\nada@contoso.com\nbob@contoso.com\n", rec.Body.String())
	})
}

func TestStats(t *testing.T) {
	a := newTestAPI(t)
	ctx := context.Background()
	a.Set(func(s *connect.Settings) { s.ConnectedUsersAllowed, s.MaxPendingInvites = 5, 3 })
	a.MM.AddUser("admin", "admin@contoso.com")
	a.MM.MakeAdmin("admin")
	a.Connect("u1", "ada@contoso.com")
	a.MM.AddUser("u2", "bob@contoso.com")
	sent, err := a.Service.MaybeInvite(ctx, "u2")
	require.NoError(t, err)
	require.True(t, sent)
	require.NoError(t, a.Store.ReplaceWhitelist(ctx, []string{"u1", "u2", "admin"}, time.Now()))

	rec := a.do("GET", "/api/v1/admin/stats", "admin", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"connected":1,"pending_invites":1,"whitelist_size":3,"seats_allowed":5,"seats_available":3,"invite_pool_size":3,"restricted":false}`, rec.Body.String())
}

func TestAccountLinksLetAUserConnectAnAccountWhoseEmailDiffers(t *testing.T) {
	a := newTestAPI(t)
	ctx := context.Background()
	a.MM.AddUser("admin", "admin@contoso.com")
	a.MM.MakeAdmin("admin")
	a.MM.AddUser("u1", "ada@personal.example")
	a.AddAccount("ms-ada", "ada.lovelace@contoso.com")
	connectAs := func(mmUserID, accountID string) error {
		target, err := a.Service.Begin(ctx, mmUserID)
		require.NoError(t, err)
		_, err = a.Service.Complete(ctx, mmUserID, a.Authorize(target, accountID).Query())
		return err
	}
	require.Error(t, connectAs("u1", "ms-ada"), "without a link the e-mails must match")

	rec := a.do("PUT", "/api/v1/admin/account-links", "user-not-admin", strings.NewReader("email,microsoft_account\n"))
	assert.Equal(t, http.StatusForbidden, rec.Code)

	rec = a.do("PUT", "/api/v1/admin/account-links", "admin",
		strings.NewReader("email,microsoft_account\nada@personal.example,ada.lovelace@contoso.com\nnobody@personal.example,x@contoso.com\n"))
	require.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "No Mattermost user has the email")
	links, err := a.Store.ListAccountLinks(ctx)
	require.NoError(t, err)
	assert.Empty(t, links, "a file with a bad line changes nothing")

	rec = a.do("PUT", "/api/v1/admin/account-links", "admin",
		strings.NewReader("email,microsoft_account\nADA@personal.example,Ada.Lovelace@contoso.com\n"), "Content-Type", "text/csv")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"count":1}`, rec.Body.String())
	require.NoError(t, connectAs("u1", "ms-ada"), "the linked account connects after a real sign-in")

	rec = a.do("GET", "/api/v1/admin/account-links.csv", "admin", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "email,microsoft_account\nada@personal.example,ada.lovelace@contoso.com\n", rec.Body.String())

	assert.Equal(t, http.StatusNoContent, a.do("DELETE", "/api/v1/admin/account-links/u1", "admin", nil).Code)
	assert.Equal(t, http.StatusNotFound, a.do("DELETE", "/api/v1/admin/account-links/u1", "admin", nil).Code)
	st, err := a.Service.Status(ctx, "u1")
	require.NoError(t, err)
	assert.True(t, st.Connected, "removing the link does not disconnect the user")
}
