package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

func TestSystemValues(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()

	_, err := s.GetSystemValue(ctx, "k")
	assert.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, s.SetSystemValue(ctx, "k", []byte{0, 1, 2}))
	v, err := s.GetSystemValue(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 1, 2}, v, "binary values round-trip")

	require.NoError(t, s.SetSystemValue(ctx, "k", []byte("second")))
	v, err = s.GetSystemValue(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, []byte("second"), v)

	require.NoError(t, s.SetSystemValue(ctx, "empty", nil))
	v, err = s.GetSystemValue(ctx, "empty")
	require.NoError(t, err)
	assert.Empty(t, v)

	require.NoError(t, s.DeleteSystemValue(ctx, "k"))
	_, err = s.GetSystemValue(ctx, "k")
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.NoError(t, s.DeleteSystemValue(ctx, "k"))
}
