package store

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

var (
	// ErrNotFound is returned (wrapped) when the requested row does not exist.
	ErrNotFound = errors.New("not found")

	// ErrExpired is returned by ConsumeOAuthState when the state existed but had expired.
	// The row is removed all the same, so a second attempt reports ErrNotFound.
	ErrExpired = errors.New("expired")

	// ErrTeamsUserLinked is returned when a Microsoft account is already linked to another
	// Mattermost user: one Microsoft account may link to at most one Mattermost user.
	ErrTeamsUserLinked = errors.New("microsoft account is already linked to another mattermost user")
)

// pgUniqueViolation is SQLSTATE 23505.
const pgUniqueViolation = "23505"

func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgUniqueViolation && pgErr.ConstraintName == constraint
}
