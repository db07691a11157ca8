package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/covsync/covsync/internal/daemon"
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
				Version:    appVersion(),
				Reload:     hup,
			})
			return err // kinded: a configuration error, or an endpoint that cannot listen
		},
	}
	addConfigFlag(cmd)
	return cmd
}
