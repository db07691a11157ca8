package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "not built yet",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCode(exitUsage, errors.New("serve: not built yet"))
		},
	}
	addConfigFlag(cmd)
	return cmd
}
