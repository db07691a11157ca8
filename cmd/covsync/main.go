// Command covsync keeps test evidence where people plan work: it reads test runs and coverage from
// PostgreSQL and pushes summaries to Jira, Azure DevOps and Confluence. This package only wires commands to
// the packages that do the work; each subcommand lives in its own file.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/internal/app"
	"github.com/covsync/covsync/sync/push"
)

// Exit codes (docs/architecture.md, Contracts).
const (
	exitOK         = 0
	exitItemFailed = 1 // some items failed, the rest were done
	exitUsage      = 2 // usage or configuration error
	exitDependency = 3 // a dependency (database, target) was unreachable
)

// exitCode is the one mapping from errors to exit codes, by the push.Kind the packages give their errors:
// failed items (KindPermanent) 1, a configuration error (KindConfig) 2, an outage (KindUnreachable, and
// any other kind) 3. An error with no kind is cobra's own (an unknown flag, bad arguments): a usage error.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var pe *push.Error
	if !errors.As(err, &pe) {
		return exitUsage
	}
	switch pe.Kind {
	case push.KindPermanent:
		return exitItemFailed
	case push.KindConfig:
		return exitUsage
	}
	return exitDependency
}

// usageErr is a usage or configuration error (exit 2).
func usageErr(format string, args ...any) error { return push.Configf(format, args...) }

// silentError is an error whose command already printed what went wrong: main prints nothing more.
type silentError struct{ error }

func (e silentError) Unwrap() error { return e.error }

// silent marks err as already told; nil stays nil.
func silent(err error) error {
	if err == nil {
		return nil
	}
	return silentError{err}
}

// isSilent reports whether err's command already printed it.
func isSilent(err error) bool {
	var s silentError
	return errors.As(err, &s)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && !isSilent(err) {
		fmt.Fprintln(os.Stderr, "covsync:", err)
	}
	return exitCode(err)
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "covsync",
		Short:         "Sync test runs and coverage from PostgreSQL into Jira, Azure DevOps and Confluence",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(),
		newMigrateCmd(),
		newIngestCmd(),
		newKeysCmd(),
		newReportCmd(),
		newCheckCmd(),
		newResyncCmd(),
		newStatusCmd(),
		newServeCmd(),
		newDemoCmd(),
		newRenderCmd(),
		newHealthcheckCmd(),
		newBenchCmd(),
	)
	return root
}

// configPath returns --config or $COVSYNC_CONFIG.
func configPath(cmd *cobra.Command) (string, error) {
	p, _ := cmd.Flags().GetString("config")
	if p == "" {
		p = os.Getenv("COVSYNC_CONFIG")
	}
	if p == "" {
		return "", usageErr("no config: pass --config FILE or set COVSYNC_CONFIG")
	}
	return p, nil
}

func addConfigFlag(cmd *cobra.Command) {
	cmd.Flags().String("config", "", "config file (default $COVSYNC_CONFIG)")
}

// loadConfig loads --config (or $COVSYNC_CONFIG). A bad config is a configuration error (exit 2) whose
// message names every problem (a *config.Problems: "file:line: key: message" per problem).
func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	p, err := configPath(cmd)
	if err != nil {
		return nil, err
	}
	c, err := config.Load(p)
	if err != nil {
		return nil, push.Config(err)
	}
	return c, nil
}

// newLogger is the application's logger (app.NewLogger) on stderr.
func newLogger(c *config.Config) *logrus.Logger { return app.NewLogger(os.Stderr, c) }

// appVersion is this binary's version, for the User-Agent of the targets' requests.
func appVersion() string {
	v, _ := buildInfo()
	return v
}
