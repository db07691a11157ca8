package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/covsync/covsync/sync/push"
)

// newHealthcheckCmd is the container's HEALTHCHECK: the image has no shell, curl or wget, so covsync asks its
// own endpoint.
func newHealthcheckCmd() *cobra.Command {
	var url string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the daemon's endpoint answers 200 (for container HEALTHCHECKs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return usageErr("--url %q: %v", url, err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return push.Unreachable(fmt.Errorf("healthcheck %s: %w", url, err))
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return push.Unreachable(fmt.Errorf("healthcheck %s: %s", url, resp.Status))
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "http://127.0.0.1:9464/healthz", "endpoint to check (/readyz to include the database)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after")
	return cmd
}
