package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

// Applications move from another server with their credentials: one by
// one with the secret from a file, or many from a JSON file; the daemons'
// existing secrets then get tokens. Export gives the same shape back.
func TestAppsImportExport(t *testing.T) {
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
