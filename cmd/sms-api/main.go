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
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
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
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/spf13/cobra"

	"github.com/oauthd/oauthd/cmd/internal/buildinfo"
	"github.com/oauthd/oauthd/cmd/internal/logbatch"
	"github.com/oauthd/oauthd/cmd/internal/settings"
	"github.com/oauthd/oauthd/cmd/internal/tlsreload"
	"github.com/oauthd/oauthd/cmd/internal/tracing"
	"github.com/oauthd/oauthd/server/introspect"
	"github.com/oauthd/oauthd/server/introspect/introspectecho"
	"github.com/oauthd/oauthd/server/introspect/introspectredis"
)

// version is the release, stamped by the linker as oauthd's is (-ldflags
// "-X main.version=v1.4.0"); main reads it once and hands it to run.
var version string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, buildinfo.Read(version), os.Args[1:], os.Environ(), os.Stdout, os.Stderr); err != nil {
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
		{Key: "public_url", Default: "", Usage: "this API's URL as clients reach it (https://sms.example.com; with a path prefix a proxy strips, https://api.example.com/sms): DPoP proofs must name it. Default: the connection's scheme and the Host header, which clients choose; set it in production"},
		{Key: "dpop.required", Default: false, Usage: "accept DPoP-bound tokens only (RFC 9449): bearer tokens and API keys are refused. DPoP-bound tokens are always accepted with their proof, and refused as bearer tokens"},
		{Key: "dpop.window", Default: introspect.DefaultDPoPWindow, Usage: "how far a DPoP proof's iat may be from this server's clock, either way; each proof is remembered this long to refuse replays"},
		{Key: "dpop.nonce", Default: false, Usage: "require DPoP proofs to carry a nonce this API issued (RFC 9449 §9): first requests are answered 401 use_dpop_nonce with a DPoP-Nonce header"},
		{Key: "dpop.nonce_key", Default: "", Usage: "base64 key (32 bytes or more: head -c32 /dev/urandom | base64) making the nonces; replicas sharing it accept each other's. Default: random per process"},
		{Key: "dpop.replay_redis_url", Default: "", Usage: "Redis (redis://host:6379/0, rediss:// for TLS) where replicas share the DPoP proofs they accepted, so a proof is accepted once among them. Default: in memory, which protects one process only"},
		{Key: "http.client_cert_header", Default: "", Usage: "header in which the TLS-terminating proxies of http.trusted_proxies forward the client certificate (RFC 9440 Client-Cert, or nginx's $ssl_client_escaped_cert), for certificate-bound tokens (RFC 8705)"},
		{Key: "tls.addr", Default: "", Usage: "address of an HTTPS listener that asks clients for a certificate (not required), for certificate-bound tokens; needs tls.cert_file and tls.key_file"},
		{Key: "tls.cert_file", Default: "", Usage: "PEM certificate (with its chain) of the HTTPS listener; reloaded when the file changes"},
		{Key: "tls.key_file", Default: "", Usage: "PEM private key of tls.cert_file"},
		{Key: "tls.client_ca_file", Default: "", Usage: "PEM CAs that client certificates must chain to. Default: any certificate is taken, self-signed ones too (RFC 8705 §2.2): a certificate-bound token names its certificate by hash"},
		{Key: "log.level", Default: "info", Usage: "log level: debug, info, warn or error"},
		{Key: "log.format", Default: "text", Usage: "log format: text or json"},
		{Key: "log.buffer", Default: 100 * time.Millisecond, Usage: "write the lines of requests that went well in batches, at most this long after the request (0s: each at once)"},
	}}
}

// config is sms-api's configuration.
type config struct {
	HTTP struct {
		Addr             string `mapstructure:"addr"`
		TrustedProxies   string `mapstructure:"trusted_proxies"`
		ClientCertHeader string `mapstructure:"client_cert_header"`
	} `mapstructure:"http"`
	PublicURL string `mapstructure:"public_url"`
	DPoP      struct {
		Required       bool          `mapstructure:"required"`
		Window         time.Duration `mapstructure:"window"`
		Nonce          bool          `mapstructure:"nonce"`
		NonceKey       string        `mapstructure:"nonce_key"`
		ReplayRedisURL string        `mapstructure:"replay_redis_url"`
	} `mapstructure:"dpop"`
	TLS struct {
		Addr         string `mapstructure:"addr"`
		CertFile     string `mapstructure:"cert_file"`
		KeyFile      string `mapstructure:"key_file"`
		ClientCAFile string `mapstructure:"client_ca_file"`
	} `mapstructure:"tls"`
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
	level    slog.Level
	proxies  []netip.Prefix
	nonceKey []byte
	tls      *tlsreload.Reloader // nil: no HTTPS listener
	caPool   *x509.CertPool      // nil: any client certificate
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
	return c.validateBinding()
}

// validateBinding checks the settings of sender-constrained tokens (DPoP,
// certificates) and loads the files they name.
func (c *config) validateBinding() error {
	checks := []struct {
		key string
		ok  bool
		fix string
	}{
		{"public_url", c.PublicURL == "" || validURL(c.PublicURL) && !strings.ContainsAny(c.PublicURL, "?#"), "use the URL clients reach this API at, without query or fragment, e.g. https://sms.example.com"},
		{"dpop.window", c.DPoP.Window >= time.Second && c.DPoP.Window <= 10*time.Minute, "use between 1s and 10m"},
		{"dpop.replay_redis_url", c.DPoP.ReplayRedisURL == "" || strings.HasPrefix(c.DPoP.ReplayRedisURL, "redis://") || strings.HasPrefix(c.DPoP.ReplayRedisURL, "rediss://"), "use redis://host:6379/0 (rediss:// for TLS)"},
		{"http.client_cert_header", c.HTTP.ClientCertHeader == "" || len(c.proxies) > 0, "set http.trusted_proxies too: the header is believed only from those proxies"},
		{"tls.addr", c.TLS.Addr == "" || validAddr(c.TLS.Addr), "use host:port, e.g. :8443"},
		{"tls.cert_file", (c.TLS.Addr == "") == (c.TLS.CertFile == "" && c.TLS.KeyFile == ""), "set tls.addr, tls.cert_file and tls.key_file together (or none)"},
		{"tls.client_ca_file", c.TLS.ClientCAFile == "" || c.TLS.Addr != "", "set tls.addr too: client certificates come through the HTTPS listener"},
	}
	for _, ch := range checks {
		if !ch.ok {
			return fmt.Errorf("config %s: %s", ch.key, ch.fix)
		}
	}
	if c.DPoP.NonceKey != "" {
		k, err := base64.StdEncoding.DecodeString(c.DPoP.NonceKey)
		if err != nil || len(k) < 32 {
			return errors.New("config dpop.nonce_key: use 32 bytes or more, base64: head -c32 /dev/urandom | base64")
		}
		c.nonceKey = k
	}
	if c.TLS.Addr == "" {
		return nil
	}
	var err error
	if c.TLS.CertFile == "" || c.TLS.KeyFile == "" {
		return errors.New("config tls.cert_file: the HTTPS listener needs tls.cert_file and tls.key_file")
	}
	if c.tls, err = tlsreload.New(c.TLS.CertFile, c.TLS.KeyFile); err != nil {
		return fmt.Errorf("config tls.cert_file: %v", err)
	}
	if c.TLS.ClientCAFile != "" {
		pemBytes, err := os.ReadFile(c.TLS.ClientCAFile)
		if err != nil {
			return fmt.Errorf("config tls.client_ca_file: %v", err)
		}
		c.caPool = x509.NewCertPool()
		if !c.caPool.AppendCertsFromPEM(pemBytes) {
			return fmt.Errorf("config tls.client_ca_file: %s holds no PEM certificate", c.TLS.ClientCAFile)
		}
	}
	return nil
}

// tlsConfig is the HTTPS listener's: it asks every client for a
// certificate and requires none, since only certificate-bound tokens need
// one (the middleware checks them); with tls.client_ca_file a certificate
// given must chain to those CAs.
func (c *config) tlsConfig() *tls.Config {
	tc := c.tls.Config()
	tc.ClientAuth = tls.RequestClientCert
	if c.caPool != nil {
		tc.ClientAuth, tc.ClientCAs = tls.VerifyClientCertIfGiven, c.caPool
	}
	return tc
}

func validAddr(a string) bool {
	_, port, err := net.SplitHostPort(a)
	return err == nil && port != ""
}

func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https")
}

func run(ctx context.Context, build buildinfo.Info, args []string, env settings.Environ, stdout, stderr io.Writer) error {
	set, getenv := settingSet(), env.Getenv
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
			set.WarnUnknownEnv(log, env, "sms-api")
			tr, err := tracing.New(getenv, "sms-api", "", log)
			if err != nil {
				return err
			}
			// Flushed once the server has drained: its last spans go too.
			defer func() {
				if err := tr.Close(5 * time.Second); err != nil {
					log.Warn("OpenTelemetry: flushing the last spans failed", "error", err.Error())
				}
			}()
			return serve(cmd.Context(), &cfg, build, tr.Logger(log), tr.Logger(access), tr)
		},
	}
	cmd.SetVersionTemplate("sms-api {{.Version}}\n")
	cmd.SetFlagErrorFunc(settings.FlagError)
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

func serve(ctx context.Context, cfg *config, build buildinfo.Info, log, access *slog.Logger, tr *tracing.Tracing) error {
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
	var replay introspect.ReplayCache // nil: in memory
	replayWhere := "memory"
	if cfg.DPoP.ReplayRedisURL != "" {
		r, err := introspectredis.Open(cfg.DPoP.ReplayRedisURL, "sms-api:")
		if err != nil {
			return fmt.Errorf("config dpop.replay_redis_url: %w", err)
		}
		defer r.Close()
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := r.Ping(pctx); err != nil {
			// Not fatal: DPoP requests are answered 503 until it answers.
			log.Warn("the DPoP replay cache's Redis does not answer yet; DPoP requests are refused (503) until it does", "error", err.Error())
		}
		cancel()
		replay, replayWhere = r, "redis"
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
		// Sender-constrained tokens.
		PublicURL:        cfg.PublicURL,
		RequireDPoP:      cfg.DPoP.Required,
		DPoPWindow:       cfg.DPoP.Window,
		DPoPReplay:       replay,
		DPoPNonce:        cfg.DPoP.Nonce,
		DPoPNonceKey:     cfg.nonceKey,
		ClientCertHeader: cfg.HTTP.ClientCertHeader,
		Realm:            "sms-api",
		Logger:           log,
		// With tracing on, each request to oauthd is a span below the
		// API request's and carries its traceparent.
		TracerProvider: tr.Provider,
		Propagator:     tr.Propagator,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("config http.addr: %w", err)
	}
	g := tokenGuard{client}
	api := newAPI(g, log, access, time.Now)
	if tr.On() {
		log.Info("OpenTelemetry tracing on", tr.LogAttrs()...)
		api.Use(traceRequests(tr.Provider, tr.Propagator, g))
	}
	hs := &http.Server{
		Handler:           api,
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
	servers := []*http.Server{hs}
	served := make(chan error, 2)
	if cfg.tls != nil {
		tln, err := net.Listen("tcp", cfg.TLS.Addr)
		if err != nil {
			return fmt.Errorf("config tls.addr: %w", err)
		}
		hss := &http.Server{
			Handler:           api,
			TLSConfig:         cfg.tlsConfig(),
			ReadHeaderTimeout: hs.ReadHeaderTimeout,
			ReadTimeout:       hs.ReadTimeout,
			WriteTimeout:      hs.WriteTimeout,
			IdleTimeout:       hs.IdleTimeout,
			ErrorLog:          hs.ErrorLog,
		}
		servers = append(servers, hss)
		wctx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
		watched := make(chan struct{})
		go func() { defer close(watched); cfg.tls.Watch(wctx, 2*time.Second, nil, log) }()
		defer func() { stopWatch(); <-watched }()
		go func() { served <- hss.ServeTLS(tln, "", "") }()
		log.Info("sms-api TLS listening", "addr", tln.Addr().String(), "client_ca_file", cfg.TLS.ClientCAFile)
	}
	go func() { served <- hs.Serve(ln) }()
	log.Info("sms-api listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "feed", cfg.Feed,
		"cache_ttl", cfg.CacheTTL, "fallback_cache_ttl", cfg.FallbackTTL,
		"public_url", cfg.PublicURL, "dpop_required", cfg.DPoP.Required, "dpop_nonce", cfg.DPoP.Nonce,
		"dpop_replay", replayWhere, "version", build.Version)
	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			return err
		}
	}
	for range servers {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return nil
}
