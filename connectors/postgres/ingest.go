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

// IngestCTRFReader reads a CTRF report from r (DecodeCTRF: streamed, within the limits of limits.go) and
// stores it as one run of opts.Project. A refused report, release or run URL is an *InputError naming the
// JSON path (or the option) of the problem.
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
	h := sha256.New()
	rep, err := DecodeCTRF(io.TeeReader(r, h))
	if err != nil {
		return nil, withFile(err, opts.File)
	}
	sum := h.Sum(nil)
	tx, err := g.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: %w", opts.File, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	out := &RunIngest{RunName: rep.RunName(), StartedAt: rep.Start, StartFrom: rep.StartFrom,
		Counts: rep.TestCounts(), Summary: rep.Summary}
	out.Disagree = out.Counts != out.Summary
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
	err = tx.QueryRow(ctx, `INSERT INTO `+g.t("runs")+` (project_id, report_id, content_sha256, name, build, branch,
			commit, url, environment, release_id, tool, started_at, stopped_at,
			tests, passed, failed, skipped, pending, other, summary_counts)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
		ON CONFLICT DO NOTHING
		RETURNING id`,
		opts.Project, reportID, sum, out.RunName, rep.Build(), rep.Env.Branch, rep.Env.Commit, url,
		rep.Env.Environment, releaseID, rep.Tool, rep.Start, stop,
		out.Counts.Tests, out.Counts.Passed, out.Counts.Failed, out.Counts.Skipped, out.Counts.Pending,
		out.Counts.Other, summaryJSON(rep.Summary)).Scan(&out.RunID)
	if errors.Is(err, pgx.ErrNoRows) {
		// One of the unique constraints said no: the report is stored already. Nothing of this file is kept
		// (the deferred rollback also drops a project or release created above).
		err = tx.QueryRow(ctx, `SELECT id, name FROM `+g.t("runs")+`
			WHERE project_id = $1 AND (content_sha256 = $2 OR report_id = $3) ORDER BY id LIMIT 1`,
			opts.Project, sum, reportID).Scan(&out.RunID, &out.RunName)
		if err != nil {
			return nil, fmt.Errorf("ingest %s: find the stored run: %w", opts.File, err)
		}
		out.AlreadyIngested, out.ProjectCreated = true, false
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ingest %s: insert run: %w", opts.File, err)
	}
	if err := g.copyTests(ctx, tx, out, rep); err != nil {
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

// copyTests stores the results and their ticket links with COPY: a report can hold many thousand tests. The
// rows are produced one at a time as COPY sends them, never all at once beside the parsed report.
func (g *Ingester) copyTests(ctx context.Context, tx pgx.Tx, out *RunIngest, rep *CTRFReport) error {
	row := make([]any, 12)
	n, err := tx.CopyFrom(ctx, pgx.Identifier{g.schema, "test_results"},
		[]string{"run_id", "ordinal", "name", "suite", "status", "duration_ms", "started_at", "file", "message",
			"flaky", "retries", "tags"},
		pgx.CopyFromSlice(len(rep.Tests), func(i int) ([]any, error) {
			t := &rep.Tests[i]
			var start any
			if !t.Start.IsZero() {
				start = t.Start
			}
			tags := t.Tags
			if tags == nil {
				tags = []string{}
			}
			row[0], row[1], row[2], row[3], row[4], row[5] = out.RunID, int32(i), t.Name, t.Suite, t.Status, t.DurationMS
			row[6], row[7], row[8], row[9], row[10], row[11] = start, t.File, t.Message, t.Flaky, int32(t.Retries), tags
			return row, nil
		}))
	if err != nil {
		return fmt.Errorf("store test results: %w", err)
	}
	out.Tests = int(n)
	// Links in (test, ticket) order: test i, its j-th ticket.
	ti, tj := 0, 0
	links := 0
	for _, t := range rep.Tests {
		links += len(t.Tickets)
	}
	link := make([]any, 3)
	n, err = tx.CopyFrom(ctx, pgx.Identifier{g.schema, "test_tickets"}, []string{"run_id", "ordinal", "ticket"},
		pgx.CopyFromSlice(links, func(int) ([]any, error) {
			for tj >= len(rep.Tests[ti].Tickets) {
				ti, tj = ti+1, 0
			}
			link[0], link[1], link[2] = out.RunID, int32(ti), rep.Tests[ti].Tickets[tj]
			tj++
			return link, nil
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
