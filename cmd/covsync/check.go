package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/app"
	"github.com/covsync/covsync/internal/logging"
	"github.com/covsync/covsync/sync/push"
)

// probeTimeout bounds one probe: a target that does not answer within it counts as unreachable.
const probeTimeout = 30 * time.Second

func newCheckCmd() *cobra.Command {
	var offline bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate the config; without --offline, also probe the database and each target read-only",
		Long: `check loads and validates the config and prints OK or every problem ("file:line: key: message").
Without --offline it then probes, read-only, the database (reachable, migrations current) and each
configured target, and prints a table of the results.

Exit codes: 0 all good; 2 the config has problems; 3 the database or a target cannot be used.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCheck(cmd, offline)
		},
	}
	addConfigFlag(cmd)
	cmd.Flags().BoolVar(&offline, "offline", false, "validate the config only: no database, no network")
	return cmd
}

func runCheck(cmd *cobra.Command, offline bool) error {
	out := cmd.OutOrStdout()
	c, err := loadConfig(cmd)
	var ps *config.Problems
	if errors.As(err, &ps) {
		// The problems are this command's output, so they go to stdout, one per line.
		fmt.Fprintf(out, "%s: %d problem(s):\n", ps.File, len(ps.List))
		for _, l := range ps.Lines() {
			fmt.Fprintln(out, l)
		}
		return silent(push.Configf("the config has problems"))
	}
	if err != nil {
		return err
	}
	if offline {
		fmt.Fprintf(out, "OK: %s (%s)\n", c.Path, summary(c))
		return nil
	}

	log := newLogger(c)
	ctx := cmd.Context()
	results := checkDatabase(ctx, c)
	results = append(results, runProbes(ctx, probesOf(c, log, appVersion()))...)

	red := logging.RedactorOf(log)
	failed, configFailed := 0, 0
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tPROBE\tCHECKED\tRESULT")
	for _, r := range results {
		mark, reason := "✅", "ok"
		if r.err != nil {
			failed++
			if push.KindOf(r.err) == push.KindConfig {
				configFailed++
			}
			mark = "❌"
			// Errors from outside systems are shown to a person: they pass the same redaction as a log line.
			reason = strings.Join(strings.Fields(red.Redact(r.err.Error())), " ")
			log.WithField("probe", r.Name).WithError(r.err).Debug("check: probe failed")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mark, r.Name, r.What, reason)
	}
	tw.Flush()
	if failed > 0 {
		fmt.Fprintf(out, "%d of %d probes failed\n", failed, len(results))
		if configFailed == failed {
			// The targets answered, and what they said is that the config does not fit them (a field, a
			// permission setting): a configuration error, not an outage.
			return silent(push.Configf("%d of %d probes failed: the configuration does not fit the targets", failed, len(results)))
		}
		return silent(push.Unreachablef("%d of %d probes failed", failed, len(results)))
	}
	fmt.Fprintf(out, "OK: %s (%s)\n", c.Path, summary(c))
	return nil
}

// probesOf lists the configured targets' probes (a test adds its own).
var probesOf = app.Probes

type probeResult struct {
	app.Probe
	err error
}

// runProbes runs the target probes concurrently (each bounded by probeTimeout) and returns their results
// in the order given.
func runProbes(ctx context.Context, probes []app.Probe) []probeResult {
	res := make([]probeResult, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		res[i].Probe = p
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			res[i].err = p.Run(pctx)
		}()
	}
	wg.Wait()
	return res
}

// checkDatabase probes the database: can covsync connect, and are its migrations (and the source
// schema's, unless migrate_source is false) applied up to this binary's newest.
func checkDatabase(ctx context.Context, c *config.Config) []probeResult {
	opts := postgres.MigrateOptions{SourceSchema: c.Database.SourceSchema, SkipSource: !*c.Database.MigrateSource}
	sets := "covsync schema"
	if !opts.SkipSource {
		sets += ", source schema " + opts.SourceSchema
	}
	reach := probeResult{Probe: app.Probe{Name: "database", What: "connect" + dbWhere(c)}}
	migr := probeResult{Probe: app.Probe{Name: "migrations", What: sets + " at the newest version"}}

	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	pool, err := app.OpenPool(pctx, c)
	if err != nil {
		reach.err = err
		migr.err = errors.New("not checked: the database is unreachable")
		return []probeResult{reach, migr}
	}
	defer pool.Close()
	migr.err = migrationsCurrent(pctx, pool, opts)
	return []probeResult{reach, migr}
}

func migrationsCurrent(ctx context.Context, pool *pgxpool.Pool, opts postgres.MigrateOptions) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	defer conn.Release()
	st, err := postgres.Status(ctx, conn.Conn(), opts)
	if err != nil {
		return err
	}
	var behind []string
	for _, s := range st {
		switch {
		case s.Current < s.Available:
			behind = append(behind, fmt.Sprintf("%s schema at version %d of %d: run covsync migrate", s.Set, s.Current, s.Available))
		case s.Current > s.Available:
			behind = append(behind, fmt.Sprintf("%s schema at version %d, newer than this covsync knows (%d): upgrade covsync", s.Set, s.Current, s.Available))
		}
	}
	if len(behind) > 0 {
		return errors.New(strings.Join(behind, "; "))
	}
	return nil
}

// dbWhere names the database without its password: " to host:port, database D as U".
func dbWhere(c *config.Config) string {
	pc, err := pgconn.ParseConfig(c.Database.URL.Reveal())
	if err != nil {
		return ""
	}
	return fmt.Sprintf(" to %s:%d, database %s as %s", pc.Host, pc.Port, pc.Database, pc.User)
}

func summary(c *config.Config) string {
	return fmt.Sprintf("%d jira, %d ado, %d confluence targets; %d projects", len(c.Jira), len(c.ADO), len(c.Confluence), len(c.Projects))
}
