package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newCheckCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "not built yet",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCode(exitUsage, errors.New("check: not built yet"))
		},
	}
	addConfigFlag(cmd)
	return cmd
}
