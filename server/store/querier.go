package store

import (
	"context"
	"hash/fnv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pkg/errors"
)

// querier is what both a pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type lockTxKey struct{}

// q returns the transaction of an enclosing WithUserTokenLock, if ctx carries one, so that
// calls made under the lock see and write through it; otherwise the primary pool.
func (s *Store) q(ctx context.Context) querier {
	if tx, ok := ctx.Value(lockTxKey{}).(pgx.Tx); ok {
		return tx
	}
	return s.primary
}

// WithUserTokenLock runs fn in a transaction that holds mmUserID's token lock, so two nodes
// refreshing the same user's token take turns and the second one reads the token the first
// one stored. Store calls made with the ctx given to fn run inside that transaction (and must
// not be made from other goroutines); other callers are never blocked from reading. fn's error
// rolls the transaction back and is returned as is.
//
// The lock is a transaction-level advisory lock on a hash of the user ID rather than a row lock,
// so it also works before the user's row exists and is released however the transaction ends.
func (s *Store) WithUserTokenLock(ctx context.Context, mmUserID string, fn func(ctx context.Context) error) error {
	run := func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, userTokenLockKey(mmUserID)); err != nil {
			return errors.Wrap(err, "take user token lock")
		}
		return fn(context.WithValue(ctx, lockTxKey{}, tx))
	}
	if tx, ok := ctx.Value(lockTxKey{}).(pgx.Tx); ok {
		// Nested: the outer transaction already is the unit of work; a savepoint keeps
		// the inner fn's failure from poisoning it.
		return pgx.BeginFunc(ctx, tx, run)
	}
	return pgx.BeginFunc(ctx, s.primary, run)
}

func userTokenLockKey(mmUserID string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("msteamsnotify:token:" + mmUserID))
	return int64(h.Sum64())
}
