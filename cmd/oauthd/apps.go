package main

import (
	"encoding/json"
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/oauthd/oauthd/server"
	"github.com/oauthd/oauthd/store/redis"
)

func appsCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apps",
		Short: "Manage applications (OAuth clients)",
	}
	cmd.AddCommand(appsCreateCommand(getenv, stdout, stderr))
	return cmd
}

func appsCreateCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	var in server.NewApplication
	var scopeList []string
	cmd := &cobra.Command{
		Use:   "create --name NAME --scopes \"sms groups\" [--lifetime 24h|168h|never] [--allow-ip CIDR]...",
		Short: "Create an application in the configured Redis and print it, with its secret, as JSON",
		Long: `Create an application in the Redis given by --redis-url (or OAUTHD_REDIS_URL) and
print it as JSON with its client_secret. The secret is shown this once: only
its SHA-256 digest is stored.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags(), redisSettings(), getenv)
			if err != nil {
				return err
			}
			if cfg.Redis.URL == "" {
				return errors.New("apps create needs --redis-url or OAUTHD_REDIS_URL: the embedded store lives only inside a running 'oauthd serve'")
			}
			log := newLogger(cfg, stderr)
			rdb, _, closeRedis, err := openRedis(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			defer closeRedis()
			in.Scopes = scopeList
			apps := server.NewApps(redis.New(rdb, redis.Options{Prefix: cfg.Redis.Prefix}), cfg.catalogue, server.AppsOptions{})
			ctx := server.WithActor(cmd.Context(), server.Actor{Name: "cli"})
			app, secret, err := apps.Create(ctx, in)
			if err != nil {
				return err
			}
			out := server.ApplicationJSON(app)
			out.ClientSecret = secret
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Name, "name", "", "application name (required)")
	f.StringVar(&in.Description, "description", "", "what the application is for")
	f.StringArrayVar(&scopeList, "scopes", nil, `scopes it may request, space-separated ("sms groups"); repeatable`)
	f.StringVar(&in.TokenLifetime, "lifetime", "24h", "token lifetime: a duration (24h, 168h), days (7d) or never")
	f.StringArrayVar(&in.IPAllowlist, "allow-ip", nil, "CIDR or address allowed to get tokens; repeatable; none allows any address")
	addFlags(f, redisSettings())
	return cmd
}
