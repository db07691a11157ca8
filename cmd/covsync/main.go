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

	"github.com/spf13/cobra"
)

// Exit codes (DESIGN.md §9).
const (
	exitOK         = 0
	exitItemFailed = 1 // some items failed, the rest were done
	exitUsage      = 2 // usage or configuration error
	exitDependency = 3 // a dependency (database, target) was unreachable
)

// exitError carries an exit code up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

func usageErr(format string, args ...any) error {
	return withCode(exitUsage, fmt.Errorf(format, args...))
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
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != errSilent {
			fmt.Fprintln(os.Stderr, "covsync:", ee.err)
		}
		return ee.code
	}
	// cobra's own errors (unknown flag, bad args) are usage errors.
	fmt.Fprintln(os.Stderr, "covsync:", err)
	return exitUsage
}

// errSilent is returned inside an exitError when the command already printed what went wrong.
var errSilent = errors.New("")

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
