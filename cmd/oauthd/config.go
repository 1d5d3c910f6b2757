package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/oauthd/oauthd/cmd/internal/settings"
	"github.com/oauthd/oauthd/cmd/internal/tlsreload"
	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/signing"
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
		{Key: "http.addr", Default: "", Usage: "address the HTTP server listens on (default :8080; 127.0.0.1:8080 on the embedded store, whose demo prints a live admin key: give :8080 to open it to other machines)"},
		{Key: "http.trusted_proxies", Default: "", Usage: "comma-separated CIDRs of the reverse proxies in front of oauthd; only from these are Forwarded / X-Forwarded-For believed (rightmost untrusted hop)"},
		{Key: "http.read_header_timeout", Default: 5 * time.Second, Usage: "how long a client may take to send a request's headers (slow-loris guard)"},
		{Key: "http.read_timeout", Default: 10 * time.Second, Usage: "how long a client may take to send a whole request, headers and body"},
		{Key: "http.write_timeout", Default: 15 * time.Second, Usage: "how long answering a request may take, from the end of its headers"},
		{Key: "http.idle_timeout", Default: 2 * time.Minute, Usage: "how long an idle keep-alive connection stays open"},
		{Key: "http.max_header_bytes", Default: 32 << 10, Usage: "largest request header block in bytes; larger requests get 431"},
		{Key: "tls.cert_file", Default: "", Usage: "PEM certificate (with its chain) to serve HTTPS on both listeners; needs tls.key_file. Reloaded when the file changes and on SIGHUP"},
		{Key: "tls.key_file", Default: "", Usage: "PEM private key of tls.cert_file"},
		{Key: "tls.client_ca_file", Default: "", Usage: "PEM bundle of the CAs whose client certificates tls_client_auth applications may present (their subject DN or SAN is matched too); without it tls_client_auth is refused. http.addr's TLS listener asks every client for a certificate and requires none"},
		{Key: "tls.client_cert_header", Default: "", Usage: "header a TLS-terminating proxy puts the client certificate in, as URL-escaped PEM (nginx: proxy_set_header X-Client-Cert $ssl_client_escaped_cert), for the mTLS client authentication methods; believed only from http.trusted_proxies"},
		{Key: "client_auth.assertion_max_lifetime", Default: 5 * time.Minute, Usage: "longest lifetime (exp - iat) of a client assertion (private_key_jwt, client_secret_jwt); each is accepted once, remembered in Redis until it expires"},
		{Key: "client_auth.allow_private_jwks_uri", Default: false, Usage: "let applications' jwks_uri and trusted issuers resolve to private, loopback and link-local addresses (an in-cluster Kubernetes issuer); off, such fetches are refused (SSRF guard)"},
		{Key: "client_auth.fetch_timeout", Default: 5 * time.Second, Usage: "how long fetching an application's jwks_uri or a trusted issuer's discovery document and keys may take"},
		{Key: "client_auth.mtls_base_url", Default: "", Usage: "base URL where oauthd's endpoints are also served with mutual TLS (a proxy that asks for client certificates), published as the metadata's mtls_endpoint_aliases (RFC 8705 §5)"},
		{Key: "issuer", Default: "", Usage: "public base URL of this server, exactly as clients reach it (default http://<http.addr's host>:<port>, localhost when it names every interface; https:// with TLS)"},
		{Key: "shutdown_timeout", Default: 10 * time.Second, Usage: "how long a shutdown waits for requests in flight"},
		{Key: "service_documentation", Default: "https://github.com/oauthd/oauthd/blob/main/docs/api.md", Usage: "URL of the API documentation, published in the RFC 8414 metadata"},
		{Key: "introspection.inactive_reason", Default: false, Usage: "add inactive_reason (expired or revoked) to inactive introspection answers; see docs/operations.md for the trade-off"},
		{Key: "introspection.missing_client_ip", Default: "inactive", Usage: "what introspection answers for a token of an IP-allowlisted application when the resource server sends no client_ip: inactive or active"},
		{Key: "introspection.tombstone_ttl", Default: time.Hour, Usage: "with inactive_reason: how long revoked and expired tokens are remembered as such"},
		{Key: "admin.addr", Default: "", Usage: "separate address for the admin API (/admin/v1); empty serves it on http.addr"},
		{Key: "admin.key_sha256", Default: "", Usage: "comma-separated SHA-256 hex digests of the admin keys (make one with 'oauthd admin-key'); the keys themselves are never configured"},
		{Key: "admin.max_grace", Default: 7 * 24 * time.Hour, Usage: "longest grace period a secret reset may give the old secret"},
		{Key: "admin.pprof", Default: false, Usage: "serve Go's profiler at /debug/pprof/ on the admin listener (needs admin.addr)"},
		{Key: "limits.client_failures", Default: "10/1m", Usage: "failed client authentications allowed per (client_id, source address) before that pair is locked out: N/duration, 0 for no limit"},
		{Key: "limits.address_failures", Default: "100/1m", Usage: "failed authentications allowed per source address, whatever client_id they name, before the address's failures are locked out: N/duration, 0 for no limit"},
		{Key: "limits.client_ceiling", Default: "300/1h", Usage: "failed authentications allowed per client_id from all addresses together before that client is locked out from every address outside its IP allowlist (a siege; guessing from many addresses): N/duration, 0 for no ceiling. An attacker with many addresses who knows a client_id can then keep it from new tokens while the attack lasts"},
		{Key: "limits.ipv6_prefix", Default: 64, Usage: "an IPv6 address is counted by its network of this many leading bits (IPv4 addresses one by one): a host holding a /64 gets one budget, not one per address. 128 counts each address"},
		{Key: "limits.lockout", Default: time.Minute, Usage: "the first lock-out; each further one within a day doubles it"},
		{Key: "limits.max_lockout", Default: time.Hour, Usage: "the longest lock-out"},
		{Key: "limits.issue", Default: "3600/1h", Usage: "tokens each application may get: N/duration, 0 for no quota; a daemon past it is told to cache its token. An application may have its own (token_quota)"},
		{Key: "limits.introspect", Default: "5000/1s", Usage: "introspection requests each resource server may make: N/duration, 0 for no limit; an application may have its own (introspection_quota)"},
		{Key: "limits.quota_mode", Default: "enforce", Usage: "what a spent quota does to applications without a mode of their own (quota_mode): enforce (429 slow_down) or monitor (let through, counted in oauthd_quota_monitored_total and logged as token.quota_exceeded with monitor=true)"},
		{Key: "audit.max_events", Default: 100000, Usage: "how many changes by authenticated actors the audit log keeps (approximately; the oldest go first)"},
		{Key: "audit.max_security_events", Default: 20000, Usage: "how many security events (failed authentications, lock-outs, spent quotas) the audit log keeps, apart from the changes"},
		{Key: "audit.security_every", Default: time.Minute, Usage: "security events are aggregated: at most one per kind and source (application and network, or network alone) per this period, with a count"},
		{Key: "feed.enabled", Default: true, Usage: "serve the revocation feed (Server-Sent Events of revocations and application changes) at /oauth/revocation-feed to resource servers holding tokens:introspect"},
		{Key: "feed.max_events", Default: 100000, Usage: "how many events the revocation feed's Redis stream keeps (approximately): a resource server away for longer than they cover drops its cache when it reconnects"},
		{Key: "feed.heartbeat", Default: 5 * time.Second, Usage: "how often an idle revocation feed connection carries a heartbeat comment, so both ends notice a dead connection"},
		{Key: "feed.buffer", Default: 1024, Usage: "how many events a feed subscriber may be behind before it is disconnected (it reconnects and resumes from Redis)"},
		{Key: "feed.max_subscribers", Default: 1000, Usage: "how many revocation feed connections one replica serves (each costs about 170 KB); past it a new one gets 503 with Retry-After"},
		{Key: "feed.max_subscribers_per_client", Default: 16, Usage: "how many revocation feed connections one resource server credential may hold on one replica; past it a new one gets 429 with Retry-After"},
		{Key: "dashboard.enabled", Default: true, Usage: "serve the web dashboard at /dashboard/ on the admin listener (on http.addr when admin.addr is empty)"},
		{Key: "dashboard.session_idle", Default: 30 * time.Minute, Usage: "a dashboard session unused this long ends"},
		{Key: "dashboard.session_max", Default: 12 * time.Hour, Usage: "every dashboard session ends this long after sign-in"},
		{Key: "dashboard.secure_cookies", Default: false, Usage: "mark dashboard cookies Secure even on plain HTTP (TLS terminated by a proxy in front); they always are over TLS"},
		{Key: "health.timeout", Default: time.Second, Usage: "how long /health/ready waits for Redis before answering 503"},
		{Key: "redis.autopipeline", Default: true, Usage: "send the token paths' Redis commands (issuing a token, looking one up) of concurrent requests together, one pipeline a round trip (go-redis's autopipelining): under load fewer system calls and Redis reads per request; off while tracing is on, so each request's Redis commands show under its span"},
		{Key: "redis.app_cache_size", Default: redis.DefaultAppCacheSize, Usage: "applications each replica keeps decoded in memory, least recently used out (about half a kilobyte each); one not held costs no extra Redis round trip, only CPU (the token script reads it)"},
	}, append(logServeSettings(), append(jwtSettings(), append(bindingSettings(), redisSettings()...)...)...)...)
}

// jwtSettings are the JWT signing keys', for serve and for 'oauthd keys'.
func jwtSettings() []setting {
	return []setting{
		{Key: "jwt.algorithm", Default: "EdDSA", Usage: "the algorithm of new JWT signing keys: EdDSA (Ed25519), ES256 or RS256"},
		{Key: "jwt.sealing_key_file", Default: "", Usage: "file holding the 32-byte key (raw, base64 or hex) that seals the JWT signing keys in Redis, such as a mounted Kubernetes Secret; or set jwt.sealing_key. With neither, serve signs no JWTs (on the embedded store it makes a key in memory)"},
		{Key: "jwt.sealing_key", Default: "", Usage: "the sealing key itself, 32 bytes as base64 or hex, for the environment (OAUTHD_JWT_SEALING_KEY from a secret store; a flag would show it in the process list); not with jwt.sealing_key_file"},
		{Key: "jwt.insecure_sealing_key_in_redis", Default: false, Usage: "INSECURE: keep the sealing key in Redis beside the keys it seals, as earlier versions did: whoever reads Redis (a replica, a backup) can forge JWTs. Warned about on every start; move off it with 'oauthd keys reseal'"},
		{Key: "jwt.publish_delay", Default: 10 * time.Minute, Usage: "how long a new signing key is published before it signs (longer than verifiers cache the JWKS: 5m)"},
	}
}

// Config is oauthd's configuration after decoding and validation.
type Config struct {
	HTTP struct {
		TrustedProxies    string        `mapstructure:"trusted_proxies"`
		Addr              string        `mapstructure:"addr"`
		ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"`
		ReadTimeout       time.Duration `mapstructure:"read_timeout"`
		WriteTimeout      time.Duration `mapstructure:"write_timeout"`
		IdleTimeout       time.Duration `mapstructure:"idle_timeout"`
		MaxHeaderBytes    int           `mapstructure:"max_header_bytes"`
	} `mapstructure:"http"`
	TLS struct {
		CertFile         string `mapstructure:"cert_file"`
		KeyFile          string `mapstructure:"key_file"`
		ClientCAFile     string `mapstructure:"client_ca_file"`
		ClientCertHeader string `mapstructure:"client_cert_header"`
	} `mapstructure:"tls"`
	ClientAuth struct {
		AssertionMaxLifetime time.Duration `mapstructure:"assertion_max_lifetime"`
		AllowPrivateJWKSURI  bool          `mapstructure:"allow_private_jwks_uri"`
		FetchTimeout         time.Duration `mapstructure:"fetch_timeout"`
		MTLSBaseURL          string        `mapstructure:"mtls_base_url"`
	} `mapstructure:"client_auth"`
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
		AppCacheSize int  `mapstructure:"app_cache_size"`
		AutoPipeline bool `mapstructure:"autopipeline"`
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
	Limits struct {
		ClientFailures  string        `mapstructure:"client_failures"`
		AddressFailures string        `mapstructure:"address_failures"`
		ClientCeiling   string        `mapstructure:"client_ceiling"`
		IPv6Prefix      int           `mapstructure:"ipv6_prefix"`
		Lockout         time.Duration `mapstructure:"lockout"`
		MaxLockout      time.Duration `mapstructure:"max_lockout"`
		Issue           string        `mapstructure:"issue"`
		Introspect      string        `mapstructure:"introspect"`
		QuotaMode       string        `mapstructure:"quota_mode"`
	} `mapstructure:"limits"`
	Audit struct {
		MaxEvents         int64         `mapstructure:"max_events"`
		MaxSecurityEvents int64         `mapstructure:"max_security_events"`
		SecurityEvery     time.Duration `mapstructure:"security_every"`
	} `mapstructure:"audit"`
	JWT struct {
		Algorithm                 string        `mapstructure:"algorithm"`
		SealingKeyFile            string        `mapstructure:"sealing_key_file"`
		SealingKey                string        `mapstructure:"sealing_key"`
		InsecureSealingKeyInRedis bool          `mapstructure:"insecure_sealing_key_in_redis"`
		PublishDelay              time.Duration `mapstructure:"publish_delay"`
	} `mapstructure:"jwt"`
	Feed struct {
		Enabled   bool          `mapstructure:"enabled"`
		MaxEvents int64         `mapstructure:"max_events"`
		Heartbeat time.Duration `mapstructure:"heartbeat"`
		Buffer    int           `mapstructure:"buffer"`
		// MaxSubscribers and MaxPerClient cap the feed's connections.
		MaxSubscribers int `mapstructure:"max_subscribers"`
		MaxPerClient   int `mapstructure:"max_subscribers_per_client"`
	} `mapstructure:"feed"`
	Dashboard struct {
		Enabled       bool          `mapstructure:"enabled"`
		SessionIdle   time.Duration `mapstructure:"session_idle"`
		SessionMax    time.Duration `mapstructure:"session_max"`
		SecureCookies bool          `mapstructure:"secure_cookies"`
	} `mapstructure:"dashboard"`
	Introspection struct {
		InactiveReason  bool          `mapstructure:"inactive_reason"`
		TombstoneTTL    time.Duration `mapstructure:"tombstone_ttl"`
		MissingClientIP string        `mapstructure:"missing_client_ip"`
	} `mapstructure:"introspection"`
	// Scopes seeds the scope catalogue: stored in Redis when it holds
	// none; the catalogue in force is Redis's, which 'oauthd scopes
	// import' replaces with this one. Only a config file can set it (a
	// list of {name, description}). Empty means the built-in SMS
	// catalogue.
	Scopes []scopes.Scope `mapstructure:"scopes"`
	// Binding is the dpop.* and fapi.* keys (binding.go).
	Binding bindingConfig `mapstructure:",squash"`

	// file is the configuration file read, "" for none.
	file           string
	trustedProxies []netip.Prefix
	sealingKey     []byte // from jwt.sealing_key_file or jwt.sealing_key; nil: none
	// clientCAs verify tls_client_auth certificates (tls.client_ca_file).
	clientCAs *x509.CertPool
	limits    redis.LimitsConfig
	catalogue *scopes.Catalogue // the seed: Scopes, or the built-in catalogue
	// tls serves the tls.* pair, loaded once at validation; nil is plain
	// HTTP.
	tls       *tlsreload.Reloader
	logLevel  slog.Level
	adminKeys []store.Digest
	// redis is how to reach Redis, assembled from the redis.* keys; all
	// its topology fields empty means the embedded store.
	redis redis.ClientConfig
}

// defaultHTTPAddr is http.addr when none is given: every interface, but on
// the embedded store this machine only, since its demo prints a live
// admin key and a demo application's secret (make run).
func defaultHTTPAddr(embedded bool) string {
	if embedded {
		return "127.0.0.1:8080"
	}
	return ":8080"
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
	c.file = settingSet(list).File(fs, getenv)
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
			if c.HTTP.Addr == "" {
				c.HTTP.Addr = defaultHTTPAddr(c.Redis.URL == "" && c.Redis.Sentinel.Master == "" && c.Redis.Cluster.Addrs == "")
			}
			_, port, err := net.SplitHostPort(c.HTTP.Addr)
			if err != nil || port == "" {
				return fmt.Errorf("%q is not host:port, e.g. :8080 or 127.0.0.1:8080", c.HTTP.Addr)
			}
			return nil
		}},
		{"http.read_header_timeout", func() error {
			return checkTimeout(c.HTTP.ReadHeaderTimeout, time.Minute)
		}},
		{"http.read_timeout", func() error {
			if err := checkTimeout(c.HTTP.ReadTimeout, 10*time.Minute); err != nil {
				return err
			}
			if c.HTTP.ReadTimeout < c.HTTP.ReadHeaderTimeout {
				return fmt.Errorf("%v is shorter than http.read_header_timeout (%v): it covers the headers too", dur(c.HTTP.ReadTimeout), dur(c.HTTP.ReadHeaderTimeout))
			}
			return nil
		}},
		{"http.write_timeout", func() error {
			return checkTimeout(c.HTTP.WriteTimeout, 10*time.Minute)
		}},
		{"http.idle_timeout", func() error {
			return checkTimeout(c.HTTP.IdleTimeout, time.Hour)
		}},
		{"http.max_header_bytes", func() error {
			if c.HTTP.MaxHeaderBytes < 4<<10 || c.HTTP.MaxHeaderBytes > 1<<20 {
				return fmt.Errorf("%d: use between 4096 and 1048576 bytes", c.HTTP.MaxHeaderBytes)
			}
			return nil
		}},
		{"tls.cert_file", func() error {
			t := c.TLS
			switch {
			case t.CertFile == "" && t.KeyFile == "":
				return nil
			case t.CertFile == "":
				return errors.New("tls.key_file is set but not tls.cert_file: HTTPS needs both (or neither, for plain HTTP)")
			case t.KeyFile == "":
				return errors.New("set tls.key_file too: HTTPS needs the certificate's private key")
			}
			var err error
			c.tls, err = tlsreload.New(t.CertFile, t.KeyFile)
			return err
		}},
		{"tls.client_ca_file", func() error {
			if c.TLS.ClientCAFile == "" {
				return nil
			}
			pem, err := os.ReadFile(c.TLS.ClientCAFile)
			if err != nil {
				return err
			}
			c.clientCAs = x509.NewCertPool()
			if !c.clientCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("%s holds no PEM certificate: give the CA bundle that signs the clients' certificates", c.TLS.ClientCAFile)
			}
			return nil
		}},
		{"tls.client_cert_header", func() error {
			h := c.TLS.ClientCertHeader
			if h == "" {
				return nil
			}
			if strings.IndexFunc(h, func(r rune) bool {
				return !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
			}) >= 0 {
				return fmt.Errorf("%q is not a header name, e.g. X-Client-Cert", h)
			}
			if c.HTTP.TrustedProxies == "" {
				return errors.New("set http.trusted_proxies too: the header is believed only from the proxies named there, and with none it would never be")
			}
			return nil
		}},
		{"client_auth.assertion_max_lifetime", func() error {
			if d := c.ClientAuth.AssertionMaxLifetime; d < 10*time.Second || d > time.Hour {
				return fmt.Errorf("%v: use between 10s and 1h; a client makes a fresh assertion for each request, so minutes are plenty", dur(d))
			}
			return nil
		}},
		{"client_auth.fetch_timeout", func() error {
			if d := c.ClientAuth.FetchTimeout; d < 100*time.Millisecond || d > time.Minute {
				return fmt.Errorf("%v: use between 100ms and 1m (a token request waits for the fetch)", dur(d))
			}
			return nil
		}},
		{"client_auth.mtls_base_url", func() error {
			if c.ClientAuth.MTLSBaseURL == "" {
				return nil
			}
			if err := checkIssuer(c.ClientAuth.MTLSBaseURL); err != nil {
				return err
			}
			if !strings.HasPrefix(c.ClientAuth.MTLSBaseURL, "https://") {
				return fmt.Errorf("%q: mutual TLS is served over https", c.ClientAuth.MTLSBaseURL)
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
				return fmt.Errorf("%v: use between 0s (no batching) and 10s", dur(c.Log.Buffer))
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
		{"http.trusted_proxies", func() error {
			var err error
			c.trustedProxies, err = apps.ParseAllowlist([]string{c.HTTP.TrustedProxies})
			return err
		}},
		{"limits.client_failures", rateCheck(c.Limits.ClientFailures, &c.limits.ClientFailures)},
		{"limits.address_failures", rateCheck(c.Limits.AddressFailures, &c.limits.AddrFailures)},
		{"limits.client_ceiling", rateCheck(c.Limits.ClientCeiling, &c.limits.ClientCeiling)},
		{"limits.ipv6_prefix", func() error {
			if c.Limits.IPv6Prefix < 32 || c.Limits.IPv6Prefix > 128 {
				return fmt.Errorf("%d: use between 32 and 128 (64 counts each /64 as one source)", c.Limits.IPv6Prefix)
			}
			c.limits.IPv6Prefix = c.Limits.IPv6Prefix
			return nil
		}},
		{"limits.issue", rateCheck(c.Limits.Issue, &c.limits.Issue)},
		{"limits.introspect", rateCheck(c.Limits.Introspect, &c.limits.Introspect)},
		{"limits.quota_mode", func() error {
			switch c.Limits.QuotaMode {
			case store.QuotaEnforce, store.QuotaMonitor:
				c.limits.Monitor = c.Limits.QuotaMode == store.QuotaMonitor
				return nil
			}
			return fmt.Errorf("%q: use enforce or monitor", c.Limits.QuotaMode)
		}},
		{"limits.lockout", func() error {
			if c.Limits.Lockout < time.Second || c.Limits.Lockout > 24*time.Hour {
				return fmt.Errorf("%v: use between 1s and 24h", dur(c.Limits.Lockout))
			}
			c.limits.Lockout = c.Limits.Lockout
			return nil
		}},
		{"limits.max_lockout", func() error {
			if c.Limits.MaxLockout < c.Limits.Lockout || c.Limits.MaxLockout > 7*24*time.Hour {
				return fmt.Errorf("%v: use between limits.lockout (%v) and 168h", dur(c.Limits.MaxLockout), dur(c.Limits.Lockout))
			}
			c.limits.MaxLockout = c.Limits.MaxLockout
			return nil
		}},
		{"audit.max_events", func() error {
			if c.Audit.MaxEvents < 1000 {
				return fmt.Errorf("%d: keep at least 1000", c.Audit.MaxEvents)
			}
			return nil
		}},
		{"redis.app_cache_size", func() error {
			if c.Redis.AppCacheSize < 1 || c.Redis.AppCacheSize > 10_000_000 {
				return fmt.Errorf("%d: use between 1 and 10000000", c.Redis.AppCacheSize)
			}
			return nil
		}},
		{"feed.max_events", func() error {
			if c.Feed.MaxEvents < 1000 {
				return fmt.Errorf("%d: keep at least 1000", c.Feed.MaxEvents)
			}
			return nil
		}},
		{"feed.heartbeat", func() error {
			if c.Feed.Heartbeat < 100*time.Millisecond || c.Feed.Heartbeat > time.Minute {
				return fmt.Errorf("%v: use between 100ms and 1m", dur(c.Feed.Heartbeat))
			}
			return nil
		}},
		{"feed.max_subscribers", func() error {
			if c.Feed.MaxSubscribers < 1 || c.Feed.MaxSubscribers > 1_000_000 {
				return fmt.Errorf("%d: use between 1 and 1000000", c.Feed.MaxSubscribers)
			}
			return nil
		}},
		{"feed.max_subscribers_per_client", func() error {
			if c.Feed.MaxPerClient < 1 || c.Feed.MaxPerClient > c.Feed.MaxSubscribers {
				return fmt.Errorf("%d: use between 1 and feed.max_subscribers (%d)", c.Feed.MaxPerClient, c.Feed.MaxSubscribers)
			}
			return nil
		}},
		{"feed.buffer", func() error {
			if c.Feed.Buffer < 16 || c.Feed.Buffer > 1<<20 {
				return fmt.Errorf("%d: use between 16 and 1048576", c.Feed.Buffer)
			}
			return nil
		}},
		{"audit.max_security_events", func() error {
			if c.Audit.MaxSecurityEvents < 100 {
				return fmt.Errorf("%d: keep at least 100", c.Audit.MaxSecurityEvents)
			}
			return nil
		}},
		{"audit.security_every", func() error {
			if c.Audit.SecurityEvery < time.Second || c.Audit.SecurityEvery > time.Hour {
				return fmt.Errorf("%v: use between 1s and 1h", dur(c.Audit.SecurityEvery))
			}
			return nil
		}},
		{"jwt.algorithm", func() error {
			switch c.JWT.Algorithm {
			case signing.EdDSA, signing.ES256, signing.RS256:
				return nil
			}
			return fmt.Errorf("%q: use EdDSA, ES256 or RS256", c.JWT.Algorithm)
		}},
		{"jwt.sealing_key_file", func() error {
			if c.JWT.SealingKeyFile == "" {
				return nil
			}
			b, err := os.ReadFile(c.JWT.SealingKeyFile)
			if err != nil {
				return err
			}
			c.sealingKey, err = parseSealingKey(b)
			if err != nil {
				return fmt.Errorf("%s: %w", c.JWT.SealingKeyFile, err)
			}
			return nil
		}},
		{"jwt.sealing_key", func() error {
			if c.JWT.SealingKey == "" {
				return nil
			}
			if c.JWT.SealingKeyFile != "" {
				return errors.New("jwt.sealing_key_file is set too: keep one")
			}
			var err error
			c.sealingKey, err = parseSealingKey([]byte(c.JWT.SealingKey))
			return err
		}},
		{"jwt.insecure_sealing_key_in_redis", func() error {
			if c.JWT.InsecureSealingKeyInRedis && c.sealingKey != nil {
				return errors.New("a sealing key is configured (jwt.sealing_key_file or jwt.sealing_key): drop this setting, which would keep another in Redis")
			}
			return nil
		}},
		{"jwt.publish_delay", func() error {
			if c.JWT.PublishDelay < time.Second || c.JWT.PublishDelay > 24*time.Hour {
				return fmt.Errorf("%v: use between 1s and 24h (longer than verifiers cache the JWKS)", dur(c.JWT.PublishDelay))
			}
			return nil
		}},
		{"introspection.missing_client_ip", func() error {
			if c.Introspection.MissingClientIP != "inactive" && c.Introspection.MissingClientIP != "active" {
				return fmt.Errorf("%q: use inactive (the default: a token of an allowlisted application is refused when the resource server does not say where it came from) or active", c.Introspection.MissingClientIP)
			}
			return nil
		}},
		{"dpop.max_age", func() error { return c.Binding.validate() }},
		{"introspection.tombstone_ttl", func() error {
			if c.Introspection.TombstoneTTL < time.Second || c.Introspection.TombstoneTTL > 30*24*time.Hour {
				return fmt.Errorf("%v: use between 1s and 720h", dur(c.Introspection.TombstoneTTL))
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
				return fmt.Errorf("%v: use between 10ms and 1m, shorter than the probe's own timeout", dur(c.Health.Timeout))
			}
			return nil
		}},
		{"dashboard.session_idle", func() error {
			if c.Dashboard.SessionIdle < time.Minute || c.Dashboard.SessionIdle > 24*time.Hour {
				return fmt.Errorf("%v: use between 1m and 24h", dur(c.Dashboard.SessionIdle))
			}
			return nil
		}},
		{"dashboard.session_max", func() error {
			if c.Dashboard.SessionMax < c.Dashboard.SessionIdle || c.Dashboard.SessionMax > 7*24*time.Hour {
				return fmt.Errorf("%v: use between dashboard.session_idle (%v) and 168h", dur(c.Dashboard.SessionMax), dur(c.Dashboard.SessionIdle))
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

// checkTimeout bounds a listener timeout: zero would mean none at all,
// which lets one slow client hold a connection forever.
// dur prints a duration in a refusal as it is written in a setting: 1h,
// 30m, 1m30s, not time.Duration's 1h0m0s and 30m0s.
type dur time.Duration

func (d dur) String() string { return apps.FormatDuration(time.Duration(d)) }

func checkTimeout(d, most time.Duration) error {
	if d < 100*time.Millisecond || d > most {
		return fmt.Errorf("%v: use between 100ms and %v (0 would mean no limit)", dur(d), dur(most))
	}
	return nil
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

// rateCheck parses a limit setting ("10/1m", "3600/1h", "0" for none) into
// dst, as an application's quota is read (apps.ParseRate).
func rateCheck(s string, dst *redis.Rate) func() error {
	return func() error {
		r, err := apps.ParseRate(s)
		if err != nil {
			return fmt.Errorf("%w, or 0 for no limit", err)
		}
		*dst = r
		return nil
	}
}

// parseSealingKey reads a 32-byte key: raw, base64 (standard or URL-safe,
// padded or not) or hex, surrounding space ignored. Its error never holds
// the key.
func parseSealingKey(b []byte) ([]byte, error) {
	if len(b) == 32 {
		return b, nil
	}
	s := strings.TrimSpace(string(b))
	for _, dec := range []func(string) ([]byte, error){
		hex.DecodeString, base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString,
	} {
		if k, err := dec(s); err == nil && len(k) == 32 {
			return k, nil
		}
	}
	return nil, errors.New("not a 32-byte key (raw, base64 or hex); make one with: head -c32 /dev/urandom | base64")
}

// warnUnknownEnv logs each OAUTHD_ variable of env that no oauthd command
// reads (settings.UnknownEnv). The admin verbs' settings and
// OAUTHD_ADMIN_KEY count as read, since a shell that runs both exports
// them.
func warnUnknownEnv(log *slog.Logger, env settings.Environ) {
	settingSet(append(serveSettings(), cliSettings()...)).WarnUnknownEnv(log, env, "oauthd serve", "OAUTHD_ADMIN_KEY")
}
