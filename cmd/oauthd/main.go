// Command oauthd is the OAuth 2.0 client-credentials authorization server.
//
//	oauthd serve                 run the server (embedded store unless --redis-url)
//	oauthd apps create ...       create an application in the configured Redis
//
// main only wires the process to run, so tests run the whole program.
package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/oauthd/oauthd/server"
	"github.com/oauthd/oauthd/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "oauthd:", err)
		os.Exit(1)
	}
}

// run executes one oauthd command line. It returns when the command is done
// or, for serve, when ctx is cancelled and the server has shut down.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	root := &cobra.Command{
		Use:           "oauthd",
		Short:         "OAuth 2.0 client-credentials authorization server",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(serveCommand(getenv, stdout, stderr), appsCommand(getenv, stdout, stderr),
		eventsCommand(getenv, stdout, stderr), tokensCommand(getenv, stdout, stderr),
		apiKeysCommand(getenv, stdout, stderr), adminKeyCommand(stdout))
	return root.ExecuteContext(ctx)
}

// newLogger builds the process logger: one structured line per event.
func newLogger(c *Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.logLevel}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// adminKeyCommand prints a new admin key and the digest to configure.
func adminKeyCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "admin-key",
		Short: "Generate an admin API key and the SHA-256 digest to configure",
		Long: `Generate an admin API key. Give the key to the operator or automation that
calls the admin API (Authorization: Bearer <key>) and configure only its
digest: admin.key_sha256 (OAUTHD_ADMIN_KEY_SHA256), comma-separated for
several keys. oauthd never stores the key itself.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			key := server.NewAdminKey()
			d := store.Sum(key)
			_, err := fmt.Fprintf(stdout, "key:    %s\nsha256: %s\n\nexport OAUTHD_ADMIN_KEY_SHA256=%s\n", key, hex.EncodeToString(d[:]), hex.EncodeToString(d[:]))
			return err
		},
	}
}
