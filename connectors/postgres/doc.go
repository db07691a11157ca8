// Package postgres is covsync's PostgreSQL connector: the embedded migrations of the source schema and of
// covsync's own schema, the CTRF and coverage ingest writer, and the source reader that builds a
// report.Project with SQL aggregation.
package postgres
