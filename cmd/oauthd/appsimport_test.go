package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/oauthd/oauthd/server/admin/adminapi"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// Applications move from another server with their credentials: one by
// one with the secret from a file, or many from a JSON file; the daemons'
// existing secrets then get tokens. Export gives the same shape back.
func TestAppsImportExport(t *testing.T) {
	t.Parallel()
	rs := startScannedRedis(t, redistest.Real)
	key, digest := newAdminKey(t)
	p := startOAuthd(t, map[string]string{"OAUTHD_ADMIN_KEY_SHA256": digest}, "--redis-url", rs.URL)
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	modes := map[string]map[string]string{
		"remote": {"OAUTHD_ENDPOINT": p.URL, "OAUTHD_ADMIN_KEY": key},
		"direct": {"OAUTHD_REDIS_URL": rs.URL},
	}
	for name, env := range modes {
		t.Run(name, func(t *testing.T) {
			secret := "hydra-secret-" + name + "-0123456789abcdef"
			leaks.register("imported client secret", secret)
			leaks.register("imported client secret", secret+"-1")
			out, err := runCLI(t, env, "apps", "import", "kc-"+name, "--name", "from keycloak", "--scopes", "sms",
				"--secret-file", write(name+".secret", secret+"\n"))
			if err != nil || !strings.Contains(out, "kc-"+name) || !strings.Contains(out, "imported") {
				t.Fatalf("import one: %v\n%s", err, out)
			}
			file := write(name+".json", `{"applications": [
				{"client_id": "hy-`+name+`-1", "client_secret": "`+secret+`-1", "name": "one", "scopes": ["sms", "groups"], "token_lifetime": "1h"},
				{"client_id": "kc-`+name+`", "client_secret": "`+secret+`", "name": "again", "scopes": ["sms"]},
				{"client_id": "bad_id", "client_secret": "`+secret+`", "name": "bad", "scopes": ["sms"]}
			]}`)
			out, err = runCLI(t, env, "apps", "import", "--file", file, "--json")
			var results []importResult
			if json.Unmarshal([]byte(out), &results) != nil || len(results) != 3 || err == nil || !strings.Contains(err.Error(), "2 of 3") {
				t.Fatalf("import file: %v\n%s", err, out)
			}
			if results[0].Result != "imported" || results[1].Result != "exists" || results[2].Result != "invalid" || !strings.Contains(results[2].Error, "client_id") {
				t.Fatalf("results %+v", results)
			}
			for id, s := range map[string]string{"kc-" + name: secret, "hy-" + name + "-1": secret + "-1"} {
				cfg := clientcredentials.Config{ClientID: id, ClientSecret: s, TokenURL: p.URL + "/oauth/token"}
				if tok, err := cfg.Token(context.Background()); err != nil || !strings.HasPrefix(tok.AccessToken, "oat_"+id+"_") {
					t.Fatalf("token for imported %s: %v", id, err)
				}
			}
			if logs := p.Logs.String(); strings.Contains(logs, secret) {
				t.Fatal("an imported secret reached the log")
			}
		})
	}
	out, err := runCLI(t, map[string]string{"OAUTHD_REDIS_URL": rs.URL}, "apps", "export")
	var exported migrationFile
	if err != nil || json.Unmarshal([]byte(out), &exported) != nil || len(exported.Applications) != 4 {
		t.Fatalf("export: %v\n%s", err, out)
	}
	for _, a := range exported.Applications {
		if a.ClientSecret != "" || a.Name == "" || len(a.Scopes) == 0 {
			t.Fatalf("exported %+v", a)
		}
	}
	if strings.Contains(out, "hydra-secret") {
		t.Fatal("export printed a secret")
	}
}

// A backup restored into another Redis, or a move there, through apps
// export and apps import, in both modes: a JWT application with an owner,
// audiences, metadata, an allowlist, quotas of its own in monitor mode and
// two secrets (the old one in its grace period), and a disabled, unlimited
// one, arrive whole, and the daemon's
// existing secrets get tokens from the second Redis. The file is marked
// sensitive and written 0600. An export --without-secrets imports only
// with --reset-secrets, whose new secrets work.
func TestExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	key, digest := newAdminKey(t)
	seal := newSealingKey(t)
	serveEnv := map[string]string{"OAUTHD_ADMIN_KEY_SHA256": digest, "OAUTHD_JWT_SEALING_KEY": seal}
	for _, mode := range []string{"remote", "direct"} {
		t.Run(mode, func(t *testing.T) {
			from, to := startScannedRedis(t, redistest.Real), startScannedRedis(t, redistest.Real)
			src := startOAuthd(t, serveEnv, "--redis-url", from.URL)
			dst := startOAuthd(t, serveEnv, "--redis-url", to.URL)
			on := func(p *program, rs *redistest.Server) map[string]string {
				if mode == "remote" {
					return map[string]string{"OAUTHD_ENDPOINT": p.URL, "OAUTHD_ADMIN_KEY": key}
				}
				return map[string]string{"OAUTHD_REDIS_URL": rs.URL, "OAUTHD_JWT_SEALING_KEY": seal}
			}
			cli := func(env map[string]string, args ...string) (string, string) {
				t.Helper()
				out, errOut, err := runCLIStderr(t, env, args...)
				if err != nil {
					t.Fatalf("oauthd %s: %v\n%s", strings.Join(args, " "), err, errOut)
				}
				return out, errOut
			}
			var created, disabled adminapi.Application
			var reset adminapi.SecretReset
			out, _ := cli(on(src, from), "apps", "create", "--json", "--name", "billing", "--description", "invoices by SMS",
				"--owner", "acct_7", "--metadata", "env=prod", "--metadata", "team=billing", "--scopes", "sms groups",
				"--lifetime", "1h", "--allow-ip", "127.0.0.1", "--allow-ip", "10.0.0.0/8",
				"--token-format", "jwt", "--audience", "https://sms.example", "--audience", "https://reports.example",
				"--quota", "500/1h", "--introspection-quota", "20/1s", "--quota-mode", "monitor")
			mustJSON(t, out, &created)
			out, _ = cli(on(src, from), "apps", "reset-secret", created.ClientID, "--grace", "1h", "--json")
			mustJSON(t, out, &reset)
			out, _ = cli(on(src, from), "apps", "create", "--json", "--name", "retired", "--scopes", "sms", "--quota", "unlimited")
			mustJSON(t, out, &disabled)
			cli(on(src, from), "apps", "update", disabled.ClientID, "--disable")

			file := filepath.Join(t.TempDir(), "apps.json")
			_, warning := cli(on(src, from), "apps", "export", "--output", file)
			if !strings.Contains(warning, "digests of 3 secrets of 2 applications") {
				t.Errorf("export warned %q", warning)
			}
			if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("export file: %v, mode %v", err, fi.Mode())
			}
			b, _ := os.ReadFile(file)
			var exported migrationFile
			if err := json.Unmarshal(b, &exported); err != nil || exported.Version != 2 || !exported.Sensitive || !strings.Contains(exported.Comment, "Sensitive") {
				t.Fatalf("export file: %v\n%s", err, b)
			}
			if a := exported.Applications[0]; a.TokenQuota != "500/1h" || a.IntrospectionQuota != "20/1s" || a.QuotaMode != "monitor" || exported.Applications[1].TokenQuota != "unlimited" {
				t.Fatalf("the export's quotas: %+v, %+v", a.NewApplicationRequest, exported.Applications[1].NewApplicationRequest)
			}
			for _, s := range []string{created.ClientSecret, reset.ClientSecret} {
				if strings.Contains(string(b), s) {
					t.Fatal("the export holds a secret in clear")
				}
			}

			out, _ = cli(on(dst, to), "apps", "import", "--file", file, "--json")
			var results []importResult
			if mustJSON(t, out, &results); len(results) != 2 || results[0].Result != "imported" || results[1].Result != "imported" {
				t.Fatalf("import: %s", out)
			}
			for _, id := range []string{created.ClientID, disabled.ClientID} {
				was, _ := cli(on(src, from), "apps", "get", id, "--json")
				is, _ := cli(on(dst, to), "apps", "get", id, "--json")
				if a, b := comparable(t, was), comparable(t, is); a != b {
					t.Errorf("%s was\n%s\nis\n%s", id, a, b)
				}
			}
			for name, secret := range map[string]string{"old (in its grace period)": created.ClientSecret, "new": reset.ClientSecret} {
				cc := clientcredentials.Config{ClientID: created.ClientID, ClientSecret: secret, TokenURL: dst.URL + "/oauth/token"}
				tok, err := signedToken(cc)
				if err != nil {
					t.Fatalf("the %s secret at the second Redis: %v", name, err)
				}
				if claims := jwtClaims(t, tok.AccessToken); claims["client_id"] != created.ClientID || !strings.Contains(fmt.Sprint(claims["aud"]), "https://reports.example") {
					t.Fatalf("the %s secret's token: %v", name, claims)
				}
			}
			cc := clientcredentials.Config{ClientID: disabled.ClientID, ClientSecret: disabled.ClientSecret, TokenURL: dst.URL + "/oauth/token"}
			if _, err := cc.Token(context.Background()); err == nil {
				t.Fatal("the disabled application got a token at the second Redis")
			}

			if mode == "remote" {
				return
			}
			// Without secrets: refused as a whole, or imported with new ones.
			bare := filepath.Join(t.TempDir(), "bare.json")
			_, warning = cli(on(src, from), "apps", "export", "--without-secrets", "--output", bare)
			if strings.Contains(warning, "warning") {
				t.Errorf("an export without secrets warned %q", warning)
			}
			third := startScannedRedis(t, redistest.Mini)
			thirdEnv := map[string]string{"OAUTHD_REDIS_URL": third.URL}
			if _, err := runCLI(t, thirdEnv, "apps", "import", "--file", bare); err == nil || !strings.Contains(err.Error(), "--reset-secrets") {
				t.Fatalf("importing an export without secrets: %v", err)
			}
			if out, _ := cli(thirdEnv, "apps", "list", "--json"); strings.Contains(out, created.ClientID) {
				t.Fatal("a refused import imported something")
			}
			out, _ = cli(thirdEnv, "apps", "import", "--file", bare, "--reset-secrets", "--json")
			mustJSON(t, out, &results)
			i := slices.IndexFunc(results, func(r importResult) bool { return r.ClientID == created.ClientID })
			if len(results) != 2 || i < 0 || !strings.HasPrefix(results[i].ClientSecret, "ocs_") || !strings.HasPrefix(results[1-i].ClientSecret, "ocs_") {
				t.Fatalf("import --reset-secrets: %s", out)
			}
			p := startOAuthd(t, serveEnv, "--redis-url", third.URL)
			cc = clientcredentials.Config{ClientID: created.ClientID, ClientSecret: results[i].ClientSecret, TokenURL: p.URL + "/oauth/token"}
			if _, err := signedToken(cc); err != nil {
				t.Fatalf("a secret --reset-secrets gave: %v", err)
			}
			if _, err := (&clientcredentials.Config{ClientID: created.ClientID, ClientSecret: created.ClientSecret, TokenURL: p.URL + "/oauth/token"}).Token(context.Background()); err == nil {
				t.Fatal("a secret left out of the export still works")
			}
		})
	}
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v:\n%s", err, s)
	}
}

// comparable is an application as `apps get --json` prints it, without
// what an import does not carry over: its own creation and change times
// and the usage counts.
func comparable(t *testing.T, s string) string {
	t.Helper()
	var m map[string]any
	mustJSON(t, s, &m)
	for _, k := range []string{"created_at", "updated_at", "last_used_at", "tokens_issued"} {
		delete(m, k)
	}
	for _, sec := range m["secrets"].([]any) {
		delete(sec.(map[string]any), "last_used_at")
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// jwtClaims decodes a JWT's claims without checking it (TestCLIJWT does).
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.20s...", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err != nil || json.Unmarshal(b, &claims) != nil {
		t.Fatalf("JWT claims: %v", err)
	}
	return claims
}

// signedToken gets a token of a JWT application, waiting (10 s at most)
// while a server just started makes its first signing key.
func signedToken(cc clientcredentials.Config) (*oauth2.Token, error) {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		tok, err := cc.Token(context.Background())
		if err == nil || !strings.Contains(err.Error(), "temporarily_unavailable") || time.Now().After(deadline) {
			return tok, err
		}
	}
}

// Files of every version this oauthd knows import: version 1 (no
// "version": earlier exports, hand-made migrations) with secrets in
// clear, version 2 with digests; a later version is refused by name.
func TestMigrationFileVersions(t *testing.T) {
	t.Parallel()
	const v1 = `{"applications": [{"client_id": "a", "client_secret": "x", "name": "n", "scopes": ["sms"], "token_lifetime": "1h", "ip_allowlist": []}]}`
	const v2 = `{"version": 2, "sensitive": true, "comment": "c", "applications": [{"client_id": "a", "name": "n", "description": "",
		"owner": "o", "metadata": {}, "scopes": ["sms"], "token_lifetime": "1h", "ip_allowlist": [], "token_format": "jwt", "audiences": ["x"],
		"enabled": false, "secret_digests": [{"id": "s", "sha256": "00", "created_at": "2026-01-01T00:00:00Z", "expires_at": null}]}]}`
	for name, tt := range map[string]struct {
		body, err string
	}{
		"version 1":        {v1, ""},
		"version 2":        {v2, ""},
		"version 3":        {strings.Replace(v2, `"version": 2`, `"version": 3`, 1), "format version 3, written by a later oauthd"},
		"unknown field":    {strings.Replace(v1, `"name"`, `"nmae"`, 1), "unknown field"},
		"no applications":  {`{"version": 2, "applications": []}`, "no applications"},
		"negative version": {`{"version": -1, "applications": []}`, "does not exist"},
		// What is wrong, in the file's terms, never Go's types.
		"empty":        {``, "-: the file is empty (want what 'oauthd apps export' writes"},
		"cut short":    {v1[:40], "-: the JSON ends early: was the file cut short?"},
		"an array":     {`[]`, "-: the file holds a JSON array, not an object"},
		"syntax":       {`{"applications": [1,}`, "-: malformed JSON at byte 21: invalid character '}'"},
		"wrong type":   {strings.Replace(v1, `["sms"]`, `"sms"`, 1), "-: applications.scopes: must be an array of strings"},
		"wrong type 2": {strings.Replace(v2, `"enabled": false`, `"enabled": "no"`, 1), "-: applications.enabled: must be true or false"},
	} {
		t.Run(name, func(t *testing.T) {
			list, err := readMigrationFile(strings.NewReader(tt.body), "-", maxMigrationFile)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || len(list) != 1 || list[0].ClientID != "a" {
				t.Fatalf("%v %+v", err, list)
			}
		})
	}
}

// A file over the limit is refused by its size, from a file as from
// standard input, without reading past it. The test's limit is 1 MiB:
// reading 64 under -race beside the package's parallel tests stalled
// their in-process Redis past its timeout.
func TestMigrationFileTooBig(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	big := func() io.Reader {
		return io.MultiReader(strings.NewReader(`{"comment": "`), io.LimitReader(zeros{}, limit))
	}
	if _, err := readMigrationFile(big(), "-", limit); err == nil || !strings.Contains(err.Error(), "-: over 1 MiB; split the applications into several files") {
		t.Errorf("standard input: %v", err)
	}
	path := filepath.Join(t.TempDir(), "apps.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, big()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := readMigrationFile(nil, path, limit); err == nil || !strings.Contains(err.Error(), "over 1 MiB") {
		t.Errorf("file: %v", err)
	}
	// At the limit exactly, the size is no fault (the JSON's end is).
	at := io.MultiReader(strings.NewReader(`{"comment": "`), io.LimitReader(zeros{}, int64(limit-len(`{"comment": "`))))
	if _, err := readMigrationFile(at, "-", limit); err == nil || strings.Contains(err.Error(), "MiB") {
		t.Errorf("at the limit: %v", err)
	}
}

// zeros reads as endless '0's.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}
