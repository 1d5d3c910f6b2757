package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/signing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/oauthd/oauthd/cmd/internal/buildinfo"
	"github.com/oauthd/oauthd/cmd/internal/runtest"
	"github.com/oauthd/oauthd/cmd/internal/settings"
	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server"
	"github.com/oauthd/oauthd/server/introspect"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// testBuild is the build the tests' sms-api reports.
var testBuild = buildinfo.Info{Version: "v0.0.0-test", Revision: "0123456789abcdef", GoVersion: "go1.test"}

// runTest is run as the tests' sms-api binary: with testBuild.
func runTest(ctx context.Context, args []string, env settings.Environ, stdout, stderr io.Writer) error {
	return run(ctx, testBuild, args, env, stdout, stderr)
}

// sms-api --version says which build it is, as oauthd's does.
func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := runTest(context.Background(), []string{"--version"}, runtest.Env(nil), &out, io.Discard); err != nil || out.String() != "sms-api v0.0.0-test (commit 0123456789ab, go1.test)\n" {
		t.Fatalf("%q %v", out.String(), err)
	}
}

// clock is a movable clock for one side (oauthd or the resource server).
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

type credentials struct{ id, secret string }

// authServer is a real oauthd (the server package on Redis) on a real
// loopback listener, with inactive_reason on and a movable clock.
type authServer struct {
	issuer string
	apps   *apps.Service
	ring   *signing.Ring
	clk    *clock
	close  func()
}

func startAuthServer(t testing.TB, kind redistest.Kind) *authServer {
	t.Helper()
	rs := redistest.Start(t, kind)
	rdb, err := redis.NewClient(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	st := redis.New(rdb, redis.Options{Prefix: "e2e", KeepExpired: time.Hour})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &authServer{issuer: "http://" + ln.Addr().String(), clk: &clock{}}
	if a.ring, err = signing.NewRing(st, signing.SealWith(make([]byte, 32)), signing.EdDSA, a.clk.now); err != nil {
		t.Fatal(err)
	}
	if err := a.ring.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The revocation feed runs, for resource servers that follow it.
	feed := st.NewFeed(redis.FeedOptions{Block: 50 * time.Millisecond})
	fctx, stopFeed := context.WithCancel(context.Background())
	feedDone := make(chan struct{})
	go func() { defer close(feedDone); feed.Run(fctx) }()
	t.Cleanup(func() { stopFeed(); <-feedDone })
	a.apps = apps.New(st, scopes.Default(), apps.Options{Keys: a.ring, KeyPublishDelay: time.Minute, Now: a.clk.now})
	srv, err := server.New(server.Config{
		Issuer: a.issuer, Catalogue: a.apps, Signer: a.ring,
		InactiveReason: true, Tombstone: time.Hour, Now: a.clk.now, Feed: feed,
	}, st)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	// A resource server following the feed holds a request open: cut the
	// connections, or Close waits for that request forever.
	a.close = func() { hs.CloseClientConnections(); hs.Close() }
	t.Cleanup(a.close)
	return a
}

func (a *authServer) create(t testing.TB, scopeList, lifetime string) credentials {
	t.Helper()
	app, secret, err := a.apps.Create(context.Background(), apps.NewApplication{
		Name: "e2e", Scopes: []string{scopeList}, TokenLifetime: lifetime,
	})
	if err != nil {
		t.Fatal(err)
	}
	return credentials{app.ClientID, secret}
}

func (a *authServer) token(t testing.TB, c credentials, scopeList ...string) string {
	t.Helper()
	cfg := clientcredentials.Config{ClientID: c.id, ClientSecret: c.secret, TokenURL: a.issuer + "/oauth/token", Scopes: scopeList}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	return tok.AccessToken
}

func (a *authServer) post(t *testing.T, path string, c credentials, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.id != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.id+":"+c.secret)))
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	return doWith(t, http.DefaultClient, req)
}

func doWith(t *testing.T, hc *http.Client, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s answered non-JSON %q", req.Method, req.URL, b)
	}
	m["_www"] = resp.Header.Get("WWW-Authenticate")
	m["_www_all"] = resp.Header.Values("WWW-Authenticate")
	return resp.StatusCode, m
}

// call sends a request to the SMS API with a bearer token.
func call(t *testing.T, method, u, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

const sendBody = `{"to":["+447700900123"],"text":"hello"}`

// TestEndToEnd runs oauthd and the sms-api program (its run function, with
// its environment variables) on real listeners and drives them with real
// tokens.
func TestEndToEnd(t *testing.T) {
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			auth := startAuthServer(t, kind)
			rs := auth.create(t, "tokens:introspect", "")
			api := runtest.Start(t, runTest, "sms-api listening", map[string]string{
				"SMSAPI_ISSUER":        auth.issuer,
				"SMSAPI_CLIENT_ID":     rs.id,
				"SMSAPI_CLIENT_SECRET": rs.secret,
				"SMSAPI_CACHE_TTL":     "2s",
			}, "--http-addr", "127.0.0.1:0", "--log-format", "json")
			daemon := auth.create(t, "sms reports", "1h")
			tok := auth.token(t, daemon)

			// Accepted: send, then read it back with the reports scope.
			code, m := call(t, "POST", api.URL+"/v1/sms", tok, sendBody)
			if code != 201 || m["status"] != "accepted" || m["client_id"] != daemon.id {
				t.Fatalf("send: %d %v", code, m)
			}
			code, got := call(t, "GET", api.URL+"/v1/sms/"+m["id"].(string), tok, "")
			if code != 200 || got["text"] != "hello" {
				t.Fatalf("read back: %d %v", code, got)
			}

			tests := []struct {
				name, method, path, token, body string
				status                          int
				code, desc, www                 string
			}{
				{"missing scope", "GET", "/v1/groups", tok, "", 403, "insufficient_scope", "scope required: groups",
					`Bearer realm="sms-api", error="insufficient_scope", scope="groups", error_description="scope required: groups"`},
				{"narrowed token lacks scope", "POST", "/v1/sms", auth.token(t, daemon, "reports"), sendBody, 403, "insufficient_scope", "scope required: sms", ""},
				{"no token", "POST", "/v1/sms", "", sendBody, 401, "", "", `Bearer realm="sms-api"`},
				{"unknown token", "POST", "/v1/sms", "oat_nothing_" + strings.Repeat("a", 43), sendBody, 401, "invalid_token", "invalid token",
					`Bearer realm="sms-api", error="invalid_token", error_description="invalid token"`},
				{"garbage token", "POST", "/v1/sms", "x", sendBody, 401, "invalid_token", "invalid token", ""},
				{"bad number", "POST", "/v1/sms", tok, `{"to":["0770"],"text":"x"}`, 400, "invalid_request", "to[0]", ""},
				{"unknown field", "POST", "/v1/sms", tok, `{"to":["+447700900123"],"text":"x","from":"me"}`, 400, "invalid_request", "from", ""},
				{"someone else's message", "GET", "/v1/sms/msg_nope", tok, "", 404, "not_found", "", ""},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					code, m := call(t, tt.method, api.URL+tt.path, tt.token, tt.body)
					if code != tt.status {
						t.Fatalf("status %d, want %d: %v", code, tt.status, m)
					}
					if tt.code != "" && (m["error"] != tt.code || !strings.Contains(m["error_description"].(string), tt.desc)) {
						t.Fatalf("body %v, want %s %q", m, tt.code, tt.desc)
					}
					if tt.www != "" && m["_www"] != tt.www {
						t.Fatalf("WWW-Authenticate %q, want %q", m["_www"], tt.www)
					}
					// RFC 6750 §3.1, as the README says: a request without
					// credentials gets no error code, in the body either.
					if _, has := m["error"]; tt.code == "" && tt.status == 401 && has {
						t.Fatalf("body %v names an error for a request without a token", m)
					}
				})
			}

			t.Run("API key in X-API-Key", func(t *testing.T) {
				_, key, err := auth.apps.CreateAPIKey(context.Background(), daemon.id, apps.NewAPIKey{Name: "cron", Scopes: []string{"sms"}})
				if err != nil {
					t.Fatal(err)
				}
				req, _ := http.NewRequest("POST", api.URL+"/v1/sms", strings.NewReader(sendBody))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-API-Key", key)
				if code, m := do(t, req); code != 201 {
					t.Fatalf("X-API-Key: %d %v", code, m)
				}
				req, _ = http.NewRequest("GET", api.URL+"/v1/sms/x", nil)
				req.Header.Set("X-API-Key", key)
				if code, m := do(t, req); code != 403 || m["error_description"] != "scope required: reports" {
					t.Fatalf("X-API-Key without reports: %d %v", code, m)
				}
			})

			t.Run("expired token", func(t *testing.T) {
				short := auth.create(t, "sms", "2s")
				tok := auth.token(t, short)
				auth.clk.advance(3 * time.Second)
				code, m := call(t, "POST", api.URL+"/v1/sms", tok, sendBody)
				if code != 401 || m["error_description"] != "token expired" {
					t.Fatalf("expired token: %d %v", code, m)
				}
			})

			t.Run("introspection needs credentials and the scope", func(t *testing.T) {
				code, m := auth.post(t, "/oauth/introspect", credentials{}, url.Values{"token": {tok}})
				if code != 401 || m["error"] != "invalid_client" {
					t.Fatalf("no credentials: %d %v", code, m)
				}
				code, m = auth.post(t, "/oauth/introspect", daemon, url.Values{"token": {tok}})
				if code != 403 {
					t.Fatalf("daemon without tokens:introspect: %d %v", code, m)
				}
			})

			t.Run("oauthd down", func(t *testing.T) {
				fresh := auth.token(t, daemon) // not in sms-api's cache
				auth.close()
				code, m := call(t, "POST", api.URL+"/v1/sms", fresh, sendBody)
				if code != 503 || m["error"] != "temporarily_unavailable" {
					t.Fatalf("oauthd down: %d %v", code, m)
				}
			})
		})
	}
}

// TestRevocationReachesResourceServer: a revoked token is refused by
// introspection at once and by the resource server no later than its
// cache lifetime. The resource server's clock is moved, not waited for.
func TestRevocationReachesResourceServer(t *testing.T) {
	auth := startAuthServer(t, redistest.Mini)
	rs := auth.create(t, "tokens:introspect", "")
	daemon := auth.create(t, "sms", "1h")
	rsClock := &clock{}
	client, err := introspect.New(introspect.Config{
		Issuer: auth.issuer, ClientID: rs.id, ClientSecret: rs.secret,
		CacheTTL: 5 * time.Second, Realm: "sms-api", Now: rsClock.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(newAPI(tokenGuard{client}, slog.New(slog.DiscardHandler), slog.New(slog.DiscardHandler), time.Now))
	defer api.Close()

	tok := auth.token(t, daemon)
	if code, m := call(t, "POST", api.URL+"/v1/sms", tok, sendBody); code != 201 {
		t.Fatalf("before revocation: %d %v", code, m)
	}
	if code, m := auth.post(t, "/oauth/revoke", daemon, url.Values{"token": {tok}}); code != 200 {
		t.Fatalf("revoke: %d %v", code, m)
	}
	code, m := auth.post(t, "/oauth/introspect", rs, url.Values{"token": {tok}})
	if code != 200 || m["active"] != false || m["inactive_reason"] != "revoked" {
		t.Fatalf("introspection right after revocation: %d %v", code, m)
	}
	// Within the cache lifetime the cached answer may still be used...
	if code, _ := call(t, "POST", api.URL+"/v1/sms", tok, sendBody); code != 201 {
		t.Fatalf("within cache lifetime: %d (the cache should still hold the active answer)", code)
	}
	// ...and past it, never.
	rsClock.advance(5*time.Second + time.Millisecond)
	code, m = call(t, "POST", api.URL+"/v1/sms", tok, sendBody)
	if code != 401 || m["error_description"] != "token revoked" {
		t.Fatalf("after the cache lifetime: %d %v", code, m)
	}
}

// A resource server whose own application lacks tokens:introspect cannot
// validate anything: every request is 503, never a silent accept.
func TestResourceServerWithoutIntrospectScope(t *testing.T) {
	auth := startAuthServer(t, redistest.Mini)
	notRS := auth.create(t, "sms", "1h")
	api := runtest.Start(t, runTest, "sms-api listening", map[string]string{
		"SMSAPI_ISSUER": auth.issuer, "SMSAPI_CLIENT_ID": notRS.id, "SMSAPI_CLIENT_SECRET": notRS.secret,
	}, "--http-addr", "127.0.0.1:0", "--log-format", "json")
	code, m := call(t, "POST", api.URL+"/v1/sms", auth.token(t, notRS), sendBody)
	if code != 503 {
		t.Fatalf("%d %v: want 503", code, m)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "config issuer"},
		{map[string]string{"SMSAPI_ISSUER": "http://a"}, "config client_id"},
		{map[string]string{"SMSAPI_ISSUER": "http://a", "SMSAPI_CLIENT_ID": "x"}, "config client_secret"},
		{map[string]string{"SMSAPI_ISSUER": "http://a", "SMSAPI_CLIENT_ID": "x", "SMSAPI_CLIENT_SECRET": "y", "SMSAPI_CACHE_TTL": "1h"}, "config cache_ttl"},
		{map[string]string{"SMSAPI_ISSUER": "localhost:8080", "SMSAPI_CLIENT_ID": "x", "SMSAPI_CLIENT_SECRET": "y"}, "config issuer"},
	}
	base := func(k, v string) map[string]string {
		return map[string]string{"SMSAPI_ISSUER": "http://a", "SMSAPI_CLIENT_ID": "x", "SMSAPI_CLIENT_SECRET": "y", k: v}
	}
	for _, tt := range []struct{ key, value, want string }{
		{"SMSAPI_PUBLIC_URL", "https://sms.example/?q", "config public_url"},
		{"SMSAPI_PUBLIC_URL", "sms.example", "config public_url"},
		{"SMSAPI_DPOP_WINDOW", "1h", "config dpop.window"},
		{"SMSAPI_DPOP_NONCE_KEY", "c2hvcnQ=", "config dpop.nonce_key"},
		{"SMSAPI_DPOP_REPLAY_REDIS_URL", "localhost:6379", "config dpop.replay_redis_url"},
		{"SMSAPI_HTTP_CLIENT_CERT_HEADER", "Client-Cert", "config http.client_cert_header"},
		{"SMSAPI_TLS_ADDR", ":8443", "config tls.cert_file"},
		{"SMSAPI_TLS_CERT_FILE", "/nonexistent", "config tls.cert_file"},
		{"SMSAPI_TLS_CLIENT_CA_FILE", "/nonexistent", "config tls.client_ca_file"},
	} {
		tests = append(tests, struct {
			env  map[string]string
			want string
		}{base(tt.key, tt.value), tt.want})
	}
	for _, tt := range tests {
		err := runTest(context.Background(), nil, runtest.Env(tt.env), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("env %v: error %v, want %q", tt.env, err, tt.want)
		}
	}
}

// --help shows booleans as plain switches (--feed), not pflag's
// --feed[=true|false].
func TestHelpPlainBooleans(t *testing.T) {
	var out bytes.Buffer
	if err := runTest(context.Background(), []string{"--help"}, runtest.Env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if h := out.String(); strings.Contains(h, "[=true|false]") || !strings.Contains(h, "--jwt-local ") || !strings.Contains(h, "-v, --version ") {
		t.Fatalf("help:\n%s", h)
	}
}

// A misspelt variable is named at start-up, with the one it most likely
// meant, and its value is not logged.
func TestWarnsOfUnknownEnv(t *testing.T) {
	auth := startAuthServer(t, redistest.Mini)
	rs := auth.create(t, "tokens:introspect", "")
	api := runtest.Start(t, runTest, "sms-api listening", map[string]string{
		"SMSAPI_ISSUER":         auth.issuer,
		"SMSAPI_CLIENT_ID":      rs.id,
		"SMSAPI_CLIENT_SECRET":  rs.secret,
		"SMSAPI_CACHE_TL":       "0s",
		"SMSAPI_CLIENT_SECRETT": "hunter2-not-logged",
		"OAUTHD_CACHE_TTL":      "oauthd's, not ours",
	}, "--http-addr", "127.0.0.1:0", "--log-format", "json")
	logs := api.Logs.String()
	for _, want := range []string{
		`"variable":"SMSAPI_CACHE_TL","did_you_mean":"SMSAPI_CACHE_TTL"`,
		`"variable":"SMSAPI_CLIENT_SECRETT","did_you_mean":"SMSAPI_CLIENT_SECRET"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %s in the log:\n%s", want, logs)
		}
	}
	if n := strings.Count(logs, "sets nothing and is ignored"); n != 2 {
		t.Errorf("%d warnings of unknown variables, want 2:\n%s", n, logs)
	}
	if strings.Contains(logs, "hunter2") {
		t.Errorf("the log carries a variable's value:\n%s", logs)
	}
}
