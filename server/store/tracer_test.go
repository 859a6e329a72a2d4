package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

type recordingTracer struct {
	mu  sync.Mutex
	sql []string
}

func (r *recordingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	r.sql = append(r.sql, d.SQL)
	r.mu.Unlock()
	return ctx
}

func (r *recordingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// The metrics package times database calls through this option: every store query must pass through it.
func TestTracerSeesStoreQueries(t *testing.T) {
	tr := &recordingTracer{}
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{DataSource: storetest.NewDatabase(t), Tracer: tr})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	require.NoError(t, s.Migrate(ctx))
	n, err := s.CountConnectedUsers(ctx)
	require.NoError(t, err)
	require.Zero(t, n)

	tr.mu.Lock()
	defer tr.mu.Unlock()
	require.NotEmpty(t, tr.sql)
	require.Contains(t, tr.sql[len(tr.sql)-1], "msteamsnotify_users")
}
