package store_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

func TestOpenRefusesNonPostgresDataSources(t *testing.T) {
	for _, dsn := range []string{
		"",
		"mmuser:secretpw@tcp(localhost:3306)/mattermost?charset=utf8mb4",
		"mysql://mmuser:secretpw@localhost/mattermost",
		"host=localhost user=mmuser password=secretpw",
	} {
		_, err := store.Open(context.Background(), store.Options{DataSource: dsn})
		require.Error(t, err, dsn)
		assert.NotContains(t, err.Error(), "secretpw", "the error must not echo the password")
	}
	_, err := store.Open(context.Background(), store.Options{DataSource: "mysql://u:p@h/db"})
	assert.ErrorContains(t, err, "only PostgreSQL is supported")
}

func TestOpenAcceptsMattermostStyleDataSources(t *testing.T) {
	dsn := storetest.NewDatabase(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	q := u.Query()
	// What Mattermost's documentation puts in SqlSettings.DataSource for lib/pq.
	q.Set("connect_timeout", "10")
	q.Set("binary_parameters", "yes")
	u.RawQuery = q.Encode()

	for _, scheme := range []string{"postgres", "postgresql"} {
		u.Scheme = scheme
		s, err := store.Open(context.Background(), store.Options{DataSource: u.String()})
		require.NoError(t, err, scheme)
		assert.NoError(t, s.Ping(context.Background()))
		s.Close()
	}
}

func TestReplicasServeLagTolerantReads(t *testing.T) {
	primary := storetest.NewDatabase(t)
	replica := storetest.NewDatabase(t) // a separate database stands in for a replica
	ctx := context.Background()

	s, err := store.Open(ctx, store.Options{DataSource: primary, Replicas: []string{replica}})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	require.NoError(t, s.Migrate(ctx))

	r, err := store.Open(ctx, store.Options{DataSource: replica})
	require.NoError(t, err)
	t.Cleanup(r.Close)
	require.NoError(t, r.Migrate(ctx))
	require.NoError(t, r.ReplaceWhitelist(ctx, []string{"only-on-replica"}, now))

	// Writes go to the primary; listings come from the replica.
	require.NoError(t, s.ReplaceWhitelist(ctx, []string{"on-primary"}, now))
	ids, err := s.ListWhitelist(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"only-on-replica"}, ids)
	// Point reads see the primary.
	ok, err := s.WhitelistContains(ctx, "on-primary")
	require.NoError(t, err)
	assert.True(t, ok)
}

func TestOpenFailsWhenAReplicaIsUnreachable(t *testing.T) {
	primary := storetest.NewDatabase(t)
	_, err := store.Open(context.Background(), store.Options{
		DataSource: primary,
		Replicas:   []string{"postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"},
	})
	assert.ErrorContains(t, err, "read replica 1")
}
