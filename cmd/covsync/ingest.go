package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/app"
	"github.com/covsync/covsync/sync/push"
)

func newIngestCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ingest ctrf|coverage",
		Short: "Store a CTRF report or a story-coverage file in the source schema",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageErr("ingest: say what to ingest: covsync ingest ctrf … or covsync ingest coverage …")
		},
	}
	cmd.AddCommand(newIngestCTRFCmd(), newIngestCoverageCmd())
	return cmd
}

func newIngestCTRFCmd() *cobra.Command {
	var project, release, runURL string
	cmd := &cobra.Command{
		Use:   "ctrf --project ID [--release NAME] [--run-url URL] REPORT.json",
		Short: "Store a CTRF report as one run of a project",
		Long: `Store a CTRF report (https://ctrf.io) as one run of the project, in one transaction: a refused file
stores nothing and exits 2 naming the JSON path of the first problem. The project is created on its first
report. A report already stored (same reportId, or the same content) is not stored again (exit 0).
Tests link to tickets through their tags and ticket keys in their names (SHOP-12, AB#123).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if project == "" {
				return usageErr("ingest ctrf: --project is required")
			}
			if err := postgres.CheckProjectID(project); err != nil {
				return usageErr("ingest ctrf: --project: %v", err)
			}
			if runURL != "" && postgres.CheckRunURL(runURL) != nil {
				return usageErr("ingest ctrf: --run-url %q: want an http(s) URL", runURL)
			}
			return ingestFile(cmd, args[0], func(in *postgres.Ingester, r io.Reader) (string, error) {
				res, err := in.IngestCTRFReader(cmd.Context(), r, postgres.CTRFOptions{
					Project: project, Release: release, RunURL: runURL, File: args[0]})
				if err != nil {
					return "", err
				}
				return describeRun(args[0], project, release, res), nil
			})
		},
	}
	addConfigFlag(cmd)
	cmd.Flags().StringVar(&project, "project", "", "the project id the run belongs to (created on its first report)")
	cmd.Flags().StringVar(&release, "release", "", "attach the run to this release (created when missing)")
	cmd.Flags().StringVar(&runURL, "run-url", "", "the run's URL (default: the report's environment.buildUrl)")
	return cmd
}

func newIngestCoverageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "coverage COVERAGE.json",
		Short: "Store story coverage: covered and total methods per ticket, measured at one time",
		Long: `Store a coverage file, in one transaction:
  {"project":"shop","measuredAt":"2026-11-20T08:00:00Z",
   "stories":[{"ticket":"SHOP-1","coveredMethods":12,"totalMethods":20}]}
The project is created when missing. Ingesting the same file again changes nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return ingestFile(cmd, args[0], func(in *postgres.Ingester, r io.Reader) (string, error) {
				data, err := io.ReadAll(r)
				if err != nil {
					return "", err
				}
				res, err := in.IngestCoverage(cmd.Context(), data, args[0])
				if err != nil {
					return "", err
				}
				created := ""
				if res.ProjectCreated {
					created = " (project created)"
				}
				return fmt.Sprintf("%s: coverage of project %s%s: %d new, %d changed, %d already stored",
					args[0], res.Project, created, res.Inserted, res.Updated, res.Unchanged), nil
			})
		},
	}
	addConfigFlag(cmd)
	return cmd
}

// ingestFile hands file, read as a stream of at most postgres.MaxReportBytes, to store with an Ingester on the
// configured database, then prints the line store returns. A refused file is exit 2, an unreachable or
// failing database exit 3.
func ingestFile(cmd *cobra.Command, file string, store func(*postgres.Ingester, io.Reader) (string, error)) error {
	c, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	log := newLogger(c)
	f, err := os.Open(file)
	if err != nil {
		return usageErr("%v", err) // *PathError names the file
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > postgres.MaxReportBytes {
		return usageErr("%s: %d bytes, larger than the %d bytes covsync ingests", file, st.Size(), postgres.MaxReportBytes)
	}
	ctx := cmd.Context()
	pool, err := app.OpenPool(ctx, c)
	if err != nil {
		return err
	}
	defer pool.Close()
	line, err := store(postgres.NewIngester(pool, c.Database.SourceSchema), postgres.LimitReport(f, postgres.MaxReportBytes))
	var ie *postgres.InputError
	switch {
	case errors.As(err, &ie):
		ie.File = file
		return push.Config(err)
	case errors.Is(err, postgres.ErrSchemaMissing):
		return push.Config(err)
	case err != nil:
		return push.Unreachable(err)
	}
	log.WithField("file", file).Debug(line)
	fmt.Fprintln(cmd.OutOrStdout(), line)
	return nil
}

func describeRun(file, project, release string, res *postgres.RunIngest) string {
	if res.AlreadyIngested {
		note := ""
		if release != "" {
			note = " (--release not applied)"
		}
		return fmt.Sprintf("%s: already ingested as run %d (%s) of project %s; nothing stored%s",
			file, res.RunID, terminalSafe(res.RunName), project, note)
	}
	var extra []string
	if release != "" {
		extra = append(extra, "release "+terminalSafe(release))
	}
	if res.ProjectCreated {
		extra = append(extra, "project created")
	}
	if res.StartFrom != "" {
		extra = append(extra, fmt.Sprintf("summary.start is 0 or missing: start %s taken from the %s",
			res.StartedAt.UTC().Format(time.RFC3339), res.StartFrom))
	}
	if res.Disagree {
		c, m := res.Counts, res.Summary
		extra = append(extra, fmt.Sprintf("the summary says %d tests: %d passed, %d failed, %d skipped, %d pending, %d other; "+
			"its tests are %d: %d passed, %d failed, %d skipped, %d pending, %d other, which the run counts",
			m.Tests, m.Passed, m.Failed, m.Skipped, m.Pending, m.Other, c.Tests, c.Passed, c.Failed, c.Skipped, c.Pending, c.Other))
	}
	s := fmt.Sprintf("%s: stored run %d (%s) of project %s: %d tests, %d links to %d tickets",
		file, res.RunID, terminalSafe(res.RunName), project, res.Tests, res.Links, res.Tickets)
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return s
}

// terminalSafe is s with control characters escaped (\x1b, \u009b): names come from reports, and a terminal
// would act on an escape sequence printed raw. Ingest strips them; this keeps rows stored before that safe.
func terminalSafe(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}
