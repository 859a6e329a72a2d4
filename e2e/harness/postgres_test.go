package harness

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// The fallback for machines without a shared PostgreSQL: a private cluster that accepts connections and
// creates databases like the shared server does.
func TestPrivateClusterServesFreshDatabases(t *testing.T) {
	admin := StartPrivateCluster(t)
	dsn, err := createDatabase(t, admin)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)

	var name string
	require.NoError(t, conn.QueryRow(ctx, "SELECT current_database()").Scan(&name))
	require.Regexp(t, `^mm_e2e_\d+_\d+$`, name)
}

// With the shared server reachable, each call hands out a different, empty database on it.
func TestNewDatabaseIsFreshEachTime(t *testing.T) {
	t.Setenv("E2E_PG", "")
	first, second := NewDatabase(t), NewDatabase(t)
	require.NotEqual(t, first, second)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, first)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var tables int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").Scan(&tables))
	require.Zero(t, tables)
}
