package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newReportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "not built yet",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCode(exitUsage, errors.New("report: not built yet"))
		},
	}
	addConfigFlag(cmd)
	return cmd
}
