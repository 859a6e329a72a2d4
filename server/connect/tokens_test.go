package connect

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/teamsnotify/msteams-sync/server/graph"
)

const tokenRoute = "POST /{tenant}/oauth2/v2.0/token"

func TestFreshTokenIsUsedWithoutRefresh(t *testing.T) {
	h := newHarness(t)
	h.mustConnect("u1", "ada@contoso.com")
	stored := h.storedToken("u1")
	before := h.sim.CallCount(tokenRoute)

	tok, err := h.svc.Token(context.Background(), "u1")
	require.NoError(t, err)
	assert.Equal(t, stored.AccessToken, tok.AccessToken)
	assert.Equal(t, before, h.sim.CallCount(tokenRoute))
}

func TestRefreshBeforeExpirySavesTheRotatedRefreshToken(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.mustConnect("u1", "ada@contoso.com")
	old := h.storedToken("u1")
	h.expireStoredToken("u1")
	before := h.sim.CallCount(tokenRoute)

	tok, err := h.svc.Token(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, before+1, h.sim.CallCount(tokenRoute))
	assert.NotEqual(t, old.AccessToken, tok.AccessToken)

	stored := h.storedToken("u1")
	assert.Equal(t, tok.AccessToken, stored.AccessToken)
	assert.NotEqual(t, old.RefreshToken, stored.RefreshToken, "the rotated refresh token replaces the old one")
	assert.True(t, h.svc.fresh(stored))

	me, err := h.getMe(ctx, h.svc.TokenSource(ctx, "u1"))
	require.NoError(t, err)
	assert.Equal(t, "ms-u1", me.ID)
}

func TestConcurrentRefreshOnTwoNodesRefreshesOnce(t *testing.T) {
	h := newHarness(t)
	h.mustConnect("u1", "ada@contoso.com")
	h.expireStoredToken("u1")
	nodes := []*Service{h.node(h.openStore()), h.node(h.openStore())}
	before := h.sim.CallCount(tokenRoute)

	got := make([]*oauth2.Token, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = n.Token(context.Background(), "u1")
		}()
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])

	assert.Equal(t, before+1, h.sim.CallCount(tokenRoute), "the second node reused the first node's refresh")
	assert.Equal(t, got[0].AccessToken, got[1].AccessToken)
	stored := h.storedToken("u1")
	assert.Equal(t, got[0].AccessToken, stored.AccessToken)
	assert.Equal(t, got[0].RefreshToken, stored.RefreshToken)
	_, err := h.getMe(context.Background(), oauth2.StaticTokenSource(stored))
	assert.NoError(t, err, "the one stored token is valid")
}

func TestRevokedGrantDisconnectsAndTellsTheUserOnce(t *testing.T) {
	for _, code := range []int{50173, 700082, 70008, 70000} {
		t.Run("AADSTS"+strconv.Itoa(code), func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			h.mustConnect("u1", "ada@contoso.com")
			dmsBefore := len(h.mm.DMs("u1"))
			h.sim.RevokeGrant("ms-u1", testClientID, code)
			h.expireStoredToken("u1")

			// Several callers notice at once; the user hears about it once.
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = h.node(h.openStore()).Token(ctx, "u1")
				}()
			}
			wg.Wait()
			for _, err := range errs {
				assert.ErrorIs(t, err, ErrNotConnected)
			}
			_, err := h.svc.Token(ctx, "u1")
			assert.ErrorIs(t, err, ErrNotConnected)

			row, err := h.store.GetUser(ctx, "u1")
			require.NoError(t, err)
			assert.False(t, row.Connected())
			assert.Zero(t, len(row.Token), "no token is kept")

			dms := h.mm.DMs("u1")
			require.Len(t, dms, dmsBefore+1, "exactly one DM")
			assert.Contains(t, dms[len(dms)-1], testPlugin+"/connect")
			ev := h.mm.Events("u1")
			assert.Equal(t, map[string]any{"connected": false}, ev[len(ev)-1].Payload)

			// Reconnecting works again.
			_, err = h.connect("u1", "ms-u1")
			require.NoError(t, err)
		})
	}
}

func TestBadClientSecretDoesNotDisconnectUsers(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.mustConnect("u1", "ada@contoso.com")
	h.sim.FailClientSecret(testClientID, true)
	h.expireStoredToken("u1")
	dmsBefore := len(h.mm.DMs("u1"))

	_, err := h.svc.Token(ctx, "u1")
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrNotConnected)
	stored := h.storedToken("u1")
	assert.NotContains(t, err.Error(), stored.RefreshToken)
	assert.Len(t, h.mm.DMs("u1"), dmsBefore)

	h.sim.FailClientSecret(testClientID, false)
	_, err = h.svc.Token(ctx, "u1")
	assert.NoError(t, err)
}

func TestCallRefreshesOnGraph401AndRetries(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.mustConnect("u1", "ada@contoso.com")
	// Graph stops accepting every token issued so far (as after a server-side token invalidation).
	h.sim.ExpireTokens()
	calls := 0
	err := h.svc.Call(ctx, "u1", isUnauthorized, func(ctx context.Context, ts oauth2.TokenSource) error {
		calls++
		_, err := h.getMe(ctx, ts)
		return err
	})
	require.NoError(t, err)
	assert.Equal(t, 2, calls)
	assert.True(t, h.storedToken("u1").Valid())
}

func TestCallDisconnectsWhenARefreshCannotCureA401(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.mustConnect("u1", "ada@contoso.com")
	dmsBefore := len(h.mm.DMs("u1"))
	calls := 0
	err := h.svc.Call(ctx, "u1", isUnauthorized, func(ctx context.Context, ts oauth2.TokenSource) error {
		calls++
		if _, err := ts.Token(); err != nil {
			return err
		}
		// Every token is refused, e.g. the account was blocked from Graph.
		return &graph.APIError{Status: 401, Code: "InvalidAuthenticationToken"}
	})
	assert.ErrorIs(t, err, ErrNotConnected)
	assert.Equal(t, 2, calls)
	_, err = h.svc.Token(ctx, "u1")
	assert.ErrorIs(t, err, ErrNotConnected)
	assert.Len(t, h.mm.DMs("u1"), dmsBefore+1)
}
