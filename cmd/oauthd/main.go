// Command oauthd is the OAuth 2.0 client-credentials authorization server.
//
//	oauthd serve                 run the server (embedded store unless --redis-url)
//	oauthd apps create ...       create an application in the configured Redis
//	oauthd scopes list|set|...   manage the scope catalogue in Redis
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
	"strings"
	"syscall"

	"github.com/oauthd/oauthd/server/credential"

	"github.com/spf13/cobra"

	"github.com/oauthd/oauthd/cmd/internal/settings"
	"github.com/oauthd/oauthd/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, readBuild(version), os.Args[1:], os.Environ(), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "oauthd:", err)
		os.Exit(1)
	}
}

// run executes one oauthd command line. It returns when the command is done
// or, for serve, when ctx is cancelled and the server has shut down.
func run(ctx context.Context, build buildInfo, args []string, env settings.Environ, stdout, stderr io.Writer) error {
	root := rootCommand(build, env, stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// rootCommand is oauthd's command tree.
func rootCommand(build buildInfo, env settings.Environ, stdout, stderr io.Writer) *cobra.Command {
	getenv := env.Getenv
	root := &cobra.Command{
		Use:           "oauthd",
		Short:         "OAuth 2.0 client-credentials authorization server",
		Version:       build.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("oauthd {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(settings.FlagError) // the subcommands inherit it
	root.AddCommand(serveCommand(build, env, stdout, stderr), appsCommand(getenv, stdout, stderr),
		eventsCommand(getenv, stdout, stderr), tokensCommand(getenv, stdout, stderr),
		apiKeysCommand(getenv, stdout, stderr), keysCommand(getenv, stdout, stderr), scopesCommand(getenv, stdout, stderr),
		adminKeyCommand(stdout), healthCommand(stdout))
	requireSubcommand(root)
	plainHelp(root)
	return root
}

// plainHelp shows every command's boolean flags, cobra's --help and
// --version included, as plain switches in help (settings.PlainBools).
func plainHelp(cmd *cobra.Command) {
	if !cmd.HasParent() {
		cmd.InitDefaultVersionFlag()
	}
	cmd.InitDefaultHelpFlag()
	settings.PlainBools(cmd.Flags())
	settings.PlainBools(cmd.PersistentFlags())
	for _, sub := range cmd.Commands() {
		plainHelp(sub)
	}
}

// requireSubcommand makes every command that only groups others (oauthd,
// oauthd apps, ...) fail on a missing or mistyped subcommand. Cobra's
// default prints the help and exits 0, so a script running "oauthd apps
// lst" would carry on as if it had listed something.
func requireSubcommand(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		requireSubcommand(sub)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.SuggestionsMinimumDistance = 2
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			_ = cmd.Help()
			return fmt.Errorf("%s needs a command; see the list above", cmd.CommandPath())
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %s?", strings.Join(s, " or "))
		}
		return fmt.Errorf("%s (run '%s --help' for the list)", msg, cmd.CommandPath())
	}
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
several keys. oauthd never stores the key itself.

The last two lines set both for a shell: the digest for 'oauthd serve', the
key (OAUTHD_ADMIN_KEY) for the CLI's --endpoint; the dashboard asks for it:

  eval "$(oauthd admin-key | grep '^export')"`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			key := credential.NewAdminKey()
			d := store.Sum(key)
			digest := hex.EncodeToString(d[:])
			_, err := fmt.Fprintf(stdout, "key:    %s\nsha256: %s\n\nThe key is shown only now. For serve, and for the CLI's --endpoint:\nexport OAUTHD_ADMIN_KEY_SHA256=%s\nexport OAUTHD_ADMIN_KEY=%s\n",
				key, digest, digest, key)
			return err
		},
	}
}
