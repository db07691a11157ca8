package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/app"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

func newReportCmd() *cobra.Command {
	var project, output string
	cmd := &cobra.Command{
		Use:   "report --project ID [--output text|json]",
		Short: "Print what covsync computed from the data for one project: the report every target plans from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if project == "" {
				return usageErr("report: --project is required")
			}
			if output != "text" && output != "json" {
				return usageErr("report: --output %q: want text or json", output)
			}
			c, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			pool, err := app.OpenPool(ctx, c)
			if err != nil {
				return err
			}
			defer pool.Close()
			rd := postgres.NewReader(pool, c.Database.SourceSchema)
			rctx, cancel := context.WithTimeout(ctx, app.DBReadTimeout)
			defer cancel()
			p, err := rd.ReadProject(rctx, project)
			switch {
			case errors.Is(err, postgres.ErrUnknownProject):
				return push.Config(fmt.Errorf("report: %w%s", err, knownProjects(cmd, rd)))
			case errors.Is(err, postgres.ErrSchemaMissing):
				return push.Config(fmt.Errorf("report: %w", err))
			case err != nil:
				return push.Unreachable(fmt.Errorf("report: %w", err))
			}
			if output == "json" {
				b, err := json.MarshalIndent(p, "", "  ")
				if err != nil {
					return fmt.Errorf("report: %w", err)
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
				return err
			}
			return printReport(cmd.OutOrStdout(), p)
		},
	}
	addConfigFlag(cmd)
	cmd.Flags().StringVar(&project, "project", "", "the project id")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text (a readable table) or json (the shape docs/architecture.md, Contracts, gives)")
	return cmd
}

// knownProjects lists the projects that do exist, for the unknown-project message.
func knownProjects(cmd *cobra.Command, rd *postgres.Reader) string {
	ps, err := rd.ListProjects(cmd.Context())
	if err != nil || len(ps) == 0 {
		return " (the source schema has no projects yet: ingest a report first)"
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return " (known: " + strings.Join(ids, ", ") + ")"
}

// printReport writes the report as text: a header, the stories table, the releases with their runs.
func printReport(w io.Writer, p *report.Project) error {
	fmt.Fprintf(w, "Project %s (%s): %d runs", p.ID, terminalSafe(p.Name), p.RunCount)
	if !p.DataAsOf.IsZero() {
		fmt.Fprintf(w, ", data as of %s", day(p.DataAsOf))
	}
	fmt.Fprintln(w)
	if r := p.LatestRun; r != nil {
		fmt.Fprintf(w, "Latest run: %s, %s, %s, %s", terminalSafe(r.Name), r.Status, runCounts(*r), day(r.StartedAt))
		if r.URL != "" {
			fmt.Fprintf(w, ", %s", terminalSafe(r.URL))
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "\nStories (%d)\n", len(p.Stories))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STORY\tCOVERAGE\tMETHODS\tPASSED\tFAILED\tSKIPPED\tSTATUS\tLAST RUN")
	for _, s := range p.Stories {
		cov, methods := "-", "-"
		if s.CoveragePercent != nil {
			cov = fmt.Sprintf("%.1f%%", *s.CoveragePercent)
		}
		if s.CoveredMethods != nil {
			methods = fmt.Sprintf("%d/%d", *s.CoveredMethods, *s.TotalMethods)
		}
		last := "-"
		if s.LastRun != nil {
			last = terminalSafe(s.LastRun.Name) + " (" + day(s.LastRun.StartedAt) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", s.Key, cov, methods, s.Tests.Passed, s.Tests.Failed,
			s.Tests.Skipped, s.Status, last)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nReleases (%d)\n", len(p.Releases))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, rel := range p.Releases {
		jira := ""
		if rel.JiraVersionID != "" {
			jira = " (Jira version " + rel.JiraVersionID + ")"
		}
		fmt.Fprintf(tw, "%s%s: %d runs\n", terminalSafe(rel.Name), jira, len(rel.Runs))
		for _, r := range rel.Runs {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", terminalSafe(r.Name), r.Status, runCounts(r), day(r.StartedAt))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return printTrends(w, p)
}

// printTrends writes the trend (oldest release first) and the flaky tests.
func printTrends(w io.Writer, p *report.Project) error {
	pct := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", *v)
	}
	fmt.Fprintf(w, "\nTrend (%d releases, oldest first)\n", len(p.Trend))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RELEASE\tRUNS\tTESTS\tPASSED\tFAILED\tPASS RATE\tCOVERAGE")
	for _, x := range p.Trend {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\n", terminalSafe(x.Release), x.Runs, x.Tests, x.Passed, x.Failed, pct(x.PassRate),
			pct(x.CoveragePercent))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nFlaky tests (%d, newest %d runs)\n", len(p.Flaky), report.FlakyWindow)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TEST\tSUITE\tFLIPS\tFLAKY RUNS\tRUNS\tSTORIES")
	for _, f := range p.Flaky {
		stories := terminalSafe(strings.Join(f.Stories, ", "))
		if stories == "" {
			stories = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", terminalSafe(f.Name), terminalSafe(f.Suite), f.Flips, f.FlakyRuns, f.Runs, stories)
	}
	return tw.Flush()
}

func runCounts(r report.Run) string {
	return fmt.Sprintf("%d tests: %d passed, %d failed, %d skipped, %d pending, %d other",
		r.Tests, r.Passed, r.Failed, r.Skipped, r.Pending, r.Other)
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
