package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/app"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/schedule"
)

func newMigrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations: covsync's own schema and the source schema",
		Long: `Apply every pending migration of covsync's own schema (ledger, cycle history) and of the source
schema (database.source_schema), and print what was applied. It is idempotent. With
database.migrate_source: false the source schema is left alone (a deployment that maps its own tables
with views, README "Mapping your own schema").`,
		Args: cobra.NoArgs,
		RunE: runMigrate,
	}
	addConfigFlag(cmd)
	return cmd
}

func runMigrate(cmd *cobra.Command, _ []string) error {
	c, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	log := newLogger(c)
	ctx := cmd.Context()
	pool, err := app.OpenPool(ctx, c)
	if err != nil {
		return err
	}
	defer pool.Close()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return push.Unreachable(fmt.Errorf("database: %w", err))
	}
	defer conn.Release()

	opts := postgres.MigrateOptions{
		SourceSchema: c.Database.SourceSchema,
		SkipSource:   c.Database.MigrateSource != nil && !*c.Database.MigrateSource,
	}
	before, err := postgres.Status(ctx, conn.Conn(), opts)
	if err != nil {
		return push.Unreachable(err)
	}
	after, err := postgres.Migrate(ctx, conn.Conn(), opts)
	// Print what did get applied even when a later set failed: tern applies each file in its own transaction.
	out := cmd.OutOrStdout()
	for i, st := range after {
		printMigration(out, st.Set, schemaOf(st.Set, opts), before[i].Current, st.Current, st.Available)
		log.WithFields(map[string]any{"set": st.Set, "from": before[i].Current, "to": st.Current}).Debug("migrated")
	}
	if err != nil {
		return push.Unreachable(err)
	}
	if opts.SkipSource {
		fmt.Fprintf(out, "source (%s): left alone (database.migrate_source: false)\n", c.Database.SourceSchema)
	}
	// River's own migrations: the daemon's job queue, in covsync's schema.
	riverBefore, riverAvail, err := schedule.MigrationStatus(ctx, pool)
	if err != nil {
		return push.Unreachable(err)
	}
	riverNow, err := schedule.Migrate(ctx, pool)
	if err != nil {
		return push.Unreachable(err)
	}
	printMigration(out, "job queue (River)", config.OwnSchema, int32(riverBefore), int32(riverNow), int32(riverAvail))
	return nil
}

// printMigration prints one line per migration set: what was applied, or that it was up to date.
func printMigration(w io.Writer, set, schema string, from, to, available int32) {
	if to == from {
		fmt.Fprintf(w, "%s (%s): up to date at version %d of %d\n", set, schema, to, available)
		return
	}
	fmt.Fprintf(w, "%s (%s): applied migrations %d to %d, now at version %d of %d\n", set, schema, from+1, to, to, available)
}

func schemaOf(set string, opts postgres.MigrateOptions) string {
	if set == "source" {
		if opts.SourceSchema == "" {
			return config.DefaultSourceSchema
		}
		return opts.SourceSchema
	}
	return config.OwnSchema
}
