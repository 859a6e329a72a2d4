package store

import (
	"context"
	"embed"
	"hash/fnv"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pkg/errors"
)

// Migrations are plain SQL files named NNN_description.sql in migrations/. Adding a file is
// all it takes to change the schema: Migrate applies, in version order, every embedded
// migration not yet recorded in the schema table, each in its own transaction.
//
// Why not github.com/jackc/tern/v2/migrate: it runs every file through text/template with
// sprig (about ten extra modules in the plugin binary, and "{{" in SQL becomes syntax), keeps a
// single version number and fails with BadVersionError when the database is newer than the
// binary (a node still on the previous plugin version restarting during a rolling upgrade),
// and locks with one advisory lock number shared by every tern user of the database. What we
// need (embedded files, an advisory lock, a record per migration) is about a hundred lines.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// SchemaTable records applied migrations, one row per version.
const SchemaTable = "msteamsnotify_schema_version"

// migrationLockKey is the advisory lock that serializes migrators on several nodes. Derived
// from the schema table name so it is stable and unlikely to meet anyone else's key.
var migrationLockKey = advisoryKey(SchemaTable)

type migration struct {
	version int
	name    string
	sql     string
}

// lockReleaseTimeout bounds the unlock after the work is done, whatever the caller's context.
const lockReleaseTimeout = 10 * time.Second

func advisoryKey(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("msteamsnotify:" + name))
	return int64(h.Sum64())
}

// loadMigrations reads NNN_name.sql files from the root of fsys, sorted by version.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, errors.Wrap(err, "list migrations")
	}
	var out []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		prefix, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || version <= 0 {
			return nil, errors.Errorf("migration %q: name must be NNN_description.sql with NNN > 0", e.Name())
		}
		if other, dup := seen[version]; dup {
			return nil, errors.Errorf("migrations %q and %q share version %d", other, e.Name(), version)
		}
		seen[version] = e.Name()
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, errors.Wrapf(err, "read migration %q", e.Name())
		}
		if strings.TrimSpace(string(body)) == "" {
			return nil, errors.Errorf("migration %q is empty", e.Name())
		}
		out = append(out, migration{version: version, name: e.Name(), sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

func embeddedMigrations() ([]migration, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, errors.Wrap(err, "open embedded migrations")
	}
	return loadMigrations(sub)
}

// Migrate brings the schema up to date. Several nodes may call it at once: they queue on a
// PostgreSQL advisory lock and the later ones find nothing left to do. Versions recorded in
// the database that this binary does not know (a newer plugin ran) are left alone.
func (s *Store) Migrate(ctx context.Context) error {
	migrations, err := embeddedMigrations()
	if err != nil {
		return err
	}
	_, err = runMigrations(ctx, s.primary, migrations)
	return err
}

// runMigrations applies the pending migrations and returns the versions it applied.
func runMigrations(ctx context.Context, pool *pgxpool.Pool, migrations []migration) (applied []int, err error) {
	err = withAdvisoryLock(ctx, pool, migrationLockKey, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+SchemaTable+` (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
		)`); err != nil {
			return errors.Wrap(err, "create schema table")
		}
		done := map[int]bool{}
		rows, err := conn.Query(ctx, `SELECT version FROM `+SchemaTable)
		if err != nil {
			return errors.Wrap(err, "read schema table")
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return errors.Wrap(err, "read schema table")
		}
		for _, v := range versions {
			done[v] = true
		}
		for _, m := range migrations {
			if done[m.version] {
				continue
			}
			if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, m.sql); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO `+SchemaTable+` (version, name) VALUES ($1, $2)`, m.version, m.name)
				return err
			}); err != nil {
				return errors.Wrapf(err, "apply migration %s", m.name)
			}
			applied = append(applied, m.version)
		}
		return nil
	})
	return applied, err
}

// withAdvisoryLock runs fn on one connection while holding a session-level advisory lock.
// A session lock (not a transaction one) lets fn commit several transactions under it.
func withAdvisoryLock(ctx context.Context, pool *pgxpool.Pool, key int64, fn func(*pgx.Conn) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return errors.Wrap(err, "acquire connection for advisory lock")
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		conn.Release()
		return errors.Wrap(err, "take advisory lock")
	}
	fnErr := fn(conn.Conn())
	// Unlock with a fresh context: ctx may be the reason fn failed.
	unlockCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockReleaseTimeout)
	defer cancel()
	if _, err := conn.Exec(unlockCtx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
		// Closing the session is the other way to release a session lock.
		_ = conn.Hijack().Close(unlockCtx)
		if fnErr == nil {
			return errors.Wrap(err, "release advisory lock")
		}
		return fnErr
	}
	conn.Release()
	return fnErr
}
