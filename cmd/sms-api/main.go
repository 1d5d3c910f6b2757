// Command sms-api is the example resource service: a small SMS API that
// accepts oauthd access tokens, validating them by introspection through
// the server/introspect package. Messages are recorded in memory; nothing
// is sent.
//
//	POST /v1/sms        scope sms       {"to": ["+447700900123"], "text": "hello"}
//	GET  /v1/sms/{id}   scope reports
//	GET  /v1/groups     scope groups
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/spf13/cobra"

	"github.com/oauthd/oauthd/cmd/internal/buildinfo"
	"github.com/oauthd/oauthd/cmd/internal/logbatch"
	"github.com/oauthd/oauthd/cmd/internal/settings"
	"github.com/oauthd/oauthd/server/introspect"
	"github.com/oauthd/oauthd/server/introspect/introspectecho"
)

// version is the release, stamped by the linker as oauthd's is (-ldflags
// "-X main.version=v1.4.0"); main reads it once and hands it to run.
var version string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, buildinfo.Read(version), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sms-api:", err)
		os.Exit(1)
	}
}

func settingSet() settings.Set {
	return settings.Set{EnvPrefix: "SMSAPI", List: []settings.Setting{
		{Key: "http.addr", Default: ":8081", Usage: "address the API listens on"},
		{Key: "issuer", Default: "", Usage: "oauthd's base URL (its issuer); the introspection endpoint is discovered from its RFC 8414 metadata (required)"},
		{Key: "client_id", Default: "", Usage: "this service's oauthd client_id; its application needs the tokens:introspect scope (required)"},
		{Key: "client_secret", Default: "", Usage: "this service's oauthd client secret (required)"},
		{Key: "http.trusted_proxies", Default: "", Usage: "comma-separated CIDRs of the reverse proxies in front of this API; only from these are Forwarded / X-Forwarded-For believed, for the caller's address sent to oauthd"},
		{Key: "audience", Default: "", Usage: "this API's identifier as applications list it in their audiences; tokens meant only for other services are refused (empty: accept any)"},
		{Key: "jwt_local", Default: false, Usage: "validate JWT access tokens here (signature, iss, exp, aud, scopes) instead of asking oauthd: faster, but a revoked JWT is accepted until it expires unless the revocation feed is followed, and IP allowlists are not checked"},
		{Key: "jwks_refresh_floor", Default: 10 * time.Second, Usage: "with jwt_local: the shortest time between two fetches of oauthd's JWKS (a token with an unknown key id triggers one)"},
		{Key: "feed", Default: true, Usage: "follow oauthd's revocation feed, which evicts a cached answer as soon as its token is revoked or its application changes"},
		{Key: "feed_url", Default: "", Usage: "the revocation feed's URL (default: revocation_feed_endpoint of oauthd's metadata)"},
		{Key: "cache_ttl", Default: 10 * time.Minute, Usage: "longest time an introspection answer is cached while the revocation feed is followed (0s: no cache); never past the token's exp"},
		{Key: "fallback_cache_ttl", Default: 5 * time.Second, Usage: "longest time an introspection answer is cached while the feed is not followed (feed off, connecting, catching up); a revoked token may be accepted for up to this long then"},
		{Key: "log.level", Default: "info", Usage: "log level: debug, info, warn or error"},
		{Key: "log.format", Default: "text", Usage: "log format: text or json"},
		{Key: "log.buffer", Default: 100 * time.Millisecond, Usage: "write the lines of requests that went well in batches, at most this long after the request (0s: each at once)"},
	}}
}

// config is sms-api's configuration.
type config struct {
	HTTP struct {
		Addr           string `mapstructure:"addr"`
		TrustedProxies string `mapstructure:"trusted_proxies"`
	} `mapstructure:"http"`
	Issuer       string        `mapstructure:"issuer"`
	ClientID     string        `mapstructure:"client_id"`
	ClientSecret string        `mapstructure:"client_secret"`
	CacheTTL     time.Duration `mapstructure:"cache_ttl"`
	Audience     string        `mapstructure:"audience"`
	JWTLocal     bool          `mapstructure:"jwt_local"`
	JWKSFloor    time.Duration `mapstructure:"jwks_refresh_floor"`
	FallbackTTL  time.Duration `mapstructure:"fallback_cache_ttl"`
	Feed         bool          `mapstructure:"feed"`
	FeedURL      string        `mapstructure:"feed_url"`
	Log          struct {
		Level  string        `mapstructure:"level"`
		Format string        `mapstructure:"format"`
		Buffer time.Duration `mapstructure:"buffer"`
	} `mapstructure:"log"`
	level   slog.Level
	proxies []netip.Prefix
}

func (c *config) validate() error {
	checks := []struct {
		key string
		ok  bool
		fix string
	}{
		{"http.addr", validAddr(c.HTTP.Addr), "use host:port, e.g. :8081"},
		{"issuer", validURL(c.Issuer), "set SMSAPI_ISSUER to oauthd's base URL, e.g. http://localhost:8080"},
		{"client_id", c.ClientID != "", "set SMSAPI_CLIENT_ID to the client_id of an oauthd application with the tokens:introspect scope"},
		{"client_secret", c.ClientSecret != "", "set SMSAPI_CLIENT_SECRET to that application's secret"},
		{"jwks_refresh_floor", c.JWKSFloor >= 100*time.Millisecond && c.JWKSFloor <= time.Hour, "use between 100ms and 1h"},
		{"cache_ttl", c.CacheTTL >= 0 && c.CacheTTL <= 30*time.Minute, "use a duration between 0s and 30m"},
		{"fallback_cache_ttl", c.FallbackTTL >= 0 && c.FallbackTTL <= 5*time.Minute, "use a duration between 0s and 5m"},
		{"feed_url", c.FeedURL == "" || validURL(c.FeedURL), "use oauthd's feed URL, e.g. http://localhost:8080/oauth/revocation-feed, or leave it empty to discover it"},
		{"log.level", c.level.UnmarshalText([]byte(c.Log.Level)) == nil, "use debug, info, warn or error"},
		{"log.format", c.Log.Format == "text" || c.Log.Format == "json", "use text or json"},
		{"log.buffer", c.Log.Buffer >= 0 && c.Log.Buffer <= 10*time.Second, "use between 0s (no batching) and 10s"},
	}
	for _, ch := range checks {
		if !ch.ok {
			return fmt.Errorf("config %s: %s", ch.key, ch.fix)
		}
	}
	var err error
	if c.proxies, err = introspect.ParseTrustedProxies(c.HTTP.TrustedProxies); err != nil {
		return fmt.Errorf("config http.trusted_proxies: %v", err)
	}
	return nil
}

func validAddr(a string) bool {
	_, port, err := net.SplitHostPort(a)
	return err == nil && port != ""
}

func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https")
}

func run(ctx context.Context, build buildinfo.Info, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	set := settingSet()
	cmd := &cobra.Command{
		Use:           "sms-api",
		Short:         "Example SMS API protected by oauthd access tokens",
		Version:       build.String(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cfg config
			if err := set.Load(cmd.Flags(), getenv, &cfg); err != nil {
				return err
			}
			if err := cfg.validate(); err != nil {
				return err
			}
			b := logbatch.New(stderr)
			log := newLogger(&cfg, b.Direct())
			access := log
			if cfg.Log.Buffer > 0 {
				access = newLogger(&cfg, b.Batched())
				ctx, stop := context.WithCancel(context.WithoutCancel(cmd.Context()))
				done := make(chan struct{})
				go func() { defer close(done); b.Run(ctx, cfg.Log.Buffer) }()
				defer func() { stop(); <-done }()
			}
			return serve(cmd.Context(), &cfg, build, log, access)
		},
	}
	cmd.SetVersionTemplate("sms-api {{.Version}}\n")
	set.AddFlags(cmd.Flags())
	cmd.InitDefaultHelpFlag()
	cmd.InitDefaultVersionFlag()
	settings.PlainBools(cmd.Flags())
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	return cmd.ExecuteContext(ctx)
}

func newLogger(c *config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.level}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// tokenGuard adapts the introspection client to the API's guard.
type tokenGuard struct{ client *introspect.Client }

func (g tokenGuard) Require(scopes ...string) echo.MiddlewareFunc {
	return introspectecho.Middleware(g.client, scopes...)
}

func (g tokenGuard) Caller(c echo.Context) (clientID, account string) {
	if info, ok := introspectecho.Info(c); ok {
		return info.ClientID, info.Owner
	}
	return "", ""
}

func serve(ctx context.Context, cfg *config, build buildinfo.Info, log, access *slog.Logger) error {
	// The package reads 0 as "default"; an operator's 0s means "no cache".
	noZero := func(d time.Duration) time.Duration {
		if d == 0 {
			return -1
		}
		return d
	}
	ttl, fallback := cfg.CacheTTL, cfg.FallbackTTL
	if !cfg.Feed {
		// Nothing evicts: the fallback lifetime is the only bound.
		ttl = min(ttl, fallback)
	}
	if fallback == 0 {
		fallback = time.Nanosecond // answers never outlive a feed outage
	}
	client, err := introspect.New(introspect.Config{
		Issuer:           cfg.Issuer,
		ClientID:         cfg.ClientID,
		ClientSecret:     cfg.ClientSecret,
		Audience:         cfg.Audience,
		LocalJWT:         cfg.JWTLocal,
		JWKSRefreshFloor: cfg.JWKSFloor,
		CacheTTL:         noZero(ttl),
		FollowFeed:       cfg.Feed,
		FeedEndpoint:     cfg.FeedURL,
		FallbackCacheTTL: fallback,
		// The caller's address goes to oauthd, which refuses a token used
		// outside its application's IP allowlist.
		TrustedProxies: cfg.proxies,
		Realm:          "sms-api",
		Logger:         log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("config http.addr: %w", err)
	}
	hs := &http.Server{
		Handler:           newAPI(tokenGuard{client}, log, access, time.Now),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if cfg.Feed {
		fctx, stopFeed := context.WithCancel(context.WithoutCancel(ctx))
		feedDone := make(chan struct{})
		go func() { defer close(feedDone); _ = client.Run(fctx) }()
		defer func() { stopFeed(); <-feedDone }()
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("sms-api listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "feed", cfg.Feed,
		"cache_ttl", cfg.CacheTTL, "fallback_cache_ttl", cfg.FallbackTTL, "version", build.Version)
	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
