package graphsim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRouteNamesReplaceIDsAndKeepLiterals(t *testing.T) {
	cases := map[string]string{
		"/v1.0/chats/19%3Aabc%40thread.v2/messages":                      "GET /chats/{id}/messages",
		"/v1.0/chats/19%3Aabc%40thread.v2/messages/1700000000000":        "GET /chats/{id}/messages/{id}",
		"/v1.0/chats/c/messages/1/hostedContents/h/$value":               "GET /chats/{id}/messages/{id}/hostedContents/{id}/$value",
		"/v1.0/users/u/chats/getAllMessages()":                           "GET /users/{id}/chats/getAllMessages",
		"/v1.0/users/u/chats/getAllMessages/delta":                       "GET /users/{id}/chats/getAllMessages/delta",
		"/v1.0/applications(appId='x')":                                  "GET /applications(appId={id})",
		"/v1.0/me":                                                       "GET /me",
		"/7c3e1f2a-5b6d-4e8f-9a0b-1c2d3e4f5a6b/oauth2/v2.0/token":        "GET /{tenant}/oauth2/v2.0/token",
		"/common/discovery/instance":                                     "GET /common/discovery/instance",
		"/personal/x/Documents/Microsoft%20Teams%20Chat%20Files/a_b.pdf": "GET /personal/{file}",
		"/sites/Research/Shared%20Documents/General/a_b.pdf":             "GET /sites/{file}",
	}
	for path, want := range cases {
		assert.Equal(t, want, routeName("GET", path), path)
	}
}

func TestPKCE(t *testing.T) {
	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	assert.True(t, pkceMatches(challenge, "S256", verifier))
	assert.False(t, pkceMatches(challenge, "S256", verifier+"x"))
	assert.False(t, pkceMatches(challenge, "S256", ""), "a challenged code needs a verifier")
	assert.True(t, pkceMatches("", "", ""), "no challenge, no check")
	assert.True(t, pkceMatches("plain-v", "plain", "plain-v"))
}

func TestResolveScopes(t *testing.T) {
	app := &appState{AppRegistration: AppRegistration{DelegatedScopes: DefaultDelegatedScopes}}
	granted, oidc, missing := resolveScopes("https://graph.microsoft.com/.default offline_access", app)
	assert.Contains(t, granted, "Chat.Read")
	assert.NotContains(t, granted, "offline_access")
	assert.Equal(t, []string{"offline_access"}, oidc)
	assert.Empty(t, missing)
	granted, _, missing = resolveScopes("https://graph.microsoft.com/Chat.Read Mail.Send", app)
	assert.Equal(t, []string{"Chat.Read"}, granted)
	assert.Equal(t, []string{"Mail.Send"}, missing)
}

func TestTimeFilterOnlyHonoursTheNamedProperty(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clauses := parseFilter("lastModifiedDateTime gt 2026-01-01T00:00:00Z and lastModifiedDateTime lt 2026-01-02T00:00:00.000Z and createdDateTime gt 2030-01-01T00:00:00Z")
	keep := timeFilter(clauses, "lastModifiedDateTime")
	assert.False(t, keep(base))
	assert.True(t, keep(base.Add(time.Hour)))
	assert.False(t, keep(base.Add(48*time.Hour)))
	assert.True(t, timeFilter(clauses[:2], "createdDateTime")(base.Add(-time.Hour)), "clauses on other properties are ignored")
}

// On a frozen clock ids stay unique and increasing, createdDateTime matches the
// id, and every change still moves lastModifiedDateTime and the etag.
func TestMessageStateOnAFrozenClock(t *testing.T) {
	frozen := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s, err := New(Options{PlainHTTP: true, Now: func() time.Time { return frozen }})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.AddUser(User{ID: "u1", TenantID: "t"}))
	require.NoError(t, s.AddUser(User{ID: "u2", TenantID: "t"}))
	chat, err := s.CreateChat(ChatSpec{Members: []string{"u1", "u2"}})
	require.NoError(t, err)
	assert.Equal(t, "19:u1_u2@unq.gbl.spaces", chat)

	a, err := s.SendMessage(chat, NewMessage{From: "u1", HTML: "a"})
	require.NoError(t, err)
	b, err := s.SendMessage(chat, NewMessage{From: "u2", HTML: "b"})
	require.NoError(t, err)
	ai, _ := strconv.ParseInt(a, 10, 64)
	bi, _ := strconv.ParseInt(b, 10, 64)
	assert.Equal(t, frozen.UnixMilli(), ai)
	assert.Equal(t, ai+1, bi)

	render := func(id string) map[string]any {
		raw, ok := s.resourceJSON("chats('" + chat + "')/messages('" + id + "')")
		require.True(t, ok)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		return m
	}
	// Only the id moves forward; createdDateTime is the (frozen) real time.
	assert.Equal(t, frozen.UTC().Format(graphTime), render(b)["createdDateTime"])
	before := render(a)
	require.NoError(t, s.React(chat, a, "u2", "like"))
	after := render(a)
	assert.NotEqual(t, before["etag"], after["etag"])
	assert.NotEqual(t, before["lastModifiedDateTime"], after["lastModifiedDateTime"])
	assert.Nil(t, after["lastEditedDateTime"])

	botMsg, err := s.SendMessage(chat, NewMessage{FromBot: &Bot{ID: "28:bot", DisplayName: "Helper"}, HTML: "beep"})
	require.NoError(t, err)
	from := render(botMsg)["from"].(map[string]any)
	assert.Nil(t, from["user"])
	assert.Equal(t, "bot", from["application"].(map[string]any)["applicationIdentityType"])

	_, err = s.SendMessage(chat, NewMessage{From: "stranger", HTML: "x"})
	assert.Error(t, err, "only members can post")
	_, ok := s.resourceJSON("chats('" + chat + "')/messages('404')")
	assert.False(t, ok)
}
