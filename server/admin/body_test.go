package admin

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/server/apps"
)

// raw sends body as is, with Content-Type ct when not empty, under the
// admin key.
func (e *adminEnv) raw(method, path, ct, body string) (int, map[string]any) {
	e.t.Helper()
	r := httptest.NewRequest(method, Prefix+path, strings.NewReader(body))
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	r.Header.Set("Authorization", "Bearer "+adminKey)
	w := httptest.NewRecorder()
	e.admin.Handler().ServeHTTP(w, r)
	var m map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	return w.Code, m
}

// Issue 17, item 5, replayed: {"name":"a","name":"b"} was accepted, the
// last value winning, so what a reviewer or a filtering proxy read as the
// body was not what oauthd applied. A key given twice in any object of an
// admin body is now 400 naming it, and nothing changes.
func TestDuplicateJSONKeys(t *testing.T) {
	env := newAdminEnv(t)
	app := env.createApp(apps.NewApplication{Name: "kept", Metadata: map[string]string{"env": "prod"}})
	tests := []struct {
		name, method, path, body string
		field                    string
	}{
		{"create: name twice (the attack)", "POST", "/applications", `{"name":"a","name":"b","scopes":["sms"]}`, "name"},
		{"update: name twice", "PATCH", "/applications/" + app.ClientID, `{"name":"a","name":"b"}`, "name"},
		{"update: an escaped twin", "PATCH", "/applications/" + app.ClientID, `{"name":"a","na\u006de":"b"}`, "name"},
		{"update: another case", "PATCH", "/applications/" + app.ClientID, `{"name":"a","Name":"b"}`, "Name"},
		{"update: a metadata key twice", "PATCH", "/applications/" + app.ClientID, `{"metadata":{"env":"dev","env":"prod"}}`, "metadata"},
		{"update: enabled twice", "PATCH", "/applications/" + app.ClientID, `{"enabled":true,"enabled":false}`, "enabled"},
		{"secret reset", "POST", "/applications/" + app.ClientID + "/secrets", `{"grace_period":"1h","grace_period":"0s"}`, "grace_period"},
		{"API key", "POST", "/applications/" + app.ClientID + "/api-keys", `{"name":"k","expires_in":"1h","expires_in":"never"}`, "expires_in"},
		{"import", "PUT", "/applications/imported-app-1", `{"name":"i","scopes":["sms"],"client_secret":"s3cr3t-s3cr3t-s3cr3t-s3cr3t","client_secret":"x"}`, "client_secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := env.raw(tt.method, tt.path, "application/json", tt.body)
			desc, _ := body["error_description"].(string)
			if code != 400 || body["field"] != tt.field || !strings.Contains(desc, "more than once") {
				t.Fatalf("%s %s %s: %d %v, want 400 on %s", tt.method, tt.path, tt.body, code, body, tt.field)
			}
		})
	}
	_, list := env.call(adminKey, "GET", "/applications", nil)
	if n := len(list["applications"].([]any)); n != 1 {
		t.Errorf("%d applications after the refused bodies, want the 1 there was", n)
	}
	_, got := env.call(adminKey, "GET", "/applications/"+app.ClientID, nil)
	if got["name"] != "kept" || got["enabled"] != true || got["metadata"].(map[string]any)["env"] != "prod" || len(got["secrets"].([]any)) != 1 {
		t.Errorf("a refused body changed the application: %v", got)
	}
	// The same key in different objects is no repeat.
	if code, body := env.raw("PATCH", "/applications/"+app.ClientID, "application/json", `{"name":"n","metadata":{"name":"n","env":"prod"}}`); code != 200 {
		t.Errorf("name at the top and in metadata: %d %v", code, body)
	}
}

// Issue 17, item 5, replayed: POST /signing-keys with the body "garbage"
// rotated the key, as it read no body at all. It takes an empty body or
// {} only; anything else is 400 and no key is made.
func TestRotateKeyBody(t *testing.T) {
	env, _, _ := newClientEnv(t)
	keys := func() int {
		_, l := env.call(adminKey, "GET", "/signing-keys", nil)
		return len(l["keys"].([]any))
	}
	before := keys()
	for _, tt := range []struct{ ct, body string }{
		{"application/json", "garbage"}, // the attack
		{"", "garbage"},
		{"text/plain", "{}"},
		{"application/json", `{"alg":"none"}`},
		{"application/json", `[]`},
		{"application/json", `{}{}`},
	} {
		if code, body := env.raw("POST", "/signing-keys", tt.ct, tt.body); code != 400 || body["error"] != "invalid_request" {
			t.Errorf("POST /signing-keys %q (%s): %d %v, want 400", tt.body, tt.ct, code, body)
		}
	}
	if n := keys(); n != before {
		t.Fatalf("refused bodies rotated the key: %d keys, were %d", n, before)
	}
	for _, tt := range []struct{ ct, body string }{{"", ""}, {"application/json", "{}"}, {"application/json", " { } "}} {
		if code, body := env.raw("POST", "/signing-keys", tt.ct, tt.body); code != 201 {
			t.Errorf("POST /signing-keys %q: %d %v, want 201", tt.body, code, body)
		}
	}
}

// metadata maps names to strings: a value of another type, or metadata
// that is not an object, is refused naming the field and its shape.
// encoding/json reports the element's type for a wrong value inside the
// map, which read "metadata: must be a string" for {"metadata":"x"}.
func TestMetadataTypeErrors(t *testing.T) {
	env := newAdminEnv(t)
	app := env.createApp(apps.NewApplication{Name: "kept"})
	for _, tt := range []struct{ name, method, path, body string }{
		{"create: a string", "POST", "/applications", `{"name":"x","scopes":["sms"],"metadata":"x"}`},
		{"create: a nested object", "POST", "/applications", `{"name":"x","scopes":["sms"],"metadata":{"a":{"b":1}}}`},
		{"create: a number value", "POST", "/applications", `{"name":"x","scopes":["sms"],"metadata":{"a":1}}`},
		{"update: an array", "PATCH", "/applications/" + app.ClientID, `{"metadata":["a"]}`},
		{"update: a boolean value", "PATCH", "/applications/" + app.ClientID, `{"metadata":{"a":true}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := env.raw(tt.method, tt.path, "application/json", tt.body)
			desc, _ := body["error_description"].(string)
			if code != 400 || body["field"] != "metadata" || !strings.Contains(desc, "object of string values") {
				t.Fatalf("got %d %v", code, body)
			}
		})
	}
	// The other fields: what the field as declared takes, also for a
	// wrong element of an array (encoding/json names the element's type).
	for body, want := range map[string]string{
		`{"name":1,"scopes":["sms"]}`:                                    "name: must be a string",
		`{"name":"x","scopes":[1]}`:                                      "scopes: must be an array of strings",
		`{"name":"x","scopes":"sms"}`:                                    "scopes: must be an array of strings",
		`{"name":"x","scopes":["sms"],"ip_allowlist":[true]}`:            "ip_allowlist: must be an array of strings",
		`{"name":"x","scopes":["sms"],"dpop_bound_access_tokens":"1"}`:   "dpop_bound_access_tokens: must be true or false",
		`{"name":"x","scopes":["sms"],"workload_identity":"x"}`:          "workload_identity: must be an object with issuer, subject, audience and optionally jwks_uri",
		`{"name":"x","scopes":["sms"],"workload_identity":{"issuer":1}}`: "workload_identity.issuer: must be a string",
	} {
		if _, got := env.raw("POST", "/applications", "application/json", body); got["error_description"] != want {
			t.Errorf("%s: %v, want %q", body, got["error_description"], want)
		}
	}
}
