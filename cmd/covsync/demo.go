package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newDemoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "not built yet",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCode(exitUsage, errors.New("demo: not built yet"))
		},
	}
	addConfigFlag(cmd)
	return cmd
}
