package main

import (
	"context"
	"encoding/json"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

// TestCLIVerbs runs every admin verb twice: through a running server's
// admin API (--endpoint) and straight on its Redis (--redis-url). Both go
// through the same service, so both must behave alike, audit included.
func TestCLIVerbs(t *testing.T) {
	t.Parallel()
	modes := adminModes(t, startScannedRedis(t, redistest.Real))
	for name, env := range modes {
		t.Run(name, func(t *testing.T) {
			cli := cliOK(t, env)
			var created app
			if err := json.Unmarshal([]byte(cli("apps", "create", "--json", "--name", "cli-"+name, "--scopes", "sms groups")), &created); err != nil || created.ClientSecret == "" {
				t.Fatalf("create: %+v %v", created, err)
			}
			id := created.ClientID

			if out := cli("apps", "get", id); !strings.Contains(out, "cli-"+name) || !strings.Contains(out, "tokens_issued") {
				t.Fatalf("get table:\n%s", out)
			}
			if out := cli("apps", "list", "--name", "cli-"+name); !strings.Contains(out, id) || !strings.Contains(out, "CLIENT_ID") {
				t.Fatalf("list table:\n%s", out)
			}
			if out := cli("apps", "list", "--search", strings.ToUpper(name), "--sort", "-name"); !strings.Contains(out, id) {
				t.Fatalf("list --search %s --sort -name:\n%s", strings.ToUpper(name), out)
			}
			var list struct{ Applications []app }
			if err := json.Unmarshal([]byte(cli("apps", "list", "--json", "--name", "cli-"+name)), &list); err != nil || len(list.Applications) != 1 {
				t.Fatalf("list --json: %+v %v", list, err)
			}

			var updated app
			json.Unmarshal([]byte(cli("apps", "update", id, "--scopes", "groups", "--disable", "--json")), &updated)
			if updated.Enabled || strings.Join(updated.Scopes, " ") != "groups" {
				t.Fatalf("update: %+v", updated)
			}
			cli("apps", "update", id, "--enable", "--allow-ip", "127.0.0.1")
			cli("apps", "update", id, "--clear-allow-ip")
			if out := cli("apps", "update", id, "--quota", "1000/1h", "--introspection-quota", "unlimited", "--quota-mode", "monitor"); !strings.Contains(out, "1000/1h") ||
				!strings.Contains(out, "unlimited") || !strings.Contains(out, "monitor") {
				t.Fatalf("update --quota:\n%s", out)
			}
			if out := cli("apps", "update", id, "--quota", "", "--quota-mode", "default"); !regexp.MustCompile(`token_quota\s+default`).MatchString(out) {
				t.Fatalf("update --quota '' (back to the default):\n%s", out)
			}

			var reset struct {
				ClientSecret string `json:"client_secret"`
				SecretID     string `json:"secret_id"`
				Secrets      []struct {
					ID string `json:"id"`
				} `json:"secrets"`
			}
			json.Unmarshal([]byte(cli("apps", "reset-secret", id, "--grace", "1h", "--json")), &reset)
			if reset.ClientSecret == "" || len(reset.Secrets) != 2 {
				t.Fatalf("reset-secret: %+v", reset)
			}
			old := reset.Secrets[0].ID
			if old == reset.SecretID {
				old = reset.Secrets[1].ID
			}
			if out := cli("apps", "delete-secret", id, old); !strings.Contains(out, "deleted secret") {
				t.Fatalf("delete-secret: %s", out)
			}
			if out := cli("apps", "get", id); strings.Contains(out, old) || !strings.Contains(out, reset.SecretID) {
				t.Fatalf("after delete-secret:\n%s", out)
			}
			// An API key and a token, listed, one revoked by jti.
			var key struct {
				Key string `json:"api_key"`
				JTI string `json:"jti"`
			}
			json.Unmarshal([]byte(cli("api-keys", "create", id, "--name", "cron", "--expires-in", "30d", "--json")), &key)
			if !strings.HasPrefix(key.Key, "oak_") || key.JTI == "" {
				t.Fatalf("api-keys create: %+v", key)
			}
			if out := cli("tokens", "list", id); !strings.Contains(out, key.JTI) || !strings.Contains(out, "api_key") || strings.Contains(out, key.Key) {
				t.Fatalf("tokens list:\n%s", out)
			}
			if out := cli("tokens", "revoke", key.JTI); !strings.Contains(out, "revoked") {
				t.Fatalf("tokens revoke: %s", out)
			}
			if _, err := runCLI(t, env, "tokens", "revoke", key.JTI); err == nil || !strings.Contains(err.Error(), "not found") {
				t.Fatalf("revoking twice: %v", err)
			}
			if out := cli("apps", "revoke-tokens", id); !strings.Contains(out, "revoked") {
				t.Fatalf("revoke-tokens: %s", out)
			}
			events := cli("events", "--client-id", id)
			for _, k := range []string{"application.created", "application.updated", "secret.reset", "tokens.revoked", "api_key.created", "token.revoked", "secret.deleted"} {
				if !strings.Contains(events, k) {
					t.Fatalf("events lack %s:\n%s", k, events)
				}
			}
			wantActor := "cli"
			if name == "remote" {
				wantActor = "admin-key:"
			}
			if !strings.Contains(events, wantActor) || strings.Contains(events, created.ClientSecret) || strings.Contains(events, reset.ClientSecret) {
				t.Fatalf("events actor or secrecy:\n%s", events)
			}
			// --security lists the other log, which holds no change.
			if out := cli("events", "--security", "--client-id", id); strings.Contains(out, "application.created") || !strings.Contains(out, "KIND") {
				t.Fatalf("events --security lists changes:\n%s", out)
			}
			// A misspelt kind lists nothing, and says so on standard error
			// with the kind meant; a known kind with no events says nothing.
			if _, stderr, err := runCLIStderr(t, env, "events", "--kind", "secret.rest"); err != nil ||
				!strings.Contains(stderr, `no events: oauthd writes no events of kind "secret.rest"; did you mean secret.reset?`) {
				t.Fatalf("events --kind secret.rest: %v\n%s", err, stderr)
			}
			if _, stderr, err := runCLIStderr(t, env, "events", "--kind", "scope.deleted"); err != nil || strings.Contains(stderr, "no events") {
				t.Fatalf("events --kind scope.deleted: %v\n%s", err, stderr)
			}
			cli("apps", "delete", id)

			// Errors print the server's message and fail.
			for _, tt := range []struct {
				args []string
				want string
			}{
				{[]string{"apps", "get", id}, "not found"},
				{[]string{"apps", "create", "--name", "x", "--scopes", "nope"}, "unknown scope"},
				{[]string{"apps", "update", "whatever"}, "nothing to change"},
				{[]string{"apps", "reset-secret", "nosuch", "--grace", "9999h"}, "grace_period"},
				{[]string{"events", "--limit", "0"}, "limit"},
				{[]string{"events", "--security", "--kind", "secret.reset"}, "not the security log"},
			} {
				if _, err := runCLI(t, env, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("oauthd %v: error %v, want %q", tt.args, err, tt.want)
				}
			}
		})
	}
	t.Run("remote without a key", func(t *testing.T) {
		url := modes["remote"]["OAUTHD_ENDPOINT"]
		_, err := runCLI(t, map[string]string{"OAUTHD_ENDPOINT": url}, "apps", "list")
		if err == nil || !strings.Contains(err.Error(), "OAUTHD_ADMIN_KEY") {
			t.Fatalf("error %v", err)
		}
		_, err = runCLI(t, map[string]string{"OAUTHD_ENDPOINT": url, "OAUTHD_ADMIN_KEY": "oadm_wrong"}, "apps", "list")
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("wrong key: %v", err)
		}
	})
}

// Secret rotation over real listeners with a real OAuth client: during the
// grace period both secrets get tokens; after it, only the new one.
func TestSecretRotationWithGrace(t *testing.T) {
	t.Parallel()
	rs := startScannedRedis(t, redistest.Real)
	p := startOAuthd(t, nil, "--redis-url", rs.URL)
	env := map[string]string{"OAUTHD_REDIS_URL": rs.URL}
	var created app
	out, err := runCLI(t, env, "apps", "create", "--json", "--name", "rotating", "--scopes", "sms")
	if err != nil || json.Unmarshal([]byte(out), &created) != nil {
		t.Fatalf("create: %v %s", err, out)
	}
	token := func(secret string) error {
		cfg := clientcredentials.Config{ClientID: created.ClientID, ClientSecret: secret, TokenURL: p.URL + "/oauth/token"}
		_, err := cfg.Token(context.Background())
		return err
	}
	beforeReset := time.Now() // the grace period cannot end before this + 2s
	out, err = runCLI(t, env, "apps", "reset-secret", created.ClientID, "--grace", "2s", "--json")
	var reset struct {
		ClientSecret string `json:"client_secret"`
	}
	if err != nil || json.Unmarshal([]byte(out), &reset) != nil {
		t.Fatalf("reset-secret: %v %s", err, out)
	}
	start := time.Now()
	if err := token(created.ClientSecret); err != nil {
		t.Fatalf("old secret within the grace period: %v", err)
	}
	if err := token(reset.ClientSecret); err != nil {
		t.Fatalf("new secret: %v", err)
	}
	// The grace period is wall-clock time on a real server: poll until the
	// old secret fails, bounded well past the 2s grace.
	for {
		err := token(created.ClientSecret)
		if err != nil {
			wantRetrieveError(t, err, 401, "invalid_client")
			if elapsed := time.Since(beforeReset); elapsed < 2*time.Second-10*time.Millisecond {
				t.Fatalf("old secret refused after %v, before its 2s grace ended", elapsed)
			}
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("old secret still accepted 10s into a 2s grace period")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := token(reset.ClientSecret); err != nil {
		t.Fatalf("new secret after the grace period: %v", err)
	}
}

// newAdminKey runs `oauthd admin-key` and returns the key and its digest.
// adminModes starts oauthd on rs with an admin key and returns the
// environments of the CLI's two ways to it: through its admin API
// ("remote") and straight on its Redis ("direct").
func adminModes(t *testing.T, rs *redistest.Server) map[string]map[string]string {
	t.Helper()
	key, digest := newAdminKey(t)
	p := startOAuthd(t, map[string]string{"OAUTHD_ADMIN_KEY_SHA256": digest}, "--redis-url", rs.URL)
	return map[string]map[string]string{
		"remote": {"OAUTHD_ENDPOINT": p.URL, "OAUTHD_ADMIN_KEY": key},
		"direct": {"OAUTHD_REDIS_URL": rs.URL},
	}
}

// cliOK returns a function that runs a command line in env and returns
// its output, failing the test on an error.
func cliOK(t *testing.T, env map[string]string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		out, err := runCLI(t, env, args...)
		if err != nil {
			t.Fatalf("oauthd %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
}

func newAdminKey(t *testing.T) (key, digest string) {
	t.Helper()
	out, err := runCLI(t, nil, "admin-key")
	if err != nil {
		t.Fatal(err)
	}
	k := regexp.MustCompile(`key:\s+(\S+)`).FindStringSubmatch(out)
	d := regexp.MustCompile(`sha256:\s+([0-9a-f]{64})`).FindStringSubmatch(out)
	if k == nil || d == nil {
		t.Fatalf("admin-key printed:\n%s", out)
	}
	return k[1], d[1]
}

// go-redis's own lines reach the CLI's standard error through its log,
// graded, not as go-redis's raw "redis: sentinel.go:..." lines: here a
// Sentinel that does not answer is one warning.
func TestCLIRedisLibraryLines(t *testing.T) {
	// Not in parallel: go-redis has one logger per process, and the lines
	// of another test's program could land in this CLI's standard error.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, stderr, err := runCLIStderr(t, map[string]string{"OAUTHD_REDIS_SENTINEL_MASTER": "mymaster", "OAUTHD_REDIS_SENTINEL_ADDRS": addr}, "apps", "list")
	if err == nil || !strings.Contains(err.Error(), "cannot reach Redis") {
		t.Fatalf("error %v", err)
	}
	if !regexp.MustCompile(`level=WARN msg="redis client" detail="sentinel: .*failed`).MatchString(stderr) || strings.Contains(stderr, "\nredis: ") || strings.HasPrefix(stderr, "redis: ") {
		t.Fatalf("standard error:\n%s", stderr)
	}
}
