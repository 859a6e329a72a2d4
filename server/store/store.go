package store

import (
	"context"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pkg/errors"
)

// Options configure Open. Only DataSource is required.
type Options struct {
	// DataSource is Mattermost's SqlSettings.DataSource: a postgres:// or postgresql:// URL.
	DataSource string
	// Replicas are optional read replicas (SqlSettings.DataSourceReplicas). Only reads that
	// tolerate replication lag (listings and counts for reports and metrics) go there.
	Replicas []string
	// MaxConns caps each pool. Zero means 10: the plugin shares the database with Mattermost,
	// which sizes its own pools for the whole server, so the plugin stays modest.
	MaxConns int32
	// MaxConnLifetime and MaxConnIdleTime default to pgxpool's defaults when zero.
	MaxConnLifetime time.Duration
	MaxConnIdleTime time.Duration
	// ApplicationName is reported in pg_stat_activity; default "msteamsnotify".
	ApplicationName string
	// Tracer, when set, observes every query (the metrics package times them by name).
	Tracer pgx.QueryTracer
}

// Store is safe for concurrent use by many goroutines.
type Store struct {
	primary  *pgxpool.Pool
	replicas []*pgxpool.Pool
	next     atomic.Uint64 // round-robin over replicas
}

const defaultMaxConns = 10

// libpqOnlyParams are URL parameters that Mattermost's lib/pq driver understands but pgx does
// not. pgx forwards unknown parameters to the server as run-time settings, and the server then
// refuses the connection ("unrecognized configuration parameter"), so they are dropped here.
// Mattermost's documented DSN carries binary_parameters=yes.
var libpqOnlyParams = []string{"binary_parameters", "disable_prepared_binary_result", "fallback_application_name"}

// Open connects to the primary and to every replica. It does not migrate: call Migrate.
func Open(ctx context.Context, opts Options) (*Store, error) {
	primary, err := openPool(ctx, opts.DataSource, opts)
	if err != nil {
		return nil, errors.Wrap(err, "open primary database")
	}
	s := &Store{primary: primary}
	for i, dsn := range opts.Replicas {
		replica, err := openPool(ctx, dsn, opts)
		if err != nil {
			s.Close()
			return nil, errors.Wrapf(err, "open read replica %d", i+1)
		}
		s.replicas = append(s.replicas, replica)
	}
	return s, nil
}

func openPool(ctx context.Context, dsn string, opts Options) (*pgxpool.Pool, error) {
	if err := checkPostgresDSN(dsn); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors can quote the connection string, password included.
		return nil, errors.New("the data source is not a valid PostgreSQL connection URL")
	}
	for _, p := range libpqOnlyParams {
		delete(cfg.ConnConfig.RuntimeParams, p)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		name := opts.ApplicationName
		if name == "" {
			name = "msteamsnotify"
		}
		cfg.ConnConfig.RuntimeParams["application_name"] = name
	}
	if opts.Tracer != nil {
		cfg.ConnConfig.Tracer = opts.Tracer
	}
	cfg.MaxConns = opts.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = defaultMaxConns
	}
	if opts.MaxConnLifetime > 0 {
		cfg.MaxConnLifetime = opts.MaxConnLifetime
	}
	if opts.MaxConnIdleTime > 0 {
		cfg.MaxConnIdleTime = opts.MaxConnIdleTime
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, errors.Wrap(err, "create connection pool")
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, errors.Wrap(err, "ping database")
	}
	return pool, nil
}

// checkPostgresDSN refuses anything but a PostgreSQL URL, naming the problem without echoing
// the data source (it holds the database password).
func checkPostgresDSN(dsn string) error {
	if strings.TrimSpace(dsn) == "" {
		return errors.New("no data source configured")
	}
	scheme, _, found := strings.Cut(dsn, "://")
	if !found || (scheme != "postgres" && scheme != "postgresql") {
		return errors.New("only PostgreSQL is supported: the data source must be a postgres:// URL (MySQL is not supported)")
	}
	if _, err := url.Parse(dsn); err != nil {
		return errors.New("the data source is not a valid URL (are special characters in the password percent-encoded?)")
	}
	return nil
}

// Close closes every pool. It waits for connections in use to be returned.
func (s *Store) Close() {
	if s.primary != nil {
		s.primary.Close()
	}
	for _, r := range s.replicas {
		r.Close()
	}
}

// Ping checks that the primary answers.
func (s *Store) Ping(ctx context.Context) error {
	return errors.Wrap(s.primary.Ping(ctx), "ping primary database")
}

// reader returns a pool for reads that tolerate replication lag: a replica when there are any,
// else the primary. Reads that must see the caller's own writes use s.primary.
func (s *Store) reader() *pgxpool.Pool {
	if len(s.replicas) == 0 {
		return s.primary
	}
	return s.replicas[s.next.Add(1)%uint64(len(s.replicas))]
}
