package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/covsync/covsync/internal/app"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/ledger"
	"github.com/covsync/covsync/sync/push"
)

func newResyncCmd() *cobra.Command { return newResyncCmdWith(app.Options{}) }

// resyncFlags are resync's command line (docs/architecture.md, Contracts).
type resyncFlags struct {
	projects  []string
	kinds     []string
	force     bool
	dryRun    bool
	reconcile bool
	output    string
}

// newResyncCmdWith is the resync command whose App takes env's Targets and Reader (tests); the command
// fills in the config, logger, pool and version.
func newResyncCmdWith(env app.Options) *cobra.Command {
	var f resyncFlags
	cmd := &cobra.Command{
		Use:   "resync",
		Short: "Run a sync cycle now for some or all projects and targets",
		Long: `Run one sync cycle now for each selected project and target: plan from the project's report,
diff against the ledger, push what changed. --force ignores the ledger and pushes everything; --dry-run
plans and diffs only, writes nothing anywhere (not even the ledger) and lists what it would push.
--reconcile reads back what each target holds (in batches) and pushes exactly the items that differ from
what covsync would write, whatever the ledger says; with --dry-run it lists each drifted item and the field
that differs (held → desired).

Exit codes: 0 everything pushed; 1 some items failed (the rest were pushed); 2 usage or configuration
error; 3 the database or a target was unreachable.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runResync(cmd, env, f) },
	}
	addConfigFlag(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&f.projects, "project", nil, "project id to resync (repeatable; default: every configured project)")
	fl.StringArrayVar(&f.kinds, "target", nil, "target kind to resync: "+strings.Join(push.TargetKinds(), "|")+" (repeatable; default: all)")
	fl.BoolVar(&f.force, "force", false, "push every item, whatever the ledger says")
	fl.BoolVar(&f.dryRun, "dry-run", false, "plan and diff only; write nothing anywhere and list what would be pushed")
	fl.BoolVar(&f.reconcile, "reconcile", false, "read back what the targets hold and push exactly what drifted")
	fl.StringVar(&f.output, "output", "text", "output format: text|json")
	return cmd
}

func runResync(cmd *cobra.Command, env app.Options, f resyncFlags) error {
	if f.output != "text" && f.output != "json" {
		return usageErr("--output %q: want text or json", f.output)
	}
	for _, k := range f.kinds {
		if !slices.Contains(push.TargetKinds(), k) {
			return usageErr("--target %q: not a target kind (want one of %s)", k, strings.Join(push.TargetKinds(), ", "))
		}
	}
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	projects := f.projects
	if len(projects) == 0 {
		for _, p := range cfg.Projects {
			projects = append(projects, p.ID)
		}
	}
	for _, id := range projects {
		if _, ok := app.ProjectByID(cfg, id); !ok {
			return usageErr("--project %q is not in the config (%s)", id, app.ProjectIDs(cfg))
		}
	}
	log := newLogger(cfg)
	ctx := cmd.Context()
	pool, err := app.OpenPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	env.Config, env.Log, env.Pool, env.Version = cfg, log, pool, appVersion()
	a := app.New(env)

	var prog *progress
	opts := engine.Options{Force: f.force, DryRun: f.dryRun, Reconcile: f.reconcile, Trigger: ledger.TriggerResync}
	if !f.dryRun {
		prog = newProgress(cmd.ErrOrStderr(), log, progressEvery)
		opts.Observer = prog
	}
	res, rerr := a.Resync(ctx, projects, f.kinds, opts)
	if prog != nil {
		prog.close()
	}

	out := cmd.OutOrStdout()
	if f.output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		printResync(out, res, f.dryRun, f.reconcile)
	}
	return silent(rerr) // the output says what failed
}

// maxListedErrors bounds the failed items the text output lists per target: when a whole target fails item
// by item, the first few say why and `covsync status` (or --output json) has the rest.
const maxListedErrors = 20

func printResync(w io.Writer, res app.ResyncResult, dryRun, reconcile bool) {
	if len(res.Targets) == 0 && len(res.Errors) == 0 {
		fmt.Fprintln(w, "No targets selected: the selected projects have no targets of the selected kinds.")
		return
	}
	if len(res.Targets) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		pushed := "PUSHED"
		if dryRun {
			pushed = "WOULD PUSH"
		}
		drifted := ""
		if reconcile {
			drifted = "DRIFTED\t"
		}
		fmt.Fprintf(tw, "TARGET\tPROJECT\tPLANNED\t%s%s\tUNCHANGED\tFAILED\tSKIPPED\tPRUNED\tLEFT\tTIME\n", drifted, pushed)
		for _, s := range res.Targets {
			n := s.Pushed
			if dryRun {
				n = len(s.WouldPush)
			}
			d := ""
			if reconcile {
				d = fmt.Sprintf("%d\t", s.Drifted)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s%d\t%d\t%d\t%d\t%d\t%d\t%.1fs\n", s.Target, s.Project, s.Planned, d, n,
				s.Unchanged, s.Failed, s.Skipped, s.Pruned, s.Remaining, s.Duration.Seconds())
		}
		_ = tw.Flush()
	}
	for _, s := range res.Targets {
		if s.CycleError != "" {
			fmt.Fprintf(w, "\n%s: cycle failed: %s\n", s.Target, s.CycleError)
		}
		if len(s.Errors) > 0 {
			fmt.Fprintf(w, "\n%s: %d failed (retried next cycle):\n", s.Target, len(s.Errors))
			for i, e := range s.Errors {
				if i == maxListedErrors {
					fmt.Fprintf(w, "  … and %d more (covsync status lists them all)\n", len(s.Errors)-i)
					break
				}
				fmt.Fprintf(w, "  %s: %s\n", e.Item, e.Error)
			}
		}
		if dryRun && len(s.WouldPush) > 0 {
			fmt.Fprintf(w, "\n%s would push %d:\n", s.Target, len(s.WouldPush))
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, c := range s.WouldPush {
				if len(c.Drift) > 0 {
					for _, d := range c.Drift {
						fmt.Fprintf(tw, "  %s\t%s\t%s: %s → %s\n", c.Key, c.Reason, d.Field, d.Held, d.Desired)
					}
					continue
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.Key, c.Reason, c.Summary)
			}
			_ = tw.Flush()
		}
	}
	for _, e := range res.Errors {
		fmt.Fprintf(w, "\nerror: %s\n", e)
	}
	if dryRun {
		fmt.Fprintln(w, "\nDry run: nothing was pushed or recorded.")
	}
}
