package connect

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSeatLimitCountsUsersConnectedNow(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.set(func(s *Settings) { s.ConnectedUsersAllowed = 2 })
	h.mustConnect("u1", "ada@contoso.com")
	h.mustConnect("u2", "bob@contoso.com")

	h.mm.AddUser("u3", "cy@contoso.com")
	h.addAccount("ms-u3", "cy@contoso.com", "cy@contoso.com")
	assert.Equal(t, ReasonNoSeat, refusalOf(t, h.svc.CanConnect(ctx, "u3")))
	_, err := h.svc.Begin(ctx, "u3")
	assert.Equal(t, ReasonNoSeat, refusalOf(t, err))

	// A sign-in started while a seat was free is checked again when it completes.
	require.NoError(t, h.svc.Disconnect(ctx, "u2"))
	target, err := h.svc.Begin(ctx, "u3")
	require.NoError(t, err)
	_, err = h.connect("u2", "ms-u2")
	require.NoError(t, err)
	_, err = h.svc.Complete(ctx, "u3", h.signIn(target, "ms-u3"))
	assert.Equal(t, ReasonNoSeat, refusalOf(t, err))

	// Zero stops new connections.
	h.set(func(s *Settings) { s.ConnectedUsersAllowed = 0 })
	assert.Equal(t, ReasonNoSeat, refusalOf(t, h.svc.CanConnect(ctx, "u3")))
}

func TestRestrictedModeAdmitsOnlyWhitelistedUsers(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.set(func(s *Settings) { s.Restricted = true })
	h.mm.AddUser("u1", "ada@contoso.com")
	h.mm.AddUser("u2", "bob@contoso.com")
	h.addAccount("ms-u1", "ada@contoso.com", "ada@contoso.com")
	require.NoError(t, h.store.ReplaceWhitelist(ctx, []string{"u1"}, time.Now()))

	assert.NoError(t, h.svc.CanConnect(ctx, "u1"))
	assert.Equal(t, ReasonNotWhitelisted, refusalOf(t, h.svc.CanConnect(ctx, "u2")))
	_, err := h.connect("u1", "ms-u1")
	require.NoError(t, err)

	// Lifting the restriction admits everyone.
	h.set(func(s *Settings) { s.Restricted = false })
	assert.NoError(t, h.svc.CanConnect(ctx, "u2"))
}

func TestInvitations(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T, allowed, pool int) *harness {
		h := newHarness(t)
		h.set(func(s *Settings) {
			s.ConnectedUsersAllowed, s.MaxPendingInvites, s.InviteExpiry = allowed, pool, 3*24*time.Hour
		})
		for _, id := range []string{"u1", "u2", "u3", "u4"} {
			h.mm.AddUser(id, id+"@contoso.com")
		}
		return h
	}

	t.Run("sends a DM with a connect link up to the pool size, once per user", func(t *testing.T) {
		h := setup(t, 10, 2)
		for _, tc := range []struct {
			user string
			want bool
		}{{"u1", true}, {"u1", false}, {"u2", true}, {"u3", false}} {
			sent, err := h.svc.MaybeInvite(ctx, tc.user)
			require.NoError(t, err)
			assert.Equal(t, tc.want, sent, tc.user)
		}
		dms := h.mm.DMs("u1")
		require.Len(t, dms, 1)
		assert.Contains(t, dms[0], testPlugin+"/connect")
		assert.Contains(t, dms[0], "3 days")
		assert.Empty(t, h.mm.DMs("u3"))
	})

	t.Run("an unanswered invitation expires and frees its place", func(t *testing.T) {
		h := setup(t, 10, 1)
		sent, err := h.svc.MaybeInvite(ctx, "u1")
		require.NoError(t, err)
		require.True(t, sent)
		sent, err = h.svc.MaybeInvite(ctx, "u2")
		require.NoError(t, err)
		assert.False(t, sent, "the pool is full")

		h.advance(3*24*time.Hour + time.Minute)
		sent, err = h.svc.MaybeInvite(ctx, "u2")
		require.NoError(t, err)
		assert.True(t, sent, "the expired invitation no longer holds the pool")
		sent, err = h.svc.MaybeInvite(ctx, "u1")
		require.NoError(t, err)
		assert.False(t, sent, "an invitation is sent once")
	})

	t.Run("a pending invitation holds a seat for its user", func(t *testing.T) {
		h := setup(t, 2, 1)
		sent, err := h.svc.MaybeInvite(ctx, "u1")
		require.NoError(t, err)
		require.True(t, sent)
		h.mustConnect("u2", "u2@contoso.com")
		assert.Equal(t, ReasonNoSeat, refusalOf(t, h.svc.CanConnect(ctx, "u3")), "the last seat is held for u1")
		assert.NoError(t, h.svc.CanConnect(ctx, "u1"))

		h.addAccount("ms-u1", "u1@contoso.com", "u1@contoso.com")
		_, err = h.connect("u1", "ms-u1")
		require.NoError(t, err)
		_, err = h.store.GetInvite(ctx, "u1")
		assert.ErrorIs(t, err, ErrNotFound, "connecting uses up the invitation")
	})

	t.Run("no invitation when seats are taken", func(t *testing.T) {
		h := setup(t, 1, 5)
		h.mustConnect("u1", "u1@contoso.com")
		sent, err := h.svc.MaybeInvite(ctx, "u2")
		require.NoError(t, err)
		assert.False(t, sent)
	})

	t.Run("skips bots, guests, deactivated and connected users, and honours the whitelist", func(t *testing.T) {
		h := setup(t, 10, 10)
		h.mm.Put(&model.User{Id: "bot", Email: "bot@contoso.com", IsBot: true})
		h.mm.Put(&model.User{Id: "guest", Email: "guest@contoso.com", Roles: model.SystemGuestRoleId})
		h.mm.Put(&model.User{Id: "gone", Email: "gone@contoso.com", DeleteAt: 1})
		h.mustConnect("u1", "u1@contoso.com")
		for _, id := range []string{"bot", "guest", "gone", "u1"} {
			sent, err := h.svc.MaybeInvite(ctx, id)
			require.NoError(t, err)
			assert.False(t, sent, id)
		}
		h.set(func(s *Settings) { s.Restricted = true })
		require.NoError(t, h.store.ReplaceWhitelist(ctx, []string{"u3"}, time.Now()))
		sent, err := h.svc.MaybeInvite(ctx, "u2")
		require.NoError(t, err)
		assert.False(t, sent, "not whitelisted")
		sent, err = h.svc.MaybeInvite(ctx, "u3")
		require.NoError(t, err)
		assert.True(t, sent)
	})

	t.Run("a pool of 0 turns invitations off", func(t *testing.T) {
		h := setup(t, 10, 0)
		sent, err := h.svc.MaybeInvite(ctx, "u1")
		require.NoError(t, err)
		assert.False(t, sent)
	})
}

func TestLastSeatGoesToOneOfTwoConcurrentSignIns(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.set(func(s *Settings) { s.ConnectedUsersAllowed = 1 })
	queries := map[string]url.Values{}
	for _, id := range []string{"u1", "u2"} {
		h.mm.AddUser(id, id+"@contoso.com")
		h.addAccount("ms-"+id, id+"@contoso.com", id+"@contoso.com")
		target, err := h.svc.Begin(ctx, id)
		require.NoError(t, err)
		queries[id] = h.signIn(target, "ms-"+id)
	}

	nodes := map[string]*Service{"u1": h.node(h.openStore()), "u2": h.node(h.openStore())}
	errs := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for id, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := n.Complete(ctx, id, queries[id])
			mu.Lock()
			errs[id] = err
			mu.Unlock()
		}()
	}
	wg.Wait()

	connected, err := h.store.CountConnectedUsers(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, connected)
	refused := 0
	for _, err := range errs {
		if err != nil {
			assert.Equal(t, ReasonNoSeat, refusalOf(t, err))
			refused++
		}
	}
	assert.Equal(t, 1, refused)
}
