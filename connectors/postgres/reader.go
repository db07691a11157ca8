package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/sync/report"
)

// Reader builds project reports from the source schema.
type Reader struct {
	pool   *pgxpool.Pool
	schema string
}

// NewReader reads from schema (the config's database.source_schema) through pool.
func NewReader(pool *pgxpool.Pool, schema string) *Reader {
	return &Reader{pool: pool, schema: schema}
}

// ReadProject builds the report of one project (DESIGN.md §9) with SQL aggregation.
//
// PRELIMINARY: being built with the ingest work (foundation issue).
func (r *Reader) ReadProject(ctx context.Context, projectID string) (*report.Project, error) {
	return nil, errors.New("postgres: ReadProject not built yet")
}
