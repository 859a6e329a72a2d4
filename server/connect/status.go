package connect

import (
	"context"
	"time"

	"github.com/pkg/errors"
)

// Status is what a user sees about their own connection.
type Status struct {
	Connected   bool
	TeamsEmail  string
	ConnectedAt time.Time
}

// Status returns the user's connection status.
func (s *Service) Status(ctx context.Context, mmUserID string) (Status, error) {
	link, err := s.d.Store.GetUser(ctx, mmUserID)
	if errors.Is(err, ErrNotFound) {
		return Status{}, nil
	}
	if err != nil {
		return Status{}, errors.Wrap(err, "get link")
	}
	if !link.Connected() {
		return Status{}, nil
	}
	return Status{Connected: true, TeamsEmail: link.TeamsEmail, ConnectedAt: link.ConnectedAt}, nil
}

// Disconnect deletes the user's tokens, which frees their seat. It returns ErrNotConnected if there was
// nothing to disconnect. Microsoft is not told: the grant simply goes unused.
func (s *Service) Disconnect(ctx context.Context, mmUserID string) error {
	was := false
	err := s.d.Store.WithUserTokenLock(ctx, mmUserID, func(ctx context.Context) error {
		link, err := s.d.Store.GetUser(ctx, mmUserID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return errors.Wrap(err, "get link")
		}
		if !link.Connected() {
			return nil
		}
		was = true
		return errors.Wrap(s.d.Store.DisconnectUser(ctx, mmUserID, s.now()), "delete token")
	})
	if err != nil {
		return err
	}
	if !was {
		return ErrNotConnected
	}
	s.d.Mattermost.PublishToUser(mmUserID, EventConnectionChanged, map[string]any{"connected": false})
	return nil
}

// Notifications tells whether the user wants Teams messages forwarded; an unset preference counts as off,
// as in the official plugin (connecting sets it on).
func (s *Service) Notifications(mmUserID string) (bool, error) {
	v, found, err := s.d.Mattermost.GetPreference(mmUserID, PreferenceCategory, PreferenceNotifications)
	if err != nil {
		return false, errors.Wrap(err, "read notifications preference")
	}
	return found && v == PreferenceOn, nil
}

// SetNotifications turns forwarding on or off for the user.
func (s *Service) SetNotifications(mmUserID string, enabled bool) error {
	return SetNotifications(s.d.Mattermost, mmUserID, enabled)
}
