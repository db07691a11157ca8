package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/covsync/covsync/sync/report"
)

// trendSQL computes the trend: the project's newest report.MaxTrend releases by their newest run's start
// (ties as releases() orders them), returned oldest first. Per release it reads one index probe for the
// newest run and an index count of its runs (runs_release_started). Coverage is one ordered pass over the
// project's story_coverage rows (story_coverage_newest): each measurement is a change of its ticket's figures
// (this one minus the ticket's previous one), the release points join that stream at their newest run's
// start, after the measurements of the same instant, and a running sum gives at each point Σ covered and
// Σ total over every story's newest measurement at or before it. No test result is read.
const trendSQL = `WITH picked AS (
		SELECT rel.name, n.started_at, n.tests, n.passed, n.failed, c.runs,
			row_number() OVER (ORDER BY n.started_at DESC, rel.name, rel.id) AS ord
		FROM {{rel}} rel
		CROSS JOIN LATERAL (
			SELECT r.started_at, r.tests, r.passed, r.failed FROM {{runs}} r
			WHERE r.release_id = rel.id
			ORDER BY r.started_at DESC, r.id DESC LIMIT 1) n
		CROSS JOIN LATERAL (SELECT count(*) AS runs FROM {{runs}} r WHERE r.release_id = rel.id) c
		WHERE rel.project_id = $1
		ORDER BY ord
		LIMIT $2
	),
	events AS (
		SELECT measured_at AS at, 0 AS kind, NULL::bigint AS ord,
			covered_methods - coalesce(lag(covered_methods) OVER w, 0) AS covered,
			total_methods - coalesce(lag(total_methods) OVER w, 0) AS total
		FROM {{cov}} WHERE project_id = $1
		WINDOW w AS (PARTITION BY ticket ORDER BY measured_at)
		UNION ALL
		SELECT started_at, 1, ord, 0, 0 FROM picked
	),
	running AS (
		SELECT ord,
			sum(covered) OVER (ORDER BY at, kind ROWS UNBOUNDED PRECEDING) AS covered,
			sum(total) OVER (ORDER BY at, kind ROWS UNBOUNDED PRECEDING) AS total
		FROM events
	)
	SELECT p.name, p.runs, p.tests, p.passed, p.failed, r.covered, r.total
	FROM picked p JOIN running r ON r.ord = p.ord
	ORDER BY p.ord DESC`

// flakySQL computes the flaky list over the project's newest report.FlakyWindow runs: their results are
// read once through the results' primary key (run_id, ordinal), so the cost follows the window (20 runs),
// never the project's history. A test is its (suite, name); several results of one test in one run count
// as one: failed if any failed, else passed if any passed, flaky if any was. Names compare bytewise (collation
// "C"), so the order does not depend on the database's locale, and the sorts of the window's 10,000 names skip
// the locale's costly rules. Flips are counted by a window partitioned on whether the run was decisive
// (passed or failed), so lag() finds the previous decisive run and skipped, pending, other and absent runs are
// stepped over.
const flakySQL = `WITH win AS (
		SELECT id, row_number() OVER (ORDER BY started_at, id) AS seq
		FROM (SELECT id, started_at FROM {{runs}} WHERE project_id = $1
		      ORDER BY started_at DESC, id DESC LIMIT $2) newest
	),
	res AS MATERIALIZED (
		SELECT t.run_id, t.ordinal, t.suite COLLATE "C" AS suite, t.name COLLATE "C" AS name, t.status, t.flaky,
			t.retries, w.seq
		FROM win w JOIN {{tr}} t ON t.run_id = w.id
	),
	per_run AS (
		SELECT suite, name, seq,
			CASE WHEN bool_or(status = 'failed') THEN 'failed'
			     WHEN bool_or(status = 'passed') THEN 'passed' END AS outcome,
			bool_or(flaky OR (retries > 0 AND status = 'passed')) AS flaky
		FROM res GROUP BY suite, name, seq
	),
	stepped AS (
		SELECT suite, name, outcome, flaky,
			lag(outcome) OVER (PARTITION BY suite, name, outcome IS NOT NULL ORDER BY seq) AS prev
		FROM per_run
	),
	listed AS (
		SELECT suite, name, count(*) AS runs, count(*) FILTER (WHERE flaky) AS flaky_runs,
			count(*) FILTER (WHERE outcome <> prev) AS flips
		FROM stepped GROUP BY suite, name
		HAVING count(*) FILTER (WHERE flaky) > 0 OR count(*) FILTER (WHERE outcome <> prev) >= 2
		ORDER BY count(*) FILTER (WHERE outcome <> prev) + count(*) FILTER (WHERE flaky) DESC,
			suite, name
		LIMIT $3
	)
	SELECT l.suite, l.name, l.flips, l.flaky_runs, l.runs,
		coalesce(array_agg(DISTINCT k.ticket COLLATE "C" ORDER BY k.ticket COLLATE "C")
			FILTER (WHERE k.ticket IS NOT NULL), '{}')
	FROM listed l
	JOIN res x ON x.suite = l.suite AND x.name = l.name
	LEFT JOIN {{tt}} k ON k.run_id = x.run_id AND k.ordinal = x.ordinal
	GROUP BY l.suite, l.name, l.flips, l.flaky_runs, l.runs
	ORDER BY l.flips + l.flaky_runs DESC, l.suite, l.name`

func (r *Reader) trendsQuery(sql string) string {
	return strings.NewReplacer("{{rel}}", r.t("releases"), "{{runs}}", r.t("runs"), "{{cov}}", r.t("story_coverage"),
		"{{tr}}", r.t("test_results"), "{{tt}}", r.t("test_tickets")).Replace(sql)
}

// trend reads the project's trend (report.TrendPoint), oldest release first.
func (r *Reader) trend(ctx context.Context, tx pgx.Tx, projectID string) ([]report.TrendPoint, error) {
	rows, err := tx.Query(ctx, r.trendsQuery(trendSQL), projectID, report.MaxTrend)
	if err != nil {
		return nil, r.wrap("trend of "+projectID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (report.TrendPoint, error) {
		var (
			p              report.TrendPoint
			covered, total *int64
		)
		if err := row.Scan(&p.Release, &p.Runs, &p.Tests, &p.Passed, &p.Failed, &covered, &total); err != nil {
			return p, err
		}
		p.PassRate = report.CoveragePercent(p.Passed, p.Passed+p.Failed)
		if covered != nil && total != nil {
			p.CoveragePercent = report.CoveragePercent(int(*covered), int(*total))
		}
		return p, nil
	})
	if err != nil {
		return nil, r.wrap("trend of "+projectID, err)
	}
	return out, nil
}

// flaky reads the project's flaky tests (report.FlakyTest) in the order the report lists them.
func (r *Reader) flaky(ctx context.Context, tx pgx.Tx, projectID string) ([]report.FlakyTest, error) {
	rows, err := tx.Query(ctx, r.trendsQuery(flakySQL), projectID, report.FlakyWindow, report.MaxFlaky)
	if err != nil {
		return nil, r.wrap("flaky tests of "+projectID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (report.FlakyTest, error) {
		var f report.FlakyTest
		return f, row.Scan(&f.Suite, &f.Name, &f.Flips, &f.FlakyRuns, &f.Runs, &f.Stories)
	})
	if err != nil {
		return nil, r.wrap("flaky tests of "+projectID, err)
	}
	return out, nil
}

// countFlaky sets each story's Flaky: how many tests of the flaky list are linked to it.
func countFlaky(stories []report.Story, flaky []report.FlakyTest) {
	n := map[string]int{}
	for _, f := range flaky {
		for _, k := range f.Stories {
			n[k]++
		}
	}
	for i := range stories {
		stories[i].Flaky = n[stories[i].Key]
	}
}
