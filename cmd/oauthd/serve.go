package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/oauthd/oauthd/server/admin"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/clientauth"
	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/server/dashboard"
	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/server/web"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/oauthd/oauthd/cmd/internal/logbatch"
	"github.com/oauthd/oauthd/cmd/internal/settings"
	"github.com/oauthd/oauthd/cmd/internal/tlsreload"
	"github.com/oauthd/oauthd/cmd/internal/tracing"
	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server"
	"github.com/oauthd/oauthd/server/health"
	"github.com/oauthd/oauthd/server/metrics"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
)

func serveCommand(build buildInfo, env settings.Environ, stdout, stderr io.Writer) *cobra.Command {
	getenv := env.Getenv
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the authorization server",
		Long: `Run the authorization server.

Configuration comes from flags, then environment variables (OAUTHD_ + the key
upper-cased, '.' as '_'), then the YAML file given by --config, then defaults.

The scope catalogue lives in Redis, shared by every replica and the CLI. The
file's scopes: (or, without one, the built-in SMS catalogue) seeds it when
Redis holds none; afterwards Redis's is in force, changed with 'oauthd scopes'
or the admin API, and 'oauthd scopes import --config FILE' replaces it with
the file's:

  scopes:
    - {name: sms, description: Send SMS messages}
    - {name: messages:send, description: Send any message}

Without --redis-url oauthd runs on an embedded in-memory Redis, creates a demo
application and prints a curl command that gets a token. Nothing persists.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags(), serveSettings(), getenv)
			if err != nil {
				return err
			}
			logs := newServeLogs(cfg, stderr)
			warnUnknownEnv(logs.main, env)
			tr, err := tracing.New(getenv, "oauthd", build.Version, logs.main)
			if err != nil {
				return err
			}
			logs.main, logs.access = tr.Logger(logs.main), tr.Logger(logs.access)
			return serve(cmd.Context(), cfg, build, logs, stdout, tr)
		},
	}
	addFlags(cmd.Flags(), serveSettings())
	return cmd
}

// openRedis returns a client for the configured Redis or, with none
// configured, starts the embedded one. It does not wait for Redis: serve
// waits in the background (waitForRedis), the CLI verbs check once
// (pingRedis). close releases whichever it was.
func openRedis(cfg *Config, log *slog.Logger) (rdb goredis.UniversalClient, embedded bool, close func(), err error) {
	cc := cfg.redis
	var mini *miniredis.Miniredis
	if cfg.embeddedRedis() {
		mini = miniredis.NewMiniRedis()
		// Let TTLs run on the wall clock, as on a real server, so
		// expired tokens are forgotten in the embedded store too.
		mini.ClockTTL(true)
		if err := mini.StartAddr("127.0.0.1:0"); err != nil {
			return nil, false, nil, fmt.Errorf("starting the embedded store: %w", err)
		}
		cc = redis.ClientConfig{URL: "redis://" + mini.Addr()}
		log.Warn("no redis.url, redis.sentinel.master or redis.cluster.addrs set: running on the embedded in-memory store; applications and tokens are lost on exit. Set OAUTHD_REDIS_URL for a real deployment.")
	}
	rdb, err = redis.Open(cc)
	if err != nil {
		if mini != nil {
			mini.Close()
		}
		return nil, false, nil, fmt.Errorf("config redis: %w", err)
	}
	close = func() {
		rdb.Close()
		if mini != nil {
			mini.Close()
		}
	}
	return rdb, mini != nil, close, nil
}

// pingRedis checks once, for the CLI verbs: a person at a terminal wants
// an error, not a wait.
func pingRedis(ctx context.Context, cfg *Config, rdb goredis.UniversalClient) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		return fmt.Errorf("cannot reach Redis (%s): %v; check the redis settings and that Redis is running", redisTarget(cfg), err)
	}
	return nil
}

// waitForRedis pings until Redis answers, backing off from 100ms to 5s,
// and says so in the log: a replica started before its Redis (compose,
// a Kubernetes rollout, a Redis restart) serves 503s and reports not ready
// meanwhile instead of exiting into a restart loop.
func waitForRedis(ctx context.Context, cfg *Config, rdb goredis.UniversalClient, log *slog.Logger) {
	start := time.Now()
	for delay, attempt := 100*time.Millisecond, 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := rdb.Ping(pctx).Err()
		cancel()
		if err == nil {
			log.Info("redis reachable", "redis", redisTarget(cfg), "waited_ms", time.Since(start).Milliseconds())
			return
		}
		if ctx.Err() != nil {
			return
		}
		log.Warn("waiting for Redis", "redis", redisTarget(cfg), "attempt", attempt, "retry_in_ms", delay.Milliseconds(), "cause", err.Error())
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// redisTarget names the configured Redis for a log line or an error,
// without a password.
func redisTarget(cfg *Config) string {
	c := cfg.redis
	switch c.Topology() {
	case "sentinel":
		return fmt.Sprintf("sentinel master %s via %s", c.SentinelMaster, strings.Join(c.SentinelAddrs, ","))
	case "cluster":
		return "cluster " + strings.Join(c.ClusterAddrs, ",")
	}
	if cfg.embeddedRedis() {
		return "embedded"
	}
	return redactURL(c.URL)
}

// redactURL drops the password from a Redis URL before it is printed.
func redactURL(u string) string {
	if at := strings.LastIndex(u, "@"); at >= 0 {
		if scheme := strings.Index(u, "://"); scheme >= 0 && scheme < at {
			return u[:scheme+3] + "***@" + u[at+1:]
		}
	}
	return u
}

// storeOptions maps the configuration onto the Redis store's options.
// With inactive_reason on, expired token records are kept for the
// tombstone time so introspection can say "expired". The store keys the
// lock-outs it checks as the limits do: by limits.ipv6_prefix.
func storeOptions(cfg *Config, log *slog.Logger) redis.Options {
	opts := redis.Options{Prefix: cfg.Redis.Prefix, Logger: log,
		MaxEvents: cfg.Audit.MaxEvents, MaxSecurityEvents: cfg.Audit.MaxSecurityEvents, MaxFeed: cfg.Feed.MaxEvents,
		IPv6Prefix: cfg.limits.IPv6Prefix, AppCacheSize: cfg.Redis.AppCacheSize}
	if cfg.Introspection.InactiveReason {
		opts.KeepExpired = cfg.Introspection.TombstoneTTL
	}
	return opts
}

// serveLogs are serve's loggers: main for events and failures, written at
// once; access for the per-request lines of requests that went well,
// batched every log.buffer (when set).
type serveLogs struct {
	main, access *slog.Logger
	batch        *logbatch.Writer
	every        time.Duration
}

func newServeLogs(cfg *Config, w io.Writer) serveLogs {
	b := logbatch.New(w)
	l := serveLogs{main: newLogger(cfg, b.Direct()), batch: b, every: cfg.Log.Buffer}
	l.access = l.main
	if l.every > 0 {
		l.access = newLogger(cfg, b.Batched())
	}
	return l
}

func serve(ctx context.Context, cfg *Config, build buildInfo, logs serveLogs, stdout io.Writer, tr *tracing.Tracing) error {
	log := logs.main
	if logs.every > 0 {
		// Stopped last (deferred first), so the final flush has every line.
		bctx, stopBatch := context.WithCancel(context.WithoutCancel(ctx))
		batchDone := make(chan struct{})
		go func() { defer close(batchDone); logs.batch.Run(bctx, logs.every) }()
		defer func() { stopBatch(); <-batchDone }()
	}
	// Flushed once the servers have drained: their last spans go too.
	defer closeTracing(tr, log)
	if tr.On() {
		log.Info("OpenTelemetry tracing on", tr.LogAttrs()...)
	}
	redis.SetLibraryLogger(log)
	rdb, embedded, closeRedis, err := openRedis(cfg, log)
	if err != nil {
		return err
	}
	defer closeRedis()
	if err := traceRedis(rdb, tr); err != nil {
		return err
	}
	mx := metrics.New(metrics.Build{Version: build.Version, Revision: build.Revision, GoVersion: build.GoVersion})
	mx.InstrumentRedis(rdb)
	// The wait ends with serve: a serve that fails to start must not go on
	// logging after it has returned (and closed the embedded store).
	waitCtx, stopWait := context.WithCancel(ctx)
	waitDone := make(chan struct{})
	go func() { defer close(waitDone); waitForRedis(waitCtx, cfg, rdb, log) }()
	defer func() { stopWait(); <-waitDone }()
	sopts := storeOptions(cfg, log)
	switch {
	case !cfg.Redis.AutoPipeline:
	case tr.On():
		log.Info("Redis autopipelining off: tracing is on, and each request's Redis commands show under its span only when it sends them itself")
	default:
		ap, err := redis.Batching(rdb)
		if err != nil {
			return fmt.Errorf("redis.autopipeline: %w", err)
		}
		if ap != nil {
			// Closed before the client (deferred after it), once the
			// servers have drained.
			defer ap.Close()
			sopts.Batched = ap
		}
	}
	st := redis.New(rdb, sopts)
	mx.InstrumentAppCache(func() metrics.CacheStats {
		s := st.CacheStats()
		return metrics.CacheStats{Hits: s.Hits, Misses: s.Misses, Invalidations: s.Invalidations, Drops: s.Drops}
	})
	// The store's loop keeps the application cache coherent across
	// replicas and writes buffered usage counts; it flushes them once
	// more when stopped, after the HTTP servers have drained.
	storeCtx, stopStore := context.WithCancel(context.WithoutCancel(ctx))
	storeDone := make(chan struct{})
	go func() { defer close(storeDone); st.Run(storeCtx) }()
	defer func() { stopStore(); <-storeDone }()

	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("config http.addr: %w (choose another with --http-addr or OAUTHD_HTTP_ADDR)", err)
	}
	defer ln.Close()
	var adminLn net.Listener
	if cfg.Admin.Addr != "" {
		if adminLn, err = net.Listen("tcp", cfg.Admin.Addr); err != nil {
			return fmt.Errorf("config admin.addr: %w", err)
		}
		defer adminLn.Close()
	}
	issuer := cfg.Issuer
	if issuer == "" {
		issuer = defaultIssuer(cfg.HTTP.Addr, ln.Addr(), cfg.tls != nil)
	}
	if cfg.tls != nil {
		stopWatch := watchCertificate(ctx, cfg, log)
		defer stopWatch()
	}

	var tombstone time.Duration
	if cfg.Introspection.InactiveReason {
		tombstone = cfg.Introspection.TombstoneTTL
	}
	probes := health.New(health.Config{Ping: st.Ping, Timeout: cfg.Health.Timeout, Logger: log})
	ring, err := newKeyRing(cfg, st, embedded)
	if err != nil {
		return err
	}
	// With a ring, JWT applications get tokens and the keys can be
	// rotated; without one, neither (a nil *Ring in the interfaces would
	// not be nil).
	var signer server.Signer
	var keyRing apps.KeyRing
	if ring != nil {
		signer, keyRing = ring, ring
	}
	if cfg.JWT.InsecureSealingKeyInRedis {
		log.Warn(insecureCustodyLine)
	}
	// The ring makes its first key once Redis answers, and reloads so that
	// a key another replica (or the CLI) adds is known before it signs.
	// Without a ring, the same goroutine says once why JWT signing is off.
	ringCtx, stopRing := context.WithCancel(ctx)
	ringDone := make(chan struct{})
	go func() {
		defer close(ringDone)
		if ring == nil {
			reportSigningOff(ringCtx, st, log)
			return
		}
		runKeyRing(ringCtx, ring, log)
	}()
	defer func() { stopRing(); <-ringDone }()
	appOpts := apps.Options{MaxGrace: cfg.Admin.MaxGrace, Logger: log, Tombstone: tombstone,
		SecurityEvery: cfg.Audit.SecurityEvery, Keys: keyRing, KeyPublishDelay: cfg.JWT.PublishDelay, Limits: cfg.limits}
	if ring != nil {
		// client_secret_jwt secrets are sealed with the signing keys'
		// sealing key; without one, such applications are refused.
		appOpts.Seal = ring.SealSecret
	}
	appSvc := apps.New(st, cfg.catalogue, appOpts)
	// The scope catalogue is seeded, or compared with the file's, once
	// Redis answers.
	catCtx, stopCat := context.WithCancel(ctx)
	catDone := make(chan struct{})
	go func() { defer close(catDone); reportCatalogue(catCtx, appSvc, cfg, log) }()
	defer func() { stopCat(); <-catDone }()
	idxCtx, stopIdx := context.WithCancel(ctx)
	idxDone := make(chan struct{})
	go func() { defer close(idxDone); indexApplications(idxCtx, st, log) }()
	defer func() { stopIdx(); <-idxDone }()
	// The service writes the security log's aggregated counts every
	// period, and once more after the HTTP servers have drained.
	auditCtx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
	auditDone := make(chan struct{})
	go func() { defer close(auditDone); appSvc.Run(auditCtx) }()
	defer func() { stopAudit(); <-auditDone }()
	limits := redis.NewLimits(rdb, cfg.Redis.Prefix, cfg.limits)
	// The revocation feed: one stream reader for this replica, fanning out
	// to every subscriber. It is stopped before the HTTP servers drain,
	// which ends the feed connections (their subscribers reconnect to
	// another replica).
	var feed server.Feed
	stopFeed := func() {}
	if cfg.Feed.Enabled {
		f := st.NewFeed(redis.FeedOptions{Buffer: cfg.Feed.Buffer})
		feedCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		feedDone := make(chan struct{})
		go func() { defer close(feedDone); f.Run(feedCtx) }()
		stopFeed = func() { cancel(); <-feedDone }
		mx.InstrumentFeed(func() metrics.FeedStats {
			s := f.Stats()
			return metrics.FeedStats{Subscribers: s.Subscribers, Events: s.Events, Dropped: s.Dropped}
		})
		defer stopFeed()
		feed = f
	}
	srv, err := server.New(server.Config{
		Feed:                 feed,
		FeedHeartbeat:        cfg.Feed.Heartbeat,
		FeedMaxSubscribers:   cfg.Feed.MaxSubscribers,
		FeedMaxPerClient:     cfg.Feed.MaxPerClient,
		Issuer:               issuer,
		Catalogue:            appSvc,
		Logger:               log,
		AccessLogger:         logs.access,
		InactiveReason:       cfg.Introspection.InactiveReason,
		Tombstone:            cfg.Introspection.TombstoneTTL,
		ServiceDocumentation: cfg.ServiceDocumentation,
		Audit:                appSvc,
		Observer:             mx,
		LogSampleOK:          cfg.Log.SampleOK,
		TrustedProxies:       cfg.trustedProxies,
		AllowUnknownClientIP: cfg.Introspection.MissingClientIP == "active",
		Limits:               limits,
		Signer:               signer,
		Tracing:              webTracing(tr),
		Binding:              cfg.Binding.server(cfg, log),
		ClientAuth:           clientAuthConfig(cfg, ring),
		ClientCertHeader:     cfg.TLS.ClientCertHeader,
		MTLS:                 cfg.tls != nil || cfg.TLS.ClientCertHeader != "" || cfg.ClientAuth.MTLSBaseURL != "",
		MTLSBaseURL:          cfg.ClientAuth.MTLSBaseURL,
	}, st)
	if err != nil {
		return err
	}
	keys := cfg.adminKeys
	if embedded {
		key := credential.NewAdminKey()
		keys = append(keys, store.Sum(key))
		demoCtx := apps.WithActor(ctx, apps.Actor{Name: "oauthd-serve"})
		dashURL := ""
		if cfg.Dashboard.Enabled {
			dashURL = dashboardURL(issuer, cfg.Admin.Addr, adminLn, cfg.tls != nil)
		}
		if err := printDemo(demoCtx, appSvc, issuer, key, dashURL, stdout); err != nil {
			return err
		}
	}
	if len(keys) == 0 {
		log.Info("no admin keys configured (admin.key_sha256): the admin API accepts only access tokens with the applications scope")
	}
	adm := admin.New(admin.Config{
		KeyDigests: keys, Logger: log, Observer: mx,
		TrustedProxies: cfg.trustedProxies, Limits: limits, TokenRef: srv.TokenRef,
		Tracing: webTracing(tr),
	}, appSvc, st)

	var dash http.Handler
	if cfg.Dashboard.Enabled {
		d, err := dashboard.New(dashboard.Config{
			KeyDigests: keys, Sessions: st, Issuer: issuer,
			SessionIdle: cfg.Dashboard.SessionIdle, SessionMax: cfg.Dashboard.SessionMax,
			SecureCookies: cfg.Dashboard.SecureCookies, Logger: log, Observer: mx,
			TrustedProxies: cfg.trustedProxies,
			Guard:          signInGuard{limits: limits, audit: appSvc, metrics: mx},
			Tracing:        webTracing(tr),
			Figures:        func() dashboard.Figures { return dashboard.Figures(mx.Totals()) },
		}, appSvc)
		if err != nil {
			return err
		}
		dash = d.Handler()
	}
	public, adminHandler := mountRoutes(routeSet{
		public: srv.Handler(), admin: adm.Handler(), dashboard: dash,
		ops: opsHandler(probes, mx, cfg.Admin.Pprof, log, webTracing(tr)), separateAdmin: adminLn != nil,
	})
	served := make(chan error, 2)
	var servers []*http.Server
	start := func(h http.Handler, l net.Listener, listener, msg string) {
		hs := newHTTPServer(h, cfg, log)
		servers = append(servers, hs)
		if cfg.tls != nil {
			hs.TLSConfig = cfg.tls.Config()
			if l == ln {
				// The public listener asks for a client certificate and
				// requires none (the mTLS client authentication methods,
				// issue 18); it verifies none either: which CA, or which
				// registered certificate, is each application's method's
				// business (server/clientauth). A separate admin listener
				// asks for none, so no browser offers one there.
				hs.TLSConfig.ClientAuth = tls.RequestClientCert
			}
			go func() { served <- hs.ServeTLS(l, "", "") }()
		} else {
			warnPlainHTTP(log, l.Addr(), listener)
			go func() { served <- hs.Serve(l) }()
		}
		log.Info(msg, "addr", l.Addr().String(), "tls", cfg.tls != nil, "issuer", issuer, "embedded_store", embedded, "version", build.Version)
	}
	if adminLn != nil {
		start(adminHandler, adminLn, "admin.addr", "oauthd admin listening")
	}
	start(public, ln, "http.addr", "oauthd listening")

	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout_ms", cfg.ShutdownTimeout.Milliseconds())
	stopFeed()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	for _, hs := range servers {
		if err := hs.Shutdown(sctx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	for range servers {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return nil
}

// routeSet is what the listeners serve: the OAuth endpoints, the admin
// API, the dashboard (nil when disabled) and the ops routes (probes,
// metrics, profiler).
type routeSet struct {
	public, admin, dashboard, ops http.Handler
	separateAdmin                 bool
}

// mountRoutes lays the surfaces out on the listeners. The probes answer on
// every listener, so an orchestrator can probe a port that is never
// published. The admin API, the dashboard, the metrics and the profiler
// live on the admin listener when there is one (admin.addr); without one,
// all but the profiler share the public listener.
func mountRoutes(rs routeSet) (public, adminListener http.Handler) {
	ops := func(mux *http.ServeMux) {
		for _, p := range web.HealthPaths {
			mux.Handle(p, rs.ops)
		}
	}
	withDashboard := func(mux *http.ServeMux) {
		if rs.dashboard != nil {
			mux.Handle(dashboard.Prefix, rs.dashboard)
			mux.Handle("/dashboard", rs.dashboard)
		}
	}
	pub := http.NewServeMux()
	ops(pub)
	if !rs.separateAdmin {
		withDashboard(pub)
		pub.Handle(admin.Prefix+"/", rs.admin)
		pub.Handle(web.MetricsPath, rs.ops)
		pub.Handle("/", rs.public)
		return pub, nil
	}
	pub.Handle("/", rs.public)
	adm := http.NewServeMux()
	ops(adm)
	adm.Handle(web.MetricsPath, rs.ops)
	adm.Handle(web.PprofPrefix, rs.ops)
	withDashboard(adm)
	adm.Handle("/", rs.admin)
	return pub, adm
}

// opsHandler serves the probes, the metrics and (with admin.pprof) Go's
// profiler, with the request log every surface has.
func opsHandler(probes *health.Checker, mx *metrics.Metrics, pprof bool, log *slog.Logger, tr web.Tracing) http.Handler {
	e := web.NewEcho(web.Config{Logger: log, Observer: mx, Tracing: tr})
	web.AddHealth(e, probes)
	e.GET(web.MetricsPath, echo.WrapHandler(mx.Handler()))
	if pprof {
		web.AddPprof(e)
	}
	return e
}

// newHTTPServer applies the http.* timeouts and limits; both listeners
// share them.
func newHTTPServer(h http.Handler, cfg *Config, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    cfg.HTTP.MaxHeaderBytes,
		ErrorLog:          stdlog.New(serverErrors{log}, "", 0),
	}
}

// serverErrors is net/http's error log on slog, at warn level, except
// failed TLS handshakes: port scanners, load balancers' TCP health checks
// and clients offering TLS 1.1 cause them all day, and none says anything
// is wrong with oauthd. Those are debug lines.
type serverErrors struct{ log *slog.Logger }

func (w serverErrors) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	level := slog.LevelWarn
	if strings.HasPrefix(msg, "http: TLS handshake error") {
		level = slog.LevelDebug
	}
	w.log.Log(context.Background(), level, msg)
	return len(p), nil
}

// watchCertificate logs the certificate served and reloads it when its
// files change (a mounted Secret that cert-manager renewed) or the process
// gets SIGHUP (what a certbot deploy hook or an operator sends), until the
// returned stop is called. SIGHUP is caught only with TLS on: without, it keeps its
// default meaning.
func watchCertificate(ctx context.Context, cfg *Config, log *slog.Logger) (stop func()) {
	tlsreload.LogLoaded(log, cfg.tls.Leaf(), "TLS certificate loaded", "cert_file", cfg.TLS.CertFile)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); cfg.tls.Watch(wctx, certPollInterval, hup, log) }()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}

// certPollInterval is how often the certificate files are read to see
// whether they changed: two small reads, so often enough that a renewed
// certificate is served within seconds of being written.
const certPollInterval = 2 * time.Second

// warnPlainHTTP says, loudly, when a listener without TLS is reachable
// from other machines: client secrets and tokens would cross the network
// in clear text. Loopback is fine (a local proxy in front terminates TLS).
func warnPlainHTTP(log *slog.Logger, addr net.Addr, key string) {
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		return
	}
	log.Warn("serving plain HTTP on a non-loopback address: client secrets and tokens cross the network unencrypted. Set tls.cert_file and tls.key_file, or bind "+key+" to 127.0.0.1 behind a TLS-terminating proxy",
		"addr", addr.String(), "setting", key)
}

// defaultIssuer is the URL a client uses to reach the listener bound to
// addr as configured: the host it names (127.0.0.1, ::1, a name), or
// localhost when it names every interface (":8080", 0.0.0.0, [::]); the
// port actually bound (which matters for :0); https when serving TLS.
// It follows the configuration because clients such as openid-client
// refuse metadata whose issuer differs from the URL they fetched it from.
func defaultIssuer(configured string, addr net.Addr, tls bool) string {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	host, _, _ := net.SplitHostPort(configured)
	ip, err := netip.ParseAddr(host)
	switch {
	case host == "", err == nil && ip.IsUnspecified():
		host = "localhost"
	case err == nil && ip.Is6():
		host = "[" + ip.WithZone("").String() + "]"
	}
	if ta, ok := addr.(*net.TCPAddr); ok {
		return fmt.Sprintf("%s://%s:%d", scheme, host, ta.Port)
	}
	return scheme + "://" + addr.String()
}

// printDemo creates the embedded mode's demo applications, a daemon and a
// resource server for the example SMS API, and shows how to use them.
func printDemo(ctx context.Context, svc *apps.Service, issuer, adminKey, dashURL string, w io.Writer) error {
	// The admin and introspection scopes stay out of the daemon's
	// credential: it only sends messages.
	cat, err := svc.Catalogue(ctx)
	if err != nil {
		return fmt.Errorf("reading the scope catalogue: %w", err)
	}
	app, secret, err := svc.Create(ctx, apps.NewApplication{
		Name:          "demo",
		Description:   "created by oauthd serve on the embedded store",
		Scopes:        slices.DeleteFunc(cat.Names(), scopes.Reserved),
		TokenLifetime: "24h",
	})
	if err != nil {
		return fmt.Errorf("creating the demo application: %w", err)
	}
	rs, rsSecret, err := svc.Create(ctx, apps.NewApplication{
		Name:        "sms-api",
		Description: "the example SMS API's credentials for introspection",
		Scopes:      []string{scopes.Introspect},
	})
	if err != nil {
		return fmt.Errorf("creating the demo resource server: %w", err)
	}
	fmt.Fprintf(w, `
oauthd is running on the embedded in-memory store: nothing persists.

Demo application (the secret is shown only now):
  client_id:     %s
  client_secret: %s
  scopes:        %s

Get a token:
  curl -s -u '%s:%s' -d grant_type=client_credentials %s/oauth/token

Run the example SMS API against this server (in another terminal):
  SMSAPI_ISSUER=%s SMSAPI_CLIENT_ID=%s SMSAPI_CLIENT_SECRET=%s go run ./cmd/sms-api

Admin API key (valid until this process exits):
  curl -s -H 'Authorization: Bearer %s' %s/admin/v1/applications

`, app.ClientID, secret, strings.Join(app.Scopes, " "), app.ClientID, secret, issuer,
		issuer, rs.ClientID, rsSecret, adminKey, issuer)
	if dashURL != "" {
		fmt.Fprintf(w, "Dashboard (sign in with the admin key above):\n  %s\n\n", dashURL)
	}
	return nil
}

// dashboardURL is where a browser on this machine finds the dashboard: on
// the admin listener (bound to adminAddr) when there is one, else beside
// the public endpoints.
func dashboardURL(issuer, adminAddr string, adminLn net.Listener, tls bool) string {
	if adminLn != nil {
		return defaultIssuer(adminAddr, adminLn.Addr(), tls) + dashboard.Prefix
	}
	return issuer + dashboard.Prefix
}

// signInGuard holds dashboard sign-ins to the per-address lock-out of the
// admin API (limits.address_failures), shared by every replica, and
// records each failure in the security log, aggregated.
type signInGuard struct {
	limits  *redis.Limits
	audit   *apps.Service
	metrics *metrics.Metrics
}

func (g signInGuard) Blocked(ctx context.Context, ip string) (time.Duration, error) {
	addr, _ := netip.ParseAddr(ip)
	lo, err := g.limits.Blocked(ctx, "", addr)
	return lo.For, err
}

func (g signInGuard) Failed(ctx context.Context, ip string) error {
	addr, _ := netip.ParseAddr(ip)
	g.audit.Security(ctx, store.SecurityEvent{Kind: "dashboard.auth_failed", Addr: addr, Reason: "wrong sign-in"})
	lo, err := g.limits.Failed(ctx, "", addr)
	if lo.New {
		g.audit.Security(ctx, store.SecurityEvent{Kind: "dashboard.locked_out", Addr: addr, Reason: lo.Scope, For: lo.For})
		g.metrics.LockedOut(metrics.LockScopeAdmin)
	}
	return err
}

// reportCatalogue makes sure Redis holds a scope catalogue, retrying
// while Redis is unreachable: when it holds none, the configured one (the
// file's scopes:, or the built-in catalogue) is stored. Then it says
// which is in force. Redis's always is: when it differs from the file's,
// the warning says how to import the file.
func reportCatalogue(ctx context.Context, svc *apps.Service, cfg *Config, log *slog.Logger) {
	ctx = apps.WithActor(ctx, apps.Actor{Name: "oauthd-serve"})
	var stored []scopes.Scope
	var seeded bool
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		var err error
		if stored, seeded, err = svc.SeedCatalogue(ctx); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
	from := "the built-in catalogue (no scopes: in the configuration file)"
	if len(cfg.Scopes) > 0 {
		from = "scopes: of " + cfg.file
	}
	added, removed, changed := scopes.Diff(stored, cfg.catalogue.Scopes())
	switch {
	case seeded:
		log.Info("scope catalogue stored in Redis, from "+from, "scopes", len(stored))
	case len(cfg.Scopes) == 0 || added == nil && removed == nil && changed == nil:
		log.Info("scope catalogue read from Redis", "scopes", len(stored))
	default:
		log.Warn("the scope catalogue in Redis differs from "+from+"; Redis's is in force (every replica and the CLI share it). "+
			"To replace it with the file's, review the change with 'oauthd scopes import --config "+cfg.file+" --dry-run', then run it without --dry-run",
			"only_in_file", names(added), "only_in_redis", names(removed), "described_differently", names(changed))
	}
}

func names(list []scopes.Scope) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.Name
	}
	return out
}

// keyRingReload is how often each replica rereads the signing keys: well
// under jwt.publish_delay, so a new key is known everywhere before it signs.
const keyRingReload = 30 * time.Second

// runKeyRing makes sure a first key exists (retrying while Redis is
// unreachable), then reloads the ring until ctx ends.
func runKeyRing(ctx context.Context, ring *signing.Ring, log *slog.Logger) {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := ring.Ensure(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, signing.ErrSealed) {
			log.Error("JWT signing keys cannot be opened: JWT applications get 503 until jwt.sealing_key_file or jwt.sealing_key holds the key they were sealed with (the same on every replica)", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
	ring.Run(ctx, keyRingReload, func(err error) {
		log.Warn("reloading the JWT signing keys failed; signing with the keys loaded before", "error", err.Error())
	})
}

// clientAuthConfig is the verification of client assertions and
// certificates (server/clientauth) from the client_auth.* and tls.client_*
// settings; the server adds its issuer and endpoints. client_secret_jwt
// secrets open with the signing keys' sealing key (ring nil: none, and the
// method is refused), as the apps service seals them (Ring.SealSecret).
func clientAuthConfig(cfg *Config, ring *signing.Ring) clientauth.Config {
	c := clientauth.Config{
		MaxLifetime:       cfg.ClientAuth.AssertionMaxLifetime,
		AllowPrivateAddrs: cfg.ClientAuth.AllowPrivateJWKSURI,
		FetchTimeout:      cfg.ClientAuth.FetchTimeout,
		ClientCAs:         cfg.clientCAs,
	}
	if ring != nil {
		c.Unseal = ring.OpenSecret
	}
	return c
}
