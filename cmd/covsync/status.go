package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/internal/app"
	"github.com/covsync/covsync/sync/ledger"
	"github.com/covsync/covsync/sync/push"
)

func newStatusCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the last cycle of every target and the items failing now",
		Long: `Show, from the ledger, where every target stands: its last cycle (when, what it did, its error)
and when a cycle of it last ran to the end — covsync's "last sync time" — its last reconcile and the drift
that reconcile found and healed, and every item whose last push failed, with its error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return usageErr("--output %q: want text or json", output)
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			pool, err := app.OpenPool(ctx, cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			l := ledger.New(pool, config.OwnSchema)
			var st statusResult
			if st.Targets, err = l.Status(ctx); err == nil {
				st.Failing, err = l.Failing(ctx, 0)
			}
			if err != nil {
				if errors.Is(err, ledger.ErrNotMigrated) {
					return push.Config(err)
				}
				return push.Unreachable(err)
			}
			if st.Targets == nil {
				st.Targets = []ledger.TargetStatus{}
			}
			if st.Failing == nil {
				st.Failing = []ledger.Failure{}
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			printStatus(out, st)
			return nil
		},
	}
	addConfigFlag(cmd)
	cmd.Flags().StringVar(&output, "output", "text", "output format: text|json")
	return cmd
}

// statusResult is `covsync status --output json`.
type statusResult struct {
	Targets []ledger.TargetStatus `json:"targets"`
	Failing []ledger.Failure      `json:"failing"`
}

func printStatus(w io.Writer, st statusResult) {
	if len(st.Targets) == 0 {
		fmt.Fprintln(w, "No cycle has run yet.")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TARGET\tPROJECT\tLAST CYCLE\tTRIGGER\tRESULT\tPLANNED\tPUSHED\tUNCHANGED\tFAILED\tSKIPPED\tLAST SUCCESS\tLAST RECONCILE\tDRIFTED")
		for _, t := range st.Targets {
			c := t.Last
			recon, drifted := "never", "-"
			if r := t.LastReconcile; r != nil {
				recon, drifted = stamp(r.FinishedAt), fmt.Sprint(r.Drifted)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", c.Target, c.Project, stamp(&c.StartedAt),
				c.Trigger, cycleResult(c), c.Planned, c.Pushed, c.Unchanged, c.Failed, c.Skipped, stamp(t.LastOK), recon, drifted)
		}
		_ = tw.Flush()
		for _, t := range st.Targets {
			if t.Last.Error != "" {
				fmt.Fprintf(w, "\n%s: last cycle failed: %s\n", t.Last.Target, t.Last.Error)
			}
		}
	}
	if len(st.Failing) == 0 {
		fmt.Fprintln(w, "\nNo item is failing.")
		return
	}
	fmt.Fprintf(w, "\nItems failing now (%d):\n", len(st.Failing))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tITEM\tATTEMPTS\tLAST ATTEMPT\tLAST PUSHED\tERROR")
	for _, f := range st.Failing {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", f.Target, f.Item, f.Attempts, stamp(&f.LastAttemptAt), stamp(f.PushedAt), f.Error)
	}
	_ = tw.Flush()
}

// cycleResult says in a word how a cycle ended.
func cycleResult(c ledger.Cycle) string {
	switch {
	case c.FinishedAt == nil:
		return "running" // or its process died: the next cycle pushes whatever it did not record
	case c.Error != "":
		return "error"
	case c.Failed > 0:
		return "items failed"
	default:
		return "ok"
	}
}

func stamp(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}
