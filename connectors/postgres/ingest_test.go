package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/internal/fixture"
	"github.com/covsync/covsync/internal/pgtest"
)

// testSchema has a space and a capital so every statement is seen to quote the configured schema name.
const testSchema = "Source Data"

type testSource struct {
	pool *pgxpool.Pool
	in   *Ingester
	rd   *Reader
}

// newSource is a fresh database with both schemas migrated.
func newSource(t testing.TB) testSource {
	t.Helper()
	pool := pgtest.Pool(t)
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := Migrate(ctx, conn.Conn(), MigrateOptions{SourceSchema: testSchema}); err != nil {
		t.Fatal(err)
	}
	return testSource{pool: pool, in: NewIngester(pool, testSchema), rd: NewReader(pool, testSchema)}
}

// rowCounts counts the rows of every source table, to show that a refused file stored nothing.
func (s testSource) rowCounts(t testing.TB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tbl := range []string{"projects", "releases", "runs", "test_results", "test_tickets", "run_tickets", "story_coverage"} {
		var n int
		q := "SELECT count(*) FROM " + pgx.Identifier{testSchema, tbl}.Sanitize()
		if err := s.pool.QueryRow(context.Background(), q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tbl] = n
	}
	return out
}

func (s testSource) ingest(t testing.TB, data []byte, opts CTRFOptions) *RunIngest {
	t.Helper()
	if opts.Project == "" {
		opts.Project = "shop"
	}
	res, err := s.in.IngestCTRF(context.Background(), data, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestEverySharedReportIngests(t *testing.T) {
	s := newSource(t)
	total := 0
	for i, p := range sharedReports(t) {
		rep := parseFile(t, p)
		res := s.ingest(t, mustRead(t, p), CTRFOptions{File: filepath.Base(p)})
		if res.AlreadyIngested || res.Tests != len(rep.Tests) || res.ProjectCreated != (i == 0) {
			t.Errorf("%s: %+v, want %d tests stored", filepath.Base(p), res, len(rep.Tests))
		}
		total += len(rep.Tests)
	}
	got := s.rowCounts(t)
	if got["runs"] != len(sharedReports(t)) || got["test_results"] != total || got["projects"] != 1 {
		t.Errorf("stored %v, want %d runs and %d results", got, len(sharedReports(t)), total)
	}
	p, err := s.rd.ReadProject(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if p.RunCount != len(sharedReports(t)) || p.LatestRun == nil {
		t.Errorf("report: %d runs, latest %+v", p.RunCount, p.LatestRun)
	}
}

func TestTheSameReportIsStoredOnce(t *testing.T) {
	s := newSource(t)
	data := mustRead(t, filepath.Join("testdata", "ctrf", "shop-tickets.json"))
	first := s.ingest(t, data, CTRFOptions{})
	before := s.rowCounts(t)

	t.Run("the same bytes", func(t *testing.T) {
		again := s.ingest(t, data, CTRFOptions{Release: "2.4.0"})
		if !again.AlreadyIngested || again.RunID != first.RunID || again.RunName != "build 482" {
			t.Errorf("second ingest %+v, want already ingested as run %d", again, first.RunID)
		}
	})
	t.Run("the same reportId, other bytes", func(t *testing.T) {
		again := s.ingest(t, append([]byte("\n  "), data...), CTRFOptions{})
		if !again.AlreadyIngested || again.RunID != first.RunID {
			t.Errorf("got %+v, want already ingested as run %d", again, first.RunID)
		}
	})
	t.Run("the same bytes without a reportId", func(t *testing.T) {
		plain := mustRead(t, filepath.Join("testdata", "ctrf", "go-reporter.json"))
		one := s.ingest(t, plain, CTRFOptions{})
		two := s.ingest(t, plain, CTRFOptions{})
		if one.AlreadyIngested || !two.AlreadyIngested || two.RunID != one.RunID {
			t.Errorf("got %+v then %+v", one, two)
		}
		before["runs"]++
		before["test_results"] += one.Tests
		before["test_tickets"] += one.Links
		before["run_tickets"] += one.Tickets
	})
	if after := s.rowCounts(t); !equalCounts(before, after) {
		t.Errorf("rows before %v, after %v: an already ingested report stored something (the release?)", before, after)
	}
	t.Run("the same report in another project is that project's run", func(t *testing.T) {
		other := s.ingest(t, data, CTRFOptions{Project: "web"})
		if other.AlreadyIngested || !other.ProjectCreated {
			t.Errorf("got %+v, want a new run of a new project", other)
		}
	})
}

func TestIngestStoresRunFieldsAndTicketLinks(t *testing.T) {
	s := newSource(t)
	ctx := context.Background()
	res := s.ingest(t, mustRead(t, filepath.Join("testdata", "ctrf", "shop-tickets.json")),
		CTRFOptions{Release: "2.4.0", RunURL: "https://ci.example.com/override"})
	if res.Tests != 6 || res.Links != 7 || res.Tickets != 4 || res.RunName != "build 482" {
		t.Errorf("got %+v, want 6 tests, 7 links to 4 tickets, named build 482", res)
	}
	var name, build, branch, commit, url, env, release, tool string
	var started time.Time
	err := s.pool.QueryRow(ctx, `SELECT r.name, r.build, r.branch, r.commit, r.url, r.environment, rel.name, r.tool, r.started_at
		FROM "Source Data".runs r JOIN "Source Data".releases rel ON rel.id = r.release_id`).
		Scan(&name, &build, &branch, &commit, &url, &env, &release, &tool, &started)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"build 482", "482", "main", "9f2c1e7", "https://ci.example.com/override", "staging", "2.4.0", "playwright"}
	if got := []string{name, build, branch, commit, url, env, release, tool}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("run %q, want %q", got, want)
	}
	if !started.Equal(time.UnixMilli(1795161600000)) {
		t.Errorf("started %v", started)
	}
	rows, err := s.pool.Query(ctx, `SELECT ticket, passed, failed, skipped FROM "Source Data".run_tickets ORDER BY ticket`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var k string
		var p, f, sk int
		err := r.Scan(&k, &p, &f, &sk)
		return strings.Join([]string{k, strconv.Itoa(p), strconv.Itoa(f), strconv.Itoa(sk)}, " "), err
	})
	if err != nil {
		t.Fatal(err)
	}
	// SHOP-1: a tag and a name; SHOP-2 a tag and a name (once each); pending counts as skipped.
	if w := "AB#101 0 0 2,SHOP-1 1 1 0,SHOP-2 2 0 0,SHOP-3 1 0 0"; strings.Join(got, ",") != w {
		t.Errorf("run_tickets %q, want %q", got, w)
	}
	var msg string
	if err := s.pool.QueryRow(ctx, `SELECT message FROM "Source Data".test_results WHERE ordinal = 1`).Scan(&msg); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(msg, "\x1b") || !strings.HasPrefix(msg, "expect(received).toBe(expected)") {
		t.Errorf("message %q: ANSI escapes not stripped", msg)
	}
}

func TestARefusedFileStoresNothing(t *testing.T) {
	s := newSource(t)
	ctx := context.Background()
	good := mustRead(t, fixture.CTRF(t, "vitest-testream-reporter.json"))
	// tests[3].status broken: the first three tests are valid and would have been stored by a writer that
	// streams without a transaction.
	bad := breakTest(t, good, 3, "status", "exploded")
	cov := []byte(`{"project":"shop","measuredAt":"2026-11-20T09:00:00Z","stories":[
		{"ticket":"SHOP-1","coveredMethods":1,"totalMethods":2},{"ticket":"SHOP-2","coveredMethods":3,"totalMethods":2}]}`)

	t.Run("into a project that does not exist yet", func(t *testing.T) {
		_, err := s.in.IngestCTRF(ctx, bad, CTRFOptions{Project: "new", File: "bad.json", Release: "1.0"})
		wantInputError(t, err, "bad.json: results.tests[3].status: ")
		if got := s.rowCounts(t); got["projects"] != 0 || got["releases"] != 0 {
			t.Errorf("rows %v: the refused file created its project or release", got)
		}
	})
	s.ingest(t, good, CTRFOptions{})
	before := s.rowCounts(t)
	t.Run("into a project with data", func(t *testing.T) {
		_, err := s.in.IngestCTRF(ctx, bad, CTRFOptions{Project: "shop", File: "bad.json"})
		wantInputError(t, err, "bad.json: results.tests[3].status: ")
	})
	t.Run("coverage with one bad story of two", func(t *testing.T) {
		_, err := s.in.IngestCoverage(ctx, cov, "cov.json")
		wantInputError(t, err, "cov.json: stories[1].coveredMethods: 3 is more than totalMethods 2")
	})
	t.Run("a bad project id", func(t *testing.T) {
		_, err := s.in.IngestCTRF(ctx, good, CTRFOptions{Project: "no spaces", File: "good.json"})
		wantInputError(t, err, `good.json: project id "no spaces"`)
	})
	if after := s.rowCounts(t); !equalCounts(before, after) {
		t.Errorf("rows before %v, after %v", before, after)
	}
}

func TestCoverageIngestIsIdempotent(t *testing.T) {
	s := newSource(t)
	ctx := context.Background()
	data := mustRead(t, filepath.Join("testdata", "coverage", "shop.json"))
	first, err := s.in.IngestCoverage(ctx, data, "shop.json")
	if err != nil {
		t.Fatal(err)
	}
	if !first.ProjectCreated || first.Inserted != 4 || first.Updated+first.Unchanged != 0 {
		t.Errorf("first: %+v", first)
	}
	again, err := s.in.IngestCoverage(ctx, data, "shop.json")
	if err != nil {
		t.Fatal(err)
	}
	if again.ProjectCreated || again.Inserted+again.Updated != 0 || again.Unchanged != 4 {
		t.Errorf("again: %+v", again)
	}
	fixed := []byte(strings.Replace(string(data), `"coveredMethods": 1,`, `"coveredMethods": 2,`, 1))
	third, err := s.in.IngestCoverage(ctx, fixed, "fixed.json")
	if err != nil {
		t.Fatal(err)
	}
	if third.Updated != 1 || third.Unchanged != 3 || s.rowCounts(t)["story_coverage"] != 4 {
		t.Errorf("a corrected file: %+v, %v", third, s.rowCounts(t))
	}
}

func TestAnUnmigratedSchemaSaysWhatToDo(t *testing.T) {
	pool := pgtest.Pool(t)
	_, err := NewReader(pool, "nowhere").ReadProject(context.Background(), "shop")
	if !errors.Is(err, ErrSchemaMissing) || !strings.Contains(err.Error(), "covsync migrate") {
		t.Errorf("read: got %v", err)
	}
	_, err = NewIngester(pool, "nowhere").IngestCTRF(context.Background(), []byte(validCTRF), CTRFOptions{Project: "shop"})
	if !errors.Is(err, ErrSchemaMissing) {
		t.Errorf("ingest: got %v", err)
	}
}

// breakTest sets field of tests[i] of a CTRF report to value.
func breakTest(t *testing.T, data []byte, i int, field string, value any) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	doc["results"].(map[string]any)["tests"].([]any)[i].(map[string]any)[field] = value
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func wantInputError(t *testing.T, err error, prefix string) {
	t.Helper()
	var ie *InputError
	if !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("got %v, want an *InputError starting %q", err, prefix)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestConcurrentIngestsOfOneReportStoreItOnce(t *testing.T) {
	s := newSource(t)
	data := mustRead(t, fixture.CTRF(t, "vitest-testream-reporter.json"))
	const n = 4
	type outcome struct {
		res *RunIngest
		err error
	}
	done := make(chan outcome, n)
	for range n {
		go func() {
			res, err := s.in.IngestCTRF(context.Background(), data, CTRFOptions{Project: "shop", Release: "1.0"})
			done <- outcome{res, err}
		}()
	}
	stored, runIDs := 0, map[int64]bool{}
	for range n {
		o := <-done
		if o.err != nil {
			t.Fatal(o.err)
		}
		res := o.res
		if !res.AlreadyIngested {
			stored++
		}
		runIDs[res.RunID] = true
	}
	if counts := s.rowCounts(t); stored != 1 || len(runIDs) != 1 || counts["runs"] != 1 || counts["test_results"] != 52 {
		t.Errorf("%d stored, run ids %v, rows %v; want one run of 52 results", stored, runIDs, counts)
	}
}

func TestAReportWithoutTestsIsARunWithoutStories(t *testing.T) {
	s := newSource(t)
	res := s.ingest(t, ctrfAt(t, t0), CTRFOptions{})
	p, err := s.rd.ReadProject(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if res.Tests != 0 || p.RunCount != 1 || p.LatestRun.Status != "skipped" || len(p.Stories) != 0 {
		t.Errorf("ingest %+v; report %d runs, latest %+v, %d stories", res, p.RunCount, p.LatestRun, len(p.Stories))
	}
}

func TestAZeroStartTakesTheTimestampElseTheStopElseTheIngestTime(t *testing.T) {
	s := newSource(t)
	read := func(name string) []byte { return mustRead(t, fixture.CTRF(t, "field/"+name)) }
	// junit-to-ctrf: start 0 and a root timestamp.
	res := s.ingest(t, read("junit-to-ctrf-sample.json"), CTRFOptions{})
	if want := time.Date(2025, 8, 5, 17, 41, 7, 63e6, time.UTC); res.StartFrom != StartTimestamp || !res.StartedAt.Equal(want) {
		t.Errorf("junit-to-ctrf: start %v from %q, want %v from the timestamp", res.StartedAt, res.StartFrom, want)
	}
	// The Go reporter: start 0, stop 0, no timestamp.
	before := time.Now().Add(-time.Second)
	res = s.ingest(t, read("gotest-terraform-provider-ncloud.json"), CTRFOptions{})
	if res.StartFrom != StartIngest || res.StartedAt.Before(before) || res.StartedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("go reporter: start %v from %q, want the time of ingest", res.StartedAt, res.StartFrom)
	}
	var stored time.Time
	if err := s.pool.QueryRow(context.Background(), `SELECT started_at FROM `+pgx.Identifier{testSchema, "runs"}.Sanitize()+` WHERE id = $1`, res.RunID).Scan(&stored); err != nil || !stored.Equal(res.StartedAt) {
		t.Errorf("stored start %v (%v), want %v", stored, err, res.StartedAt)
	}
	// start 0 with a stop and no timestamp.
	res = s.ingest(t, []byte(`{"results":{"tool":{"name":"x"},"summary":{"tests":0,"passed":0,"failed":0,"skipped":0,
		"pending":0,"other":0,"start":0,"stop":1763625601000},"tests":[]}}`), CTRFOptions{})
	if res.StartFrom != StartStop || !res.StartedAt.Equal(time.UnixMilli(1763625601000)) {
		t.Errorf("stop only: start %v from %q", res.StartedAt, res.StartFrom)
	}
}

func TestRunCountsAreTheTestsCountsAndTheSummaryIsKeptBeside(t *testing.T) {
	s := newSource(t)
	// A jest run whose summary counts the test that passed on retry as failed.
	report := []byte(`{"results":{"tool":{"name":"jest"},
		"summary":{"tests":3,"passed":1,"failed":2,"skipped":0,"pending":0,"other":0,"start":1763625600000,"stop":1763625601000},
		"tests":[{"name":"SHOP-1 a","status":"passed","duration":1},
			{"name":"SHOP-1 b","status":"passed","duration":1,"retries":1,"flaky":true},
			{"name":"SHOP-2 c","status":"failed","duration":1}]}}`)
	res := s.ingest(t, report, CTRFOptions{})
	if !res.Disagree || res.Counts.Passed != 2 || res.Counts.Failed != 1 || res.Summary.Failed != 2 {
		t.Fatalf("ingest: %+v", res)
	}
	var passed, failed int
	var summary map[string]int
	err := s.pool.QueryRow(context.Background(), `SELECT passed, failed, summary_counts FROM `+pgx.Identifier{testSchema, "runs"}.Sanitize()+` WHERE id = $1`, res.RunID).Scan(&passed, &failed, &summary)
	if err != nil || passed != 2 || failed != 1 || summary["passed"] != 1 || summary["failed"] != 2 {
		t.Errorf("stored run: passed %d failed %d summary %v (%v)", passed, failed, summary, err)
	}
	p, err := s.rd.ReadProject(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if p.LatestRun == nil || p.LatestRun.Passed != 2 || p.LatestRun.Failed != 1 {
		t.Errorf("latest run as planned from: %+v, want the tests' 2 passed 1 failed", p.LatestRun)
	}
}
