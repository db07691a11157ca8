package postgres

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/covsync/covsync/internal/rss"
	"github.com/covsync/covsync/sync/report"
)

// The workload of BenchmarkReadProject. The defaults keep CI quick; the reference figure of
// docs/benchmarks.md is
//
//	go test -run '^$' -bench ReadProject -benchtime 20x ./connectors/postgres/ \
//	    -bench.runs 2000 -bench.results 1000000 -bench.stories 5000
var (
	benchRuns    = flag.Int("bench.runs", 200, "BenchmarkReadProject: runs")
	benchResults = flag.Int("bench.results", 20000, "BenchmarkReadProject: test results over all runs")
	benchStories = flag.Int("bench.stories", 500, "BenchmarkReadProject: stories (tickets)")
	benchExplain = flag.Bool("bench.explain", false, "BenchmarkReadProject: print the plans of the stories, trend and flaky queries")
)

// BenchmarkReadProject measures one report read over a generated project: every result links to one story,
// the links rotate so every story has runs, a quarter of the runs belong to one of 20 releases, and every
// story has three coverage measurements; every 97th result is reported flaky and every 89th passed on a
// retry, so the flaky list is full (50) and its stories are looked up. The data is written with
// generate_series, the way ingest stores it (run_tickets aggregated from the links).
//
// Sub-benchmarks: report is the whole ReadProject (trend and flaky included); trend and flaky are their
// queries alone. peak-RSS-MB is the process's peak resident set over the sub-benchmark (rss.PeakMB after
// rss.ResetPeak): run at two result counts, it shows whether memory grows with results.
func BenchmarkReadProject(b *testing.B) {
	s := newSource(b)
	ctx := context.Background()
	perRun := max(*benchResults / *benchRuns, 1)
	steps := []string{
		`INSERT INTO "Source Data".projects (id, name) VALUES ('bench', 'Bench')`,
		`INSERT INTO "Source Data".releases (project_id, name, jira_version_id)
			SELECT 'bench', '1.' || g, (10000 + g)::text FROM generate_series(1, 20) g`,
		`INSERT INTO "Source Data".runs (project_id, report_id, content_sha256, name, build, url, release_id, tool,
				started_at, stopped_at, tests, passed, failed, skipped, pending, other)
			SELECT 'bench', 'r' || g, sha256(g::text::bytea), 'build ' || g, g::text, 'https://ci.example/' || g,
				CASE WHEN g % 4 = 0 THEN (SELECT min(id) FROM "Source Data".releases) + (g / 4) % 20 END, 'jest',
				timestamptz '2026-01-01' + g * interval '1 hour', timestamptz '2026-01-01' + g * interval '1 hour' + interval '5 min',
				$1, $1 - $1 / 50 - $1 / 20, $1 / 50, $1 / 20, 0, 0
			FROM generate_series(1, $2) g`,
		`INSERT INTO "Source Data".test_results (run_id, ordinal, name, suite, status, duration_ms, file, flaky, retries)
			SELECT r.id, o, 'BENCH-' || ((r.id * $1 + o) % $2 + 1) || ' test ' || o, 'suite ' || o % 30,
				CASE WHEN o % 50 = 0 THEN 'failed' WHEN o % 20 = 0 THEN 'skipped' ELSE 'passed' END,
				o % 1000, 'tests/t' || o % 30 || '.spec.ts', o % 97 = 0, (o % 89 = 0)::int
			FROM "Source Data".runs r, generate_series(0, $1 - 1) o
			ORDER BY r.id, o`, // one run's results together, as ingest writes them (one transaction per run)
		`INSERT INTO "Source Data".test_tickets (run_id, ordinal, ticket)
			SELECT run_id, ordinal, split_part(name, ' ', 1) FROM "Source Data".test_results`,
		`INSERT INTO "Source Data".run_tickets (run_id, ticket, project_id, started_at, passed, failed, skipped)
			SELECT l.run_id, l.ticket, 'bench', min(ru.started_at),
				count(*) FILTER (WHERE r.status = 'passed'), count(*) FILTER (WHERE r.status = 'failed'),
				count(*) FILTER (WHERE r.status NOT IN ('passed', 'failed'))
			FROM "Source Data".test_tickets l JOIN "Source Data".test_results r USING (run_id, ordinal)
			JOIN "Source Data".runs ru ON ru.id = l.run_id
			GROUP BY l.run_id, l.ticket`,
		`INSERT INTO "Source Data".story_coverage (project_id, ticket, covered_methods, total_methods, measured_at)
			SELECT 'bench', 'BENCH-' || g, (g * 7 + m) % 100, 100, timestamptz '2026-01-01' + m * interval '1 day'
			FROM generate_series(1, $1) g, generate_series(1, 3) m`,
		`ANALYZE`,
	}
	args := [][]any{nil, nil, {perRun, *benchRuns}, {perRun, *benchStories}, nil, nil, {*benchStories}, nil}
	for i, q := range steps {
		if _, err := s.pool.Exec(ctx, q, args[i]...); err != nil {
			b.Fatalf("generate step %d: %v", i, err)
		}
	}
	counts := s.rowCounts(b)
	b.Logf("workload: %d runs, %d results, %d links, %d run×ticket rows, %d coverage rows",
		counts["runs"], counts["test_results"], counts["test_tickets"], counts["run_tickets"], counts["story_coverage"])

	if *benchExplain {
		logPlan(b, s, "EXPLAIN (ANALYZE, BUFFERS) "+s.rd.storiesQuery(), "bench")
		logPlan(b, s, "EXPLAIN (ANALYZE, BUFFERS) "+s.rd.trendsQuery(trendSQL), "bench", report.MaxTrend)
		logPlan(b, s, "EXPLAIN (ANALYZE, BUFFERS) "+s.rd.trendsQuery(flakySQL), "bench", report.FlakyWindow, report.MaxFlaky)
	}
	b.Run("report", func(b *testing.B) {
		var p *report.Project
		benchLoop(b, s, func(tx pgx.Tx) (err error) {
			p, err = s.rd.ReadProject(ctx, "bench")
			return err
		})
		if len(p.Stories) != *benchStories || len(p.Flaky) == 0 || len(p.Trend) != report.MaxTrend {
			b.Fatalf("read %d stories, %d flaky, %d trend points; want %d, some, %d", len(p.Stories), len(p.Flaky),
				len(p.Trend), *benchStories, report.MaxTrend)
		}
		b.ReportMetric(float64(len(p.Stories)), "stories")
		b.ReportMetric(float64(len(p.Flaky)), "flaky")
	})
	b.Run("trend", func(b *testing.B) {
		benchLoop(b, s, func(tx pgx.Tx) error { _, err := s.rd.trend(ctx, tx, "bench"); return err })
	})
	b.Run("flaky", func(b *testing.B) {
		benchLoop(b, s, func(tx pgx.Tx) error { _, err := s.rd.flaky(ctx, tx, "bench"); return err })
	})
}

// benchLoop times read, given a read-only transaction set up as ReadProject sets up its own (which the report
// sub-benchmark ignores), and reports the peak resident set over the loop.
func benchLoop(b *testing.B, s testSource, read func(pgx.Tx) error) {
	ctx := context.Background()
	b.ReportAllocs()
	rss.ResetPeak()
	for b.Loop() {
		tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			b.Fatal(err)
		}
		if _, err = tx.Exec(ctx, "SET LOCAL jit = off"); err == nil {
			err = read(tx)
		}
		_ = tx.Rollback(ctx)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(rss.PeakMB(), "peak-RSS-MB")
}

func logPlan(b *testing.B, s testSource, q string, args ...any) {
	rows, err := s.pool.Query(context.Background(), q, args...)
	if err != nil {
		b.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	// Printed, not logged: the testing package truncates long benchmark logs.
	fmt.Println(strings.Join(lines, "\n"))
}
