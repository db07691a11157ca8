package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/covsync/covsync/internal/daemon"
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

// newServeRunner gives the scheduler its cycle runner for cfg.
//
// PRELIMINARY: the engine's cycle runner is being built (ledger/engine issue); until it lands every cycle is
// cancelled with this message rather than pretending to sync.
func newServeRunner(_ context.Context, _ daemon.RunnerDeps) (schedule.Runner, error) {
	return schedule.RunnerFunc(func(context.Context, schedule.Cycle) (any, error) {
		return nil, schedule.Permanent(errors.New("the sync engine is not built yet"))
	}), nil
}
