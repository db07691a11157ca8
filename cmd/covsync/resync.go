package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newResyncCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "resync",
		Short: "not built yet",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCode(exitUsage, errors.New("resync: not built yet"))
		},
	}
	addConfigFlag(cmd)
	return cmd
}
