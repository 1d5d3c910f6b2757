package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/oauthd/oauthd/cmd/internal/settings"
	"github.com/oauthd/oauthd/store/redis"
)

func parse(t *testing.T, args []string, env map[string]string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	addFlags(fs, serveSettings())
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return loadConfig(fs, serveSettings(), envFunc(env).Getenv)
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
	t.Parallel()
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
		{"defaults", nil, nil, "127.0.0.1:8080", "oauthd", "info", 10 * time.Second},
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
	t.Parallel()
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
		{"url and sentinel", []string{"--redis-url", "redis://h:1", "--redis-sentinel-master", "m"}, map[string]string{"OAUTHD_REDIS_SENTINEL_ADDRS": "s:1"}, "", "config redis.url: give one of"},
		{"sentinel and cluster", nil, map[string]string{"OAUTHD_REDIS_SENTINEL_MASTER": "m", "OAUTHD_REDIS_SENTINEL_ADDRS": "s:1", "OAUTHD_REDIS_CLUSTER_ADDRS": "c:1"}, "", "config redis.sentinel.master"},
		{"sentinel without addrs", nil, map[string]string{"OAUTHD_REDIS_SENTINEL_MASTER": "m"}, "", "config redis.sentinel.addrs: redis.sentinel.master needs"},
		{"sentinel addrs without master", nil, map[string]string{"OAUTHD_REDIS_SENTINEL_ADDRS": "s:1"}, "", "config redis.sentinel.addrs: set redis.sentinel.master"},
		{"cluster addr without port", nil, map[string]string{"OAUTHD_REDIS_CLUSTER_ADDRS": "c1:7000, c2"}, "", `config redis.cluster.addrs: "c2" is not host:port`},
		{"two passwords", []string{"--redis-url", "redis://:p@h:1", "--redis-password", "q"}, nil, "", "config redis.password: the password is in redis.url too"},
		{"password and file", []string{"--redis-password", "q", "--redis-password-file", "/etc/hostname"}, nil, "", "config redis.password_file: redis.password is set too"},
		{"missing password file", []string{"--redis-password-file", "/nonexistent/pw"}, nil, "", "config redis.password_file"},
		{"CA file not PEM", []string{"--redis-tls-ca-file", "/etc/hostname"}, nil, "", "config redis.tls.ca_file"},
		{"cert without key", []string{"--redis-tls-cert-file", "/etc/hostname"}, nil, "", "config redis.tls.cert_file: a client certificate needs both"},
		{"health timeout", []string{"--health-timeout", "0s"}, nil, "", "config health.timeout"},
		{"dpop max age", []string{"--dpop-max-age", "0s"}, nil, "", "dpop.max_age"},
		{"dpop nonce lifetime from the file", nil, nil, "dpop:\n  nonce_lifetime: 1s\n", "dpop.nonce_lifetime"},
		{"app cache of none", []string{"--redis-app-cache-size", "0"}, nil, "", "config redis.app_cache_size"},
		{"TLS certificate without key", []string{"--tls-cert-file", "/etc/hostname"}, nil, "", "config tls.cert_file: set tls.key_file too"},
		{"TLS key without certificate", nil, map[string]string{"OAUTHD_TLS_KEY_FILE": "/etc/hostname"}, "", "config tls.cert_file: tls.key_file is set but not tls.cert_file"},
		{"TLS certificate missing", []string{"--tls-cert-file", "/nonexistent/cert.pem", "--tls-key-file", "/nonexistent/key.pem"}, nil, "", "config tls.cert_file: open /nonexistent/cert.pem: no such file"},
		{"TLS files not PEM", nil, nil, "tls:\n  cert_file: /etc/hostname\n  key_file: /etc/hostname\n", "config tls.cert_file: /etc/hostname and /etc/hostname: tls: failed to find any PEM data"},
		{"no read timeout", []string{"--http-read-timeout", "0s"}, nil, "", "config http.read_timeout: 0s: use between 100ms"},
		{"read timeout under the header timeout", nil, map[string]string{"OAUTHD_HTTP_READ_TIMEOUT": "2s", "OAUTHD_HTTP_READ_HEADER_TIMEOUT": "3s"}, "", "config http.read_timeout: 2s is shorter than http.read_header_timeout"},
		{"write timeout not a duration", nil, map[string]string{"OAUTHD_HTTP_WRITE_TIMEOUT": "15"}, "", "http.write_timeout"},
		{"idle timeout from file", nil, nil, "http:\n  idle_timeout: 2h\n", "config http.idle_timeout"},
		{"tiny header limit", []string{"--http-max-header-bytes", "100"}, nil, "", "config http.max_header_bytes: 100: use between"},
		{"trusted proxy not a CIDR", []string{"--http-trusted-proxies", "10.0.0.0/33"}, nil, "", "config http.trusted_proxies"},
		{"missing client_ip choice", []string{"--introspection-missing-client-ip", "maybe"}, nil, "", "config introspection.missing_client_ip"},
		{"limit without period", []string{"--limits-client-failures", "10"}, nil, "", "config limits.client_failures: \"10\": use N/duration"},
		{"limit period too short", nil, map[string]string{"OAUTHD_LIMITS_ISSUE": "10/1ms"}, "", "config limits.issue"},
		{"ceiling without period", []string{"--limits-client-ceiling", "300"}, nil, "", "config limits.client_ceiling: \"300\": use N/duration"},
		{"negative limit", []string{"--limits-introspect", "-5/1s"}, nil, "", "config limits.introspect"},
		{"lock-out longer than its maximum", []string{"--limits-lockout", "2h", "--limits-max-lockout", "1h"}, nil, "", "config limits.max_lockout"},
		{"tiny audit log", []string{"--audit-max-events", "10"}, nil, "", "config audit.max_events"},
		{"pprof on the public listener", []string{"--admin-pprof"}, nil, "", "config admin.pprof: the profiler is served only on a separate admin listener"},
		{"client CA file not PEM", []string{"--tls-client-ca-file", "/etc/hostname"}, nil, "", "config tls.client_ca_file: /etc/hostname holds no PEM certificate"},
		{"client CA file missing", []string{"--tls-client-ca-file", "/nonexistent/ca.pem"}, nil, "", "config tls.client_ca_file: open /nonexistent/ca.pem"},
		{"client cert header not a name", []string{"--tls-client-cert-header", "X Client Cert", "--http-trusted-proxies", "10.0.0.1"}, nil, "", "config tls.client_cert_header: \"X Client Cert\" is not a header name"},
		{"client cert header without proxies", []string{"--tls-client-cert-header", "X-Client-Cert"}, nil, "", "config tls.client_cert_header: set http.trusted_proxies too"},
		{"assertion lifetime too long", []string{"--client-auth-assertion-max-lifetime", "2h"}, nil, "", "config client_auth.assertion_max_lifetime: 2h: use between 10s and 1h"},
		{"assertion lifetime zero", nil, map[string]string{"OAUTHD_CLIENT_AUTH_ASSERTION_MAX_LIFETIME": "0s"}, "", "config client_auth.assertion_max_lifetime"},
		{"fetch timeout zero", []string{"--client-auth-fetch-timeout", "0s"}, nil, "", "config client_auth.fetch_timeout: 0s: use between 100ms and 1m"},
		{"mTLS base URL plain http", []string{"--client-auth-mtls-base-url", "http://mtls.example"}, nil, "", "config client_auth.mtls_base_url: \"http://mtls.example\": mutual TLS is served over https"},
		{"mTLS base URL trailing slash", []string{"--client-auth-mtls-base-url", "https://mtls.example/"}, nil, "", "config client_auth.mtls_base_url"},
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

// The abuse limits' defaults reach redis.LimitsConfig.
func TestConfigLimits(t *testing.T) {
	t.Parallel()
	c, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (redis.Rate{N: 300, Per: time.Hour}); c.limits.ClientCeiling != want {
		t.Fatalf("limits.client_ceiling by default: %+v, want %+v", c.limits.ClientCeiling, want)
	}
	if c, err = parse(t, []string{"--limits-client-ceiling", "0"}, nil); err != nil || !c.limits.ClientCeiling.Off() {
		t.Fatalf("limits.client_ceiling 0: %+v %v, want no ceiling", c.limits.ClientCeiling, err)
	}
	// One setting keys the lock-outs for the limits and for the store
	// that checks them.
	for _, bits := range []string{"64", "56"} {
		c, err := parse(t, []string{"--limits-ipv6-prefix", bits}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if opts := storeOptions(c, nil); fmt.Sprint(c.limits.IPv6Prefix) != bits || opts.IPv6Prefix != c.limits.IPv6Prefix {
			t.Fatalf("limits.ipv6_prefix %s: limits %d, store %d", bits, c.limits.IPv6Prefix, opts.IPv6Prefix)
		}
	}
	if _, err := parse(t, []string{"--limits-ipv6-prefix", "16"}, nil); err == nil || !strings.Contains(err.Error(), "config limits.ipv6_prefix: 16: use between 32 and 128") {
		t.Fatalf("limits.ipv6_prefix 16: %v", err)
	}
}

// The sealing key comes from a file or the environment, never both, and
// not with the insecure custody; a bad one is refused without being
// echoed.
func TestConfigSealingKey(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{0xab}, 32)
	b64, hexKey := base64.StdEncoding.EncodeToString(key), hex.EncodeToString(key)
	file := filepath.Join(t.TempDir(), "sealing.key")
	if err := os.WriteFile(file, []byte(b64+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // "": the key is read
	}{
		{"base64 from the environment", map[string]string{"OAUTHD_JWT_SEALING_KEY": b64}, ""},
		{"hex from the environment", map[string]string{"OAUTHD_JWT_SEALING_KEY": hexKey}, ""},
		{"file", map[string]string{"OAUTHD_JWT_SEALING_KEY_FILE": file}, ""},
		{"file and environment", map[string]string{"OAUTHD_JWT_SEALING_KEY_FILE": file, "OAUTHD_JWT_SEALING_KEY": b64},
			"config jwt.sealing_key: jwt.sealing_key_file is set too"},
		{"too short", map[string]string{"OAUTHD_JWT_SEALING_KEY": "c2VjcmV0LXNlY3JldA=="}, "config jwt.sealing_key: not a 32-byte key"},
		{"key and insecure custody", map[string]string{"OAUTHD_JWT_SEALING_KEY": b64, "OAUTHD_JWT_INSECURE_SEALING_KEY_IN_REDIS": "true"},
			"config jwt.insecure_sealing_key_in_redis: a sealing key is configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(t, nil, tt.env)
			if tt.wantErr == "" {
				if err != nil || !bytes.Equal(c.sealingKey, key) {
					t.Fatalf("sealing key %x, %v", c.sealingKey, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if v := tt.env["OAUTHD_JWT_SEALING_KEY"]; v != "" && strings.Contains(err.Error(), v) {
				t.Fatalf("the error shows the key: %v", err)
			}
		})
	}
}

// The Redis settings assemble one client configuration; lists come
// comma-separated from the environment, the password from its own file.
func TestConfigRedis(t *testing.T) {
	t.Parallel()
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		env      map[string]string
		file     string
		topology string
		addrs    string
		password string
		tls      bool
	}{
		{"embedded", nil, "", "single", "", "", false},
		{"url", map[string]string{"OAUTHD_REDIS_URL": "rediss://h:6380"}, "", "single", "", "", false},
		{"sentinel from env", map[string]string{"OAUTHD_REDIS_SENTINEL_MASTER": "mymaster", "OAUTHD_REDIS_SENTINEL_ADDRS": "s1:26379, s2:26379,s3:26379", "OAUTHD_REDIS_PASSWORD_FILE": pw}, "", "sentinel", "s1:26379 s2:26379 s3:26379", "s3cret", false},
		{"cluster from file with TLS", nil, "redis:\n  cluster:\n    addrs: c1:7000,c2:7000\n  tls:\n    enabled: true\n  password: p\n", "cluster", "c1:7000 c2:7000", "p", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var args []string
			if tt.file != "" {
				args = []string{"--config", writeFile(t, tt.file)}
			}
			c, err := parse(t, args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			r := c.redis
			addrs := strings.Join(append(r.SentinelAddrs, r.ClusterAddrs...), " ")
			if r.Topology() != tt.topology || addrs != tt.addrs || r.Password != tt.password || (r.TLS != nil) != tt.tls {
				t.Fatalf("got %s %q %q tls=%v", r.Topology(), addrs, r.Password, r.TLS != nil)
			}
			if c.embeddedRedis() != (tt.name == "embedded") {
				t.Fatal("embeddedRedis wrong")
			}
		})
	}
}

// The transport settings default to the values oauthd always had, and a
// file can change them.
func TestConfigHTTPLimits(t *testing.T) {
	t.Parallel()
	c, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := c.HTTP
	if h.ReadHeaderTimeout != 5*time.Second || h.ReadTimeout != 10*time.Second || h.WriteTimeout != 15*time.Second ||
		h.IdleTimeout != 2*time.Minute || h.MaxHeaderBytes != 32<<10 {
		t.Fatalf("defaults %+v", h)
	}
	file := writeFile(t, "http:\n  read_timeout: 30s\n  max_header_bytes: 8192\n")
	if c, err = parse(t, []string{"--config", file}, nil); err != nil {
		t.Fatal(err)
	}
	if c.HTTP.ReadTimeout != 30*time.Second || c.HTTP.MaxHeaderBytes != 8192 {
		t.Fatalf("from the file: %+v", c.HTTP)
	}
}

func TestConfigCatalogueFromFile(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"apps", "list", "--redis-url", "redis://:pw@127.0.0.1:1"}, "cannot reach Redis (redis://***@127.0.0.1:1)"},
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
	t.Parallel()
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
	t.Parallel()
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

// The default issuer follows http.addr, as clients that compare it with the
// URL they fetched the metadata from need: the host it names, localhost
// when it names every interface, the port bound.
func TestDefaultIssuer(t *testing.T) {
	t.Parallel()
	bound := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 43210}
	for _, tt := range []struct {
		configured string
		tls        bool
		want       string
	}{
		{"127.0.0.1:0", false, "http://127.0.0.1:43210"},
		{"127.0.0.1:8080", true, "https://127.0.0.1:43210"},
		{":8080", false, "http://localhost:43210"},
		{"0.0.0.0:8080", false, "http://localhost:43210"},
		{"[::]:8080", false, "http://localhost:43210"},
		{"[::1]:8080", false, "http://[::1]:43210"},
		{"[fe80::1%eth0]:8080", false, "http://[fe80::1]:43210"},
		{"localhost:8080", false, "http://localhost:43210"},
		{"auth.internal:8080", true, "https://auth.internal:43210"},
		{"192.0.2.7:8080", false, "http://192.0.2.7:43210"},
	} {
		if got := defaultIssuer(tt.configured, bound, tt.tls); got != tt.want {
			t.Errorf("defaultIssuer(%q): %q, want %q", tt.configured, got, tt.want)
		}
	}
}

// With no http.addr, the embedded store (whose demo prints a live admin
// key) listens on this machine only; a configured Redis on every
// interface, as before.
func TestDefaultHTTPAddr(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "127.0.0.1:8080"},
		{[]string{"--redis-url", "redis://localhost:6379"}, ":8080"},
		{[]string{"--redis-sentinel-master", "m", "--redis-sentinel-addrs", "s:26379"}, ":8080"},
		{[]string{"--http-addr", ":9000"}, ":9000"},
		{[]string{"--http-addr", "0.0.0.0:8080"}, "0.0.0.0:8080"},
	} {
		c, err := parse(t, tt.args, nil)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if c.HTTP.Addr != tt.want {
			t.Errorf("%v: http.addr %q, want %q", tt.args, c.HTTP.Addr, tt.want)
		}
	}
}

// README's "complete file" is one oauthd reads: every key in it is a
// setting (or the catalogue), each value of its type. Only its TLS files,
// which are examples of paths, are missing here.
func TestReadmeCompleteFile(t *testing.T) {
	t.Parallel()
	file := writeFile(t, readmeBlock(t, "A complete file:\n\n```yaml\n"))
	_, err := parse(t, []string{"--config", file}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "config tls.cert_file: open /etc/oauthd/tls/tls.crt") {
		t.Fatalf("README's complete file: %v, want only its example TLS file missing", err)
	}
}

// A misspelt variable is named at start-up, with the one it most likely
// meant, and its value is not logged; the admin verbs' variables, which a
// shell running both exports, are not named.
func TestServeWarnsOfUnknownEnv(t *testing.T) {
	p := startOAuthd(t, map[string]string{
		"OAUTHD_REDIS_ULR":   "redis://:hunter2-in-the-url@127.0.0.1:1/0",
		"OAUTHD_ADMIN_KEY":   "not-logged-either",
		"OAUTHD_ENDPOINT":    "http://127.0.0.1:1",
		"OAUTHD_FROBNICATE":  "1",
		"OAUTHD_LOG_FORMAT":  "json",
		"OAUTHD_LOG_LEVELL":  "debug",
		"OAUTHDX_REDIS_URL":  "another program's",
		"OTEL_SERVICE_NAME":  "tracing's own",
		"OAUTHD_HTTP_ADDR":   "127.0.0.1:0",
		"OAUTHD_ADMIN_ADDR":  "",
		"OAUTHD_REDIS_URL_2": "x",
	})
	type warning struct{ Variable, DidYouMean string }
	var got []warning
	for _, line := range strings.Split(strings.TrimSpace(p.Logs.String()), "\n") {
		var rec struct {
			Level, Msg string
			Variable   string `json:"variable"`
			DidYouMean string `json:"did_you_mean"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Variable != "" {
			if rec.Level != "WARN" || !strings.Contains(rec.Msg, "sets nothing and is ignored") {
				t.Errorf("line naming a variable: %s", line)
			}
			got = append(got, warning{rec.Variable, rec.DidYouMean})
		}
	}
	want := []warning{{"OAUTHD_FROBNICATE", ""}, {"OAUTHD_LOG_LEVELL", "OAUTHD_LOG_LEVEL"}, {"OAUTHD_REDIS_ULR", "OAUTHD_REDIS_URL"}, {"OAUTHD_REDIS_URL_2", "OAUTHD_REDIS_URL"}}
	if !slices.Equal(got, want) {
		t.Errorf("warnings %v, want %v", got, want)
	}
	for _, secret := range []string{"hunter2", "not-logged-either"} {
		if strings.Contains(p.Logs.String(), secret) {
			t.Errorf("the log carries a variable's value %q:\n%s", secret, p.Logs.String())
		}
	}
	// What the misspelling did: the embedded store, which says so too.
	if !strings.Contains(p.Logs.String(), "running on the embedded in-memory store") {
		t.Errorf("no embedded-store warning:\n%s", p.Logs.String())
	}
}
