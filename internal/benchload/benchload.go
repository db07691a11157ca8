package benchload

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Sizes is the shape of a workload.
type Sizes struct {
	Stories  int // tickets PREFIX-1 … PREFIX-n, each linked to tests and with coverage
	Releases int // releases 1.1 … 1.n; every run belongs to one, round robin
	Runs     int
	Results  int // test results over all runs (Results/Runs per run, at least 1)
}

// Reference is the reference workload of docs/benchmarks.md.
func Reference() Sizes {
	return Sizes{Stories: 5000, Releases: 200, Runs: 2000, Results: 1_000_000}
}

// Validate names the first size that cannot make a workload.
func (s Sizes) Validate() error {
	switch {
	case s.Stories < 1:
		return fmt.Errorf("stories: %d, want at least 1", s.Stories)
	case s.Releases < 1:
		return fmt.Errorf("releases: %d, want at least 1", s.Releases)
	case s.Runs < 1:
		return fmt.Errorf("runs: %d, want at least 1", s.Runs)
	case s.Results < s.Runs:
		return fmt.Errorf("results: %d, want at least one per run (%d)", s.Results, s.Runs)
	}
	return nil
}

// Workload names what Generate writes.
type Workload struct {
	Project string // source project id, e.g. "bench"
	Prefix  string // ticket key prefix, e.g. "BENCH" (a Jira project key)
	Sizes
}

// Key is the ticket key of story i (1-based).
func (w Workload) Key(i int) string { return fmt.Sprintf("%s-%d", w.Prefix, i) }

// ReleaseName is the name of release i (1-based).
func (w Workload) ReleaseName(i int) string { return fmt.Sprintf("1.%d", i) }

// epoch anchors every timestamp, so two generations of the same sizes are the same data.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Generate writes w into the source schema (already migrated) in one transaction and ANALYZEs the tables,
// as a database that has been ingesting for a while would be. Every result links to one story (its name
// starts with the key, as ingest's name rule links it); the links rotate so every story has runs; every 50th
// result fails and every 20th is skipped; every story has three coverage measurements.
func Generate(ctx context.Context, pool *pgxpool.Pool, schema string, w Workload) error {
	if err := w.Validate(); err != nil {
		return fmt.Errorf("benchload: %w", err)
	}
	s := pgx.Identifier{schema}.Sanitize()
	perRun := max(w.Results/w.Runs, 1)
	steps := []struct {
		what string
		sql  string
		args []any
	}{
		{"project", `INSERT INTO ` + s + `.projects (id, name) VALUES ($1, $2)`, []any{w.Project, "Bench " + w.Project}},
		{"releases", `INSERT INTO ` + s + `.releases (project_id, name)
			SELECT $1, '1.' || g FROM generate_series(1, $2) g`, []any{w.Project, w.Releases}},
		// Runs an hour apart; run g belongs to release (g mod releases)+1.
		{"runs", `INSERT INTO ` + s + `.runs (project_id, report_id, content_sha256, name, build, url, release_id, tool,
				started_at, stopped_at, tests, passed, failed, skipped, pending, other)
			SELECT $1, 'r' || g, sha256(($1 || '/' || g)::bytea), 'build ' || g, g::text, 'https://ci.example/' || $1 || '/' || g,
				(SELECT id FROM ` + s + `.releases WHERE project_id = $1 AND name = '1.' || (g % $4 + 1)), 'jest',
				$5::timestamptz + g * interval '1 hour', $5::timestamptz + g * interval '1 hour' + interval '5 min',
				$2, $2 - $2 / 50 - $2 / 20, $2 / 50, $2 / 20, 0, 0
			FROM generate_series(1, $3) g`, []any{w.Project, perRun, w.Runs, w.Releases, epoch}},
		{"test results", `INSERT INTO ` + s + `.test_results (run_id, ordinal, name, suite, status, duration_ms, file)
			SELECT r.id, o, $4 || '-' || ((r.id * $2 + o) % $3 + 1) || ' test ' || o, 'suite ' || o % 30,
				CASE WHEN o % 50 = 0 THEN 'failed' WHEN o % 20 = 0 THEN 'skipped' ELSE 'passed' END,
				o % 1000, 'tests/t' || o % 30 || '.spec.ts'
			FROM ` + s + `.runs r, generate_series(0, $2 - 1) o WHERE r.project_id = $1`,
			[]any{w.Project, perRun, w.Stories, w.Prefix}},
		{"test links", `INSERT INTO ` + s + `.test_tickets (run_id, ordinal, ticket)
			SELECT t.run_id, t.ordinal, split_part(t.name, ' ', 1)
			FROM ` + s + `.test_results t JOIN ` + s + `.runs r ON r.id = t.run_id WHERE r.project_id = $1`, []any{w.Project}},
		// The aggregate ingest writes in the same transaction as the results (connectors/postgres ingest.go).
		{"run tickets", `INSERT INTO ` + s + `.run_tickets (run_id, ticket, project_id, started_at, passed, failed, skipped)
			SELECT l.run_id, l.ticket, $1, min(ru.started_at),
				count(*) FILTER (WHERE t.status = 'passed'), count(*) FILTER (WHERE t.status = 'failed'),
				count(*) FILTER (WHERE t.status NOT IN ('passed', 'failed'))
			FROM ` + s + `.test_tickets l JOIN ` + s + `.test_results t USING (run_id, ordinal)
			JOIN ` + s + `.runs ru ON ru.id = l.run_id
			WHERE ru.project_id = $1
			GROUP BY l.run_id, l.ticket`, []any{w.Project}},
		{"coverage", `INSERT INTO ` + s + `.story_coverage (project_id, ticket, covered_methods, total_methods, measured_at)
			SELECT $1, $2 || '-' || g, (g * 7 + m) % 100, 100, $4::timestamptz + m * interval '1 day'
			FROM generate_series(1, $3) g, generate_series(1, 3) m`, []any{w.Project, w.Prefix, w.Stories, epoch}},
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("benchload: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	// Generation is one big set-based statement per table; JIT compilation only slows those down.
	if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
		return fmt.Errorf("benchload: %w", err)
	}
	for _, st := range steps {
		if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
			return fmt.Errorf("benchload: project %s: %s: %w", w.Project, st.what, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("benchload: commit: %w", err)
	}
	for _, t := range []string{"runs", "test_results", "test_tickets", "run_tickets", "story_coverage", "releases"} {
		if _, err := pool.Exec(ctx, `ANALYZE `+s+`.`+t); err != nil {
			return fmt.Errorf("benchload: analyze %s: %w", t, err)
		}
	}
	return nil
}

// ChangeStory records a newer coverage measurement of one story, as `covsync ingest coverage` of a file
// with that story alone would: exactly that story's figures change, nothing else.
func ChangeStory(ctx context.Context, pool *pgxpool.Pool, schema string, w Workload, i int) error {
	s := pgx.Identifier{schema}.Sanitize()
	_, err := pool.Exec(ctx, `INSERT INTO `+s+`.story_coverage (project_id, ticket, covered_methods, total_methods, measured_at)
		SELECT $1, $2, (covered_methods + 1) % (total_methods + 1), total_methods, measured_at + interval '1 day'
		FROM `+s+`.story_coverage WHERE project_id = $1 AND ticket = $2 ORDER BY measured_at DESC LIMIT 1`,
		w.Project, w.Key(i))
	if err != nil {
		return fmt.Errorf("benchload: change story %s: %w", w.Key(i), err)
	}
	return nil
}
