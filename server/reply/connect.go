package reply

import (
	"context"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/connect"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// ConnectUsers is Users over the connection service: its token refresh, revoked-grant handling and the
// reconnect DM are the same as for every other call the plugin makes as a user.
type ConnectUsers struct {
	Service *connect.Service
	// Factory returns the current Graph client factory (it changes with the credentials).
	Factory func() connect.GraphFactory
}

var _ Users = ConnectUsers{}

// CallGraph implements Users.
func (c ConnectUsers) CallGraph(ctx context.Context, mmUserID string, fn func(ctx context.Context, g UserGraph) error) error {
	return c.Service.CallGraph(ctx, mmUserID, c.Factory(), func(ctx context.Context, gc *graph.Client) error {
		return fn(ctx, gc)
	})
}

// AccessToken implements Users.
func (c ConnectUsers) AccessToken(ctx context.Context, mmUserID string) (string, error) {
	return c.Service.AccessToken(ctx, mmUserID)
}

// StoredAccessToken implements Users.
func (c ConnectUsers) StoredAccessToken(u store.User) (string, error) {
	return c.Service.StoredAccessToken(u)
}

// IsNotConnected implements Users.
func (ConnectUsers) IsNotConnected(err error) bool { return errors.Is(err, connect.ErrNotConnected) }
