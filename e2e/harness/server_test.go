package harness

import (
	"context"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A started server has a system admin, a team, a local-mode socket, and users that read their direct messages
// through DirectPosts in the order they were sent.
func TestStartedServerDeliversDirectMessages(t *testing.T) {
	s := Start(t, Versions()[0])
	ctx := context.Background()

	assert.True(t, s.AdminUser.IsSystemAdmin())
	ping, _, err := s.Local.GetPing(ctx)
	require.NoError(t, err, "local mode socket")
	assert.Equal(t, model.StatusOk, ping)

	alice := s.NewUser("alice")
	_, _, err = s.Admin.GetTeamMember(ctx, s.Team.Id, alice.Id, "")
	require.NoError(t, err, "alice is in the team")

	ch, _, err := s.Admin.CreateDirectChannel(ctx, s.AdminUser.Id, alice.Id)
	require.NoError(t, err)
	for _, msg := range []string{"first", "second"} {
		_, _, err := s.Admin.CreatePost(ctx, &model.Post{ChannelId: ch.Id, Message: msg})
		require.NoError(t, err)
	}

	posts := s.WaitDirectPosts(alice, s.AdminUser.Id, 2, 10*time.Second)
	require.Len(t, posts, 2)
	assert.Equal(t, "first", posts[0].Message)
	assert.Equal(t, "second", posts[1].Message)
	assert.Equal(t, s.AdminUser.Id, posts[0].UserId)

	assert.Nil(t, s.UserByUsername("nobody"))
	assert.Equal(t, alice.Id, s.UserByUsername("alice").Id)
}
