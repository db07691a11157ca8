package bench

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

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/internal/app"
	"github.com/covsync/covsync/internal/benchload"
	"github.com/covsync/covsync/internal/rss"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/ledger"
	"github.com/covsync/covsync/sync/push"
)

// Options are `covsync bench`'s flags.
type Options struct {
	Sizes      benchload.Sizes
	Latency    time.Duration
	Rate       float64
	Workers    int
	Kinds      []string
	Baseline   bool
	Output     string
	LogLevel   string
	CPUProfile string
	// DatabaseURL is an existing empty database to use instead of a throwaway server (the tests' pgtest).
	DatabaseURL string
	// Timeout is the targets' per-request timeout (config timeout).
	Timeout time.Duration
	// SiteRate, when set, is the simulators' limit while covsync is configured with rate: a 429 storm.
	SiteRate float64
}

// simRate is the simulators' rate limit.
func (f Options) simRate() float64 {
	if f.SiteRate > 0 {
		return f.SiteRate
	}
	return f.Rate
}

// Row is one measured (target kind, mode).
type Row struct {
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

// Result is the whole output.
type Result struct {
	Sizes           benchload.Sizes `json:"sizes"`
	LatencyMS       float64         `json:"latencyMs"`
	Rate            float64         `json:"rate"`
	Workers         int             `json:"workers"`
	GenerateSeconds float64         `json:"generateSeconds"`
	Rows            []Row           `json:"rows"`
	Reconcile       []ReconcileRow  `json:"reconcile"`
	PeakRSSMB       float64         `json:"peakRSSMB"`
	Bars            []Bar           `json:"bars"`
}

// Bar is one of the bars covsync's throughput is held to (docs/benchmarks.md) and whether the run met it.
type Bar struct {
	Bar  string `json:"bar"`
	Kind string `json:"kind"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
}

// Run runs `covsync bench`: it writes the report (text or JSON) to stdout and its progress to stderr. Bad
// options are a push.KindConfig error, an environment that cannot start push.KindUnreachable, and items
// that failed ErrFailed (push.KindPermanent).
func Run(ctx context.Context, stdout, stderr io.Writer, f Options) error {
	if err := f.Sizes.Validate(); err != nil {
		return push.Configf("%v", err)
	}
	if f.Output != "text" && f.Output != "json" {
		return push.Configf("--output %q: want text or json", f.Output)
	}
	if f.Rate <= 0 || f.Workers < 1 {
		return push.Configf("--rate and --workers must be positive")
	}
	for _, k := range f.Kinds {
		if !slices.Contains(push.TargetKinds(), k) {
			return push.Configf("--target %q: not a target kind (want one of %s)", k, strings.Join(push.TargetKinds(), ", "))
		}
	}
	if len(f.Kinds) == 0 {
		f.Kinds = push.TargetKinds()
	}
	if f.CPUProfile != "" {
		pf, err := os.Create(f.CPUProfile)
		if err != nil {
			return push.Configf("--cpuprofile: %v", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	errw := stderr
	logf := func(format string, a ...any) { fmt.Fprintf(errw, "bench: "+format+"\n", a...) }

	t0 := time.Now()
	env, err := startBenchEnv(ctx, f, logf)
	if err != nil {
		return err
	}
	defer env.close()
	res := Result{Sizes: f.Sizes, LatencyMS: float64(f.Latency) / float64(time.Millisecond), Rate: f.Rate,
		Workers: f.Workers, GenerateSeconds: time.Since(t0).Seconds()}

	b := &bencher{env: env, rate: f.Rate, logf: logf, errw: errw}
	if err := b.loadRunner(); err != nil {
		return err
	}

	rows := make([]Row, len(f.Kinds))
	for i, k := range f.Kinds {
		if rows[i], err = b.full(ctx, k, engine.Options{Trigger: ledger.TriggerResync}, "covsync"); err != nil {
			return err
		}
		if err := b.unchanged(ctx, &rows[i]); err != nil {
			return err
		}
	}
	if err := benchload.ChangeStory(ctx, env.pool, config.DefaultSourceSchema, env.workload, 1); err != nil {
		return push.Unreachable(err)
	}
	for i := range rows {
		if err := b.oneStory(ctx, &rows[i]); err != nil {
			return err
		}
	}
	res.Rows = rows
	if res.Reconcile, err = b.reconcileRows(ctx, f.Kinds); err != nil {
		return err
	}
	if f.Baseline {
		if err := env.startSims(f); err != nil {
			return err
		}
		if err := b.loadRunner(); err != nil {
			return err
		}
		for _, k := range f.Kinds {
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

	if err := printBench(stdout, f.Output, res); err != nil {
		return err
	}
	for _, r := range res.Rows {
		if r.Failed > 0 {
			return ErrFailed
		}
	}
	for _, r := range res.Reconcile {
		if r.Failed > 0 {
			return ErrFailed
		}
	}
	return nil
}

// bencher runs the measured cycles.
type bencher struct {
	env    *benchEnv
	runner *app.App
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
	b.runner = app.New(app.Options{Config: cfg, Log: app.NewLogger(b.errw, cfg), Pool: b.env.pool})
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

func (b *bencher) full(ctx context.Context, kind string, opts engine.Options, mode string) (Row, error) {
	rss.ResetPeak()
	s, took, tr, err := b.cycle(ctx, kind, opts)
	if err != nil {
		return Row{}, err
	}
	r := Row{Kind: kind, Mode: mode, Items: s.Planned, Failed: s.Failed, Writes: tr.writes,
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

func (b *bencher) unchanged(ctx context.Context, r *Row) error {
	_, took, tr, err := b.cycle(ctx, r.Kind, engine.Options{Trigger: ledger.TriggerResync})
	if err != nil {
		return err
	}
	r.UnchangedWrites, r.UnchangedRequests, r.UnchangedSeconds = tr.writes, tr.requests, took.Seconds()
	return nil
}

func (b *bencher) oneStory(ctx context.Context, r *Row) error {
	s, _, tr, err := b.cycle(ctx, r.Kind, engine.Options{Trigger: ledger.TriggerResync})
	if err != nil {
		return err
	}
	r.OneStoryPushed, r.OneStoryWrites = s.Pushed, tr.writes
	return nil
}

func firstN[T any](s []T, n int) []T { return s[:min(n, len(s))] }

// benchBars checks the bars on the covsync rows. The floor ratio is judged only where the floor is a
// meaningful time (at least 100 writes): a one-item target's floor is one request.
func benchBars(res Result) []Bar {
	var out []Bar
	add := func(bar, kind string, met bool, got string, a ...any) {
		out = append(out, Bar{Bar: bar, Kind: kind, Got: fmt.Sprintf(got, a...), Met: met})
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
		if r.Kind == push.TargetLinkedRuns {
			add("one changed story: ≤ 1 item pushed", r.Kind, r.OneStoryPushed <= 1, "%d (%d HTTP writes)", r.OneStoryPushed, r.OneStoryWrites)
		} else {
			add("one changed story: 1 item pushed", r.Kind, r.OneStoryPushed == 1, "%d (%d HTTP writes)", r.OneStoryPushed, r.OneStoryWrites)
		}
	}
	reconcileBars(res.Reconcile, add)
	add("peak RSS < 150 MB", "all", res.PeakRSSMB < 150, "%.1f MB", res.PeakRSSMB)
	return out
}

func printBench(w io.Writer, output string, res Result) error {
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
