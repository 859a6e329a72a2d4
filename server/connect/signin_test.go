package connect

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/store"
)

func refusalOf(t *testing.T, err error) Reason {
	t.Helper()
	var r *Refusal
	require.ErrorAs(t, err, &r)
	return r.Reason
}

func TestSignInConnectsTheUser(t *testing.T) {
	h := newHarness(t)
	h.mm.AddUser("u1", "Ada@Contoso.com")
	h.addAccount("ms-ada", "ada@contoso.com", "ada@contoso.onmicrosoft.com")

	target, err := h.svc.Begin(context.Background(), "u1")
	require.NoError(t, err)
	au, err := url.Parse(target)
	require.NoError(t, err)
	aq := au.Query()
	assert.Equal(t, "S256", aq.Get("code_challenge_method"))
	assert.NotEmpty(t, aq.Get("code_challenge"))
	assert.Contains(t, aq.Get("scope"), "offline_access")
	assert.Equal(t, testPlugin+"/oauth-redirect", aq.Get("redirect_uri"))

	res, err := h.svc.Complete(context.Background(), "u1", h.signIn(target, "ms-ada"))
	require.NoError(t, err)
	assert.Equal(t, Connected{MattermostEmail: "Ada@Contoso.com", AccountEmail: "ada@contoso.com"}, res)

	st, err := h.svc.Status(context.Background(), "u1")
	require.NoError(t, err)
	assert.True(t, st.Connected)
	assert.Equal(t, "ada@contoso.com", st.TeamsEmail)

	row, err := h.store.GetUser(context.Background(), "u1")
	require.NoError(t, err)
	assert.Equal(t, "ms-ada", row.TeamsUserID)
	tok := h.storedToken("u1")
	assert.NotContains(t, string(row.Token), tok.AccessToken, "the token is stored encrypted")
	assert.NotContains(t, string(row.Token), tok.RefreshToken, "the token is stored encrypted")
	assert.NotEmpty(t, tok.RefreshToken)

	// The stored token works at Graph as the user.
	me, err := h.getMe(context.Background(), h.svc.TokenSource(context.Background(), "u1"))
	require.NoError(t, err)
	assert.Equal(t, "ms-ada", me.ID)

	on, err := h.svc.Notifications("u1")
	require.NoError(t, err)
	assert.True(t, on, "notifications are turned on at first connect")
	dms := h.mm.DMs("u1")
	require.Len(t, dms, 1)
	assert.Contains(t, dms[0], "/msteams notifications off")
	assert.Contains(t, dms[0], "ada@contoso.com")
	require.Len(t, h.mm.Events("u1"), 1)
	assert.Equal(t, EventConnectionChanged, h.mm.Events("u1")[0].Event)
	assert.Equal(t, map[string]any{"connected": true}, h.mm.Events("u1")[0].Payload)

	assert.Equal(t, ReasonAlreadyConnected, refusalOf(t, h.svc.CanConnect(context.Background(), "u1")))
}

func TestVerifierIsLongRandomPKCE(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		v, err := newVerifier()
		require.NoError(t, err)
		assert.GreaterOrEqual(t, len(v), 43)
		assert.LessOrEqual(t, len(v), 128)
		assert.Regexp(t, `^[A-Za-z0-9\-._~]+$`, v)
		assert.False(t, seen[v])
		seen[v] = true
	}
}

func TestLinkingRule(t *testing.T) {
	tests := []struct {
		name       string
		mmEmail    string
		mail, upn  string
		proxies    []string
		allowProxy bool
		want       bool
	}{
		{name: "mail matches, case-insensitively", mmEmail: "Ada@Contoso.com", mail: "ada@contoso.COM", upn: "x@y.z", want: true},
		{name: "upn matches when mail differs", mmEmail: "ada@contoso.com", mail: "other@contoso.com", upn: "ADA@contoso.com", want: true},
		{name: "upn matches when mail is empty", mmEmail: "ada@contoso.com", upn: "ada@contoso.com", want: true},
		{name: "neither matches", mmEmail: "ada@contoso.com", mail: "bob@contoso.com", upn: "bob@contoso.com", want: false},
		{name: "proxy address ignored by default", mmEmail: "ada@fabrikam.com", mail: "ada@contoso.com", proxies: []string{"smtp:ada@fabrikam.com"}, want: false},
		{name: "secondary proxy address accepted when allowed", mmEmail: "ada@fabrikam.com", mail: "ada@contoso.com", proxies: []string{"SMTP:ada@contoso.com", "smtp:Ada@Fabrikam.com"}, allowProxy: true, want: true},
		{name: "non-SMTP proxy address never matches", mmEmail: "ada@fabrikam.com", mail: "ada@contoso.com", proxies: []string{"SIP:ada@fabrikam.com"}, allowProxy: true, want: false},
		{name: "empty Mattermost email never matches", mmEmail: "", mail: "", upn: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Account{Mail: tt.mail, UserPrincipalName: tt.upn, ProxyAddresses: tt.proxies}
			assert.Equal(t, tt.want, accountMatches(a, tt.mmEmail, tt.allowProxy))
		})
	}
}

func TestEmailMismatchIsRefusedNamingBothAddresses(t *testing.T) {
	h := newHarness(t)
	h.mm.AddUser("u1", "ada@fabrikam.com")
	h.addAccount("ms-ada", "ada@contoso.com", "ada@contoso.com", "SMTP:ada@contoso.com", "smtp:ada@fabrikam.com")

	_, err := h.connect("u1", "ms-ada")
	require.Equal(t, ReasonEmailMismatch, refusalOf(t, err))
	var r *Refusal
	require.ErrorAs(t, err, &r)
	assert.Contains(t, r.Message(), "ada@contoso.com")
	assert.Contains(t, r.Message(), "ada@fabrikam.com")
	st, err := h.svc.Status(context.Background(), "u1")
	require.NoError(t, err)
	assert.False(t, st.Connected)
	assert.Empty(t, h.mm.DMs("u1"))

	// With AllowProxyAddresses the secondary SMTP address links the same account.
	h.set(func(s *Settings) { s.AllowProxyAddresses = true })
	_, err = h.connect("u1", "ms-ada")
	require.NoError(t, err)
}

func TestStateIsSingleUseBoundToItsUserAndExpires(t *testing.T) {
	h := newHarness(t)
	h.mm.AddUser("u1", "ada@contoso.com")
	h.mm.AddUser("u2", "bob@contoso.com")
	h.addAccount("ms-ada", "ada@contoso.com", "ada@contoso.com")
	ctx := context.Background()

	t.Run("replayed", func(t *testing.T) {
		target, err := h.svc.Begin(ctx, "u1")
		require.NoError(t, err)
		q := h.signIn(target, "ms-ada")
		_, err = h.svc.Complete(ctx, "u1", q)
		require.NoError(t, err)
		_, err = h.svc.Complete(ctx, "u1", q)
		assert.Equal(t, ReasonStateUnknown, refusalOf(t, err))
		require.NoError(t, h.svc.Disconnect(ctx, "u1"))
	})
	t.Run("unknown or missing", func(t *testing.T) {
		_, err := h.svc.Complete(ctx, "u1", url.Values{"state": {"made-up"}, "code": {"x"}})
		assert.Equal(t, ReasonStateUnknown, refusalOf(t, err))
		_, err = h.svc.Complete(ctx, "u1", url.Values{"code": {"x"}})
		assert.Equal(t, ReasonStateUnknown, refusalOf(t, err))
	})
	t.Run("completed by another Mattermost user", func(t *testing.T) {
		target, err := h.svc.Begin(ctx, "u1")
		require.NoError(t, err)
		q := h.signIn(target, "ms-ada")
		_, err = h.svc.Complete(ctx, "u2", q)
		assert.Equal(t, ReasonWrongUser, refusalOf(t, err))
		_, err = h.svc.Complete(ctx, "", q)
		assert.Equal(t, ReasonStateUnknown, refusalOf(t, err), "the refused attempt used the state up")
		for _, id := range []string{"u1", "u2"} {
			st, err := h.svc.Status(ctx, id)
			require.NoError(t, err)
			assert.False(t, st.Connected, id)
		}
	})
	t.Run("without a Mattermost session", func(t *testing.T) {
		target, err := h.svc.Begin(ctx, "u1")
		require.NoError(t, err)
		_, err = h.svc.Complete(ctx, "", h.signIn(target, "ms-ada"))
		assert.Equal(t, ReasonWrongUser, refusalOf(t, err))
	})
	t.Run("expired", func(t *testing.T) {
		target, err := h.svc.Begin(ctx, "u1")
		require.NoError(t, err)
		q := h.signIn(target, "ms-ada")
		h.advance(StateTTL + time.Second)
		_, err = h.svc.Complete(ctx, "u1", q)
		assert.Equal(t, ReasonStateExpired, refusalOf(t, err))
	})
}

func TestPKCEMismatchIsRefused(t *testing.T) {
	h := newHarness(t)
	h.mm.AddUser("u1", "ada@contoso.com")
	h.addAccount("ms-ada", "ada@contoso.com", "ada@contoso.com")
	ctx := context.Background()

	target, err := h.svc.Begin(ctx, "u1")
	require.NoError(t, err)
	q := h.signIn(target, "ms-ada")
	// Tamper with the stored verifier, as someone with database access but no browser might.
	conn, err := pgx.Connect(ctx, h.dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, `UPDATE msteamsnotify_oauth_states SET code_verifier = $1`, strings.Repeat("x", 64))
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())

	_, err = h.svc.Complete(ctx, "u1", q)
	assert.Equal(t, ReasonSignInFailed, refusalOf(t, err))
	st, err := h.svc.Status(ctx, "u1")
	require.NoError(t, err)
	assert.False(t, st.Connected)
}

func TestCancelledSignInIsRefused(t *testing.T) {
	h := newHarness(t)
	h.mm.AddUser("u1", "ada@contoso.com")
	target, err := h.svc.Begin(context.Background(), "u1")
	require.NoError(t, err)
	u, _ := url.Parse(target)
	state := u.Query().Get("state")
	_, err = h.svc.Complete(context.Background(), "u1", url.Values{"state": {state}, "error": {"access_denied"}, "error_description": {"AADSTS65004: declined"}})
	assert.Equal(t, ReasonSignInDenied, refusalOf(t, err))
}

func TestOneMicrosoftAccountLinksOneMattermostUser(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.mm.AddUser("u1", "ada@contoso.com")
	// A second Mattermost user with the same email (e.g. a second login) tries to claim the account.
	h.mm.AddUser("u2", "ADA@contoso.com")
	h.addAccount("ms-ada", "ada@contoso.com", "ada@contoso.com")

	_, err := h.connect("u1", "ms-ada")
	require.NoError(t, err)
	_, err = h.connect("u2", "ms-ada")
	require.Equal(t, ReasonAccountTaken, refusalOf(t, err))
	var r *Refusal
	require.ErrorAs(t, err, &r)
	assert.Contains(t, r.Message(), "ada@contoso.com")
	assert.Contains(t, r.Message(), "already connected to another Mattermost user")

	owner, err := h.store.GetUserByTeamsID(ctx, "ms-ada")
	require.NoError(t, err)
	assert.Equal(t, "u1", owner.MMUserID)

	// Once the first user disconnects, the account is free for the other one.
	require.NoError(t, h.svc.Disconnect(ctx, "u1"))
	_, err = h.connect("u2", "ms-ada")
	require.NoError(t, err)
	owner, err = h.store.GetUserByTeamsID(ctx, "ms-ada")
	require.NoError(t, err)
	assert.Equal(t, "u2", owner.MMUserID)
	_, err = h.store.GetUser(ctx, "u1")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestDisconnectDeletesTokensAndFreesTheSeat(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.set(func(s *Settings) { s.ConnectedUsersAllowed = 1 })
	h.mustConnect("u1", "ada@contoso.com")
	h.mm.AddUser("u2", "bob@contoso.com")
	assert.Equal(t, ReasonNoSeat, refusalOf(t, h.svc.CanConnect(ctx, "u2")))

	require.NoError(t, h.svc.Disconnect(ctx, "u1"))
	row, err := h.store.GetUser(ctx, "u1")
	require.NoError(t, err)
	assert.Zero(t, len(row.Token), "no token is kept")
	assert.False(t, row.Connected())
	_, err = h.svc.Token(ctx, "u1")
	assert.ErrorIs(t, err, ErrNotConnected)
	assert.NoError(t, h.svc.CanConnect(ctx, "u2"))
	assert.ErrorIs(t, h.svc.Disconnect(ctx, "u1"), ErrNotConnected)
	ev := h.mm.Events("u1")
	assert.Equal(t, map[string]any{"connected": false}, ev[len(ev)-1].Payload)

	// Reconnecting keeps the user's notification choice.
	require.NoError(t, h.svc.SetNotifications("u1", false))
	_, err = h.connect("u1", "ms-u1")
	require.NoError(t, err)
	on, err := h.svc.Notifications("u1")
	require.NoError(t, err)
	assert.False(t, on)
}

func TestAnAdministratorsLinkAllowsAnAccountWhoseEmailDiffers(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.mm.AddUser("u1", "ada@personal.example")
	h.addAccount("6f1c0a7e-1111-4c2b-9a55-0d2b9e4c7a10", "ada.lovelace@contoso.com", "ada.lovelace@contoso.com")
	h.addAccount("6f1c0a7e-2222-4c2b-9a55-0d2b9e4c7a10", "mallory@contoso.com", "mallory@contoso.com")
	link := func(account string) {
		require.NoError(t, h.store.ReplaceAccountLinks(ctx, []store.AccountLink{{MMUserID: "u1", MicrosoftAccount: account}}, time.Now()))
	}

	_, err := h.connect("u1", "6f1c0a7e-1111-4c2b-9a55-0d2b9e4c7a10")
	require.Equal(t, ReasonEmailMismatch, refusalOf(t, err), "no link: the e-mails must match")

	// Linked by user principal name: only that account, and only through a real sign-in to it.
	link("Ada.Lovelace@contoso.com")
	_, err = h.connect("u1", "6f1c0a7e-2222-4c2b-9a55-0d2b9e4c7a10")
	require.Equal(t, ReasonEmailMismatch, refusalOf(t, err), "another account is still refused")
	st, err := h.svc.Status(ctx, "u1")
	require.NoError(t, err)
	assert.False(t, st.Connected, "a link connects nobody by itself")
	got, err := h.connect("u1", "6f1c0a7e-1111-4c2b-9a55-0d2b9e4c7a10")
	require.NoError(t, err)
	assert.Equal(t, "ada.lovelace@contoso.com", got.AccountEmail)

	// Removing the link keeps the connection until the user disconnects; then the link is needed again.
	require.NoError(t, h.store.ReplaceAccountLinks(ctx, nil, time.Now()))
	st, err = h.svc.Status(ctx, "u1")
	require.NoError(t, err)
	assert.True(t, st.Connected)
	require.NoError(t, h.svc.Disconnect(ctx, "u1"))
	_, err = h.connect("u1", "6f1c0a7e-1111-4c2b-9a55-0d2b9e4c7a10")
	require.Equal(t, ReasonEmailMismatch, refusalOf(t, err))

	// Linked by object id.
	link("6F1C0A7E-1111-4C2B-9A55-0D2B9E4C7A10")
	_, err = h.connect("u1", "6f1c0a7e-1111-4c2b-9a55-0d2b9e4c7a10")
	require.NoError(t, err)
}
