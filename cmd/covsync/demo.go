package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/app"
	"github.com/covsync/covsync/internal/daemon"
	"github.com/covsync/covsync/internal/pgserver"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/schedule"
)

// demodata holds the sample reports and coverage the demo ingests (see demodata/README.md).
//
//go:embed demodata/*.json
var demodata embed.FS

// demoOptions are the demo's flags.
type demoOptions struct {
	out   string // where the pushed results are written
	serve bool   // keep the daemon running on a one-minute schedule
}

func newDemoCmd() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole loop on a throwaway PostgreSQL and simulated Jira, Azure DevOps and Confluence",
		Long: `demo starts a throwaway PostgreSQL (initdb and pg_ctl must be installed) and the Jira, Azure DevOps and
Confluence simulators on 127.0.0.1, ingests sample CTRF reports and coverage embedded in covsync, runs one
cycle of every target, prints what each did, and writes what the targets now hold into --out: the Confluence
page(s), the Jira linked-test-runs property and the Azure DevOps documents. It then stops everything it
started. With --serve it keeps the daemon running on a one-minute schedule until interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	cmd.Flags().StringVar(&o.out, "out", "covsync-demo", "directory for the results")
	cmd.Flags().BoolVar(&o.serve, "serve", false, "keep the daemon running on a one-minute schedule")
	return cmd
}

// demoProject is the sample data's project id.
const demoProject = "shop"

// startDemoDatabase starts a throwaway PostgreSQL with an empty database "covsync" and returns its URL.
func startDemoDatabase(ctx context.Context) (*pgserver.Server, string, error) {
	srv, err := pgserver.Start(ctx, pgserver.Options{})
	if errors.Is(err, pgserver.ErrNotInstalled) {
		return nil, "", push.Unreachable(fmt.Errorf("demo needs a local PostgreSQL server to start a throwaway one: %w", err))
	}
	if err != nil {
		return nil, "", push.Unreachable(fmt.Errorf("demo: start PostgreSQL: %w", err))
	}
	conn, err := pgx.Connect(ctx, srv.URL("postgres"))
	if err == nil {
		_, err = conn.Exec(ctx, "CREATE DATABASE covsync")
		conn.Close(ctx)
	}
	if err != nil {
		_ = srv.Stop()
		return nil, "", push.Unreachable(fmt.Errorf("demo: create database: %w", err))
	}
	return srv, srv.URL("covsync"), nil
}

// ingestDemoData stores the embedded reports (two builds, two releases) and the coverage file, as
// `covsync ingest` would.
func ingestDemoData(ctx context.Context, g *postgres.Ingester) error {
	for _, r := range []struct{ file, release, url string }{
		{"shop-build-481.json", "2.4.0", "https://ci.example/shop/builds/481"},
		{"shop-build-482.json", "2.5.0", "https://ci.example/shop/builds/482"},
	} {
		b, err := demodata.ReadFile("demodata/" + r.file)
		if err != nil {
			return err
		}
		if _, err := g.IngestCTRF(ctx, b, postgres.CTRFOptions{Project: demoProject, Release: r.release, RunURL: r.url, File: r.file}); err != nil {
			return fmt.Errorf("demo: ingest %s: %w", r.file, err)
		}
	}
	b, err := demodata.ReadFile("demodata/coverage.json")
	if err != nil {
		return err
	}
	if _, err := g.IngestCoverage(ctx, b, "coverage.json"); err != nil {
		return fmt.Errorf("demo: ingest coverage.json: %w", err)
	}
	return nil
}

// writeDemoFile writes one result under dir, creating its directory.
func writeDemoFile(dir, name string, b []byte) error {
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}

// step prints one line of the demo's progress with how long it took.
func step(w io.Writer, began time.Time, format string, args ...any) {
	fmt.Fprintf(w, "%5.1fs  %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
}

func runDemo(ctx context.Context, w io.Writer, o demoOptions) error {
	began := time.Now()
	pg, dbURL, err := startDemoDatabase(ctx)
	if err != nil {
		return err
	}
	defer pg.Stop()
	step(w, began, "PostgreSQL started on 127.0.0.1:%d (throwaway)", pg.Port())

	sims, err := startDemoSims()
	if err != nil {
		return push.Unreachable(fmt.Errorf("demo: simulators: %w", err))
	}
	defer sims.stop()
	for _, u := range sims.urls() {
		step(w, began, "%s simulator on %s", u[0], u[1])
	}

	dir, err := os.MkdirTemp("", "covsync-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	listen := "127.0.0.1:0"
	if o.serve {
		listen = "127.0.0.1:9464"
	}
	cfgPath, err := writeDemoConfig(dir, dbURL, sims, listen)
	if err != nil {
		return err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return push.Config(fmt.Errorf("demo config (a bug): %w", err))
	}
	log := newLogger(cfg)
	pool, err := app.OpenPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := daemon.Migrate(ctx, pool, cfg); err != nil {
		return push.Unreachable(err)
	}
	if err := ingestDemoData(ctx, postgres.NewIngester(pool, cfg.Database.SourceSchema)); err != nil {
		return err
	}
	step(w, began, "migrated and ingested 2 CTRF reports (releases 2.4.0, 2.5.0) and story coverage")

	// One cycle of every target, through the daemon's job queue: the path `covsync resync` takes.
	a := app.New(app.Options{Config: cfg, Log: log, Pool: pool, Version: appVersion()})
	// A short StopTimeout: Ctrl-C during the cycles must not keep the demo (and its servers) up for River's
	// 30 s default.
	sched, err := schedule.New(pool, a.JobRunner(nil), schedule.Options{Work: true, LeaderElectionDisabled: true,
		FetchPollInterval: 100 * time.Millisecond, StopTimeout: 3 * time.Second})
	if err != nil {
		return err
	}
	if err := sched.Start(ctx); err != nil {
		return push.Unreachable(err)
	}
	reqs, err := schedule.Requests(cfg, nil, nil, false, schedule.TriggerResync)
	if err != nil {
		return err
	}
	outs, err := sched.Resync(ctx, reqs)
	_ = sched.Shutdown(ctx)
	if err != nil {
		return push.Unreachable(err)
	}
	sums, failed := summariesOf(outs)
	step(w, began, "one cycle of every target:")
	printDemoTable(w, sums)

	if err := exportDemo(o.out, sims); err != nil {
		return fmt.Errorf("demo: write %s: %w", o.out, err)
	}
	step(w, began, "wrote what the targets now hold to %s/", o.out)

	if o.serve {
		fmt.Fprintln(w, "\nserving on a one-minute schedule until Ctrl-C:")
		for _, u := range sims.urls() {
			fmt.Fprintf(w, "  %-13s %s\n", u[0], u[1])
		}
		fmt.Fprintf(w, "  %-13s http://%s/metrics\n  %-13s %s\n", "metrics", listen, "config", cfgPath)
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		if err := daemon.Run(ctx, daemon.Options{ConfigPath: cfgPath, Version: appVersion(), Reload: hup}); err != nil {
			return push.Unreachable(err)
		}
	}
	if failed > 0 {
		return push.Permanent(fmt.Errorf("demo: %d items failed", failed))
	}
	return nil
}

// summariesOf decodes the cycles' outputs and counts failed items (a cycle that did not run counts one).
func summariesOf(outs []schedule.Outcome) ([]engine.Summary, int) {
	var sums []engine.Summary
	failed := 0
	for _, o := range outs {
		var s []engine.Summary
		if err := json.Unmarshal(o.Output, &s); err != nil || !o.OK() {
			sums = append(sums, engine.Summary{Target: o.Project + "/" + o.Kind, Kind: o.Kind, Project: o.Project, CycleError: o.Error})
			failed++
			continue
		}
		for _, x := range s {
			failed += x.Failed
		}
		sums = append(sums, s...)
	}
	return sums, failed
}

func printDemoTable(w io.Writer, sums []engine.Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tplanned\tpushed\tunchanged\tfailed\tpruned\t")
	for _, s := range sums {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", s.Target, s.Planned, s.Pushed, s.Unchanged, s.Failed, s.Pruned)
		if s.CycleError != "" {
			fmt.Fprintf(tw, "  %s\t\t\t\t\t\t\n", s.CycleError)
		}
	}
	tw.Flush()
}
