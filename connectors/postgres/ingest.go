package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Ingester writes CTRF reports and coverage files into the source schema, one transaction per file: a file
// that is refused, or whose write fails, stores nothing.
type Ingester struct{ source }

// NewIngester writes into schema (the config's database.source_schema) through pool.
func NewIngester(pool *pgxpool.Pool, schema string) *Ingester {
	return &Ingester{source{pool: pool, schema: schema}}
}

// CTRFOptions say where a CTRF report goes.
type CTRFOptions struct {
	Project string // the project id; the project is created on its first report
	Release string // attach the run to this release (created when missing); optional
	RunURL  string // the run's URL; overrides environment.buildUrl; optional
	File    string // the file name errors name; optional
	// BeforeCommit, when set, runs in the ingest's transaction after the run is stored (not for a report
	// already stored); its error rolls everything back. The endpoint enqueues the project's cycles here.
	BeforeCommit func(ctx context.Context, tx pgx.Tx) error
}

// ReadError is a failure to read the report or coverage file itself (a body cut short, over its limit):
// nothing was parsed or stored.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "read: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// readAll reads a coverage file whole (it is small: one line per story) for ParseCoverage.
func readAll(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &ReadError{err}
	}
	return data, nil
}

// readErrors remembers the first failure of the reader under it (a body over its limit, a client gone
// quiet), so a report the parser could not finish because of it is a *ReadError, not a refused report.
type readErrors struct {
	r   io.Reader
	err error
}

func (e *readErrors) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// IngestCTRFFrom streams a CTRF report from r into IngestCTRFReader. A failure of r is a *ReadError and
// stores nothing.
func (g *Ingester) IngestCTRFFrom(ctx context.Context, r io.Reader, opts CTRFOptions) (*RunIngest, error) {
	rec := &readErrors{r: r}
	res, err := g.IngestCTRFReader(ctx, rec, opts)
	if err != nil && rec.err != nil {
		return nil, &ReadError{rec.err}
	}
	return res, err
}

// RunIngest is what IngestCTRF did.
type RunIngest struct {
	RunID   int64
	RunName string
	// AlreadyIngested is true when the project already had this report (same reportId or same content):
	// nothing was written and RunID is the stored run.
	AlreadyIngested bool
	ProjectCreated  bool
	Tests           int // test results stored
	Links           int // test → ticket links stored
	Tickets         int // distinct tickets linked
	// StartedAt is the run's start; StartFrom says where it came from when summary.start was zero or
	// missing (StartTimestamp, StartStop, StartIngest), "" when it is summary.start.
	StartedAt time.Time
	StartFrom string
	// Counts are the run's counts, those of the tests stored; Summary the report's own, which Disagree says
	// differ (a test that passed on retry counted as failed, say).
	Counts, Summary CTRFSummary
	Disagree        bool

	skipped bool // the tests were not copied: a run with the report's reportId was stored (copyTests)
}

// summaryJSON is the summary_counts column of a run.
func summaryJSON(c CTRFSummary) map[string]int {
	return map[string]int{"tests": c.Tests, "passed": c.Passed, "failed": c.Failed, "skipped": c.Skipped,
		"pending": c.Pending, "other": c.Other}
}

var projectIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckProjectID says whether id can name a project: letters, digits, '.', '_' and '-', at most 64.
func CheckProjectID(id string) error {
	if !projectIDRE.MatchString(id) {
		return fmt.Errorf("project id %q: want 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", id)
	}
	return nil
}

// IngestCTRF parses data as a CTRF report and stores it as one run of opts.Project; see IngestCTRFReader.
func (g *Ingester) IngestCTRF(ctx context.Context, data []byte, opts CTRFOptions) (*RunIngest, error) {
	return g.IngestCTRFReader(ctx, bytes.NewReader(data), opts)
}

// IngestCTRFReader reads a CTRF report from r (EachCTRFTest: streamed, within the limits of limits.go) and
// stores it as one run of opts.Project. A refused report, release or run URL is an *InputError naming the
// JSON path (or the option) of the problem.
//
// It holds no more than a few tests at a time, whatever the report's size: the transaction begins before the
// body is read, and each test goes into test_results by COPY as soon as it is parsed. The run's row, made of
// what only the whole report tells (the summary and environment, which may follow the tests; the content
// hash), is inserted at the end, under the id the tests were given. Ingest only ever inserts: the ingest
// role needs no UPDATE of runs (deploy/sql/grants.sql). A report refused anywhere, a body cut
// short, and a report found stored already (its reportId or content) roll the whole transaction back: nothing
// of it is kept. See docs/architecture.md, "Reliability and security rules".
func (g *Ingester) IngestCTRFReader(ctx context.Context, r io.Reader, opts CTRFOptions) (*RunIngest, error) {
	if err := CheckProjectID(opts.Project); err != nil {
		return nil, &InputError{File: opts.File, Msg: err.Error()}
	}
	if opts.Release != "" {
		rel, err := CleanRelease(opts.Release)
		if err != nil {
			return nil, withFile(err, opts.File)
		}
		opts.Release = rel
	}
	if opts.RunURL != "" {
		if err := CheckRunURL(opts.RunURL); err != nil {
			return nil, &InputError{File: opts.File, Path: "--run-url", Msg: err.Error()}
		}
	}
	tx, err := g.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: %w", opts.File, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	// The run's id comes first, its row last (below): the tests, copied as they are read, refer to it, and
	// that reference is checked at commit (source migration 003).
	out := &RunIngest{}
	if _, err := tx.Exec(ctx, `SET CONSTRAINTS ALL DEFERRED`); err != nil {
		return nil, fmt.Errorf("ingest %s: %w", opts.File, err)
	}
	err = tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence($1, 'id'))`, g.t("runs")).Scan(&out.RunID)
	if err != nil {
		return nil, g.wrap("ingest "+opts.File+": a run id", err)
	}

	h := sha256.New()
	rep, links, err := g.copyTests(ctx, tx, out, opts.Project, io.TeeReader(r, h))
	if err != nil {
		var ie *InputError
		if errors.As(err, &ie) {
			return nil, withFile(ie, opts.File)
		}
		return nil, fmt.Errorf("ingest %s: %w", opts.File, err)
	}
	// The project and release rows come after the body: a report to a new project or release holds them
	// (and every other report to them waits) only for the moments before its commit, not for its upload.
	if out.ProjectCreated, err = g.ensureProject(ctx, tx, opts.Project); err != nil {
		return nil, g.wrap("ingest "+opts.File, err)
	}
	var releaseID *int64
	if opts.Release != "" {
		id, err := g.ensureRelease(ctx, tx, opts.Project, opts.Release)
		if err != nil {
			return nil, err
		}
		releaseID = &id
	}
	out.RunName, out.StartedAt, out.StartFrom, out.Summary = rep.RunName(), rep.Start, rep.StartFrom, rep.Summary
	out.Disagree = out.Counts != out.Summary
	url := rep.Env.BuildURL
	if opts.RunURL != "" {
		url = opts.RunURL
	}
	var reportID *string
	if rep.ReportID != "" {
		reportID = &rep.ReportID
	}
	var stop *time.Time
	if !rep.Stop.IsZero() {
		stop = &rep.Stop
	}
	sum := h.Sum(nil)
	err = tx.QueryRow(ctx, `INSERT INTO `+g.t("runs")+` (id, project_id, report_id, content_sha256, name, build,
			branch, commit, url, environment, release_id, tool, started_at, stopped_at,
			tests, passed, failed, skipped, pending, other, summary_counts)
		OVERRIDING SYSTEM VALUE
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
		ON CONFLICT DO NOTHING
		RETURNING id`,
		out.RunID, opts.Project, reportID, sum, out.RunName, rep.Build(), rep.Env.Branch, rep.Env.Commit, url,
		rep.Env.Environment, releaseID, rep.Tool, rep.Start, stop,
		out.Counts.Tests, out.Counts.Passed, out.Counts.Failed, out.Counts.Skipped, out.Counts.Pending,
		out.Counts.Other, summaryJSON(rep.Summary)).Scan(&out.RunID)
	if errors.Is(err, pgx.ErrNoRows) {
		// One of the unique constraints said no: the report is stored already. Nothing of this file is kept:
		// the deferred rollback drops the tests copied above, and a project or release created for it.
		err = tx.QueryRow(ctx, `SELECT id, name FROM `+g.t("runs")+`
			WHERE project_id = $1 AND (content_sha256 = $2 OR report_id = $3) ORDER BY id LIMIT 1`,
			opts.Project, sum, reportID).Scan(&out.RunID, &out.RunName)
		if err != nil {
			return nil, fmt.Errorf("ingest %s: find the stored run: %w", opts.File, err)
		}
		out.AlreadyIngested, out.ProjectCreated, out.Tests = true, false, 0
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ingest %s: insert run: %w", opts.File, err)
	}
	if out.skipped {
		// Its tests were not copied because a run with its reportId was stored, and that run is gone now.
		return nil, fmt.Errorf("ingest %s: the run stored with reportId %q was removed while this report was read; send it again", opts.File, rep.ReportID)
	}
	if err := g.copyLinks(ctx, tx, out, links); err != nil {
		return nil, fmt.Errorf("ingest %s: %w", opts.File, err)
	}
	if err := g.aggregateTickets(ctx, tx, out, opts.Project, rep); err != nil {
		return nil, fmt.Errorf("ingest %s: %w", opts.File, err)
	}
	if opts.BeforeCommit != nil {
		if err := opts.BeforeCommit(ctx, tx); err != nil {
			return nil, fmt.Errorf("ingest %s: %w", opts.File, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("ingest %s: commit: %w", opts.File, err)
	}
	return out, nil
}

// ticketLinks are a run's test → ticket links as the tests stream by: 8 bytes a link, each ticket key held
// once, so a report of a million linked tests costs a few MB here.
type ticketLinks struct {
	ordinal, ticket []int32 // link i is test ordinal[i] → keys[ticket[i]]
	keys            []string
	index           map[string]int32
}

func (l *ticketLinks) add(ordinal int32, tickets []string) {
	for _, k := range tickets {
		i, ok := l.index[k]
		if !ok {
			if l.index == nil {
				l.index = map[string]int32{}
			}
			i = int32(len(l.keys))
			l.keys = append(l.keys, k)
			l.index[k] = i
		}
		l.ordinal, l.ticket = append(l.ordinal, ordinal), append(l.ticket, i)
	}
}

// testRows is the COPY source of test_results: the tests as the parser, in its own goroutine, hands them
// over. Next and Err run in COPY's goroutine, one after the other.
type testRows struct {
	tests  <-chan CTRFTest
	parsed <-chan error // the parser's result, once tests is closed
	runID  int64
	n      int32
	row    []any
	counts *CTRFSummary
	links  *ticketLinks
	ended  bool // tests is closed and err is the parser's result
	err    error
}

func (s *testRows) Next() bool {
	t, ok := <-s.tests
	if !ok {
		if !s.ended {
			s.ended, s.err = true, <-s.parsed
		}
		return false
	}
	var start any
	if !t.Start.IsZero() {
		start = t.Start
	}
	tags := t.Tags
	if tags == nil {
		tags = []string{}
	}
	s.row[0], s.row[1], s.row[2], s.row[3], s.row[4], s.row[5] = s.runID, s.n, t.Name, t.Suite, t.Status, t.DurationMS
	s.row[6], s.row[7], s.row[8], s.row[9], s.row[10], s.row[11] = start, t.File, t.Message, t.Flaky, int32(t.Retries), tags
	s.counts.add(t.Status)
	s.links.add(s.n, t.Tickets)
	s.n++
	return true
}

func (s *testRows) Values() ([]any, error) { return s.row, nil }
func (s *testRows) Err() error             { return s.err }

// errCopyStopped stops the parser when the COPY it feeds has failed.
var errCopyStopped = errors.New("copy stopped")

// copyTests parses the report from r and stores its tests as they come with COPY; it returns the report
// (without its tests) and the tests' ticket links. A refused report is the parser's *InputError.
//
// A report whose reportId, given before its tests, is stored already in project is read and checked but
// not copied (out.skipped): the run's insert then finds it stored. A CI job that sends a stored report
// again (a retry after a timeout) costs a read, not a copy of every test rolled back.
func (g *Ingester) copyTests(ctx context.Context, tx pgx.Tx, out *RunIngest, project string, r io.Reader) (*CTRFReport, *ticketLinks, error) {
	tests := make(chan CTRFTest, 64)
	parsed := make(chan error, 1)
	stop := make(chan struct{})
	var rep *CTRFReport // written by the parser before it closes tests
	seen := func(id string) bool {
		if id == "" {
			return false
		}
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var stored bool
		// Another connection: this one is about to COPY. A failure only means the tests are copied.
		err := g.pool.QueryRow(qctx, `SELECT EXISTS (SELECT 1 FROM `+g.t("runs")+` WHERE project_id = $1 AND report_id = $2)`,
			project, id).Scan(&stored)
		out.skipped = err == nil && stored
		return out.skipped
	}
	go func() {
		var err error
		defer func() {
			if p := recover(); p != nil { // a parser bug must not take the daemon down
				err = fmt.Errorf("reading the report: internal error: %v", p)
			}
			parsed <- err
			close(tests)
		}()
		rep, err = EachCTRFTest(r, seen, func(t CTRFTest) error {
			select {
			case tests <- t:
				return nil
			case <-stop:
				return errCopyStopped
			}
		})
	}()
	src := &testRows{tests: tests, parsed: parsed, runID: out.RunID, row: make([]any, 12),
		counts: &out.Counts, links: &ticketLinks{}}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{g.schema, "test_results"},
		[]string{"run_id", "ordinal", "name", "suite", "status", "duration_ms", "started_at", "file", "message",
			"flaky", "retries", "tags"}, src)
	if err != nil {
		// Stop the parser and wait for it: r is not to be read once this returns (a body stalled mid-read
		// holds this until the server's read timeout). What failed first is the error: the parse when COPY
		// saw it end in error (ended), else the context, else COPY itself.
		close(stop)
		for range tests {
		}
		parseErr := src.err
		if !src.ended {
			parseErr = nil
			<-parsed
		}
		var pe *pgconn.PgError
		switch {
		case ctx.Err() != nil:
			return nil, nil, fmt.Errorf("store test results: %w", ctx.Err())
		case parseErr != nil:
			return nil, nil, parseErr
		case errors.As(err, &pe) && pe.Code == "23503" && pe.ConstraintName == "test_results_run_id_fkey":
			return nil, nil, fmt.Errorf("store test results: the source schema predates this covsync (source migration 003 lets ingest stream): run `covsync migrate`: %w", ErrSchemaMissing)
		}
		return nil, nil, fmt.Errorf("store test results: %w", err)
	}
	out.Tests = int(n)
	// COPY has read tests to its end, and its goroutine, which took the parser's result, is done: rep is set.
	return rep, src.links, nil
}

// copyLinks stores the tests' ticket links with COPY, in (test, ticket) order.
func (g *Ingester) copyLinks(ctx context.Context, tx pgx.Tx, out *RunIngest, links *ticketLinks) error {
	row := make([]any, 3)
	n, err := tx.CopyFrom(ctx, pgx.Identifier{g.schema, "test_tickets"}, []string{"run_id", "ordinal", "ticket"},
		pgx.CopyFromSlice(len(links.ordinal), func(i int) ([]any, error) {
			row[0], row[1], row[2] = out.RunID, links.ordinal[i], links.keys[links.ticket[i]]
			return row, nil
		}))
	if err != nil {
		return fmt.Errorf("store ticket links: %w", err)
	}
	out.Links = int(n)
	return nil
}

// aggregateTickets writes the run × ticket counts the reader reads (run_tickets), in SQL from the rows just
// stored so the aggregate can never disagree with them.
func (g *Ingester) aggregateTickets(ctx context.Context, tx pgx.Tx, out *RunIngest, project string, rep *CTRFReport) error {
	tag, err := tx.Exec(ctx, `INSERT INTO `+g.t("run_tickets")+`
			(run_id, ticket, project_id, started_at, passed, failed, skipped)
		SELECT l.run_id, l.ticket, $2, $3,
			count(*) FILTER (WHERE r.status = 'passed'),
			count(*) FILTER (WHERE r.status = 'failed'),
			count(*) FILTER (WHERE r.status NOT IN ('passed', 'failed'))
		FROM `+g.t("test_tickets")+` l
		JOIN `+g.t("test_results")+` r USING (run_id, ordinal)
		WHERE l.run_id = $1
		GROUP BY l.run_id, l.ticket`, out.RunID, project, rep.Start)
	if err != nil {
		return fmt.Errorf("aggregate ticket links: %w", err)
	}
	out.Tickets = int(tag.RowsAffected())
	return nil
}

func (g *Ingester) ensureProject(ctx context.Context, tx pgx.Tx, id string) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO `+g.t("projects")+` (id, name) VALUES ($1, $1) ON CONFLICT (id) DO NOTHING`, id)
	if err != nil {
		return false, fmt.Errorf("project %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

func (g *Ingester) ensureRelease(ctx context.Context, tx pgx.Tx, project, name string) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `WITH ins AS (
			INSERT INTO `+g.t("releases")+` (project_id, name) VALUES ($1, $2)
			ON CONFLICT (project_id, name) DO NOTHING RETURNING id)
		SELECT id FROM ins
		UNION ALL
		SELECT id FROM `+g.t("releases")+` WHERE project_id = $1 AND name = $2
		LIMIT 1`, project, name).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("release %q of project %s: %w", name, project, err)
	}
	return id, nil
}

// CoverageIngest is what IngestCoverage did.
type CoverageIngest struct {
	Project        string
	ProjectCreated bool
	Inserted       int // new measurements
	Updated        int // measurements of the same ticket and time whose figures changed
	Unchanged      int // measurements stored already with the same figures
}

// CoverageOptions say how a coverage file is taken.
type CoverageOptions struct {
	File string // the file name errors name; optional
	// Project, when set, is the only project the file may be about: another is refused with ErrOtherProject
	// before anything is stored.
	Project string
	// BeforeCommit, when set, runs in the ingest's transaction when a measurement was inserted or changed;
	// its error rolls everything back.
	BeforeCommit func(ctx context.Context, tx pgx.Tx) error
}

// ErrOtherProject is a coverage file about another project than the one it was posted to.
var ErrOtherProject = errors.New("the file is about another project")

// IngestCoverage parses data as a coverage file and stores its measurements. Re-ingesting a file changes
// nothing; a file with the same measuredAt and other figures replaces them.
func (g *Ingester) IngestCoverage(ctx context.Context, data []byte, file string) (*CoverageIngest, error) {
	return g.ingestCoverage(ctx, data, CoverageOptions{File: file})
}

// IngestCoverageFrom reads a coverage file from r and ingests it as IngestCoverage does. A failure of r is a
// *ReadError and stores nothing.
func (g *Ingester) IngestCoverageFrom(ctx context.Context, r io.Reader, opts CoverageOptions) (*CoverageIngest, error) {
	data, err := readAll(r)
	if err != nil {
		return nil, err
	}
	return g.ingestCoverage(ctx, data, opts)
}

func (g *Ingester) ingestCoverage(ctx context.Context, data []byte, opts CoverageOptions) (*CoverageIngest, error) {
	file := opts.File
	c, err := ParseCoverage(data)
	if err != nil {
		return nil, withFile(err, file)
	}
	if err := CheckProjectID(c.Project); err != nil {
		return nil, &InputError{File: file, Path: "project", Msg: err.Error()}
	}
	if opts.Project != "" && c.Project != opts.Project {
		return nil, fmt.Errorf("coverage of project %q: %w", c.Project, ErrOtherProject)
	}
	tickets := make([]string, len(c.Stories))
	covered := make([]int32, len(c.Stories))
	total := make([]int32, len(c.Stories))
	for i, s := range c.Stories {
		tickets[i], covered[i], total[i] = s.Ticket, int32(s.CoveredMethods), int32(s.TotalMethods)
	}
	tx, err := g.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: %w", file, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	out := &CoverageIngest{Project: c.Project}
	if out.ProjectCreated, err = g.ensureProject(ctx, tx, c.Project); err != nil {
		return nil, g.wrap("ingest "+file, err)
	}
	rows, err := tx.Query(ctx, `INSERT INTO `+g.t("story_coverage")+`
			(project_id, ticket, covered_methods, total_methods, measured_at)
		SELECT $1, u.ticket, u.covered, u.total, $5
		FROM unnest($2::text[], $3::int[], $4::int[]) AS u(ticket, covered, total)
		ON CONFLICT (project_id, ticket, measured_at) DO UPDATE
			SET covered_methods = EXCLUDED.covered_methods, total_methods = EXCLUDED.total_methods,
			    ingested_at = now()
			WHERE (story_coverage.covered_methods, story_coverage.total_methods)
			      IS DISTINCT FROM (EXCLUDED.covered_methods, EXCLUDED.total_methods)
		RETURNING xmax = 0`, c.Project, tickets, covered, total, c.MeasuredAt)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: %w", file, err)
	}
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	if err != nil {
		return nil, fmt.Errorf("ingest %s: store coverage: %w", file, err)
	}
	for _, ins := range inserted {
		if ins {
			out.Inserted++
		} else {
			out.Updated++
		}
	}
	out.Unchanged = len(c.Stories) - len(inserted)
	if opts.BeforeCommit != nil && len(inserted) > 0 {
		if err := opts.BeforeCommit(ctx, tx); err != nil {
			return nil, fmt.Errorf("ingest %s: %w", file, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("ingest %s: commit: %w", file, err)
	}
	return out, nil
}
