package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

func openUnmigrated(t *testing.T, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{DataSource: dsn})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func appliedVersions(t *testing.T, s *store.Store) []int {
	t.Helper()
	rows, err := s.Primary().Query(context.Background(), `SELECT version FROM `+store.SchemaTable+` ORDER BY version`)
	require.NoError(t, err)
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		require.NoError(t, rows.Scan(&v))
		vs = append(vs, v)
	}
	require.NoError(t, rows.Err())
	return vs
}

func TestMigrateAppliesEveryMigrationToAnEmptyDatabase(t *testing.T) {
	s := openUnmigrated(t, storetest.NewDatabase(t))
	ctx := context.Background()

	applied, err := s.MigrateEmbedded(ctx)
	require.NoError(t, err)
	assert.Equal(t, store.EmbeddedVersions(), applied)
	assert.Equal(t, store.EmbeddedVersions(), appliedVersions(t, s))

	for _, table := range []string{"msteamsnotify_users", "msteamsnotify_oauth_states", "msteamsnotify_whitelist",
		"msteamsnotify_invites", "msteamsnotify_system_values"} {
		var exists bool
		require.NoError(t, s.Primary().QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists))
		assert.True(t, exists, table)
	}

	// Every table carries our prefix: nothing may collide with Mattermost's tables or the
	// official plugin's msteamssync_ ones in the same database.
	rows, err := s.Primary().Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		assert.True(t, strings.HasPrefix(name, "msteamsnotify_"), name)
	}
	require.NoError(t, rows.Err())
}

func TestMigrateTwiceIsANoOp(t *testing.T) {
	s := openUnmigrated(t, storetest.NewDatabase(t))
	ctx := context.Background()
	_, err := s.MigrateEmbedded(ctx)
	require.NoError(t, err)

	applied, err := s.MigrateEmbedded(ctx)
	require.NoError(t, err)
	assert.Empty(t, applied)
	assert.Equal(t, store.EmbeddedVersions(), appliedVersions(t, s))
}

func TestConcurrentMigratorsApplyTheSchemaOnce(t *testing.T) {
	dsn := storetest.NewDatabase(t)
	const nodes = 4
	stores := make([]*store.Store, nodes)
	for i := range stores {
		stores[i] = openUnmigrated(t, dsn) // one pool per "node"
	}

	var wg sync.WaitGroup
	applied := make([][]int, nodes)
	errs := make([]error, nodes)
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied[i], errs[i] = stores[i].MigrateEmbedded(context.Background())
		}()
	}
	wg.Wait()

	var total []int
	for i := range stores {
		require.NoError(t, errs[i], "node %d", i)
		total = append(total, applied[i]...)
	}
	assert.ElementsMatch(t, store.EmbeddedVersions(), total, "each migration applied by exactly one node")
	assert.Equal(t, store.EmbeddedVersions(), appliedVersions(t, stores[0]))
}

func TestMigrateAddsOnlyNewFilesAndToleratesNewerVersions(t *testing.T) {
	s := openUnmigrated(t, storetest.NewDatabase(t))
	ctx := context.Background()

	v1 := fstest.MapFS{"001_a.sql": {Data: []byte("CREATE TABLE msteamsnotify_t_a (id INT)")}}
	applied, err := s.MigrateFS(ctx, v1)
	require.NoError(t, err)
	assert.Equal(t, []int{1}, applied)

	v2 := fstest.MapFS{
		"001_a.sql": v1["001_a.sql"],
		"002_b.sql": {Data: []byte("CREATE TABLE msteamsnotify_t_b (id INT); INSERT INTO msteamsnotify_t_a VALUES (1)")},
	}
	applied, err = s.MigrateFS(ctx, v2)
	require.NoError(t, err)
	assert.Equal(t, []int{2}, applied)

	// An older binary (only 001) starting after a newer one migrated must not fail.
	applied, err = s.MigrateFS(ctx, v1)
	require.NoError(t, err)
	assert.Empty(t, applied)
}

func TestAFailingMigrationLeavesNoTraceAndIsRetried(t *testing.T) {
	s := openUnmigrated(t, storetest.NewDatabase(t))
	ctx := context.Background()

	bad := fstest.MapFS{"001_a.sql": {Data: []byte("CREATE TABLE msteamsnotify_t_a (id INT); SELECT no_such_function()")}}
	_, err := s.MigrateFS(ctx, bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "001_a.sql")
	assert.Empty(t, appliedVersions(t, s))

	good := fstest.MapFS{"001_a.sql": {Data: []byte("CREATE TABLE msteamsnotify_t_a (id INT)")}}
	applied, err := s.MigrateFS(ctx, good)
	require.NoError(t, err)
	assert.Equal(t, []int{1}, applied)
}

func TestLoadMigrations(t *testing.T) {
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []string
		wantErr string
	}{
		{
			name: "sorted by number, not by name",
			files: fstest.MapFS{
				"010_ten.sql": {Data: []byte("SELECT 10")},
				"002_two.sql": {Data: []byte("SELECT 2")},
				"README.md":   {Data: []byte("ignored")},
			},
			want: []string{"002_two.sql", "010_ten.sql"},
		},
		{name: "no number", files: fstest.MapFS{"abc_x.sql": {Data: []byte("SELECT 1")}}, wantErr: "NNN_description.sql"},
		{name: "zero", files: fstest.MapFS{"000_x.sql": {Data: []byte("SELECT 1")}}, wantErr: "NNN > 0"},
		{
			name: "duplicate version",
			files: fstest.MapFS{
				"003_a.sql": {Data: []byte("SELECT 1")},
				"3_b.sql":   {Data: []byte("SELECT 1")},
			},
			wantErr: "share version 3",
		},
		{name: "empty", files: fstest.MapFS{"001_x.sql": {Data: []byte(" \n")}}, wantErr: "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := store.LoadMigrationNames(tt.files)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
