package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/oauthd/oauthd/cmd/internal/settings"
)

func parse(t *testing.T, args []string, env map[string]string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	addFlags(fs, serveSettings())
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return loadConfig(fs, serveSettings(), envFunc(env))
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "oauthd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "http:\n  addr: \":7000\"\nredis:\n  prefix: fromfile\nlog:\n  level: warn\nshutdown_timeout: 3s\n")
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		addr       string
		prefix     string
		level      string
		shutdownTO time.Duration
	}{
		{"defaults", nil, nil, ":8080", "oauthd", "info", 10 * time.Second},
		{"file over defaults", []string{"--config", file}, nil, ":7000", "fromfile", "warn", 3 * time.Second},
		{"env over file", []string{"--config", file}, map[string]string{"OAUTHD_HTTP_ADDR": ":7001", "OAUTHD_SHUTDOWN_TIMEOUT": "4s"}, ":7001", "fromfile", "warn", 4 * time.Second},
		{"flag over env", []string{"--config", file, "--http-addr", ":7002"}, map[string]string{"OAUTHD_HTTP_ADDR": ":7001"}, ":7002", "fromfile", "warn", 3 * time.Second},
		{"file from env", nil, map[string]string{"OAUTHD_CONFIG": file, "OAUTHD_REDIS_PREFIX": "env"}, ":7000", "env", "warn", 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(t, tt.args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if c.HTTP.Addr != tt.addr || c.Redis.Prefix != tt.prefix || c.Log.Level != tt.level || c.ShutdownTimeout != tt.shutdownTO {
				t.Fatalf("got addr %q prefix %q level %q timeout %v", c.HTTP.Addr, c.Redis.Prefix, c.Log.Level, c.ShutdownTimeout)
			}
		})
	}
}

func TestConfigInvalid(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		file    string
		wantKey string
	}{
		{"addr", []string{"--http-addr", "8080"}, nil, "", "http.addr"},
		{"issuer not URL", []string{"--issuer", "auth.example.com"}, nil, "", "issuer"},
		{"issuer with query", []string{"--issuer", "https://a.example?x=1"}, nil, "", "issuer"},
		{"issuer trailing slash", nil, map[string]string{"OAUTHD_ISSUER": "https://a.example/"}, "", "issuer"},
		{"redis scheme", []string{"--redis-url", "http://localhost:6379"}, nil, "", "redis.url"},
		{"prefix with brace", []string{"--redis-prefix", "a{b}"}, nil, "", "redis.prefix"},
		{"log level", []string{"--log-level", "loud"}, nil, "", "log.level"},
		{"log format", nil, map[string]string{"OAUTHD_LOG_FORMAT": "xml"}, "", "log.format"},
		{"shutdown from env not a duration", nil, map[string]string{"OAUTHD_SHUTDOWN_TIMEOUT": "soon"}, "", "shutdown_timeout"},
		{"bad scope in catalogue", nil, nil, "scopes:\n  - name: Bad Scope\n", "scopes"},
		{"misspelt key in file", nil, nil, "http:\n  adr: \":1\"\n", "adr"},
		{"missing file", []string{"--config", "/nonexistent/oauthd.yaml"}, nil, "", "/nonexistent/oauthd.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append(args, "--config", writeFile(t, tt.file))
			}
			_, err := parse(t, args, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.wantKey) {
				t.Fatalf("error %v, want one naming %s", err, tt.wantKey)
			}
		})
	}
}

func TestConfigCatalogueFromFile(t *testing.T) {
	file := writeFile(t, "scopes:\n  - name: messages:send\n    description: send\n  - name: reports\n")
	c, err := parse(t, []string{"--config", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.catalogue.Names(), " "); got != "messages:send reports tokens:introspect" {
		t.Fatalf("catalogue %q", got)
	}
}

// Every key is in `oauthd serve --help`, with its environment variable.
func TestServeHelpListsEveryKey(t *testing.T) {
	out, err := runCLI(t, nil, "serve", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range serveSettings() {
		flag, env := settings.Flag(s.Key), settingSet(nil).Env(s.Key)
		if !strings.Contains(out, "--"+flag) || !strings.Contains(out, env) {
			t.Errorf("help lacks %s / %s", flag, env)
		}
	}
}

func TestStartupErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--redis-url", "redis://127.0.0.1:1"}, "cannot reach Redis"},
		{[]string{"serve", "--http-addr", "256.0.0.1:1"}, "http.addr"},
		{[]string{"apps", "create", "--name", "x", "--scopes", "sms"}, "--redis-url"},
		{[]string{"serve", "extra"}, "unknown command"},
	}
	for _, tt := range tests {
		_, err := runCLI(t, nil, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		}
	}
}

func TestAppsCreateValidation(t *testing.T) {
	url := "redis://" + startMini(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--scopes", "sms"}, "name"},
		{[]string{"--name", "x", "--scopes", "smss"}, "unknown scope"},
		{[]string{"--name", "x", "--scopes", ""}, "at least one scope"},
		{[]string{"--name", "x", "--scopes", "sms", "--lifetime", "forever"}, "token_lifetime"},
		{[]string{"--name", "x", "--scopes", "sms", "--lifetime", "0s"}, "too short"},
		{[]string{"--name", "x", "--scopes", "sms", "--allow-ip", "10.0.0.0/33"}, "ip_allowlist"},
	}
	for _, tt := range tests {
		_, err := runCLI(t, nil, append([]string{"apps", "create", "--redis-url", url}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		}
	}
}

// The README's configuration table names every key, flag and variable.
func TestReadmeConfigTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, s := range serveSettings() {
		row := "| `" + s.Key + "` | `--" + settings.Flag(s.Key) + "` | `" + settingSet(nil).Env(s.Key) + "` |"
		if !strings.Contains(readme, row) {
			t.Errorf("README lacks the row %q", row)
		}
	}
}
