package schedule

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/covsync/covsync/config"
)

// Migrate applies River's migrations to covsync's schema (creating it if needed). `covsync migrate` calls it
// after the ledger migrations, as the schema's owner. Replicas starting together with auto_migrate are
// serialised by an advisory lock held on a connection of its own while River migrates (River runs each
// version in its own transaction: version 6 adds an enum value that one transaction cannot also use).
// It returns the River schema version now applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: config.OwnSchema})
	if err != nil {
		return 0, fmt.Errorf("migrate river: %w", err)
	}
	lock, err := pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate river: %w", err)
	}
	defer lock.Release()
	if _, err := lock.Exec(ctx, "SELECT pg_advisory_lock(hashtext('covsync.river_migrate'))"); err != nil {
		return 0, fmt.Errorf("migrate river: lock: %w", err)
	}
	defer func() {
		// A failed unlock (connection gone) releases the session lock anyway.
		_, _ = lock.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext('covsync.river_migrate'))")
	}()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{config.OwnSchema}.Sanitize()); err != nil {
		return 0, fmt.Errorf("migrate river: create schema %q: %w", config.OwnSchema, err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return 0, fmt.Errorf("migrate river: %w", err)
	}
	return latest(m), nil
}

// MigrationStatus reports River's applied and available schema versions without changing anything.
func MigrationStatus(ctx context.Context, pool *pgxpool.Pool) (current, available int, err error) {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: config.OwnSchema})
	if err != nil {
		return 0, 0, fmt.Errorf("river migration status: %w", err)
	}
	existing, err := m.ExistingVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("river migration status: %w", err)
	}
	for _, e := range existing {
		current = max(current, e.Version)
	}
	return current, latest(m), nil
}

func latest[T any](m *rivermigrate.Migrator[T]) int {
	v := 0
	for _, a := range m.AllVersions() {
		v = max(v, a.Version)
	}
	return v
}
