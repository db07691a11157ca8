package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"

	"github.com/covsync/covsync/config"
)

// Migrations are plain SQL files applied in order by tern (github.com/jackc/tern/v2). tern was chosen over
// goose because it is built on pgx v5 (the driver covsync already uses, no database/sql layer), takes an
// fs.FS of embedded files, serialises concurrent migrators with an advisory lock (two replicas starting with
// auto_migrate are safe), and renders each file as a text/template, which is how the configurable source
// schema name ({{.schema}}) reaches the DDL without string pasting in Go.
//
//go:embed migrations
var migrationFS embed.FS

// MigrateOptions say what Migrate applies.
type MigrateOptions struct {
	// SourceSchema is where the source tables live (default covsync_source).
	SourceSchema string
	// SkipSource leaves the source schema alone (a deployment that provides it as views).
	SkipSource bool
}

// MigrationStatus is the applied and available version of one migration set.
type MigrationStatus struct {
	Set       string // "covsync" or "source"
	Current   int32
	Available int32
}

// Migrate applies every pending migration of covsync's own schema and, unless opts.SkipSource, the source
// schema. It is idempotent.
func Migrate(ctx context.Context, conn *pgx.Conn, opts MigrateOptions) ([]MigrationStatus, error) {
	var out []MigrationStatus
	for _, set := range sets(opts) {
		if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{set.schema}.Sanitize()); err != nil {
			return out, fmt.Errorf("migrate %s: create schema %q: %w", set.name, set.schema, err)
		}
		m, err := set.migrator(ctx, conn)
		if err != nil {
			return out, err
		}
		if err := m.Migrate(ctx); err != nil {
			return out, fmt.Errorf("migrate %s: %w", set.name, err)
		}
		cur, err := m.GetCurrentVersion(ctx)
		if err != nil {
			return out, fmt.Errorf("migrate %s: %w", set.name, err)
		}
		out = append(out, MigrationStatus{Set: set.name, Current: cur, Available: int32(len(m.Migrations))})
	}
	return out, nil
}

// Status reports, without changing anything, how far each migration set is applied. A set whose version
// table does not exist yet reports Current 0.
func Status(ctx context.Context, conn *pgx.Conn, opts MigrateOptions) ([]MigrationStatus, error) {
	var out []MigrationStatus
	for _, set := range sets(opts) {
		sub, err := fs.Sub(migrationFS, "migrations/"+set.dir)
		if err != nil {
			return nil, err
		}
		files, err := migrate.FindMigrations(sub)
		if err != nil {
			return nil, err
		}
		st := MigrationStatus{Set: set.name, Available: int32(len(files))}
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", set.versionTable()).Scan(&exists); err != nil {
			return nil, fmt.Errorf("migration status %s: %w", set.name, err)
		}
		if exists {
			if err := conn.QueryRow(ctx, "SELECT version FROM "+set.versionTable()).Scan(&st.Current); err != nil {
				return nil, fmt.Errorf("migration status %s: %w", set.name, err)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

type migrationSet struct {
	name   string // what a user reads
	dir    string // under migrations/
	schema string
}

func (s migrationSet) versionTable() string {
	return pgx.Identifier{s.schema, "schema_version"}.Sanitize()
}

func (s migrationSet) migrator(ctx context.Context, conn *pgx.Conn) (*migrate.Migrator, error) {
	m, err := migrate.NewMigrator(ctx, conn, s.versionTable())
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", s.name, err)
	}
	m.Data["schema"] = pgx.Identifier{s.schema}.Sanitize()
	sub, err := fs.Sub(migrationFS, "migrations/"+s.dir)
	if err != nil {
		return nil, err
	}
	if err := m.LoadMigrations(sub); err != nil {
		return nil, fmt.Errorf("migrate %s: load: %w", s.name, err)
	}
	return m, nil
}

func sets(opts MigrateOptions) []migrationSet {
	out := []migrationSet{{name: "covsync", dir: "covsync", schema: config.OwnSchema}}
	if !opts.SkipSource {
		schema := opts.SourceSchema
		if schema == "" {
			schema = config.DefaultSourceSchema
		}
		out = append(out, migrationSet{name: "source", dir: "source", schema: schema})
	}
	return out
}
