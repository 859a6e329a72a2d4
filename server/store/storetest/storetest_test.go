package storetest_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), storetest.AdminDSN())
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var ok bool
	require.NoError(t, conn.QueryRow(context.Background(),
		`SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&ok))
	return ok
}

func TestNewDatabaseIsFreshAndDroppedAfterTheTest(t *testing.T) {
	var name, other string
	t.Run("inner", func(t *testing.T) {
		dsn := storetest.NewDatabase(t)
		u, err := url.Parse(dsn)
		require.NoError(t, err)
		name = strings.TrimPrefix(u.Path, "/")
		other = strings.TrimPrefix(mustPath(t, storetest.NewDatabase(t)), "/")
		assert.NotEqual(t, name, other, "every call gets its own database")

		// A connection left open must not stop the drop.
		conn, err := pgx.Connect(context.Background(), dsn)
		require.NoError(t, err)
		var tables int
		require.NoError(t, conn.QueryRow(context.Background(),
			`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables))
		assert.Zero(t, tables, "fresh database is empty")
		assert.True(t, databaseExists(t, name))
	})
	assert.False(t, databaseExists(t, name), "dropped in cleanup")
	assert.False(t, databaseExists(t, other), "dropped in cleanup")
}

func TestNewStoreIsMigrated(t *testing.T) {
	s := storetest.NewStore(t)
	n, err := s.CountWhitelist(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n)
}

func mustPath(t *testing.T, dsn string) string {
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	return u.Path
}
