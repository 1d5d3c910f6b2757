package admin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// Delegated administration: a token holding the applications scope
// manages only its own owner's applications, within its own scopes and
// lifetime; each refusal is a 403 naming the rule. The attacks of issue 8,
// item 3 are among the rows.
func TestDelegatedAdministration(t *testing.T) {
	env := newAdminEnv(t)
	// A customer's daemon: 1-hour tokens, sms and applications, owner acct_1.
	mgr := env.createApp(apps.NewApplication{Scopes: []string{"sms", "applications"}, Owner: "acct_1", TokenLifetime: "1h"})
	mine := env.createApp(apps.NewApplication{Scopes: []string{"sms"}, Owner: "acct_1", TokenLifetime: "1h"})
	theirs := env.createApp(apps.NewApplication{Scopes: []string{"sms"}, Owner: "acct_2"})
	orphan := env.createApp(apps.NewApplication{Scopes: []string{"sms", "applications"}})
	_, tok := env.tokenFor(mgr.ClientID, mgr.Secret, "")
	_, orphanTok := env.tokenFor(orphan.ClientID, orphan.Secret, "")

	tests := []struct {
		name         string
		cred         string
		method, path string
		body         any
		status       int
		rule         string // a word the 403's description must hold
	}{
		// Allowed: its own owner's applications, within its rights.
		{"list", tok, "GET", "/applications", nil, 200, ""},
		{"get own owner's app", tok, "GET", "/applications/" + mine.ClientID, nil, 200, ""},
		{"create within its rights", tok, "POST", "/applications", map[string]any{"name": "n", "scopes": []string{"sms"}, "token_lifetime": "30m"}, 201, ""},
		{"reset own owner's secret", tok, "POST", "/applications/" + mine.ClientID + "/secrets", nil, 201, ""},
		{"short API key", tok, "POST", "/applications/" + mine.ClientID + "/api-keys", map[string]any{"name": "k", "expires_in": "1h"}, 201, ""},

		// The attacks: another owner's secret, its own app's rights,
		// a never-expiring admin key.
		{"reset another owner's secret", tok, "POST", "/applications/" + theirs.ClientID + "/secrets", nil, 403, "another owner"},
		{"grant itself tokens:introspect", tok, "PATCH", "/applications/" + mgr.ClientID, map[string]any{"scopes": []string{"sms", "applications", "tokens:introspect"}}, 403, "reserved"},
		{"never-expiring API key", tok, "POST", "/applications/" + mine.ClientID + "/api-keys", map[string]any{"name": "k", "scopes": []string{"sms"}}, 403, "outlive"},
		{"API key with admin rights", tok, "POST", "/applications/" + mgr.ClientID + "/api-keys", map[string]any{"name": "k", "scopes": []string{"applications"}, "expires_in": "1h"}, 403, "reserved"},
		{"API key with every scope", tok, "POST", "/applications/" + mgr.ClientID + "/api-keys", map[string]any{"name": "k", "expires_in": "1h"}, 403, "reserved"},

		// The other rules.
		{"read another owner's app", tok, "GET", "/applications/" + theirs.ClientID, nil, 403, "another owner"},
		{"delete another owner's app", tok, "DELETE", "/applications/" + theirs.ClientID, nil, 403, "another owner"},
		{"revoke another owner's tokens", tok, "DELETE", "/applications/" + theirs.ClientID + "/tokens", nil, 403, "another owner"},
		{"list another owner's tokens", tok, "GET", "/applications/" + theirs.ClientID + "/tokens", nil, 403, "another owner"},
		{"disable another owner's app", tok, "PATCH", "/applications/" + theirs.ClientID, map[string]any{"enabled": false}, 403, "another owner"},
		{"list another owner", tok, "GET", "/applications?owner=acct_2", nil, 403, "acct_1"},
		{"create for another owner", tok, "POST", "/applications", map[string]any{"name": "n", "scopes": []string{"sms"}, "owner": "acct_2", "token_lifetime": "1h"}, 403, "owner"},
		{"move an app to another owner", tok, "PATCH", "/applications/" + mine.ClientID, map[string]any{"owner": "acct_2"}, 403, "owner"},
		{"grant a scope it lacks", tok, "POST", "/applications", map[string]any{"name": "n", "scopes": []string{"groups"}, "token_lifetime": "1h"}, 403, "lacks groups"},
		{"grant applications", tok, "POST", "/applications", map[string]any{"name": "n", "scopes": []string{"applications"}, "token_lifetime": "1h"}, 403, "reserved"},
		{"lifetime longer than its own", tok, "POST", "/applications", map[string]any{"name": "n", "scopes": []string{"sms"}, "token_lifetime": "2h"}, 403, "outlive"},
		{"never-expiring tokens", tok, "PATCH", "/applications/" + mine.ClientID, map[string]any{"token_lifetime": "never"}, 403, "outlive"},
		{"events of every app", tok, "GET", "/events", nil, 403, "client_id"},
		{"events of another owner's app", tok, "GET", "/events?client_id=" + theirs.ClientID, nil, 403, "another owner"},
		{"no owner: nothing", orphanTok, "GET", "/applications/" + theirs.ClientID, nil, 403, "no owner"},

		// An admin key may do everything.
		{"admin key: another owner's secret", adminKey, "POST", "/applications/" + theirs.ClientID + "/secrets", nil, 201, ""},
		{"admin key: reserved scope", adminKey, "PATCH", "/applications/" + mgr.ClientID, map[string]any{"scopes": []string{"sms", "applications", "tokens:introspect"}}, 200, ""},
		{"admin key: never-expiring key", adminKey, "POST", "/applications/" + mine.ClientID + "/api-keys", map[string]any{"name": "k"}, 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := env.call(tt.cred, tt.method, tt.path, tt.body)
			if code != tt.status {
				t.Fatalf("%s %s: %d %v, want %d", tt.method, tt.path, code, body, tt.status)
			}
			if tt.status == 403 {
				desc, _ := body["error_description"].(string)
				if body["error"] != "forbidden" || !strings.Contains(desc, tt.rule) {
					t.Fatalf("refusal %v does not name %q", body, tt.rule)
				}
			}
		})
	}

	// What a delegate creates belongs to its owner, and a listing shows
	// only that owner's applications.
	_, list := env.call(tok, "GET", "/applications", nil)
	for _, a := range list["applications"].([]any) {
		if owner := a.(map[string]any)["owner"]; owner != "acct_1" {
			t.Errorf("a delegate's listing shows an application of owner %v", owner)
		}
	}
	if n := len(list["applications"].([]any)); n != 3 {
		t.Errorf("a delegate lists %d applications, want its owner's 3", n)
	}
}

// A delegated administrator whose application gets JWT access tokens uses
// the admin API with its JWT as with an opaque token.
func TestDelegatedAdministrationWithJWT(t *testing.T) {
	rs := redistest.Start(t, redistest.Mini)
	rdb, err := redis.NewClient(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	ring, err := signing.NewRing(redis.New(rdb, redis.Options{Prefix: "keys"}), signing.SealWith(make([]byte, 32)), signing.EdDSA, nil)
	if err != nil || ring.Ensure(context.Background()) != nil {
		t.Fatal(err)
	}
	env := newAdminEnv(t, func(c *server.Config) { c.Signer = ring })
	env.admin = New(Config{KeyDigests: []store.Digest{store.Sum(adminKey)}, Now: env.clk.now, TokenRef: env.srv.TokenRef}, env.apps, env.store)
	mgr := env.createApp(apps.NewApplication{Scopes: []string{"sms", "applications"}, Owner: "acct_1", TokenLifetime: "1h", TokenFormat: "jwt"})
	_, tok := env.tokenFor(mgr.ClientID, mgr.Secret, "")
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("not a JWT: %q", tok)
	}
	if code, body := env.call(tok, "GET", "/applications", nil); code != 200 {
		t.Fatalf("the admin API with a JWT: %d %v", code, body)
	}
	if code, _ := env.call(tok[:len(tok)-4]+"AAAA", "GET", "/applications", nil); code != 401 {
		t.Fatalf("a tampered JWT at the admin API: %d", code)
	}
}

// Issue 17, item 4, replayed: a delegated administrator lifted the
// allowlist an operator set on its own application with
// PATCH /applications/<own id> {"ip_allowlist":[]} (200), and its secret
// then got tokens from anywhere. Now that PATCH is 403 naming the rule and
// the secret still works only from the allowed network; narrowing stays
// allowed, on its own application and on an allowlist an admin key set on
// another of its owner's.
func TestDelegateCannotLiftItsAllowlist(t *testing.T) {
	env := newAdminEnv(t)
	// httptest's requests come from 192.0.2.1.
	mgr := env.createApp(apps.NewApplication{Scopes: []string{"sms", "applications"}, Owner: "acct_1", TokenLifetime: "1h", IPAllowlist: []string{"192.0.2.0/24"}})
	sibling := env.createApp(apps.NewApplication{Scopes: []string{"sms"}, Owner: "acct_1", IPAllowlist: []string{"10.0.0.0/8"}})
	_, tok := env.tokenFor(mgr.ClientID, mgr.Secret, "")
	if tok == "" {
		t.Fatal("no token from an allowed address")
	}

	code, body := env.call(tok, "PATCH", "/applications/"+mgr.ClientID, map[string]any{"ip_allowlist": []string{}})
	if desc, _ := body["error_description"].(string); code != 403 || body["error"] != "forbidden" || !strings.Contains(desc, "allowlist") {
		t.Fatalf(`PATCH {"ip_allowlist":[]} on its own application: %d %v, want 403 naming the allowlist rule`, code, body)
	}
	if code, _, _ := env.tokenFrom(mgr.ClientID, mgr.Secret, "198.51.100.7"); code == 200 {
		t.Fatal("after the refused PATCH its secret gets a token from outside its allowlist")
	}

	tests := []struct {
		name   string
		id     string
		allow  []string
		status int
	}{
		{"widen its own", mgr.ClientID, []string{"192.0.2.0/24", "198.51.100.0/24"}, 403},
		{"widen an admin key's", sibling.ClientID, []string{"10.0.0.0/7"}, 403},
		{"lift an admin key's", sibling.ClientID, []string{}, 403},
		{"narrow an admin key's", sibling.ClientID, []string{"10.1.0.0/16"}, 200},
		{"narrow its own", mgr.ClientID, []string{"192.0.2.1"}, 200},
	}
	for _, tt := range tests {
		code, body := env.call(tok, "PATCH", "/applications/"+tt.id, map[string]any{"ip_allowlist": tt.allow})
		if code != tt.status {
			t.Errorf("%s: %d %v, want %d", tt.name, code, body, tt.status)
		}
	}
	if code, body := env.call(adminKey, "PATCH", "/applications/"+mgr.ClientID, map[string]any{"ip_allowlist": []string{}}); code != 200 {
		t.Fatalf("an admin key lifting the allowlist: %d %v", code, body)
	}
}

// A delegated administrator only ever lowers a quota, whoever set it:
// below the one the application has, or the server's default when it has
// none of its own; never to unlimited, never to monitor mode, never back
// to a default above it. Each refusal is a 403 of rule quota naming the
// field. An admin key may raise them.
func TestDelegateMayOnlyLowerQuotas(t *testing.T) {
	limits := redis.LimitsConfig{Issue: redis.Rate{N: 100, Per: time.Hour}, Introspect: redis.Rate{N: 50, Per: time.Second}}
	env := newAdminEnvWith(t, redis.Options{}, &limits)
	mgr := env.createApp(apps.NewApplication{Scopes: []string{"sms", "applications"}, Owner: "acct_1", TokenLifetime: "1h"})
	mine := env.createApp(apps.NewApplication{Scopes: []string{"sms"}, Owner: "acct_1", TokenQuota: "60/1h"})
	_, tok := env.tokenFor(mgr.ClientID, mgr.Secret, "")
	path := "/applications/" + mine.ClientID

	tests := []struct {
		name   string
		cred   string
		method string
		path   string
		body   map[string]any
		status int
		field  string
	}{
		{"create under the default", tok, "POST", "/applications", map[string]any{"name": "n", "scopes": []string{"sms"}, "token_lifetime": "1h", "token_quota": "50/1h"}, 201, ""},
		{"create with the default", tok, "POST", "/applications", map[string]any{"name": "n", "scopes": []string{"sms"}, "token_lifetime": "1h"}, 201, ""},
		{"create above the default", tok, "POST", "/applications", map[string]any{"name": "n", "scopes": []string{"sms"}, "token_lifetime": "1h", "token_quota": "200/1h"}, 403, "token_quota"},
		{"create unlimited", tok, "POST", "/applications", map[string]any{"name": "n", "scopes": []string{"sms"}, "token_lifetime": "1h", "token_quota": "unlimited"}, 403, "token_quota"},
		{"create monitored", tok, "POST", "/applications", map[string]any{"name": "n", "scopes": []string{"sms"}, "token_lifetime": "1h", "quota_mode": "monitor"}, 403, "quota_mode"},
		{"lower the admin's", tok, "PATCH", path, map[string]any{"token_quota": "30/1h"}, 200, ""},
		{"raise back to the admin's", tok, "PATCH", path, map[string]any{"token_quota": "60/1h"}, 403, "token_quota"},
		{"same count, faster", tok, "PATCH", path, map[string]any{"token_quota": "30/30m"}, 403, "token_quota"},
		{"fewer at once, faster", tok, "PATCH", path, map[string]any{"token_quota": "10/1m"}, 403, "token_quota"},
		{"back to the default", tok, "PATCH", path, map[string]any{"token_quota": ""}, 403, "token_quota"},
		{"unlimited", tok, "PATCH", path, map[string]any{"token_quota": "unlimited"}, 403, "token_quota"},
		{"raise the introspection default", tok, "PATCH", path, map[string]any{"introspection_quota": "100/1s"}, 403, "introspection_quota"},
		{"lower the introspection default", tok, "PATCH", path, map[string]any{"introspection_quota": "10/1s"}, 200, ""},
		{"monitor", tok, "PATCH", path, map[string]any{"quota_mode": "monitor"}, 403, "quota_mode"},
		{"enforce", tok, "PATCH", path, map[string]any{"quota_mode": "enforce"}, 200, ""},
		{"lower again", tok, "PATCH", path, map[string]any{"token_quota": "5/1h"}, 200, ""},
		{"admin key: raise", adminKey, "PATCH", path, map[string]any{"token_quota": "unlimited", "quota_mode": "monitor"}, 200, ""},
	}
	for _, tt := range tests {
		code, body := env.call(tt.cred, tt.method, tt.path, tt.body)
		if code != tt.status {
			t.Fatalf("%s: %s %s %v: %d %v, want %d", tt.name, tt.method, tt.path, tt.body, code, body, tt.status)
		}
		if tt.status == 403 && (body["error"] != "forbidden" || body["field"] != tt.field || !strings.Contains(body["error_description"].(string), "quota")) {
			t.Fatalf("%s: refusal %v, want forbidden naming field %s and the quota rule", tt.name, body, tt.field)
		}
	}
	_, got := env.call(adminKey, "GET", path, nil)
	if got["token_quota"] != "unlimited" || got["introspection_quota"] != "10/1s" || got["quota_mode"] != "monitor" {
		t.Errorf("after the changes: token_quota %v, introspection_quota %v, quota_mode %v", got["token_quota"], got["introspection_quota"], got["quota_mode"])
	}
}
