package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/oauthd/oauthd/cmd/internal/settings"
	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
)

// setting is one configuration key; the tables below are the single
// source for flags, environment variables, defaults, --help and (checked by
// a test) the README's configuration table.
type setting = settings.Setting

func settingSet(list []setting) settings.Set { return settings.Set{EnvPrefix: "OAUTHD", List: list} }

// redisSettings are shared by every command that touches Redis.
func redisSettings() []setting {
	return []setting{
		{Key: "redis.url", Default: "", Usage: "one Redis node's URL (redis:// or rediss://); with no url, sentinel.master or cluster.addrs oauthd runs on an embedded in-memory store that loses everything on exit"},
		{Key: "redis.sentinel.master", Default: "", Usage: "name of the primary the sentinels watch (Redis Sentinel); needs redis.sentinel.addrs"},
		{Key: "redis.sentinel.addrs", Default: "", Usage: "comma-separated host:port of the sentinels"},
		{Key: "redis.sentinel.password", Default: "", Usage: "password of the sentinels themselves (sentinel.conf requirepass), if any"},
		{Key: "redis.cluster.addrs", Default: "", Usage: "comma-separated host:port of some Redis Cluster nodes (the others are discovered)"},
		{Key: "redis.username", Default: "", Usage: "ACL user of the Redis data nodes (overrides the URL's)"},
		{Key: "redis.password", Default: "", Usage: "password of the Redis data nodes (overrides the URL's); prefer redis.password_file"},
		{Key: "redis.password_file", Default: "", Usage: "file holding the Redis password (a mounted secret); one trailing newline is ignored"},
		{Key: "redis.tls.enabled", Default: false, Usage: "connect with TLS (implied by rediss:// and by the TLS files below)"},
		{Key: "redis.tls.ca_file", Default: "", Usage: "PEM file of the CA that signed Redis's certificate (default: the system's)"},
		{Key: "redis.tls.cert_file", Default: "", Usage: "PEM client certificate for Redis (tls-auth-clients); needs redis.tls.key_file"},
		{Key: "redis.tls.key_file", Default: "", Usage: "PEM private key of redis.tls.cert_file"},
		{Key: "redis.prefix", Default: "oauthd", Usage: "prefix of every Redis key, so several deployments can share one Redis"},
		{Key: "log.level", Default: "info", Usage: "log level: debug, info, warn or error"},
		{Key: "log.format", Default: "text", Usage: "log format: text or json"},
	}
}

// logSampleSetting is serve's only: the per-request log line is its
// hottest write.
func logServeSettings() []setting {
	return []setting{
		{Key: "log.sample_ok", Default: 1,
			Usage: "log one in N successful requests (2xx and 3xx); failures are always logged. 1 logs every request"},
		{Key: "log.buffer", Default: 100 * time.Millisecond,
			Usage: "write the lines of requests that went well in batches, at most this long after the request (0s: each at once); failures and events are written at once"},
	}
}

// serveSettings are oauthd serve's.
func serveSettings() []setting {
	return append([]setting{
		{Key: "http.addr", Default: ":8080", Usage: "address the HTTP server listens on"},
		{Key: "issuer", Default: "", Usage: "public base URL of this server, exactly as clients reach it (default http://localhost:<port>)"},
		{Key: "shutdown_timeout", Default: 10 * time.Second, Usage: "how long a shutdown waits for requests in flight"},
		{Key: "service_documentation", Default: "https://github.com/oauthd/oauthd/blob/main/docs/api.md", Usage: "URL of the API documentation, published in the RFC 8414 metadata"},
		{Key: "introspection.inactive_reason", Default: false, Usage: "add inactive_reason (expired or revoked) to inactive introspection answers; see docs/operations.md for the trade-off"},
		{Key: "introspection.tombstone_ttl", Default: time.Hour, Usage: "with inactive_reason: how long revoked and expired tokens are remembered as such"},
		{Key: "admin.addr", Default: "", Usage: "separate address for the admin API (/admin/v1); empty serves it on http.addr"},
		{Key: "admin.key_sha256", Default: "", Usage: "comma-separated SHA-256 hex digests of the admin keys (make one with 'oauthd admin-key'); the keys themselves are never configured"},
		{Key: "admin.max_grace", Default: 7 * 24 * time.Hour, Usage: "longest grace period a secret reset may give the old secret"},
		{Key: "admin.pprof", Default: false, Usage: "serve Go's profiler at /debug/pprof/ on the admin listener (needs admin.addr)"},
		{Key: "dashboard.enabled", Default: true, Usage: "serve the web dashboard at /dashboard/ on the admin listener (on http.addr when admin.addr is empty)"},
		{Key: "dashboard.session_idle", Default: 30 * time.Minute, Usage: "a dashboard session unused this long ends"},
		{Key: "dashboard.session_max", Default: 12 * time.Hour, Usage: "every dashboard session ends this long after sign-in"},
		{Key: "dashboard.secure_cookies", Default: false, Usage: "mark dashboard cookies Secure even on plain HTTP (TLS terminated by a proxy in front); they always are over TLS"},
		{Key: "health.timeout", Default: time.Second, Usage: "how long /health/ready waits for Redis before answering 503"},
	}, append(logServeSettings(), redisSettings()...)...)
}

// Config is oauthd's configuration after decoding and validation.
type Config struct {
	HTTP struct {
		Addr string `mapstructure:"addr"`
	} `mapstructure:"http"`
	Issuer   string `mapstructure:"issuer"`
	Endpoint string `mapstructure:"endpoint"`
	Redis    struct {
		URL      string `mapstructure:"url"`
		Prefix   string `mapstructure:"prefix"`
		Sentinel struct {
			Master   string `mapstructure:"master"`
			Addrs    string `mapstructure:"addrs"`
			Password string `mapstructure:"password"`
		} `mapstructure:"sentinel"`
		Cluster struct {
			Addrs string `mapstructure:"addrs"`
		} `mapstructure:"cluster"`
		Username     string `mapstructure:"username"`
		Password     string `mapstructure:"password"`
		PasswordFile string `mapstructure:"password_file"`
		TLS          struct {
			Enabled  bool   `mapstructure:"enabled"`
			CAFile   string `mapstructure:"ca_file"`
			CertFile string `mapstructure:"cert_file"`
			KeyFile  string `mapstructure:"key_file"`
		} `mapstructure:"tls"`
	} `mapstructure:"redis"`
	Log struct {
		Level    string        `mapstructure:"level"`
		Format   string        `mapstructure:"format"`
		SampleOK int           `mapstructure:"sample_ok"`
		Buffer   time.Duration `mapstructure:"buffer"`
	} `mapstructure:"log"`
	ShutdownTimeout      time.Duration `mapstructure:"shutdown_timeout"`
	ServiceDocumentation string        `mapstructure:"service_documentation"`
	Admin                struct {
		Addr      string        `mapstructure:"addr"`
		KeySHA256 string        `mapstructure:"key_sha256"`
		MaxGrace  time.Duration `mapstructure:"max_grace"`
		Pprof     bool          `mapstructure:"pprof"`
	} `mapstructure:"admin"`
	Health struct {
		Timeout time.Duration `mapstructure:"timeout"`
	} `mapstructure:"health"`
	Dashboard struct {
		Enabled       bool          `mapstructure:"enabled"`
		SessionIdle   time.Duration `mapstructure:"session_idle"`
		SessionMax    time.Duration `mapstructure:"session_max"`
		SecureCookies bool          `mapstructure:"secure_cookies"`
	} `mapstructure:"dashboard"`
	Introspection struct {
		InactiveReason bool          `mapstructure:"inactive_reason"`
		TombstoneTTL   time.Duration `mapstructure:"tombstone_ttl"`
	} `mapstructure:"introspection"`
	// Scopes is the catalogue; only a config file can set it (a list of
	// {name, description}). Empty means the built-in SMS catalogue.
	Scopes []scopes.Scope `mapstructure:"scopes"`

	catalogue *scopes.Catalogue
	logLevel  slog.Level
	adminKeys []store.Digest
	// redis is how to reach Redis, assembled from the redis.* keys; all
	// its topology fields empty means the embedded store.
	redis redis.ClientConfig
}

// embeddedRedis reports whether no Redis is configured.
func (c *Config) embeddedRedis() bool {
	return c.redis.URL == "" && c.redis.SentinelMaster == "" && len(c.redis.ClusterAddrs) == 0
}

// addFlags registers one flag per setting.
func addFlags(fs *pflag.FlagSet, list []setting) { settingSet(list).AddFlags(fs) }

// loadConfig merges flags over environment over file over defaults and
// validates the result. getenv is the environment (os.Getenv in main, a
// map in tests).
func loadConfig(fs *pflag.FlagSet, list []setting, getenv func(string) string) (*Config, error) {
	var c Config
	if err := settingSet(list).Load(fs, getenv, &c); err != nil {
		return nil, err
	}
	if err := c.validate(list); err != nil {
		return nil, err
	}
	return &c, nil
}

// validate checks the command's keys (and the file-only scope catalogue)
// and names the first bad one with what to do.
func (c *Config) validate(list []setting) error {
	checks := []struct {
		key   string
		check func() error
	}{
		{"http.addr", func() error {
			_, port, err := net.SplitHostPort(c.HTTP.Addr)
			if err != nil || port == "" {
				return fmt.Errorf("%q is not host:port, e.g. :8080 or 127.0.0.1:8080", c.HTTP.Addr)
			}
			return nil
		}},
		{"issuer", func() error {
			if c.Issuer == "" {
				return nil // derived from the listener at start
			}
			return checkIssuer(c.Issuer)
		}},
		{"endpoint", func() error {
			if c.Endpoint == "" {
				return nil
			}
			if u, err := url.Parse(c.Endpoint); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
				return fmt.Errorf("%q is not oauthd's base URL, e.g. http://localhost:8080", c.Endpoint)
			}
			return nil
		}},
		{"redis.url", func() error {
			if c.Redis.URL == "" {
				return nil
			}
			u, err := url.Parse(c.Redis.URL)
			if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
				return errors.New("use redis://[user:password@]host:port[/db] or rediss:// for TLS")
			}
			if c.Redis.Sentinel.Master != "" || c.Redis.Cluster.Addrs != "" {
				return errors.New("give one of redis.url, redis.sentinel.master or redis.cluster.addrs")
			}
			c.redis.URL = c.Redis.URL
			return nil
		}},
		{"redis.sentinel.master", func() error {
			if c.Redis.Sentinel.Master == "" {
				return nil
			}
			if c.Redis.Cluster.Addrs != "" {
				return errors.New("give one of redis.sentinel.master or redis.cluster.addrs")
			}
			c.redis.SentinelMaster = c.Redis.Sentinel.Master
			c.redis.SentinelPassword = c.Redis.Sentinel.Password
			return nil
		}},
		{"redis.sentinel.addrs", func() error {
			var err error
			c.redis.SentinelAddrs, err = addrList(c.Redis.Sentinel.Addrs)
			switch {
			case err != nil:
				return err
			case c.Redis.Sentinel.Master != "" && len(c.redis.SentinelAddrs) == 0:
				return errors.New("redis.sentinel.master needs the sentinels' addresses, e.g. s1:26379,s2:26379,s3:26379")
			case c.Redis.Sentinel.Master == "" && len(c.redis.SentinelAddrs) > 0:
				return errors.New("set redis.sentinel.master too: the name of the primary the sentinels watch")
			}
			return nil
		}},
		{"redis.cluster.addrs", func() error {
			var err error
			c.redis.ClusterAddrs, err = addrList(c.Redis.Cluster.Addrs)
			return err
		}},
		{"redis.username", func() error {
			c.redis.Username = c.Redis.Username
			return nil
		}},
		{"redis.password", func() error {
			if c.Redis.Password == "" {
				return nil
			}
			if u, err := url.Parse(c.Redis.URL); err == nil && u.User != nil {
				if _, set := u.User.Password(); set {
					return errors.New("the password is in redis.url too: keep one")
				}
			}
			c.redis.Password = c.Redis.Password
			return nil
		}},
		{"redis.password_file", func() error {
			if c.Redis.PasswordFile == "" {
				return nil
			}
			if c.Redis.Password != "" {
				return errors.New("redis.password is set too: keep one")
			}
			b, err := os.ReadFile(c.Redis.PasswordFile)
			if err != nil {
				return err
			}
			p := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
			if p == "" {
				return fmt.Errorf("%s is empty", c.Redis.PasswordFile)
			}
			c.redis.Password = p
			return nil
		}},
		{"redis.tls.ca_file", func() error {
			r := c.Redis.TLS
			if !r.Enabled && r.CAFile == "" && r.CertFile == "" && r.KeyFile == "" {
				return nil
			}
			c.redis.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
			if r.CAFile == "" {
				return nil
			}
			pem, err := os.ReadFile(r.CAFile)
			if err != nil {
				return err
			}
			c.redis.TLS.RootCAs = x509.NewCertPool()
			if !c.redis.TLS.RootCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("%s holds no PEM certificate", r.CAFile)
			}
			return nil
		}},
		{"redis.tls.cert_file", func() error {
			r := c.Redis.TLS
			if r.CertFile == "" && r.KeyFile == "" {
				return nil
			}
			if r.CertFile == "" || r.KeyFile == "" {
				return errors.New("a client certificate needs both redis.tls.cert_file and redis.tls.key_file")
			}
			cert, err := tls.LoadX509KeyPair(r.CertFile, r.KeyFile)
			if err != nil {
				return err
			}
			c.redis.TLS.Certificates = []tls.Certificate{cert}
			return nil
		}},
		{"redis.prefix", func() error {
			if c.Redis.Prefix == "" || strings.ContainsAny(c.Redis.Prefix, "{} \t\r\n*?[]") {
				return fmt.Errorf("%q: use a non-empty prefix without spaces, braces or glob characters", c.Redis.Prefix)
			}
			return nil
		}},
		{"log.level", func() error {
			return c.logLevel.UnmarshalText([]byte(c.Log.Level))
		}},
		{"log.sample_ok", func() error {
			if c.Log.SampleOK < 1 {
				return fmt.Errorf("%d: use 1 to log every request, or N to log one in N successful ones", c.Log.SampleOK)
			}
			return nil
		}},
		{"log.buffer", func() error {
			if c.Log.Buffer < 0 || c.Log.Buffer > 10*time.Second {
				return fmt.Errorf("%v: use between 0s (no batching) and 10s", c.Log.Buffer)
			}
			return nil
		}},
		{"log.format", func() error {
			if c.Log.Format != "text" && c.Log.Format != "json" {
				return fmt.Errorf("%q: use text or json", c.Log.Format)
			}
			return nil
		}},
		{"shutdown_timeout", func() error {
			if c.ShutdownTimeout <= 0 {
				return errors.New("must be positive, e.g. 10s")
			}
			return nil
		}},
		{"service_documentation", func() error {
			if c.ServiceDocumentation == "" {
				return nil
			}
			if u, err := url.Parse(c.ServiceDocumentation); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
				return fmt.Errorf("%q is not an absolute http(s) URL", c.ServiceDocumentation)
			}
			return nil
		}},
		{"introspection.tombstone_ttl", func() error {
			if c.Introspection.TombstoneTTL < time.Second || c.Introspection.TombstoneTTL > 30*24*time.Hour {
				return fmt.Errorf("%v: use between 1s and 720h", c.Introspection.TombstoneTTL)
			}
			return nil
		}},
		{"admin.addr", func() error {
			if c.Admin.Addr == "" {
				return nil
			}
			if _, port, err := net.SplitHostPort(c.Admin.Addr); err != nil || port == "" {
				return fmt.Errorf("%q is not host:port, e.g. 127.0.0.1:9090", c.Admin.Addr)
			}
			return nil
		}},
		{"admin.key_sha256", func() error {
			for _, h := range strings.Split(c.Admin.KeySHA256, ",") {
				if h = strings.TrimSpace(h); h == "" {
					continue
				}
				var d store.Digest
				if n, err := hex.Decode(d[:], []byte(h)); err != nil || n != len(d) || len(h) != 2*len(d) {
					return fmt.Errorf("%q is not a SHA-256 hex digest (64 hex characters); 'oauthd admin-key' prints one", truncate(h))
				}
				c.adminKeys = append(c.adminKeys, d)
			}
			return nil
		}},
		{"admin.pprof", func() error {
			if c.Admin.Pprof && c.Admin.Addr == "" {
				return errors.New("the profiler is served only on a separate admin listener: set admin.addr too")
			}
			return nil
		}},
		{"health.timeout", func() error {
			if c.Health.Timeout < 10*time.Millisecond || c.Health.Timeout > time.Minute {
				return fmt.Errorf("%v: use between 10ms and 1m, shorter than the probe's own timeout", c.Health.Timeout)
			}
			return nil
		}},
		{"dashboard.session_idle", func() error {
			if c.Dashboard.SessionIdle < time.Minute || c.Dashboard.SessionIdle > 24*time.Hour {
				return fmt.Errorf("%v: use between 1m and 24h", c.Dashboard.SessionIdle)
			}
			return nil
		}},
		{"dashboard.session_max", func() error {
			if c.Dashboard.SessionMax < c.Dashboard.SessionIdle || c.Dashboard.SessionMax > 7*24*time.Hour {
				return fmt.Errorf("%v: use between dashboard.session_idle (%v) and 168h", c.Dashboard.SessionMax, c.Dashboard.SessionIdle)
			}
			return nil
		}},
		{"admin.max_grace", func() error {
			if c.Admin.MaxGrace <= 0 || c.Admin.MaxGrace > 90*24*time.Hour {
				return errors.New("use a duration between 1s and 2160h")
			}
			return nil
		}},
		{"scopes", func() error {
			list := c.Scopes
			if len(list) == 0 {
				list = scopes.DefaultScopes()
			}
			var err error
			c.catalogue, err = scopes.NewCatalogue(list)
			return err
		}},
	}
	for _, ch := range checks {
		if ch.key != "scopes" && !settingSet(list).Has(ch.key) {
			continue
		}
		if err := ch.check(); err != nil {
			return fmt.Errorf("config %s: %w", ch.key, err)
		}
	}
	return nil
}

// addrList splits a comma-separated list of host:port (the form the
// environment variables take).
func addrList(s string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if host, port, err := net.SplitHostPort(a); err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("%q is not host:port", a)
		}
		out = append(out, a)
	}
	return out, nil
}

func truncate(s string) string {
	if len(s) > 16 {
		return s[:16] + "..."
	}
	return s
}

// checkIssuer applies RFC 8414 §2: an https URL (http allowed for local
// use) with no query or fragment. A trailing slash is refused because the
// issuer must match, byte for byte, what clients compare it with.
func checkIssuer(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return fmt.Errorf("%q is not an absolute http(s) URL such as https://auth.example.com", s)
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#"):
		return fmt.Errorf("%q: an issuer has no query or fragment (RFC 8414 §2)", s)
	case strings.HasSuffix(s, "/"):
		return fmt.Errorf("%q: drop the trailing slash; clients compare the issuer byte for byte", s)
	case u.User != nil:
		return fmt.Errorf("%q: an issuer holds no user or password", s)
	}
	return nil
}
