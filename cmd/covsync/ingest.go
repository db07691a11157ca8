package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newIngestCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "not built yet",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCode(exitUsage, errors.New("ingest: not built yet"))
		},
	}
	addConfigFlag(cmd)
	return cmd
}
