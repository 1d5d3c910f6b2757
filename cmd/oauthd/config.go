package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/oauthd/oauthd/scopes"
)

// setting is one configuration key. The table below is the single source
// for flags, environment variables, defaults, --help and the README's
// configuration table.
type setting struct {
	key   string // dotted key path, as in the YAML file
	def   any
	usage string
}

// env is the variable that sets the key: OAUTHD_ + the key upper-cased with
// '.' as '_' (http.addr → OAUTHD_HTTP_ADDR).
func (s setting) env() string {
	return "OAUTHD_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(s.key))
}

// flag is the command-line flag: the key with '.' and '_' as '-'.
func (s setting) flag() string { return strings.NewReplacer(".", "-", "_", "-").Replace(s.key) }

// redisSettings are shared by every command that touches Redis.
func redisSettings() []setting {
	return []setting{
		{"redis.url", "", "Redis URL (redis:// or rediss://); empty runs on an embedded in-memory store that loses everything on exit"},
		{"redis.prefix", "oauthd", "prefix of every Redis key, so several deployments can share one Redis"},
		{"log.level", "info", "log level: debug, info, warn or error"},
		{"log.format", "text", "log format: text or json"},
	}
}

// serveSettings are oauthd serve's.
func serveSettings() []setting {
	return append([]setting{
		{"http.addr", ":8080", "address the HTTP server listens on"},
		{"issuer", "", "public base URL of this server, exactly as clients reach it (default http://localhost:<port>)"},
		{"shutdown_timeout", 10 * time.Second, "how long a shutdown waits for requests in flight"},
		{"service_documentation", "https://github.com/oauthd/oauthd/blob/main/docs/api.md", "URL of the API documentation, published in the RFC 8414 metadata"},
		{"introspection.inactive_reason", false, "add inactive_reason (expired or revoked) to inactive introspection answers; see docs/operations.md for the trade-off"},
		{"introspection.tombstone_ttl", time.Hour, "with inactive_reason: how long revoked and expired tokens are remembered as such"},
	}, redisSettings()...)
}

// Config is oauthd's configuration after decoding and validation.
type Config struct {
	HTTP struct {
		Addr string `mapstructure:"addr"`
	} `mapstructure:"http"`
	Issuer string `mapstructure:"issuer"`
	Redis  struct {
		URL    string `mapstructure:"url"`
		Prefix string `mapstructure:"prefix"`
	} `mapstructure:"redis"`
	Log struct {
		Level  string `mapstructure:"level"`
		Format string `mapstructure:"format"`
	} `mapstructure:"log"`
	ShutdownTimeout      time.Duration `mapstructure:"shutdown_timeout"`
	ServiceDocumentation string        `mapstructure:"service_documentation"`
	Introspection        struct {
		InactiveReason bool          `mapstructure:"inactive_reason"`
		TombstoneTTL   time.Duration `mapstructure:"tombstone_ttl"`
	} `mapstructure:"introspection"`
	// Scopes is the catalogue; only a config file can set it (a list of
	// {name, description}). Empty means the built-in SMS catalogue.
	Scopes []scopes.Scope `mapstructure:"scopes"`

	catalogue *scopes.Catalogue
	logLevel  slog.Level
}

// addFlags registers one flag per setting.
func addFlags(fs *pflag.FlagSet, list []setting) {
	fs.String("config", "", "YAML configuration file with the file keys listed here (env OAUTHD_CONFIG)")
	for _, s := range list {
		usage := fmt.Sprintf("%s (env %s, file key %s)", s.usage, s.env(), s.key)
		switch d := s.def.(type) {
		case string:
			fs.String(s.flag(), d, usage)
		case time.Duration:
			fs.Duration(s.flag(), d, usage)
		case bool:
			fs.Bool(s.flag(), d, usage)
		}
	}
}

// loadConfig merges flags over environment over file over defaults and
// validates the result. getenv is the environment (os.Getenv in main, a
// map in tests).
func loadConfig(fs *pflag.FlagSet, list []setting, getenv func(string) string) (*Config, error) {
	v := viper.New()
	for _, s := range list {
		v.SetDefault(s.key, s.def)
		f := fs.Lookup(s.flag())
		if f.Changed {
			v.Set(s.key, f.Value.String())
		} else if e := getenv(s.env()); e != "" {
			v.Set(s.key, e)
		}
	}
	path, _ := fs.GetString("config")
	if !fs.Changed("config") && getenv("OAUTHD_CONFIG") != "" {
		path = getenv("OAUTHD_CONFIG")
	}
	if path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	var c Config
	// UnmarshalExact: a misspelt key in the file is an error, not a
	// silently ignored setting.
	if err := v.UnmarshalExact(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
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
		{"redis.url", func() error {
			if c.Redis.URL == "" {
				return nil
			}
			u, err := url.Parse(c.Redis.URL)
			if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
				return errors.New("use redis://[user:password@]host:port[/db] or rediss:// for TLS")
			}
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
		if ch.key != "scopes" && !slices.ContainsFunc(list, func(s setting) bool { return s.key == ch.key }) {
			continue
		}
		if err := ch.check(); err != nil {
			return fmt.Errorf("config %s: %w", ch.key, err)
		}
	}
	return nil
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
