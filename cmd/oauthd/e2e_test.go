package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

// app is an application as `oauthd apps create` prints it.
type app struct {
	ClientID      string   `json:"client_id"`
	ClientSecret  string   `json:"client_secret"`
	Name          string   `json:"name"`
	Scopes        []string `json:"scopes"`
	TokenLifetime string   `json:"token_lifetime"`
	IPAllowlist   []string `json:"ip_allowlist"`
	Enabled       bool     `json:"enabled"`
}

func createApp(t *testing.T, redisURL string, args ...string) app {
	t.Helper()
	return createAppOn(t, []string{"--redis-url", redisURL}, args...)
}

// createAppOn creates an application with `oauthd apps create` on the Redis
// the flags name (a URL, Sentinel or Cluster settings).
func createAppOn(t *testing.T, redisFlags []string, args ...string) app {
	t.Helper()
	out, err := runCLI(t, nil, append(append([]string{"apps", "create", "--json"}, redisFlags...), args...)...)
	if err != nil {
		t.Fatalf("apps create %v: %v", args, err)
	}
	var a app
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("apps create printed %q: %v", out, err)
	}
	return a
}

// TestEmbeddedQuickStart is the README's first minute: serve with no Redis,
// read the printed demo credentials, get a token with x/oauth2.
func TestEmbeddedQuickStart(t *testing.T) {
	t.Parallel()
	p := startOAuthd(t, nil)
	id, secret := demoCredentials(t, p)
	if !contains(p.Stdout.String(), "curl -s -u '"+id+":"+secret+"' -d grant_type=client_credentials "+p.URL+"/oauth/token") {
		t.Fatalf("printed curl command is missing or wrong:\n%s", p.Stdout)
	}
	if !contains(p.Logs.String(), "embedded in-memory store") {
		t.Error("no warning that the embedded store does not persist")
	}
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: p.URL + "/oauth/token"}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatalf("x/oauth2 token: %v", err)
	}
	if !strings.HasPrefix(tok.AccessToken, "oat_") || tok.TokenType != "Bearer" {
		t.Fatalf("token %+v", tok)
	}
	if d := time.Until(tok.Expiry); d < 23*time.Hour || d > 24*time.Hour {
		t.Fatalf("expiry in %v, want about 24h", d)
	}
	// The printed resource-server credentials introspect the token.
	m := regexp.MustCompile(`SMSAPI_CLIENT_ID=(\S+) SMSAPI_CLIENT_SECRET=(\S+)`).FindStringSubmatch(p.Stdout.String())
	if m == nil {
		t.Fatalf("no sms-api command printed:\n%s", p.Stdout)
	}
	resp := postForm(t, p.URL+"/oauth/introspect", "token="+tok.AccessToken, basicAuth(m[1], m[2]))
	if body := getJSON(t, resp); resp.StatusCode != 200 || body["active"] != true || body["client_id"] != id {
		t.Fatalf("introspection with the printed credentials: %d %v", resp.StatusCode, body)
	}
	// No log line may carry the secret or the token. The lines of
	// requests that went well are written in batches (log.buffer): wait
	// for the introspection's line, the last request, to be written.
	deadline := time.Now().Add(5 * time.Second)
	for !contains(p.Logs.String(), `"route":"/oauth/introspect","status":200`) {
		if time.Now().After(deadline) {
			t.Fatalf("the introspection's log line was not written within 5s (log.buffer is 100ms):\n%s", p.Logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if logs := p.Logs.String(); contains(logs, secret) || contains(logs, tok.AccessToken) {
		t.Fatal("a secret or token reached the log")
	}
}

// TestEndToEnd runs the token endpoint against both stores with real
// clients: x/oauth2 in both auth styles, raw curl-shaped requests and curl
// itself.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			rs := startScannedRedis(t, kind)
			endToEnd(t, []string{"--redis-url", rs.URL}, rs.Stop)
		})
	}
}

// endToEnd is the end-to-end suite on the Redis the flags name; stop takes
// that Redis away for the last part. The fault tests run it on a Cluster.
func endToEnd(t *testing.T, redisFlags []string, stop func()) {
	p := startOAuthd(t, nil, redisFlags...)
	if contains(p.Stdout.String(), "client_secret") {
		t.Fatal("a demo application was created on a real Redis")
	}
	a := createAppOn(t, redisFlags, "--name", "billing", "--scopes", "sms groups", "--lifetime", "168h")
	if a.ClientSecret == "" || a.Name != "billing" || a.TokenLifetime != "168h" || strings.Join(a.Scopes, " ") != "sms groups" {
		t.Fatalf("apps create printed %+v", a)
	}
	never := createAppOn(t, redisFlags, "--name", "forever", "--scopes", "sms", "--lifetime", "never")
	local := createAppOn(t, redisFlags, "--name", "local", "--scopes", "sms", "--allow-ip", "127.0.0.1/32")
	remote := createAppOn(t, redisFlags, "--name", "remote", "--scopes", "sms", "--allow-ip", "10.0.0.0/8")

	t.Run("x/oauth2", func(t *testing.T) { testXOAuth2(t, p, a, never, local, remote) })
	t.Run("errors", func(t *testing.T) { testErrorTable(t, p, a) })
	t.Run("curl", func(t *testing.T) { testCurl(t, p, a) })
	t.Run("redis down", func(t *testing.T) {
		stop()
		resp := postForm(t, p.URL+"/oauth/token", "grant_type=client_credentials", basicAuth(a.ClientID, a.ClientSecret))
		body := getJSON(t, resp)
		if resp.StatusCode != 503 || body["error"] != "temporarily_unavailable" {
			t.Fatalf("with Redis down: %d %v", resp.StatusCode, body)
		}
		// The line is written after the answer is sent: wait for it.
		deadline := time.Now().Add(5 * time.Second)
		for !contains(p.Logs.String(), `"error":"temporarily_unavailable"`) {
			if time.Now().After(deadline) {
				t.Fatal("outage not logged")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

func testXOAuth2(t *testing.T, p *program, a, never, local, remote app) {
	ctx := context.Background()
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cfg := clientcredentials.Config{ClientID: a.ClientID, ClientSecret: a.ClientSecret,
			TokenURL: p.URL + "/oauth/token", AuthStyle: style}
		tok, err := cfg.Token(ctx)
		if err != nil {
			t.Fatalf("style %v: %v", style, err)
		}
		if d := time.Until(tok.Expiry); d < 167*time.Hour || d > 168*time.Hour {
			t.Errorf("style %v: expiry in %v, want 168h", style, d)
		}
		if tok.Extra("scope") != "sms groups" {
			t.Errorf("style %v: scope %v", style, tok.Extra("scope"))
		}

		cfg.Scopes = []string{"groups"}
		if tok, err := cfg.Token(ctx); err != nil || tok.Extra("scope") != "groups" {
			t.Errorf("style %v, scope groups: %v %v", style, err, tok)
		}
		cfg.Scopes = []string{"viber"}
		wantRetrieveError(t, fmt0(cfg.Token(ctx)), 400, "invalid_scope")

		cfg.Scopes = nil
		cfg.ClientSecret = "ocs_wrong"
		wantRetrieveError(t, fmt0(cfg.Token(ctx)), 401, "invalid_client")
	}

	// A never-expiring token comes without expires_in: x/oauth2 leaves
	// Expiry zero and never tries to refresh it.
	cfg := clientcredentials.Config{ClientID: never.ClientID, ClientSecret: never.ClientSecret, TokenURL: p.URL + "/oauth/token"}
	tok, err := cfg.Token(ctx)
	if err != nil || !tok.Expiry.IsZero() {
		t.Fatalf("never-expiring token: %v, expiry %v", err, tok.Expiry)
	}

	// The allowlist is checked against the socket's address (127.0.0.1).
	cfg = clientcredentials.Config{ClientID: local.ClientID, ClientSecret: local.ClientSecret, TokenURL: p.URL + "/oauth/token"}
	if _, err := cfg.Token(ctx); err != nil {
		t.Fatalf("allowlisted 127.0.0.1: %v", err)
	}
	cfg = clientcredentials.Config{ClientID: remote.ClientID, ClientSecret: remote.ClientSecret, TokenURL: p.URL + "/oauth/token"}
	wantRetrieveError(t, fmt0(cfg.Token(ctx)), 401, "invalid_client")
}

func fmt0[T any](_ T, err error) error { return err }

func wantRetrieveError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error %v, want a RetrieveError %d %s", err, status, code)
	}
	if re.Response.StatusCode != status || re.ErrorCode != code || re.ErrorDescription == "" {
		t.Fatalf("got %d %q %q, want %d %s with a description", re.Response.StatusCode, re.ErrorCode, re.ErrorDescription, status, code)
	}
}

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func postForm(t *testing.T, u, body, auth string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// testErrorTable walks every row of the README's token-endpoint error
// table against the real listener.
func testErrorTable(t *testing.T, p *program, a app) {
	good := basicAuth(a.ClientID, a.ClientSecret)
	cc := "grant_type=client_credentials"
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		auth        string
		status      int
		code        string
	}{
		{"content type not form", "POST", "application/json", `{"grant_type":"client_credentials"}`, good, 400, "invalid_request"},
		{"grant_type missing", "POST", "", "scope=sms", good, 400, "invalid_request"},
		{"parameter repeated", "POST", "", cc + "&" + cc, good, 400, "invalid_request"},
		{"basic and post together", "POST", "", cc + "&client_id=" + a.ClientID + "&client_secret=" + a.ClientSecret, good, 400, "invalid_request"},
		{"no credentials", "POST", "", cc, "", 401, "invalid_client"},
		{"unknown client", "POST", "", cc, basicAuth("unknown", "x"), 401, "invalid_client"},
		{"wrong secret", "POST", "", cc, basicAuth(a.ClientID, "ocs_nope"), 401, "invalid_client"},
		{"unsupported grant type", "POST", "", "grant_type=password&username=u&password=p", good, 400, "unsupported_grant_type"},
		{"scope not allowed", "POST", "", cc + "&scope=viber", good, 400, "invalid_scope"},
		{"scope malformed", "POST", "", cc + "&scope=%22sms%22", good, 400, "invalid_scope"},
		{"wrong method", "GET", "", "", good, 405, "invalid_request"},
		{"body too large", "POST", "", cc + "&pad=" + strings.Repeat("x", 32<<10), good, 413, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, p.URL+"/oauth/token", strings.NewReader(tt.body))
			ct := tt.contentType
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			req.Header.Set("Content-Type", ct)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := getJSON(t, resp)
			if resp.StatusCode != tt.status || body["error"] != tt.code || body["error_description"] == "" {
				t.Fatalf("got %d %v, want %d %s", resp.StatusCode, body, tt.status, tt.code)
			}
			if wa := resp.Header.Get("WWW-Authenticate"); (tt.status == 401) != (wa != "") {
				t.Errorf("status %d with WWW-Authenticate %q", resp.StatusCode, wa)
			}
		})
	}
}

// testCurl runs the README's curl command.
func testCurl(t *testing.T, p *program, a app) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		if isCI() {
			t.Fatal("curl is not installed; .ci/run installs it")
		}
		t.Skip("curl is not installed (apt-get install curl): the README's curl command did not run")
	}
	out, err := exec.Command(curl, "-s", "-i", "-u", a.ClientID+":"+a.ClientSecret,
		"-d", "grant_type=client_credentials", "-d", "scope=sms", p.URL+"/oauth/token").Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	leaks.addSource("curl's answer in "+t.Name(), func() string { return string(out) })
	head, body, _ := strings.Cut(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n\n")
	if !strings.HasPrefix(head, "HTTP/1.1 200") || !contains(head, "Cache-Control: no-store") {
		t.Fatalf("curl got:\n%s", out)
	}
	var tok map[string]any
	if err := json.Unmarshal([]byte(body), &tok); err != nil || tok["scope"] != "sms" || tok["token_type"] != "Bearer" {
		t.Fatalf("curl body %q: %v", body, err)
	}
}

func adminGet(t *testing.T, url, key string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, getJSON(t, resp)
}

// The embedded default prints an admin key that works.
func TestEmbeddedAdminKey(t *testing.T) {
	t.Parallel()
	p := startOAuthd(t, nil)
	m := regexp.MustCompile(`Bearer (oadm_\S+)'`).FindStringSubmatch(p.Stdout.String())
	if m == nil {
		t.Fatalf("no admin key printed:\n%s", p.Stdout)
	}
	code, body := adminGet(t, p.URL+"/admin/v1/applications", m[1])
	if code != 200 || len(body["applications"].([]any)) != 2 {
		t.Fatalf("admin list with the printed key: %d %v", code, body)
	}
	if code, _ := adminGet(t, p.URL+"/admin/v1/applications", "oadm_wrong"); code != 401 {
		t.Fatalf("wrong admin key: %d", code)
	}
}

// admin.addr puts the admin API on its own listener, and only there.
func TestAdminOwnListener(t *testing.T) {
	t.Parallel()
	rs := startScannedRedis(t, redistest.Real)
	key, digest := newAdminKey(t)
	env := map[string]string{"OAUTHD_ADMIN_KEY_SHA256": "  ," + digest, "OAUTHD_REDIS_URL": rs.URL}
	p := startOAuthd(t, env, "--admin-addr", "127.0.0.1:0")
	adminAddr := regexp.MustCompile(`"msg":"oauthd admin listening","addr":"([^"]+)"`).FindStringSubmatch(p.Logs.String())
	if adminAddr == nil {
		t.Fatalf("no admin listener logged:\n%s", p.Logs)
	}
	if code, body := adminGet(t, "http://"+adminAddr[1]+"/admin/v1/applications", key); code != 200 {
		t.Fatalf("admin listener: %d %v", code, body)
	}
	if code, _ := adminGet(t, p.URL+"/admin/v1/applications", key); code != 404 {
		t.Fatalf("admin API on the public listener: %d, want 404", code)
	}
	// Both listeners answer the probes, without a credential.
	for _, base := range []string{p.URL, "http://" + adminAddr[1]} {
		for _, path := range []string{"/health/alive", "/health/ready", "/healthz"} {
			if code, body := adminGet(t, base+path, ""); code != 200 || body["status"] != "ok" {
				t.Errorf("%s%s: %d %v", base, path, code, body)
			}
		}
	}
}

// serve does not exit when Redis is unreachable: it listens, says it is
// alive but not ready, and logs that it waits.
func TestServeWaitsForRedis(t *testing.T) {
	t.Parallel()
	p := startOAuthd(t, nil, "--redis-url", "redis://:pw@127.0.0.1:1")
	for _, tt := range []struct {
		path   string
		status int
	}{{"/health/alive", 200}, {"/health/ready", 503}, {"/healthz", 503}} {
		resp, err := http.Get(p.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: %d, want %d", tt.path, resp.StatusCode, tt.status)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !contains(p.Logs.String(), `"msg":"waiting for Redis"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no waiting line:\n%s", p.Logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if logs := p.Logs.String(); !contains(logs, `"redis":"redis://***@127.0.0.1:1"`) || contains(logs, ":pw@") || !contains(logs, `"retry_in_ms":`) {
		t.Fatalf("waiting line:\n%s", logs)
	}
}

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	return resp.StatusCode, b.String()
}

// /metrics is on the only listener without admin.addr, and only on the
// admin listener with it; so is the profiler when admin.pprof is on. No
// label holds a client_id or a token.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	t.Run("one listener", func(t *testing.T) {
		p := startOAuthd(t, nil)
		id, secret := demoCredentials(t, p)
		cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: p.URL + "/oauth/token"}
		tok, err := cfg.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		code, body := httpGet(t, p.URL+"/metrics")
		for _, want := range []string{
			"oauthd_tokens_issued_total 1",
			`oauthd_http_requests_total{code="200",method="POST",route="/oauth/token"} 1`,
			`oauthd_build_info{goversion="go1.test",revision="0123456789abcdef",version="v0.0.0-test"} 1`,
			// The token script: it reads the application itself.
			`oauthd_redis_command_duration_seconds_count{command="evalsha"}`,
		} {
			if code != 200 || !contains(body, want) {
				t.Errorf("/metrics %d lacks %s", code, want)
			}
		}
		if contains(body, id) || contains(body, tok.AccessToken) || contains(body, "127.0.0.1") {
			t.Error("a client_id, token or address in the metrics")
		}
		if code, _ := httpGet(t, p.URL+"/debug/pprof/"); code != 404 {
			t.Errorf("pprof without admin.pprof: %d", code)
		}
	})
	t.Run("admin listener", func(t *testing.T) {
		p := startOAuthd(t, nil, "--admin-addr", "127.0.0.1:0", "--admin-pprof")
		admin := regexp.MustCompile(`"msg":"oauthd admin listening","addr":"([^"]+)"`).FindStringSubmatch(p.Logs.String())
		if admin == nil {
			t.Fatalf("no admin listener:\n%s", p.Logs)
		}
		if code, _ := httpGet(t, p.URL+"/metrics"); code != 404 {
			t.Errorf("/metrics on the public listener: %d", code)
		}
		if code, body := httpGet(t, "http://"+admin[1]+"/metrics"); code != 200 || !contains(body, "oauthd_build_info") {
			t.Errorf("/metrics on the admin listener: %d", code)
		}
		if code, body := httpGet(t, "http://"+admin[1]+"/debug/pprof/goroutine?debug=1"); code != 200 || !contains(body, "goroutine profile") {
			t.Errorf("pprof on the admin listener: %d %.100s", code, body)
		}
		if code, _ := httpGet(t, p.URL+"/debug/pprof/"); code != 404 {
			t.Errorf("pprof on the public listener: %d", code)
		}
	})
}
