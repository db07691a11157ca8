package main

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/internal/bench"
	"github.com/covsync/covsync/internal/benchload"
	"github.com/covsync/covsync/sync/push"
)

func newBenchCmd() *cobra.Command {
	f := bench.Options{Sizes: benchload.Reference()}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure full, unchanged and one-story resyncs against simulators with a rate limit",
		Long: `Start a throwaway PostgreSQL, write the reference workload into it (sizes as flags), start the Jira,
Azure DevOps and Confluence simulators with --latency per request and a --rate requests/s limit, and run,
per target kind, through the same cycle runner as ` + "`covsync resync`" + `:

  full       a first resync of every item: wall time, and its ratio to the floor (writes / rate)
  unchanged  a second cycle over unchanged data: writes (must be 0) and its time (report read + plan + diff)
  one story  a cycle after one story's coverage changed: writes (one per target whose items show stories)
  reconcile  a reconcile cycle after 1 % of the items were changed out of band: drift found, writes, reads,
             and the wall time against the floor of those requests

then the same full resync as a naive baseline (every item, one request at a time, the ledger ignored).
Exit 1 if any item failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.Run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.Sizes.Stories, "stories", f.Sizes.Stories, "stories (Jira issues, ADO work items)")
	fl.IntVar(&f.Sizes.Releases, "releases", f.Sizes.Releases, "releases (Jira versions)")
	fl.IntVar(&f.Sizes.Runs, "runs", f.Sizes.Runs, "test runs")
	fl.IntVar(&f.Sizes.Results, "results", f.Sizes.Results, "test results over all runs")
	fl.DurationVar(&f.Latency, "latency", 25*time.Millisecond, "latency the simulators add to every request")
	fl.Float64Var(&f.Rate, "rate", 100, "requests/s each simulated site allows (429 beyond); covsync is configured with the same budget")
	fl.IntVar(&f.Workers, "workers", config.DefaultWorkersPerTarget, "workers.per_target: concurrent pushes per cycle")
	fl.StringArrayVar(&f.Kinds, "target", nil, "target kind to measure: "+strings.Join(push.TargetKinds(), "|")+" (repeatable; default: all)")
	fl.BoolVar(&f.Baseline, "baseline", true, "also measure the naive baseline")
	fl.StringVar(&f.Output, "output", "text", "output format: text|json")
	fl.StringVar(&f.LogLevel, "log-level", "warn", "log level of the cycles (written to stderr)")
	fl.StringVar(&f.CPUProfile, "cpuprofile", "", "write a CPU profile (pprof) of the whole run to this file")
	fl.StringVar(&f.DatabaseURL, "database-url", "", "an existing, empty database to use instead of a throwaway PostgreSQL server")
	fl.DurationVar(&f.Timeout, "timeout", 30*time.Second, "the targets' per-request timeout")
	return cmd
}
