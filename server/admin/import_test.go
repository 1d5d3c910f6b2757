package admin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// An imported application keeps the client ID and secret its daemons
// already hold; the secret is stored only as its digest.
func TestImport(t *testing.T) {
	env := newAdminEnv(t)
	const secret = "Keycloak-Generated-Secret-0123456789" // #nosec: test data
	body := map[string]any{"name": "billing", "scopes": []string{"sms"}, "client_secret": secret}
	code, out := env.call(adminKey, "PUT", "/applications/billing-daemon.v2", body)
	if code != 201 || out["client_id"] != "billing-daemon.v2" || out["client_secret"] != nil {
		t.Fatalf("import: %d %v", code, out)
	}
	if code, tok := env.tokenFor("billing-daemon.v2", secret, ""); code != 200 || !strings.HasPrefix(tok, "oat_billing-daemon.v2_") {
		t.Fatalf("token with the imported secret: %d %q", code, tok)
	}
	if code, _ := env.tokenFor("billing-daemon.v2", secret+"x", ""); code != 401 {
		t.Fatalf("a wrong secret: %d", code)
	}
	raw, err := env.redis.Client(t).Get(context.Background(), "test:{billing-daemon.v2}:app").Result()
	if err != nil || strings.Contains(raw, secret) {
		t.Fatalf("stored record holds the secret or is missing: %v", err)
	}
	code, ev := env.call(adminKey, "GET", "/events?client_id=billing-daemon.v2", nil)
	if code != 200 || !strings.Contains(toJSON(ev), "application.imported") || strings.Contains(toJSON(ev), secret) {
		t.Fatalf("events: %d %v", code, ev)
	}

	tests := []struct {
		name, id string
		body     map[string]any
		status   int
		field    string
	}{
		{"existing id", "billing-daemon.v2", body, 409, ""},
		{"underscore in id", "billing_daemon", body, 400, "client_id"},
		{"short secret", "short", map[string]any{"name": "x", "scopes": []string{"sms"}, "client_secret": "hunter2"}, 400, "client_secret"},
		{"no secret", "nosecret", map[string]any{"name": "x", "scopes": []string{"sms"}}, 400, "client_secret"},
		{"secret with a space", "spaced", map[string]any{"name": "x", "scopes": []string{"sms"}, "client_secret": "0123456789 abcdefgh"}, 400, "client_secret"},
		{"unknown scope", "badscope", map[string]any{"name": "x", "scopes": []string{"nope"}, "client_secret": secret}, 400, "scopes"},
		{"unknown field", "extra", map[string]any{"name": "x", "scopes": []string{"sms"}, "client_secret": secret, "secret_hash": "x"}, 400, "secret_hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := env.call(adminKey, "PUT", "/applications/"+tt.id, tt.body)
			if code != tt.status || (tt.field != "" && out["field"] != tt.field) {
				t.Fatalf("%d %v, want %d on %q", code, out, tt.status, tt.field)
			}
		})
	}
	if code, _ := env.call("", "PUT", "/applications/anon", body); code != 401 {
		t.Fatalf("import without a credential: %d", code)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
