package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/sync/report"
)

// ErrUnknownProject says the source schema has no project of that id.
var ErrUnknownProject = errors.New("unknown project")

// ErrSchemaMissing says a relation the reader or ingest needs does not exist: the source schema was not
// migrated (covsync migrate) or a deployment's views are missing.
var ErrSchemaMissing = errors.New("source schema incomplete")

// Reader builds project reports from the source schema. It reads the relations projects, releases, runs,
// run_tickets and story_coverage, and for the flaky list test_results and test_tickets of the newest runs
// only (README "Mapping your own schema"), with SQL aggregation: no test result row is ever loaded into Go.
// Its cost follows the number of stories and runs, not of results.
type Reader struct{ source }

// NewReader reads from schema (the config's database.source_schema) through pool.
func NewReader(pool *pgxpool.Pool, schema string) *Reader {
	return &Reader{source{pool: pool, schema: schema}}
}

// source is the source schema as the reader and the ingester reach it.
type source struct {
	pool   *pgxpool.Pool
	schema string
}

// t is the quoted name of a source relation.
func (s source) t(name string) string { return pgx.Identifier{s.schema, name}.Sanitize() }

func (s source) wrap(what string, err error) error { return dbErr(s.schema, what, err) }

// ProjectInfo names one source project.
type ProjectInfo struct {
	ID   string
	Name string
}

// ListProjects returns every project of the source schema, by id.
func (r *Reader) ListProjects(ctx context.Context) ([]ProjectInfo, error) {
	rows, err := r.pool.Query(ctx, `SELECT id::text, name FROM `+r.t("projects")+` ORDER BY id`)
	if err != nil {
		return nil, r.wrap("list projects", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ProjectInfo, error) {
		var p ProjectInfo
		return p, row.Scan(&p.ID, &p.Name)
	})
	if err != nil {
		return nil, r.wrap("list projects", err)
	}
	return out, nil
}

// ReadProject builds the report of one project (docs/architecture.md, Contracts). Its queries run in one read-only
// repeatable-read transaction, so a report never mixes data from before and after a concurrent ingest.
// An unknown project is an error wrapping ErrUnknownProject.
func (r *Reader) ReadProject(ctx context.Context, projectID string) (*report.Project, error) {
	tx, err := r.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("read project %s: %w", projectID, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// The stories query's estimated cost is far above jit_above_cost (the planner cannot size the recursive
	// scan) while it really runs in milliseconds: JIT compilation alone cost ~190 ms of a 600 ms read of
	// 5,000 stories over 1M results (BenchmarkReadProject).
	if _, err := tx.Exec(ctx, "SET LOCAL jit = off"); err != nil {
		return nil, fmt.Errorf("read project %s: %w", projectID, err)
	}

	p := &report.Project{ID: projectID}
	var asOf *time.Time
	err = tx.QueryRow(ctx, `SELECT p.name,
			(SELECT count(*) FROM `+r.t("runs")+` WHERE project_id = p.id),
			greatest((SELECT max(started_at) FROM `+r.t("runs")+` WHERE project_id = p.id),
			         (SELECT max(measured_at) FROM `+r.t("story_coverage")+` WHERE project_id = p.id))
		FROM `+r.t("projects")+` p WHERE p.id = $1`, projectID).Scan(&p.Name, &p.RunCount, &asOf)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("project %q: %w", projectID, ErrUnknownProject)
	}
	if err != nil {
		return nil, r.wrap("read project "+projectID, err)
	}
	if asOf != nil {
		p.DataAsOf = asOf.UTC()
	}
	if p.LatestRun, err = r.latestRun(ctx, tx, projectID); err != nil {
		return nil, err
	}
	if p.Releases, err = r.releases(ctx, tx, projectID); err != nil {
		return nil, err
	}
	if p.Stories, err = r.stories(ctx, tx, projectID); err != nil {
		return nil, err
	}
	if p.Trend, err = r.trend(ctx, tx, projectID); err != nil {
		return nil, err
	}
	if p.Flaky, err = r.flaky(ctx, tx, projectID); err != nil {
		return nil, err
	}
	countFlaky(p.Stories, p.Flaky)
	return p, nil
}

// runColumns are the columns scanRun reads, from runs r LEFT JOIN releases rel.
const runColumns = `r.id::text, r.name, r.tests, r.passed, r.failed, r.skipped, r.pending, r.other,
	r.started_at, r.url, r.build, r.branch, r.commit, r.environment, coalesce(rel.name, '')`

func scanRun(row pgx.Row, extra ...any) (report.Run, error) {
	var x report.Run
	err := row.Scan(append([]any{&x.ID, &x.Name, &x.Tests, &x.Passed, &x.Failed, &x.Skipped, &x.Pending,
		&x.Other, &x.StartedAt, &x.URL, &x.Build, &x.Branch, &x.Commit, &x.Environment, &x.Release}, extra...)...)
	x.StartedAt = x.StartedAt.UTC()
	x.Status = report.RunStatus(x.Failed, x.Passed)
	return x, err
}

func (r *Reader) latestRun(ctx context.Context, tx pgx.Tx, projectID string) (*report.Run, error) {
	run, err := scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+`
		FROM `+r.t("runs")+` r LEFT JOIN `+r.t("releases")+` rel ON rel.id = r.release_id
		WHERE r.project_id = $1
		ORDER BY r.started_at DESC, r.id DESC LIMIT 1`, projectID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, r.wrap("latest run of "+projectID, err)
	}
	return &run, nil
}

// releases returns the project's releases in report.SortReleases order. Runs are few (one per report),
// unlike results; the query only groups them by release.
func (r *Reader) releases(ctx context.Context, tx pgx.Tx, projectID string) ([]report.Release, error) {
	rows, err := tx.Query(ctx, `SELECT `+runColumns+`, rel.id::text, coalesce(rel.jira_version_id::text, '')
		FROM `+r.t("releases")+` rel
		JOIN `+r.t("runs")+` r ON r.release_id = rel.id
		WHERE rel.project_id = $1
		ORDER BY rel.id, r.id`,
		projectID)
	if err != nil {
		return nil, r.wrap("releases of "+projectID, err)
	}
	var out []report.Release
	lastID := ""
	for rows.Next() {
		var relID, jiraID string
		run, err := scanRun(rows, &relID, &jiraID)
		if err != nil {
			rows.Close()
			return nil, r.wrap("releases of "+projectID, err)
		}
		if relID != lastID {
			out = append(out, report.Release{Name: run.Release, JiraVersionID: jiraID})
			lastID = relID
		}
		rel := &out[len(out)-1]
		rel.Runs = append(rel.Runs, run)
	}
	if err := rows.Err(); err != nil {
		return nil, r.wrap("releases of "+projectID, err)
	}
	rows, err = tx.Query(ctx, `SELECT rel.name, coalesce(rel.jira_version_id::text, '')
		FROM `+r.t("releases")+` rel
		WHERE rel.project_id = $1
		  AND NOT EXISTS (SELECT FROM `+r.t("runs")+` r WHERE r.release_id = rel.id)`, projectID)
	if err != nil {
		return nil, r.wrap("releases of "+projectID, err)
	}
	empty, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (report.Release, error) {
		rel := report.Release{Runs: []report.Run{}}
		return rel, row.Scan(&rel.Name, &rel.JiraVersionID)
	})
	if err != nil {
		return nil, r.wrap("releases of "+projectID, err)
	}
	out = append(out, empty...)
	report.SortReleases(out)
	return out, nil
}

// storiesSQL lists the project's stories: every ticket with coverage or a linked test. run_tickets is
// walked with a loose index scan on (project_id, ticket, started_at DESC, run_id DESC): the first entry
// after the previous ticket is the next ticket's newest linked run, so each story costs one index probe and
// no run × ticket row is read beyond those. Coverage is the newest measurement per ticket.
const storiesSQL = `WITH RECURSIVE newest AS (
		(SELECT ticket, run_id, passed, failed, skipped FROM {{rt}}
		 WHERE project_id = $1
		 ORDER BY ticket, started_at DESC, run_id DESC LIMIT 1)
		UNION ALL
		SELECT n.ticket, n.run_id, n.passed, n.failed, n.skipped
		FROM newest l, LATERAL (
			SELECT ticket, run_id, passed, failed, skipped FROM {{rt}}
			WHERE project_id = $1 AND ticket > l.ticket
			ORDER BY ticket, started_at DESC, run_id DESC LIMIT 1) n
	),
	cov AS (
		SELECT DISTINCT ON (ticket) ticket, covered_methods, total_methods, measured_at
		FROM {{cov}} WHERE project_id = $1
		ORDER BY ticket, measured_at DESC
	)
	SELECT coalesce(n.ticket, c.ticket), c.covered_methods, c.total_methods, c.measured_at,
		n.passed, n.failed, n.skipped, r.id::text, r.name, r.url, r.started_at, rel.name
	FROM newest n
	FULL JOIN cov c ON c.ticket = n.ticket
	LEFT JOIN {{runs}} r ON r.id = n.run_id
	LEFT JOIN {{rel}} rel ON rel.id = r.release_id`

func (r *Reader) storiesQuery() string {
	return strings.NewReplacer("{{rt}}", r.t("run_tickets"), "{{cov}}", r.t("story_coverage"),
		"{{runs}}", r.t("runs"), "{{rel}}", r.t("releases")).Replace(storiesSQL)
}

func (r *Reader) stories(ctx context.Context, tx pgx.Tx, projectID string) ([]report.Story, error) {
	rows, err := tx.Query(ctx, r.storiesQuery(), projectID)
	if err != nil {
		return nil, r.wrap("stories of "+projectID, err)
	}
	defer rows.Close()
	var out []report.Story
	for rows.Next() {
		var (
			s                       report.Story
			covered, total          *int
			measured, started       *time.Time
			passed, failed, skipped *int
			runID, runName, runURL  *string
			release                 *string
		)
		if err := rows.Scan(&s.Key, &covered, &total, &measured, &passed, &failed, &skipped, &runID, &runName,
			&runURL, &started, &release); err != nil {
			return nil, r.wrap("stories of "+projectID, err)
		}
		if measured != nil {
			m := measured.UTC()
			s.CoveredMethods, s.TotalMethods, s.CoverageMeasuredAt = covered, total, &m
			s.CoveragePercent = report.CoveragePercent(*covered, *total)
		}
		s.Status = report.StatusNoTests
		if runID != nil {
			s.Tests = report.TestCounts{Passed: *passed, Failed: *failed, Skipped: *skipped}
			s.Status = report.StoryStatus(s.Tests)
			s.LastRun = &report.RunRef{ID: *runID, Name: *runName, URL: deref(runURL), StartedAt: started.UTC(),
				Release: deref(release)}
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, r.wrap("stories of "+projectID, err)
	}
	report.SortStories(out)
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// dbErr names what failed and turns a missing relation into ErrSchemaMissing with the way out.
func dbErr(schema, what string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000") { // undefined_table, invalid_schema_name
		return fmt.Errorf("%s: %s (schema %q): %w: run `covsync migrate`, or provide the views README \"Mapping your own schema\" describes",
			what, pe.Message, schema, ErrSchemaMissing)
	}
	return fmt.Errorf("%s: %w", what, err)
}
