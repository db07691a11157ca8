// Package ledgertest gives tests a fresh database (internal/pgtest) with covsync's own schema migrated, so
// the ledger, the engine and the commands are tested against the real tables the migrations create.
package ledgertest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/pgtest"
)

// Pool returns a pool on a fresh database whose covsync schema is migrated (the source schema too unless
// ownOnly). The caller's TestMain must call pgtest.Main.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool := pgtest.Pool(t)
	Migrate(t, pool, true)
	return pool
}

// Migrate applies covsync's migrations to pool's database; the source schema's too unless ownOnly.
func Migrate(t testing.TB, pool *pgxpool.Pool, ownOnly bool) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatalf("ledgertest: acquire: %v", err)
	}
	defer conn.Release()
	if _, err := postgres.Migrate(ctx, conn.Conn(), postgres.MigrateOptions{SkipSource: ownOnly}); err != nil {
		t.Fatalf("ledgertest: migrate: %v", err)
	}
}
