package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

// The channel catch-up reads the teams whose channel messages the plugin handled recently: channel rows only
// (chat rows never), each team once, and nothing older than asked.
func TestChannelTeamsSince(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	row := func(chatID, msgID string, at time.Time) {
		_, err := s.InsertPost(ctx, store.DeliveredPost{ChatID: chatID, MessageID: msgID, MMUserID: "alice",
			State: store.PostSkipped, Reason: "muted", ReservedAt: at})
		require.NoError(t, err)
	}
	row("19:chat@thread.v2", "1", now)
	row("team-a/19:general@thread.tacv2", "2", now)
	row("team-a/19:random@thread.tacv2", "3", now)
	row("team-b/19:general@thread.tacv2", "4", now.Add(-time.Hour))
	row("team-c/19:general@thread.tacv2", "5", now.Add(-48*time.Hour))

	teams, err := s.ChannelTeamsSince(ctx, now.Add(-24*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, []string{"team-a", "team-b"}, teams)
}
