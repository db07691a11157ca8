package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newMigrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "not built yet",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCode(exitUsage, errors.New("migrate: not built yet"))
		},
	}
	addConfigFlag(cmd)
	return cmd
}
