package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/apikey"
	"github.com/covsync/covsync/internal/app"
	"github.com/covsync/covsync/sync/push"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys create|list|revoke",
		Short: "Manage the project-scoped API keys CI posts reports with",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return usageErr("keys: say what to do: covsync keys create|list|revoke …")
		},
	}
	cmd.AddCommand(newKeysCreateCmd(), newKeysListCmd(), newKeysRevokeCmd())
	return cmd
}

// keyStore opens the configured database for a keys command and hands its Store to f.
func keyStore(cmd *cobra.Command, f func(*apikey.Store) error) error {
	c, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	pool, err := app.OpenPool(cmd.Context(), c)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := f(apikey.NewStore(pool)); err != nil {
		if errors.Is(err, apikey.ErrNotFound) {
			return usageErr("%v", err)
		}
		return push.Unreachable(err)
	}
	return nil
}

func newKeysCreateCmd() *cobra.Command {
	var project, name string
	cmd := &cobra.Command{
		Use:   "create --project ID [--name TEXT]",
		Short: "Create a key that may post reports of one project; it is printed once",
		Long: `Create an API key for POST /v1/projects/ID/runs and /coverage. The key is printed once, alone on the
first line of stdout, and stored nowhere: only its SHA-256 and its display prefix (its first 12 characters)
are kept. Store it in your CI's secret store.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if project == "" {
				return usageErr("keys create: --project is required")
			}
			if err := postgres.CheckProjectID(project); err != nil {
				return usageErr("keys create: --project: %v", err)
			}
			return keyStore(cmd, func(s *apikey.Store) error {
				key, in, err := s.Create(cmd.Context(), project, name)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintln(out, key)
				fmt.Fprintf(out, "key %s for project %s created; it is shown this once\n", in.Prefix, in.Project)
				return nil
			})
		},
	}
	addConfigFlag(cmd)
	cmd.Flags().StringVar(&project, "project", "", "the only project the key may post reports of")
	cmd.Flags().StringVar(&name, "name", "", "what the key is for (shown by keys list)")
	return cmd
}

func newKeysListCmd() *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:   "list [--project ID]",
		Short: "List keys: prefix, project, name, created, last used, revoked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return keyStore(cmd, func(s *apikey.Store) error {
				keys, err := s.List(cmd.Context(), project)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "PREFIX\tPROJECT\tNAME\tCREATED\tLAST USED\tSTATE")
				for _, k := range keys {
					state := "active"
					if k.RevokedAt != nil {
						state = "revoked"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.Prefix, k.Project, dash(k.Name),
						k.CreatedAt.UTC().Format(time.RFC3339), timeOrNever(k.LastUsed), state)
				}
				return tw.Flush()
			})
		},
	}
	addConfigFlag(cmd)
	cmd.Flags().StringVar(&project, "project", "", "only this project's keys")
	return cmd
}

func newKeysRevokeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke PREFIX",
		Short: "Revoke a key by its display prefix; every replica refuses it from the next request on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return keyStore(cmd, func(s *apikey.Store) error {
				in, err := s.Revoke(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "key %s of project %s revoked\n", in.Prefix, in.Project)
				return nil
			})
		},
	}
	addConfigFlag(cmd)
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrNever(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}
