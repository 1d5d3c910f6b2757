package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// fuzzMethods are the methods FuzzAdmin picks from.
var fuzzMethods = []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete}

// fuzzAppID names an application that exists at the start of every
// FuzzAdmin input, so seeds reach past "not found".
const fuzzAppID = "fuzz-app"

// FuzzAdmin: whatever the method, path, query string and JSON body, an
// admin request with a valid admin key gets a documented status, as JSON
// (an empty 204 aside); an error has an error member and is never
// server_error; never a 5xx or a panic.
func FuzzAdmin(f *testing.F) {
	env := newAdminEnv(f)
	put := func() int {
		r := httptest.NewRequest(http.MethodPut, Prefix+"/applications/"+fuzzAppID,
			strings.NewReader(`{"name":"fuzz","scopes":["sms","groups"],"client_secret":"fuzz-app-secret-0123456789abcdef"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+adminKey)
		w := httptest.NewRecorder()
		env.admin.Handler().ServeHTTP(w, r)
		return w.Code
	}
	if code := put(); code != http.StatusCreated {
		f.Fatalf("creating %s: %d", fuzzAppID, code)
	}
	seeds := []struct {
		method      byte
		path, query string
		body        string
	}{
		{0, "applications", "", ""},
		{0, "applications", "limit=2&name=fuzz&owner=x&cursor=abc", ""},
		{0, "applications", "limit=0", ""},
		{0, "applications", "limit=1e9", ""},
		{0, "applications", "nope=1", ""},
		{0, "applications", "limit=1&limit=2", ""},
		{0, "applications", "a;b", ""},
		{0, "applications/" + fuzzAppID, "", ""},
		{0, "applications/unknown", "", ""},
		{0, "applications/" + fuzzAppID + "/tokens", "limit=5", ""},
		{0, "events", "kind=application.created&client_id=" + fuzzAppID, ""},
		{0, "events", "cursor=1-0", ""},
		{0, "events", "log=security&kind=client.auth_failed", ""},
		{0, "events", "log=admin&kind=client.auth_failed", ""},
		{0, "events", "log=all", ""},
		{0, "events", "cursor=not-a-cursor", ""},
		{0, "events", "cursor=99999999999999999999-0", ""}, // past uint64: Redis refuses it
		{0, "events", "cursor=0-0", ""},                    // a real Redis refuses "(0-0" as an end
		{1, "applications", "", `{"name":"n","scopes":["sms"],"token_lifetime":"1h","ip_allowlist":["10.0.0.0/8"],"metadata":{"k":"v"},"owner":"acct"}`},
		{1, "applications", "", `{"name":"n","scopes":["nope"]}`},
		{1, "applications", "", `{"name":1}`},
		{1, "applications", "", `{"name":"n","scopes":"sms"}`},
		{1, "applications", "", `{"name":"n","extra":true}`},
		{1, "applications", "", `{"name":"n"}{"name":"m"}`},
		{1, "applications", "", `{"name":"n","scopes":["sms"],"ip_allowlist":["fe80::1%eth0"]}`},
		{1, "applications", "", `{"name":"n","scopes":["sms"],"token_lifetime":"-1h"}`},
		{1, "applications", "", `[`},
		{1, "applications", "", `{"name":"a","name":"b","scopes":["sms"]}`},
		{1, "applications", "", `{"name":"a","NAME":"b","metadata":{"k":"1","k":"2"},"scopes":[["sms"],{"x":1,"x":2}]}`},
		{1, "applications", "", `"name"`},
		{1, "applications", "", `1`},
		{1, "applications", "", ``},
		{1, "applications/" + fuzzAppID + "/secrets", "", `{"grace_period":"1h"}`},
		{1, "applications/" + fuzzAppID + "/secrets", "", `{"grace_period":"forever"}`},
		{1, "applications/" + fuzzAppID + "/api-keys", "", `{"name":"k","scopes":["sms"],"expires_in":"24h"}`},
		{1, "applications/" + fuzzAppID + "/api-keys", "", `{"name":"k","scopes":["viber"]}`},
		{2, "applications/" + fuzzAppID, "", `{"enabled":false,"scopes":["sms"],"metadata":null}`},
		{2, "applications/" + fuzzAppID, "", `{"ip_allowlist":["::ffff:10.0.0.0/104"]}`},
		{2, "applications/unknown", "", `{"name":"x"}`},
		{2, "applications/" + fuzzAppID, "", `{"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}}`},
		{2, "applications/" + fuzzAppID, "", `{"token_endpoint_auth_method":"tls_client_auth","tls_client_auth_subject_dn":"CN=a\\,b+O=c"}`},
		{2, "applications/" + fuzzAppID, "", `{"token_endpoint_auth_method":"private_key_jwt","workload_identity":{"issuer":"https://k8s","subject":"s","audience":"a","x":1}}`},
		{2, "applications/" + fuzzAppID, "", `{"token_endpoint_auth_method":"client_secret_basic","jwks":null}`},
		{1, "applications", "", `{"name":"k","scopes":["sms"],"token_endpoint_auth_method":"self_signed_tls_client_auth","jwks":"x"}`},
		{3, "applications/" + fuzzAppID, "", `{"name":"again","scopes":["sms"],"client_secret":"another-secret-0123456789abcdef"}`},
		{3, "applications/new-app", "", `{"name":"new","scopes":["sms"],"client_secret":"short"}`},
		{3, "applications/bad_id{x}", "", `{"name":"new","scopes":["sms"],"client_secret":"another-secret-0123456789abcdef"}`},
		{4, "applications/" + fuzzAppID + "/tokens", "", ""},
		{4, "applications/" + fuzzAppID + "/secrets/unknown", "", ""},
		{4, "tokens/unknown", "", ""},
		{4, "applications/" + fuzzAppID, "", ""},
		{4, "applications", "", ""},
		{0, "", "", ""},
		{0, "../../oauth/token", "", ""},
		{0, "applications/%zz", "", ""},
		{0, "applications//tokens", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.body)
	}
	f.Fuzz(func(t *testing.T, m byte, path, query, body string) {
		if put() >= 500 {
			t.Fatal("recreating the fuzz application failed")
		}
		method := fuzzMethods[int(m)%len(fuzzMethods)]
		r := httptest.NewRequest(method, "/", strings.NewReader(body))
		// Set the URL's parts directly: the fuzzed path need not be
		// valid URL syntax, and the router sees it as a server would.
		r.URL = &url.URL{Path: Prefix + "/" + path, RawQuery: query}
		r.RequestURI = r.URL.RequestURI()
		r.Header.Set("Authorization", "Bearer "+adminKey)
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		env.admin.Handler().ServeHTTP(w, r)
		checkAdminAnswer(t, w, method, path, query, body)
	})
}

func checkAdminAnswer(t *testing.T, w *httptest.ResponseRecorder, method, path, query, body string) {
	t.Helper()
	what := method + " " + path + "?" + query + " " + body
	allowed := []int{200, 201, 204, 400, 403, 404, 405, 409, 413}
	if !slices.Contains(allowed, w.Code) {
		t.Fatalf("%s: status %d: %s", what, w.Code, w.Body)
	}
	if w.Code == http.StatusNoContent {
		if w.Body.Len() != 0 {
			t.Fatalf("%s: 204 with a body %q", what, w.Body)
		}
		return
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: status %d with Content-Type %q", what, w.Code, ct)
	}
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s: status %d, body is not a JSON object: %q", what, w.Code, w.Body)
	}
	if w.Code >= 400 {
		code, _ := out["error"].(string)
		desc, _ := out["error_description"].(string)
		if code == "" || code == "server_error" || desc == "" {
			t.Fatalf("%s: status %d with error %q, description %q", what, w.Code, code, desc)
		}
	}
}
