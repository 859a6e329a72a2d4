package connect

import (
	"context"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/store"
)

const defaultInviteExpiry = 7 * 24 * time.Hour

// EffectiveInviteExpiry is InviteExpiry, or 7 days when unset.
func (st Settings) EffectiveInviteExpiry() time.Duration {
	if st.InviteExpiry <= 0 {
		return defaultInviteExpiry
	}
	return st.InviteExpiry
}

// pendingInvite tells whether the user holds an invitation that has not expired.
func (s *Service) pendingInvite(ctx context.Context, mmUserID string) (bool, error) {
	inv, err := s.d.Store.GetInvite(ctx, mmUserID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, errors.Wrap(err, "get invite")
	}
	return s.now().Before(inv.ExpiresAt), nil
}

// checkSeat decides whether a user who is not connected may connect now. A pending invitation holds a seat
// for its user; everyone else needs a seat not taken by connected users or pending invitations, and, in
// restricted mode, a place on the whitelist.
func (s *Service) checkSeat(ctx context.Context, user *model.User) error {
	st := s.d.Settings()
	connected, err := s.d.Store.CountConnectedUsers(ctx)
	if err != nil {
		return errors.Wrap(err, "count connected users")
	}
	invited, err := s.pendingInvite(ctx, user.Id)
	if err != nil {
		return err
	}
	if invited {
		if connected >= st.ConnectedUsersAllowed {
			return &Refusal{Reason: ReasonNoSeat}
		}
		return nil
	}
	if st.Restricted {
		ok, err := s.d.Store.WhitelistContains(ctx, user.Id)
		if err != nil {
			return errors.Wrap(err, "check whitelist")
		}
		if !ok {
			return &Refusal{Reason: ReasonNotWhitelisted}
		}
	}
	pending, err := s.d.Store.CountPendingInvites(ctx, s.now())
	if err != nil {
		return errors.Wrap(err, "count pending invites")
	}
	if connected+pending >= st.ConnectedUsersAllowed {
		return &Refusal{Reason: ReasonNoSeat}
	}
	return nil
}

// CanConnect returns nil when the user may start connecting now, or a *Refusal saying why not.
func (s *Service) CanConnect(ctx context.Context, mmUserID string) error {
	link, err := s.d.Store.GetUser(ctx, mmUserID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return errors.Wrap(err, "get link")
	}
	if err == nil && link.Connected() {
		return &Refusal{Reason: ReasonAlreadyConnected}
	}
	user, err := s.d.Mattermost.GetUser(mmUserID)
	if err != nil {
		return errors.Wrap(err, "get user")
	}
	return s.checkSeat(ctx, user)
}

// MaybeInvite sends the user an invitation to connect (a bot DM with a connect link) when the invitation pool
// has room. Bots, guests, deactivated, connected and already-invited users are skipped; an invitation is sent
// once per user and stops counting against the pool when it expires. It reports whether an invitation was sent.
func (s *Service) MaybeInvite(ctx context.Context, mmUserID string) (bool, error) {
	st := s.d.Settings()
	if st.MaxPendingInvites <= 0 {
		return false, nil
	}
	user, err := s.d.Mattermost.GetUser(mmUserID)
	if err != nil {
		return false, errors.Wrap(err, "get user")
	}
	if user.IsBot || user.IsGuest() || user.DeleteAt != 0 {
		return false, nil
	}
	link, err := s.d.Store.GetUser(ctx, mmUserID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, errors.Wrap(err, "get link")
	}
	if err == nil && link.Connected() {
		return false, nil
	}
	if st.Restricted {
		ok, err := s.d.Store.WhitelistContains(ctx, user.Id)
		if err != nil {
			return false, errors.Wrap(err, "check whitelist")
		}
		if !ok {
			return false, nil
		}
	}
	sent := false
	// Under the seat lock, so nodes inviting at once cannot overfill the pool or the seats.
	err = s.d.Store.WithUserTokenLock(ctx, seatLockID, func(ctx context.Context) error {
		if _, err := s.d.Store.GetInvite(ctx, mmUserID); err == nil {
			return nil
		} else if !errors.Is(err, ErrNotFound) {
			return errors.Wrap(err, "get invite")
		}
		now := s.now()
		pending, err := s.d.Store.CountPendingInvites(ctx, now)
		if err != nil {
			return errors.Wrap(err, "count pending invites")
		}
		if pending >= st.MaxPendingInvites {
			return nil
		}
		connected, err := s.d.Store.CountConnectedUsers(ctx)
		if err != nil {
			return errors.Wrap(err, "count connected users")
		}
		if connected+pending >= st.ConnectedUsersAllowed {
			return nil
		}
		sent = true
		return errors.Wrap(s.d.Store.CreateInvite(ctx, store.Invite{MMUserID: mmUserID, InvitedAt: now, ExpiresAt: now.Add(st.EffectiveInviteExpiry())}), "create invite")
	})
	if err != nil || !sent {
		return false, err
	}
	if err := s.d.Mattermost.DM(mmUserID, s.inviteMessage(st)); err != nil {
		return true, errors.Wrap(err, "send invite")
	}
	return true, nil
}
