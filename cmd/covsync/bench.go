package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/internal/benchload"
	"github.com/covsync/covsync/internal/rss"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/ledger"
)

// benchFlags are `covsync bench`'s flags.
type benchFlags struct {
	sizes      benchload.Sizes
	latency    time.Duration
	rate       float64
	workers    int
	kinds      []string
	baseline   bool
	output     string
	logLevel   string
	cpuProfile string
	// databaseURL is an existing empty database to use instead of a throwaway server (the tests' pgtest).
	databaseURL string
	// timeout is the targets' per-request timeout (config timeout).
	timeout time.Duration
	// siteRate, when set, is the simulators' limit while covsync is configured with rate: a 429 storm.
	siteRate float64
}

// simRate is the simulators' rate limit.
func (f benchFlags) simRate() float64 {
	if f.siteRate > 0 {
		return f.siteRate
	}
	return f.rate
}

func newBenchCmd() *cobra.Command {
	f := benchFlags{sizes: benchload.Reference()}
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
		RunE: func(cmd *cobra.Command, _ []string) error { return runBench(cmd, f) },
	}
	fl := cmd.Flags()
	fl.IntVar(&f.sizes.Stories, "stories", f.sizes.Stories, "stories (Jira issues, ADO work items)")
	fl.IntVar(&f.sizes.Releases, "releases", f.sizes.Releases, "releases (Jira versions)")
	fl.IntVar(&f.sizes.Runs, "runs", f.sizes.Runs, "test runs")
	fl.IntVar(&f.sizes.Results, "results", f.sizes.Results, "test results over all runs")
	fl.DurationVar(&f.latency, "latency", 25*time.Millisecond, "latency the simulators add to every request")
	fl.Float64Var(&f.rate, "rate", 100, "requests/s each simulated site allows (429 beyond); covsync is configured with the same budget")
	fl.IntVar(&f.workers, "workers", engine.DefaultWorkers, "workers.per_target: concurrent pushes per cycle")
	fl.StringArrayVar(&f.kinds, "target", nil, "target kind to measure: "+strings.Join(allKinds, "|")+" (repeatable; default: all)")
	fl.BoolVar(&f.baseline, "baseline", true, "also measure the naive baseline")
	fl.StringVar(&f.output, "output", "text", "output format: text|json")
	fl.StringVar(&f.logLevel, "log-level", "warn", "log level of the cycles (written to stderr)")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile (pprof) of the whole run to this file")
	fl.StringVar(&f.databaseURL, "database-url", "", "an existing, empty database to use instead of a throwaway PostgreSQL server")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "the targets' per-request timeout")
	return cmd
}

// benchRow is one measured (target kind, mode).
type benchRow struct {
	Kind            string  `json:"kind"`
	Mode            string  `json:"mode"` // covsync | naive
	Items           int     `json:"items"`
	Failed          int     `json:"failed"`
	Writes          int     `json:"writes"`
	Requests        int     `json:"requests"`
	RequestsPerItem float64 `json:"requestsPerItem"`
	TooMany         int     `json:"http429"`
	TooManyPercent  float64 `json:"http429Percent"`
	FullSeconds     float64 `json:"fullSeconds"`
	FloorSeconds    float64 `json:"floorSeconds"`
	RatioToFloor    float64 `json:"ratioToFloor"`
	// The unchanged and one-story cycles: covsync mode only (the naive baseline pushes every item every
	// cycle, so its unchanged writes are its full writes).
	UnchangedWrites   int     `json:"unchangedWrites"`
	UnchangedRequests int     `json:"unchangedRequests"` // reads an unchanged cycle still costs (planning)
	UnchangedSeconds  float64 `json:"unchangedSeconds"`
	OneStoryPushed    int     `json:"oneStoryPushed"` // items the engine pushed
	OneStoryWrites    int     `json:"oneStoryWrites"` // HTTP write requests they took
	PeakRSSMB         float64 `json:"peakRSSMB"`
}

// benchResult is the whole output.
type benchResult struct {
	Sizes           benchload.Sizes `json:"sizes"`
	LatencyMS       float64         `json:"latencyMs"`
	Rate            float64         `json:"rate"`
	Workers         int             `json:"workers"`
	GenerateSeconds float64         `json:"generateSeconds"`
	Rows            []benchRow      `json:"rows"`
	Reconcile       []reconcileRow  `json:"reconcile"`
	PeakRSSMB       float64         `json:"peakRSSMB"`
	Bars            []benchBar      `json:"bars"`
}

// benchBar is one of issue 8's bars and whether the run met it.
type benchBar struct {
	Bar  string `json:"bar"`
	Kind string `json:"kind"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
}

func runBench(cmd *cobra.Command, f benchFlags) error {
	if err := f.sizes.Validate(); err != nil {
		return usageErr("%v", err)
	}
	if f.output != "text" && f.output != "json" {
		return usageErr("--output %q: want text or json", f.output)
	}
	if f.rate <= 0 || f.workers < 1 {
		return usageErr("--rate and --workers must be positive")
	}
	for _, k := range f.kinds {
		if !slices.Contains(allKinds, k) {
			return usageErr("--target %q: not a target kind (want one of %s)", k, strings.Join(allKinds, ", "))
		}
	}
	if len(f.kinds) == 0 {
		f.kinds = allKinds
	}
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return usageErr("--cpuprofile: %v", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx := cmd.Context()
	errw := cmd.ErrOrStderr()
	logf := func(format string, a ...any) { fmt.Fprintf(errw, "bench: "+format+"\n", a...) }

	t0 := time.Now()
	env, err := startBenchEnv(ctx, f, logf)
	if err != nil {
		return err
	}
	defer env.close()
	res := benchResult{Sizes: f.sizes, LatencyMS: float64(f.latency) / float64(time.Millisecond), Rate: f.rate,
		Workers: f.workers, GenerateSeconds: time.Since(t0).Seconds()}

	b := &bencher{env: env, rate: f.rate, logf: logf, errw: errw}
	if err := b.loadRunner(); err != nil {
		return err
	}

	rows := make([]benchRow, len(f.kinds))
	for i, k := range f.kinds {
		if rows[i], err = b.full(ctx, k, engine.Options{Trigger: ledger.TriggerResync}, "covsync"); err != nil {
			return err
		}
		if err := b.unchanged(ctx, &rows[i]); err != nil {
			return err
		}
	}
	if err := benchload.ChangeStory(ctx, env.pool, "covsync_source", env.workload, 1); err != nil {
		return withCode(exitDependency, err)
	}
	for i := range rows {
		if err := b.oneStory(ctx, &rows[i]); err != nil {
			return err
		}
	}
	res.Rows = rows
	if res.Reconcile, err = b.reconcileRows(ctx, f.kinds); err != nil {
		return err
	}
	if f.baseline {
		if err := env.startSims(f); err != nil {
			return err
		}
		if err := b.loadRunner(); err != nil {
			return err
		}
		for _, k := range f.kinds {
			// Naive: every item pushed whatever the ledger says, one at a time.
			r, err := b.full(ctx, k, engine.Options{Trigger: ledger.TriggerResync, Force: true, Workers: 1}, "naive")
			if err != nil {
				return err
			}
			r.UnchangedWrites = r.Writes
			res.Rows = append(res.Rows, r)
		}
	}
	res.PeakRSSMB = rss.PeakMB()
	res.Bars = benchBars(res)

	if err := printBench(cmd.OutOrStdout(), f.output, res); err != nil {
		return err
	}
	for _, r := range res.Rows {
		if r.Failed > 0 {
			return withCode(exitItemFailed, errBenchFailed)
		}
	}
	for _, r := range res.Reconcile {
		if r.Failed > 0 {
			return withCode(exitItemFailed, errBenchFailed)
		}
	}
	return nil
}

// bencher runs the measured cycles.
type bencher struct {
	env    *benchEnv
	runner *cycleRunner
	rate   float64
	logf   func(string, ...any)
	errw   io.Writer
}

// loadRunner loads the environment's config file, as `covsync resync` would, and builds the cycle runner.
func (b *bencher) loadRunner() error {
	cfg, err := config.Load(b.env.configPath)
	if err != nil {
		return fmt.Errorf("bench: the generated config: %w", err)
	}
	b.runner = newCycleRunner(newDeps(cfg, newLoggerTo(b.errw, cfg)), b.env.pool, defaultCycleEnv())
	return nil
}

// cycle runs one cycle of kind and returns its summary, its wall time and the traffic it caused.
func (b *bencher) cycle(ctx context.Context, kind string, opts engine.Options) (engine.Summary, time.Duration, traffic, error) {
	b.env.resetTraffic()
	t0 := time.Now()
	sums, err := b.runner.Run(ctx, b.env.workload.Project, kind, opts)
	took := time.Since(t0)
	if err != nil {
		return engine.Summary{}, took, traffic{}, err
	}
	if len(sums) != 1 {
		return engine.Summary{}, took, traffic{}, fmt.Errorf("bench: %s: %d targets, want 1", kind, len(sums))
	}
	return sums[0], took, b.env.traffic(kind), nil
}

func (b *bencher) full(ctx context.Context, kind string, opts engine.Options, mode string) (benchRow, error) {
	rss.ResetPeak()
	s, took, tr, err := b.cycle(ctx, kind, opts)
	if err != nil {
		return benchRow{}, err
	}
	r := benchRow{Kind: kind, Mode: mode, Items: s.Planned, Failed: s.Failed, Writes: tr.writes,
		Requests: tr.requests, TooMany: tr.tooMany, FullSeconds: took.Seconds(),
		FloorSeconds: float64(tr.writes) / b.rate, PeakRSSMB: rss.PeakMB()}
	if s.Planned > 0 {
		r.RequestsPerItem = float64(tr.requests) / float64(s.Planned)
	}
	if tr.requests > 0 {
		r.TooManyPercent = 100 * float64(tr.tooMany) / float64(tr.requests)
	}
	if r.FloorSeconds > 0 {
		r.RatioToFloor = r.FullSeconds / r.FloorSeconds
	}
	b.logf("%s %s: %d items, %d writes, %d requests, %d 429s, %d failed in %.2fs (floor %.2fs)",
		mode, kind, r.Items, r.Writes, r.Requests, r.TooMany, r.Failed, r.FullSeconds, r.FloorSeconds)
	for _, e := range firstN(s.Errors, 5) {
		b.logf("  %s: %s", e.Item, e.Error)
	}
	return r, nil
}

func (b *bencher) unchanged(ctx context.Context, r *benchRow) error {
	_, took, tr, err := b.cycle(ctx, r.Kind, engine.Options{Trigger: ledger.TriggerResync})
	if err != nil {
		return err
	}
	r.UnchangedWrites, r.UnchangedRequests, r.UnchangedSeconds = tr.writes, tr.requests, took.Seconds()
	return nil
}

func (b *bencher) oneStory(ctx context.Context, r *benchRow) error {
	s, _, tr, err := b.cycle(ctx, r.Kind, engine.Options{Trigger: ledger.TriggerResync})
	if err != nil {
		return err
	}
	r.OneStoryPushed, r.OneStoryWrites = s.Pushed, tr.writes
	return nil
}

func firstN[T any](s []T, n int) []T { return s[:min(n, len(s))] }

// benchBars checks issue 8's bars on the covsync rows. The floor ratio is judged only where the floor is a
// meaningful time (at least 100 writes): a one-item target's floor is one request.
func benchBars(res benchResult) []benchBar {
	var out []benchBar
	add := func(bar, kind string, met bool, got string, a ...any) {
		out = append(out, benchBar{Bar: bar, Kind: kind, Got: fmt.Sprintf(got, a...), Met: met})
	}
	for _, r := range res.Rows {
		if r.Mode != "covsync" {
			continue
		}
		if r.Writes >= 100 {
			add("full resync ≤ 1.05 × floor", r.Kind, r.RatioToFloor <= 1.05, "%.3f", r.RatioToFloor)
		}
		add("0 failed items", r.Kind, r.Failed == 0, "%d", r.Failed)
		add("< 1 % requests answered 429", r.Kind, r.TooManyPercent < 1, "%.2f %%", r.TooManyPercent)
		add("unchanged cycle: 0 writes", r.Kind, r.UnchangedWrites == 0, "%d", r.UnchangedWrites)
		add("unchanged cycle: < 1 s", r.Kind, r.UnchangedSeconds < 1, "%.3f s", r.UnchangedSeconds)
		// One item pushed per target that shows stories: the story's issue or document, the page that lists
		// it. The linked-runs property lists runs, not stories: it changes only when the newer coverage
		// measurement moves the data's newest time (its updatedAt), so it may push one item or none.
		if r.Kind == kindLinkedRuns {
			add("one changed story: ≤ 1 item pushed", r.Kind, r.OneStoryPushed <= 1, "%d (%d HTTP writes)", r.OneStoryPushed, r.OneStoryWrites)
		} else {
			add("one changed story: 1 item pushed", r.Kind, r.OneStoryPushed == 1, "%d (%d HTTP writes)", r.OneStoryPushed, r.OneStoryWrites)
		}
	}
	reconcileBars(res.Reconcile, add)
	add("peak RSS < 150 MB", "all", res.PeakRSSMB < 150, "%.1f MB", res.PeakRSSMB)
	return out
}

func printBench(w io.Writer, output string, res benchResult) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(w, "workload: %d stories, %d releases, %d runs, %d results; simulators: %.0f ms latency, %.0f requests/s; %d workers\n\n",
		res.Sizes.Stories, res.Sizes.Releases, res.Sizes.Runs, res.Sizes.Results, res.LatencyMS, res.Rate, res.Workers)
	fmt.Fprintln(w, "| target | mode | items | writes | req/item | 429s | failed | full resync | floor | ratio | unchanged cycle | one story: pushed (writes) | peak RSS |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
	for _, r := range res.Rows {
		unchanged, one := fmt.Sprintf("%d writes, %d reads, %.3f s", r.UnchangedWrites, r.UnchangedRequests, r.UnchangedSeconds), fmt.Sprintf("%d (%d)", r.OneStoryPushed, r.OneStoryWrites)
		if r.Mode == "naive" {
			unchanged, one = fmt.Sprintf("%d (no ledger)", r.UnchangedWrites), "–"
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %.2f | %d (%.2f %%) | %d | %.2f s | %.2f s | %.3f | %s | %s | %.0f MB |\n",
			r.Kind, r.Mode, r.Items, r.Writes, r.RequestsPerItem, r.TooMany, r.TooManyPercent, r.Failed,
			r.FullSeconds, r.FloorSeconds, r.RatioToFloor, unchanged, one, r.PeakRSSMB)
	}
	printReconcile(w, res.Reconcile)
	fmt.Fprintf(w, "\npeak RSS of the whole run (covsync, its simulators and their request logs): %.0f MB\n\n", res.PeakRSSMB)
	for _, b := range res.Bars {
		mark := "met"
		if !b.Met {
			mark = "MISSED"
		}
		fmt.Fprintf(w, "%-6s %-12s %-32s %s\n", mark, b.Kind, b.Bar, b.Got)
	}
	return nil
}
