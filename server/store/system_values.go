package store

import (
	"context"

	"github.com/pkg/errors"
)

// GetSystemValue returns the named value or ErrNotFound.
func (s *Store) GetSystemValue(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.q(ctx).QueryRow(ctx, `SELECT value FROM msteamsnotify_system_values WHERE key = $1`, key).Scan(&v)
	if err != nil {
		return nil, notFound(err, "get system value "+key)
	}
	return v, nil
}

// SetSystemValue creates or replaces the named value.
func (s *Store) SetSystemValue(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO msteamsnotify_system_values (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()`, key, value)
	return errors.Wrap(err, "set system value "+key)
}

// DeleteSystemValue removes the named value; a missing one is not an error.
func (s *Store) DeleteSystemValue(ctx context.Context, key string) error {
	_, err := s.q(ctx).Exec(ctx, `DELETE FROM msteamsnotify_system_values WHERE key = $1`, key)
	return errors.Wrap(err, "delete system value "+key)
}
