package store

import (
	"context"

	"github.com/pkg/errors"
)

// CountTokensByKeyID counts stored tokens per encryption key ID, so the plugin can tell an
// admin how many connections a lost key has made unreadable. It reads the primary.
func (s *Store) CountTokensByKeyID(ctx context.Context) (map[string]int, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT token_key_id, count(*) FROM msteamsnotify_users
		WHERE token IS NOT NULL GROUP BY token_key_id`)
	if err != nil {
		return nil, errors.Wrap(err, "count tokens by key")
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, errors.Wrap(err, "count tokens by key")
		}
		out[id] = n
	}
	return out, errors.Wrap(rows.Err(), "count tokens by key")
}
