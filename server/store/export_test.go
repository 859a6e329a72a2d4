package store

import (
	"context"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Test-only doors into the migration runner.

func LoadMigrationNames(fsys fs.FS) ([]string, error) {
	ms, err := loadMigrations(fsys)
	var names []string
	for _, m := range ms {
		names = append(names, m.name)
	}
	return names, err
}

func EmbeddedVersions() []int {
	ms, err := embeddedMigrations()
	if err != nil {
		panic(err)
	}
	var vs []int
	for _, m := range ms {
		vs = append(vs, m.version)
	}
	return vs
}

// MigrateFS applies the migrations in fsys and returns the versions it applied.
func (s *Store) MigrateFS(ctx context.Context, fsys fs.FS) ([]int, error) {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return nil, err
	}
	return runMigrations(ctx, s.primary, ms)
}

// MigrateEmbedded is Migrate, reporting what it applied.
func (s *Store) MigrateEmbedded(ctx context.Context) ([]int, error) {
	ms, err := embeddedMigrations()
	if err != nil {
		return nil, err
	}
	return runMigrations(ctx, s.primary, ms)
}

func (s *Store) Primary() *pgxpool.Pool { return s.primary }

// SetRotationBatchSize shrinks rotation batches for a test.
func SetRotationBatchSize(t interface{ Cleanup(func()) }, n int) {
	old := rotationBatchSize
	rotationBatchSize = n
	t.Cleanup(func() { rotationBatchSize = old })
}

// SetAfterRotationBatch installs a hook run after each committed rotation batch.
func SetAfterRotationBatch(t interface{ Cleanup(func()) }, f func(batch int) error) {
	afterRotationBatch = f
	t.Cleanup(func() { afterRotationBatch = nil })
}
