package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/covsync/covsync/internal/daemon"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/schedule"
)

func newServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon: cycles on the config's cron schedules, the HTTP endpoint and the resync API",
		Long: `serve runs every (project, target) cycle on the schedules of the config, as River jobs in PostgreSQL:
several replicas may run against one database and never run the same cycle at once.

SIGTERM or SIGINT: no new cycles; running ones get workers.shutdown_timeout to finish; exit 0.
SIGHUP: reload the config and credentials; a config that does not load is refused and the running one kept.
Under systemd (Type=notify) it reports READY, RELOADING, STOPPING and pings the watchdog.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := configPath(cmd)
			if err != nil {
				return err
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			err = daemon.Run(cmd.Context(), daemon.Options{
				ConfigPath: p,
				NewLogger:  newLogger,
				NewRunner:  newServeRunner,
				Reload:     hup,
			})
			var ce *daemon.ConfigError
			if errors.As(err, &ce) {
				return withCode(exitUsage, err)
			}
			return withCode(exitDependency, err)
		},
	}
	addConfigFlag(cmd)
	return cmd
}

// newServeRunner gives the daemon's job worker the engine's cycle runner for the config, reporting to the
// daemon's metrics. The daemon calls it again on SIGHUP, so new credentials reach the next cycles.
func newServeRunner(_ context.Context, d daemon.RunnerDeps) (schedule.Runner, error) {
	deps := newDeps(d.Config, d.Log)
	deps.counters = d.Metrics.HTTPCounters
	// deps' client registry builds each client on first use, so every one of them has its counters.
	r := newCycleRunner(deps, d.Pool, defaultCycleEnv())
	return jobRunner(r, d.Metrics.Observer()), nil
}

// jobRunner runs one River cycle job, one (project, target kind), with the cycle runner `covsync resync`
// uses too. The job's output is the cycle's summaries. A project the config does not map cannot succeed on a
// retry: its job is cancelled.
func jobRunner(r *cycleRunner, obs engine.Observer) schedule.Runner {
	return schedule.RunnerFunc(func(ctx context.Context, c schedule.Cycle) (any, error) {
		sums, err := r.Run(ctx, c.Project, c.Kind, engine.Options{Force: c.Force, Reconcile: c.Reconcile, Trigger: c.Trigger, Observer: obs})
		var ee *exitError
		if errors.As(err, &ee) && ee.code == exitUsage {
			return sums, schedule.Permanent(err)
		}
		return sums, err
	})
}
