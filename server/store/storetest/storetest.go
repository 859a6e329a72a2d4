// Package storetest gives tests a real, private PostgreSQL database: each call creates a
// uniquely named database on the server named by MSTEAMS_TEST_PG and drops it when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/teamsnotify/msteams-sync/server/store"
)

// DefaultDSN is used when MSTEAMS_TEST_PG is not set.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminDSN is the server tests create their databases on.
func AdminDSN() string {
	if dsn := os.Getenv("MSTEAMS_TEST_PG"); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

// NewDatabase creates a fresh, empty database and returns its DSN. The database is dropped
// (WITH (FORCE), so leftover connections do not keep it alive) when t ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	admin := AdminDSN()
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("storetest: MSTEAMS_TEST_PG is not a URL: %v", err)
	}
	var suffix [8]byte
	_, _ = rand.Read(suffix[:])
	name := "msteamsnotify_test_" + hex.EncodeToString(suffix[:])

	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("storetest: connect to test PostgreSQL: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("storetest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("storetest: connect to drop database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("storetest: drop database %s: %v", name, err)
		}
	})

	u.Path = "/" + name
	return u.String()
}

// NewStore opens a migrated Store on a fresh database; it is closed and dropped when t ends.
func NewStore(t testing.TB) *store.Store {
	t.Helper()
	dsn := NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, store.Options{DataSource: dsn})
	if err != nil {
		t.Fatalf("storetest: open store: %v", err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("storetest: migrate: %v", err)
	}
	return s
}
