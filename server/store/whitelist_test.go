package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

func TestWhitelist(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()

	ids, err := s.ListWhitelist(ctx)
	require.NoError(t, err)
	assert.Empty(t, ids, "empty at first")

	require.NoError(t, s.ReplaceWhitelist(ctx, []string{"carol", "alice", "bob", "alice"}, now))
	ids, err = s.ListWhitelist(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"alice", "bob", "carol"}, ids, "sorted, duplicates dropped")
	n, err := s.CountWhitelist(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, n)

	require.NoError(t, s.ReplaceWhitelist(ctx, []string{"dave", "bob"}, now))
	ids, err = s.ListWhitelist(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"bob", "dave"}, ids, "replacing drops users not in the new list")

	for id, want := range map[string]bool{"bob": true, "dave": true, "alice": false, "": false} {
		got, err := s.WhitelistContains(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, want, got, id)
	}

	require.NoError(t, s.RemoveFromWhitelist(ctx, "bob"))
	require.NoError(t, s.RemoveFromWhitelist(ctx, "nobody"))
	ids, err = s.ListWhitelist(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"dave"}, ids)

	require.NoError(t, s.ReplaceWhitelist(ctx, nil, now))
	n, err = s.CountWhitelist(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "an empty list clears the whitelist")
}
