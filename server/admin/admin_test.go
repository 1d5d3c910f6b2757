package admin

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/credential"

	"github.com/oauthd/oauthd/store"
)

// call sends an admin request with the given credential and returns the
// status and decoded body (nil for an empty one).
func (e *adminEnv) call(cred, method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	w := e.recorded(cred, method, path, body)
	if w.Body.Len() == 0 {
		return w.Code, nil
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		e.t.Fatalf("%s %s: non-JSON answer %q", method, path, w.Body)
	}
	return w.Code, m
}

// recorded is call's answer as it came, headers included.
func (e *adminEnv) recorded(cred, method, path string, body any) *httptest.ResponseRecorder {
	e.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	r := httptest.NewRequest(method, Prefix+path, rd)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if cred != "" {
		r.Header.Set("Authorization", "Bearer "+cred)
	}
	w := httptest.NewRecorder()
	e.admin.Handler().ServeHTTP(w, r)
	return w
}

func (e *adminEnv) tokenFor(id, secret, scope string) (int, string) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	r := formRequest("/oauth/token", form)
	r.Header.Set("Authorization", basic(id, secret))
	w := e.do(r)
	if w.Code != 200 {
		return w.Code, ""
	}
	return 200, decode[map[string]any](e.t, w.Body)["access_token"].(string)
}

func TestAdminAuthentication(t *testing.T) {
	env := newAdminEnv(t)
	ops := env.createApp(apps.NewApplication{Scopes: []string{"applications"}, Owner: "acct_1"})
	daemon := env.createApp(apps.NewApplication{Scopes: []string{"sms"}})
	_, opsToken := env.tokenFor(ops.ClientID, ops.Secret, "")
	_, daemonToken := env.tokenFor(daemon.ClientID, daemon.Secret, "")

	tests := []struct {
		name   string
		cred   string
		status int
	}{
		{"admin key", adminKey, 200},
		{"token with applications scope", opsToken, 200},
		{"no credential", "", 401},
		{"wrong key", adminKey + "x", 401},
		{"unknown token", "oat_" + ops.ClientID + "_" + strings.Repeat("a", 43), 401},
		{"token without applications scope", daemonToken, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := env.call(tt.cred, "GET", "/applications", nil)
			if code != tt.status {
				t.Fatalf("status %d, want %d: %v", code, tt.status, body)
			}
			if code != 200 && (body["error"] == "" || body["error_description"] == "") {
				t.Fatalf("error body %v", body)
			}
		})
	}
	// A token stops working for the admin API as soon as its application
	// loses the scope.
	env.update(ops.ClientID, func(a *store.Application) { a.Scopes = []string{"sms"} })
	if code, _ := env.call(opsToken, "GET", "/applications", nil); code != 401 {
		t.Fatalf("token after losing the scope: %d", code)
	}
}

func TestAdminApplicationLifecycle(t *testing.T) {
	env := newAdminEnv(t)
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	active := func(tok string) bool {
		_, body := env.introspect(rs, url.Values{"token": {tok}, "client_ip": {"192.0.2.10"}})
		return strings.Contains(body, `"active":true`)
	}

	// Create: 201, the secret shown once.
	code, created := env.call(adminKey, "POST", "/applications", map[string]any{
		"name": "billing", "description": "invoices", "scopes": []string{"sms", "groups"},
		"token_lifetime": "168h", "ip_allowlist": []string{"0.0.0.0/0", "::/0"},
	})
	if code != 201 || created["client_secret"] == nil || created["token_lifetime"] != "168h" || created["enabled"] != true {
		t.Fatalf("create: %d %v", code, created)
	}
	id, secret := created["client_id"].(string), created["client_secret"].(string)
	if _, tok := env.tokenFor(id, secret, ""); tok == "" {
		t.Fatal("the new application cannot get a token")
	}

	// Get: no secret, usage and secrets listed.
	code, got := env.call(adminKey, "GET", "/applications/"+id, nil)
	if code != 200 || got["client_secret"] != nil || got["last_used_at"] == nil || got["tokens_issued"] != float64(1) {
		t.Fatalf("get: %d %v", code, got)
	}
	if secrets := got["secrets"].([]any); len(secrets) != 1 || secrets[0].(map[string]any)["last_used_at"] == nil {
		t.Fatalf("secrets %v", got["secrets"])
	}

	// List, with a name filter; never a secret.
	code, list := env.call(adminKey, "GET", "/applications?name=BILL&limit=10", nil)
	apps := list["applications"].([]any)
	if code != 200 || len(apps) != 1 || apps[0].(map[string]any)["client_secret"] != nil || apps[0].(map[string]any)["last_used_at"] == nil {
		t.Fatalf("list: %d %v", code, list)
	}

	// Narrowing scopes and disabling reach issued tokens at once.
	_, tok := env.tokenFor(id, secret, "")
	code, patched := env.call(adminKey, "PATCH", "/applications/"+id, map[string]any{"scopes": []string{"groups"}})
	if code != 200 || len(patched["scopes"].([]any)) != 1 {
		t.Fatalf("patch scopes: %d %v", code, patched)
	}
	_, body := env.introspect(rs, url.Values{"token": {tok}, "client_ip": {"192.0.2.10"}})
	if !strings.Contains(body, `"scope":"groups"`) {
		t.Fatalf("narrowed token introspects as %s", body)
	}
	if code, _ := env.call(adminKey, "PATCH", "/applications/"+id, map[string]any{"enabled": false}); code != 200 {
		t.Fatal("disable failed")
	}
	if active(tok) {
		t.Fatal("token of a disabled application is active")
	}
	if code, _ := env.tokenFor(id, secret, ""); code != 401 {
		t.Fatalf("disabled application got a token: %d", code)
	}
	env.call(adminKey, "PATCH", "/applications/"+id, map[string]any{"enabled": true})
	if !active(tok) {
		t.Fatal("re-enabling did not bring the token back")
	}

	// Revoke every token: one generation bump.
	if code, _ := env.call(adminKey, "DELETE", "/applications/"+id+"/tokens", nil); code != 204 {
		t.Fatalf("revoke all: %d", code)
	}
	if active(tok) {
		t.Fatal("token still active after revoke-all")
	}

	// Delete: its tokens stop at once; then 404.
	_, tok = env.tokenFor(id, secret, "")
	if code, _ := env.call(adminKey, "DELETE", "/applications/"+id, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if active(tok) {
		t.Fatal("token of a deleted application is active")
	}
	if code, body := env.call(adminKey, "GET", "/applications/"+id, nil); code != 404 || body["error"] != "not_found" {
		t.Fatalf("get after delete: %d %v", code, body)
	}
	if code, _ := env.call(adminKey, "DELETE", "/applications/"+id, nil); code != 404 {
		t.Fatalf("second delete: %d", code)
	}
}

func TestAdminSecretRotation(t *testing.T) {
	env := newAdminEnv(t)
	app := env.createApp(apps.NewApplication{Scopes: []string{"sms"}})

	// Reset with a grace period: both secrets work until it ends.
	code, reset := env.call(adminKey, "POST", "/applications/"+app.ClientID+"/secrets", map[string]any{"grace_period": "1h"})
	if code != 201 || reset["client_secret"] == nil || len(reset["secrets"].([]any)) != 2 {
		t.Fatalf("reset: %d %v", code, reset)
	}
	newSecret := reset["client_secret"].(string)
	for name, s := range map[string]string{"old": app.Secret, "new": newSecret} {
		if code, _ := env.tokenFor(app.ClientID, s, ""); code != 200 {
			t.Fatalf("%s secret during the grace period: %d", name, code)
		}
	}
	env.clk.advance(time.Hour + time.Second)
	if code, _ := env.tokenFor(app.ClientID, app.Secret, ""); code != 401 {
		t.Fatalf("old secret after the grace period: %d", code)
	}
	if code, _ := env.tokenFor(app.ClientID, newSecret, ""); code != 200 {
		t.Fatalf("new secret after the grace period: %d", code)
	}

	// Reset without grace: the previous secret stops at once.
	_, reset2 := env.call(adminKey, "POST", "/applications/"+app.ClientID+"/secrets", nil)
	if code, _ := env.tokenFor(app.ClientID, newSecret, ""); code != 401 {
		t.Fatalf("secret replaced without grace still works: %d", code)
	}
	latest := reset2["client_secret"].(string)

	// Delete a secret by id.
	sid := reset2["secret_id"].(string)
	if code, _ := env.call(adminKey, "DELETE", "/applications/"+app.ClientID+"/secrets/"+sid, nil); code != 204 {
		t.Fatalf("delete secret: %d", code)
	}
	if code, _ := env.tokenFor(app.ClientID, latest, ""); code != 401 {
		t.Fatalf("deleted secret works: %d", code)
	}
	if code, _ := env.call(adminKey, "DELETE", "/applications/"+app.ClientID+"/secrets/"+sid, nil); code != 404 {
		t.Fatalf("deleting a missing secret: %d", code)
	}

	// Grace beyond the configured maximum; too many secrets.
	code, body := env.call(adminKey, "POST", "/applications/"+app.ClientID+"/secrets", map[string]any{"grace_period": "48h"})
	if code != 400 || body["field"] != "grace_period" {
		t.Fatalf("grace over the maximum: %d %v", code, body)
	}
	for i := range apps.MaxSecrets + 1 {
		code, body = env.call(adminKey, "POST", "/applications/"+app.ClientID+"/secrets", map[string]any{"grace_period": "1h"})
		if i < apps.MaxSecrets && code != 201 {
			t.Fatalf("reset %d: %d %v", i, code, body)
		}
	}
	if code != 409 || body["error"] != "conflict" {
		t.Fatalf("reset past %d secrets: %d %v", apps.MaxSecrets, code, body)
	}
}

func TestAdminErrors(t *testing.T) {
	env := newAdminEnv(t)
	app := env.createApp(apps.NewApplication{})
	tests := []struct {
		name, method, path, ct, body string
		status                       int
		field                        string
	}{
		{"unknown id", "GET", "/applications/nosuchapp", "", "", 404, ""},
		{"malformed id", "GET", "/applications/%7Bx%7D", "", "", 404, ""},
		{"unknown field", "POST", "/applications", "application/json", `{"name":"x","scopes":["sms"],"colour":"red"}`, 400, "colour"},
		{"read-only field", "PATCH", "/applications/" + app.ClientID, "application/json", `{"client_id":"other"}`, 400, "client_id"},
		{"wrong type", "POST", "/applications", "application/json", `{"name":"x","scopes":"sms"}`, 400, "scopes"},
		{"unknown scope", "POST", "/applications", "application/json", `{"name":"x","scopes":["nope"]}`, 400, "scopes"},
		{"bad lifetime", "PATCH", "/applications/" + app.ClientID, "application/json", `{"token_lifetime":"soon"}`, 400, "token_lifetime"},
		{"bad allowlist", "PATCH", "/applications/" + app.ClientID, "application/json", `{"ip_allowlist":["10.0.0.0/99"]}`, 400, "ip_allowlist"},
		{"empty name", "PATCH", "/applications/" + app.ClientID, "application/json", `{"name":"  "}`, 400, "name"},
		{"not JSON", "POST", "/applications", "text/plain", `name=x`, 400, "body"},
		{"malformed JSON", "POST", "/applications", "application/json", `{"name":`, 400, "body"},
		{"two objects", "POST", "/applications", "application/json", `{"name":"x","scopes":["sms"]}{}`, 400, "body"},
		{"body too large", "POST", "/applications", "application/json", `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, 413, ""},
		{"bad limit", "GET", "/applications?limit=0", "", "", 400, "limit"},
		{"bad cursor", "GET", "/applications?cursor=zzz", "", "", 400, "cursor"},
		{"bad event cursor", "GET", "/events?cursor=zzz", "", "", 400, "cursor"},
		{"unknown route", "GET", "/nope", "", "", 404, ""},
		{"wrong method", "POST", "/applications/" + app.ClientID, "", "", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := env.raw(tt.method, tt.path, tt.ct, tt.body)
			if code != tt.status || body["error"] == nil || body["error_description"] == "" {
				t.Fatalf("got %d %v, want %d", code, body, tt.status)
			}
			if tt.field != "" && body["field"] != tt.field {
				t.Fatalf("field %v, want %s (%v)", body["field"], tt.field, body)
			}
		})
	}
}

// The audit log records each change with its actor and source address,
// and a failed client authentication, and never a secret or token.
func TestAdminAuditLog(t *testing.T) {
	env := newAdminEnv(t)
	_, created := env.call(adminKey, "POST", "/applications", map[string]any{"name": "audited", "scopes": []string{"sms"}})
	id, secret := created["client_id"].(string), created["client_secret"].(string)
	_, tok := env.tokenFor(id, secret, "")
	env.call(adminKey, "PATCH", "/applications/"+id, map[string]any{"name": "renamed"})
	_, reset := env.call(adminKey, "POST", "/applications/"+id+"/secrets", map[string]any{"grace_period": "1m"})
	env.call(adminKey, "DELETE", "/applications/"+id+"/tokens", nil)
	env.tokenFor(id, "ocs_wrong", "")
	env.call(adminKey, "DELETE", "/applications/"+id, nil)

	code, list := env.call(adminKey, "GET", "/events?client_id="+id, nil)
	if code != 200 {
		t.Fatalf("events: %d %v", code, list)
	}
	// The failed authentication is a security event: in the other log.
	var kinds []string
	for _, e := range list["events"].([]any) {
		ev := e.(map[string]any)
		kinds = append(kinds, ev["kind"].(string))
		if ev["time"] == nil || ev["actor"] == "" {
			t.Errorf("event without time or actor: %v", ev)
		}
	}
	want := "application.deleted tokens.revoked secret.reset application.updated application.created"
	if strings.Join(kinds, " ") != want {
		t.Fatalf("events %v\nwant %s", kinds, want)
	}
	raw, _ := json.Marshal(list)
	for _, s := range []string{secret, tok, reset["client_secret"].(string)} {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatal("the audit log holds a secret or token")
		}
	}
	if !bytes.Contains(raw, []byte(`"actor":"admin-key:`)) || !bytes.Contains(raw, []byte(`"ip":"192.0.2.1"`)) {
		t.Fatalf("actor or ip missing: %s", raw)
	}
	code, security := env.call(adminKey, "GET", "/events?log=security&client_id="+id, nil)
	if code != 200 || len(security["events"].([]any)) != 1 || security["events"].([]any)[0].(map[string]any)["kind"] != "client.auth_failed" {
		t.Fatalf("security events: %d %v", code, security)
	}
	code, byKind := env.call(adminKey, "GET", "/events?kind=client.auth_failed", nil)
	if code != 200 || len(byKind["events"].([]any)) != 1 {
		t.Fatalf("events by kind: %d %v", code, byKind)
	}
}

// Revoking every token is one store call, whatever their number: the
// generation bump. 10,000 live tokens, then one call, then all inactive:
// "revoked" when introspection reports reasons (the records are kept for
// the tombstone time to say so), gone at once otherwise.
func TestAdminTokensAndAPIKeys(t *testing.T) {
	env := newAdminEnv(t)
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	app := env.createApp(apps.NewApplication{Scopes: []string{"sms", "groups"}})
	introspect := func(tok string) map[string]any {
		_, body := env.introspect(rs, url.Values{"token": {tok}})
		return decode[map[string]any](t, strings.NewReader(body))
	}
	base := "/applications/" + app.ClientID

	_, tok1 := env.tokenFor(app.ClientID, app.Secret, "sms")
	_, tok2 := env.tokenFor(app.ClientID, app.Secret, "")

	// An API key with a subset of the scopes, shown once.
	code, key := env.call(adminKey, "POST", base+"/api-keys", map[string]any{"name": "billing cron", "scopes": []string{"groups"}, "expires_in": "30d"})
	if code != 201 || !strings.HasPrefix(key["api_key"].(string), credential.APIKeyPrefix) || key["kind"] != "api_key" || key["expires_at"] == nil {
		t.Fatalf("create api key: %d %v", code, key)
	}
	apiKey := key["api_key"].(string)
	if got := introspect(apiKey); got["active"] != true || got["scope"] != "groups" || got["client_id"] != app.ClientID {
		t.Fatalf("API key introspects as %v", got)
	}
	if code, body := env.call(adminKey, "POST", base+"/api-keys", map[string]any{"name": "x", "scopes": []string{"viber"}}); code != 400 || body["field"] != "scopes" {
		t.Fatalf("API key with a scope the application lacks: %d %v", code, body)
	}

	// The listing shows both tokens and the key, never the credentials.
	code, list := env.call(adminKey, "GET", base+"/tokens", nil)
	raw, _ := json.Marshal(list)
	if code != 200 || len(list["tokens"].([]any)) != 3 || bytes.Contains(raw, []byte(tok1)) || bytes.Contains(raw, []byte(apiKey)) {
		t.Fatalf("list tokens: %d %s", code, raw)
	}
	jti1 := introspect(tok1)["jti"].(string)
	if !bytes.Contains(raw, []byte(jti1)) {
		t.Fatalf("listing lacks %s: %s", jti1, raw)
	}

	// Revoke one token by its jti.
	if code, body := env.call(adminKey, "DELETE", "/tokens/"+jti1, nil); code != 204 {
		t.Fatalf("revoke by jti: %d %v", code, body)
	}
	if introspect(tok1)["active"] != false || introspect(tok2)["active"] != true {
		t.Fatal("revoking one jti did not revoke exactly that token")
	}
	if code, _ := env.call(adminKey, "DELETE", "/tokens/"+jti1, nil); code != 404 {
		t.Fatalf("revoking it again: %d, want 404", code)
	}
	if code, _ := env.call(adminKey, "DELETE", "/tokens/garbage", nil); code != 404 {
		t.Fatalf("malformed jti: %d", code)
	}

	// Disabling reaches API keys; re-enabling restores them; revoke-all
	// and delete end them.
	env.call(adminKey, "PATCH", base, map[string]any{"enabled": false})
	if introspect(apiKey)["active"] != false {
		t.Fatal("API key of a disabled application is active")
	}
	env.call(adminKey, "PATCH", base, map[string]any{"enabled": true})
	if introspect(apiKey)["active"] != true {
		t.Fatal("API key not back after re-enabling")
	}
	env.call(adminKey, "DELETE", base+"/tokens", nil)
	if introspect(apiKey)["active"] != false || introspect(tok2)["active"] != false {
		t.Fatal("revoke-all did not reach the API key and tokens")
	}
	if code, list := env.call(adminKey, "GET", base+"/tokens", nil); code != 200 || len(list["tokens"].([]any)) != 0 {
		t.Fatalf("listing after revoke-all: %v", list)
	}
	_, key2 := env.call(adminKey, "POST", base+"/api-keys", map[string]any{"name": "again"})
	env.call(adminKey, "DELETE", base, nil)
	if introspect(key2["api_key"].(string))["active"] != false {
		t.Fatal("API key of a deleted application is active")
	}
}

// With Redis gone the admin API answers 503, never a 500 or a false 404.
func TestAdminRedisDown(t *testing.T) {
	env := newAdminEnv(t)
	app := env.createApp(apps.NewApplication{})
	env.redis.Stop()
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/applications", nil},
		{"GET", "/applications/" + app.ClientID, nil},
		{"PATCH", "/applications/" + app.ClientID, map[string]any{"enabled": false}},
		{"POST", "/applications/" + app.ClientID + "/secrets", nil},
		{"DELETE", "/applications/" + app.ClientID + "/tokens", nil},
		{"GET", "/events", nil},
	} {
		code, body := env.call(adminKey, r.method, r.path, r.body)
		if code != 503 || body["error"] != "temporarily_unavailable" {
			t.Errorf("%s %s with Redis down: %d %v", r.method, r.path, code, body)
		}
	}
}

// A query string that does not parse, or names a parameter the route does
// not read, is refused naming the problem: a misspelt filter must not
// silently list everything (issue 8, item 6).
func TestAdminQueryStrict(t *testing.T) {
	env := newAdminEnv(t)
	tests := []struct {
		path, field string
	}{
		{"/applications?limit=5&%zz", "query"},
		{"/applications?limit=1;2", "query"},
		{"/applications?nmae=billing", "nmae"},
		{"/applications?limit=5&limit=6", "limit"},
		{"/events?clientid=x", "clientid"},
		{"/applications/x?verbose=1", "verbose"},
	}
	for _, tt := range tests {
		code, body := env.call(adminKey, "GET", tt.path, nil)
		if code != 400 || body["field"] != tt.field {
			t.Errorf("GET %s: %d %v, want 400 on %q", tt.path, code, body, tt.field)
		}
	}
	if code, _ := env.call(adminKey, "GET", "/applications?limit=5&name=x&owner=y&cursor=", nil); code != 200 {
		t.Errorf("the parameters the route reads: %d", code)
	}
}
