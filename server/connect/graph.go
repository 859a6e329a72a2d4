package connect

import (
	"context"

	"github.com/pkg/errors"
	"golang.org/x/oauth2"

	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// GraphFactory builds delegated Graph clients; *graph.Factory implements it.
type GraphFactory interface {
	Delegated(ts oauth2.TokenSource) (*graph.Client, error)
}

// AccountsFromGraph reads the signed-in account (GET /me with proxyAddresses) through the current factory.
func AccountsFromGraph(factory func() GraphFactory) AccountFetcher {
	return AccountFetcherFunc(func(ctx context.Context, ts oauth2.TokenSource) (Account, error) {
		c, err := factory().Delegated(ts)
		if err != nil {
			return Account{}, err
		}
		me, err := c.GetMe(ctx)
		if err != nil {
			return Account{}, errors.Wrap(err, "get signed-in account")
		}
		return Account{ID: me.ID, DisplayName: me.DisplayName, Mail: me.Mail, UserPrincipalName: me.UserPrincipalName, ProxyAddresses: me.ProxyAddresses}, nil
	})
}

// CallGraph runs fn with a delegated Graph client acting as the user, with Call's 401 handling: one refresh
// and retry, then disconnection (ErrNotConnected) when Graph keeps refusing. fn may run twice.
func (s *Service) CallGraph(ctx context.Context, mmUserID string, factory GraphFactory, fn func(ctx context.Context, c *graph.Client) error) error {
	return s.Call(ctx, mmUserID, graph.IsUnauthorized, func(ctx context.Context, ts oauth2.TokenSource) error {
		c, err := factory.Delegated(ts)
		if err != nil {
			return err
		}
		return fn(ctx, c)
	})
}

// Client returns a delegated Graph client acting as the user. It refreshes tokens as needed but does not
// handle a Graph 401 itself; prefer CallGraph, which also detects revoked grants.
func (s *Service) Client(ctx context.Context, mmUserID string, factory GraphFactory) (*graph.Client, error) {
	return factory.Delegated(s.TokenSource(ctx, mmUserID))
}

// AccessToken returns the user's current access token, refreshed when about to expire (see Token).
func (s *Service) AccessToken(ctx context.Context, mmUserID string) (string, error) {
	t, err := s.Token(ctx, mmUserID)
	if err != nil {
		return "", err
	}
	return t.AccessToken, nil
}

// StoredAccessToken opens the access token stored for a user without refreshing it (it may have expired): for
// reading its claims, never for calling Graph.
func (s *Service) StoredAccessToken(l store.User) (string, error) {
	t, err := s.openToken(l)
	if err != nil {
		return "", err
	}
	return t.AccessToken, nil
}
