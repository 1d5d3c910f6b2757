package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// healthCommand probes a running oauthd and exits 0 only on 200. The image
// is distroless (no shell, no curl), so its container health check runs
// the binary itself.
func healthCommand(stdout io.Writer) *cobra.Command {
	var (
		url     string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "health [--url URL]",
		Short: "Probe a running oauthd's health endpoint; exit 0 on 200, 1 otherwise",
		Long: `Probe a running oauthd: GET the URL and exit 0 if it answers 200, 1
otherwise. Meant for container health checks where no curl exists:

  healthcheck: {test: ["CMD", "/oauthd", "health", "--url", "http://127.0.0.1:8080/health/ready"]}`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return fmt.Errorf("--url: %w", err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("health: %w", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("health: %s answered %d: %s", url, resp.StatusCode, body)
			}
			_, err = stdout.Write(body)
			return err
		},
	}
	cmd.Flags().StringVar(&url, "url", "http://127.0.0.1:8080/health/ready", "URL to probe (/health/alive checks the process only; /health/ready checks Redis too)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	return cmd
}
