package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/web"
)

// The fuzz targets here drive the public endpoints through the real
// handler on miniredis. Whatever the input, an endpoint answers one of the
// statuses its documentation lists, as JSON; every error is RFC 6749 §5.2
// shaped, with an error member, and never server_error. `go test` runs the
// seeds (f.Add and testdata/fuzz); `make fuzz` explores.

// checkAnswer fails t unless w is a JSON answer with one of the allowed
// statuses, an RFC 6749 §5.2 error body when it is an error, and the
// WWW-Authenticate challenge a 401 needs.
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, allowed ...int) map[string]any {
	t.Helper()
	if !slices.Contains(allowed, w.Code) {
		t.Fatalf("status %d, want one of %v: %s", w.Code, allowed, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("status %d with Content-Type %q: %s", w.Code, ct, w.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("status %d, body is not a JSON object: %q", w.Code, w.Body)
	}
	if w.Code >= 400 {
		code, _ := body["error"].(string)
		if code == "" || code == "server_error" {
			t.Fatalf("status %d with error %q: %s", w.Code, code, w.Body)
		}
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("error answer without Cache-Control: no-store")
		}
	}
	if w.Code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		t.Fatalf("401 without WWW-Authenticate: %s", w.Body)
	}
	return body
}

// FuzzTokenRequest: whatever the body, content type and Authorization
// header, the token endpoint answers 200 with a token or a JSON 400, 401 or
// 413, never a 5xx or a panic.
func FuzzTokenRequest(f *testing.F) {
	env := newTestServer(f)
	app := env.createApp(apps.NewApplication{})
	good := basic(app.ClientID, app.Secret)
	seeds := []struct{ ct, body, auth string }{
		{"application/x-www-form-urlencoded", "grant_type=client_credentials", good},
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&scope=sms", good},
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&scope=viber", good},
		{"application/x-www-form-urlencoded", "grant_type=password", good},
		{"application/x-www-form-urlencoded", "scope=sms", good},
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&scope=%00", good},
		{"application/x-www-form-urlencoded; charset=%%%", "grant_type=client_credentials", good},
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&scope=" + strings.Repeat("a ", 3000), good},
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&pad=" + strings.Repeat("x", 17<<10), good},
		{"application/x-www-form-urlencoded", "a=%zz&&&==", "Basic ==="},
		{"multipart/form-data; boundary=x", "--x--", good},
		{"application/x-www-form-urlencoded", "grant_type=client_credentials", "Basic " + b64("\xff\xfe:\x00")},
		{"application/x-www-form-urlencoded", "client_id=%7B%7D&client_secret=x&grant_type=client_credentials", ""},
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=" + app.ClientID + "&client_secret=" + app.Secret, ""},
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&grant_type=client_credentials", good},
		{"", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.ct, s.body, s.auth)
	}
	f.Fuzz(func(t *testing.T, ct, body, auth string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := env.do(r)
		out := checkAnswer(t, w, 200, 400, 401, 413)
		if w.Code == 200 {
			if tok, _ := out["access_token"].(string); !strings.HasPrefix(tok, "oat_"+app.ClientID+"_") || out["token_type"] != "Bearer" {
				t.Fatalf("200 without a token: %s", w.Body)
			}
		}
	})
}

// FuzzClientCredentials fuzzes client authentication: the Authorization
// header and the form body. readClientCredentials either returns a
// non-empty id and secret or an invalid_request (400) / invalid_client
// (401) Error, and the token endpoint answers the same; HTTP Basic built
// as RFC 6749 §2.3.1 says (each part form-encoded) round-trips.
func FuzzClientCredentials(f *testing.F) {
	env := newTestServer(f)
	app := env.createApp(apps.NewApplication{})
	for _, s := range [][2]string{
		{basic(app.ClientID, app.Secret), "grant_type=client_credentials"},
		{"Basic " + b64(app.ClientID+":"+app.Secret), "grant_type=client_credentials"}, // not form-encoded
		{"basic " + b64(percentAll(app.ClientID)+":"+percentAll(app.Secret)), "grant_type=client_credentials"},
		{"Basic " + strings.TrimRight(b64(app.ClientID+":"+app.Secret), "="), "grant_type=client_credentials"},
		{"", "grant_type=client_credentials&client_id=" + app.ClientID + "&client_secret=" + app.Secret},
		{basic(app.ClientID, app.Secret), "grant_type=client_credentials&client_secret=" + app.Secret},
		{basic(app.ClientID, app.Secret), "grant_type=client_credentials&client_id=other"},
		{basic(app.ClientID, app.Secret), "grant_type=client_credentials&client_id=" + app.ClientID},
		{"Bearer " + app.Secret, "grant_type=client_credentials"},
		{"Basic", ""}, {"Basic  ", ""}, {"Basic " + b64(":"), ""}, {"Basic " + b64("id:"), ""}, {"Basic " + b64(":secret"), ""},
		{"Basic " + b64("no colon"), ""}, {"Basic " + b64("%zz:x"), ""}, {"Basic " + b64("x:%zz"), ""},
		{"Basic " + b64("a{b}:x"), ""}, {"Basic " + b64("a:"+strings.Repeat("s", 600)), ""},
		{"", "client_id=x"}, {"", "client_secret=x"}, {"", "client_id=&client_secret="}, {"", "client_id=a&client_id=b&client_secret=x"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, auth, body string) {
		// readClientCredentials on its own.
		form, formErr := url.ParseQuery(body)
		if formErr != nil {
			form = url.Values{}
		}
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		cr, err := readClientCredentials(r, form, nil)
		id := cr.id
		var e *web.Error
		switch {
		case err == nil:
			if id == "" || (cr.secret == "" && cr.assertion == nil) {
				t.Fatalf("auth %q body %q: accepted empty id %q or secret %q", auth, body, id, cr.secret)
			}
		case !errors.As(err, &e):
			t.Fatalf("auth %q body %q: error %v is not an *Error", auth, body, err)
		case !(e.Code == "invalid_request" && e.Status == 400) && !(e.Code == "invalid_client" && e.Status == 401):
			t.Fatalf("auth %q body %q: error %s with status %d", auth, body, e.Code, e.Status)
		}

		// The same credentials through the token endpoint.
		r = httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := env.do(r)
		out := checkAnswer(t, w, 200, 400, 401, 413)
		repeated := false
		for _, k := range formParams {
			repeated = repeated || len(form[k]) > 1
		}
		if e != nil && formErr == nil && !repeated && len(body) <= maxFormBytes && out["error"] != e.Code {
			t.Fatalf("auth %q body %q: readClientCredentials says %s, the endpoint %s", auth, body, e.Code, out["error"])
		}
		if w.Code == 200 && id != app.ClientID {
			t.Fatalf("auth %q body %q: a token for client %q", auth, body, id)
		}

		// HTTP Basic as a client builds it parses back to its parts.
		if auth == "" || body == "" {
			return
		}
		r = httptest.NewRequest(http.MethodPost, "/oauth/token", nil)
		r.Header.Set("Authorization", basic(auth, body))
		got, err := readClientCredentials(r, url.Values{}, nil)
		gotID, gotSecret := got.id, got.secret
		if err != nil || gotID != auth || gotSecret != body {
			t.Fatalf("Basic %q:%q parsed as %q:%q, %v", auth, body, gotID, gotSecret, err)
		}
	})
}

// FuzzIntrospect: whatever the content type, body and Authorization
// header, the introspection endpoint answers 200 with an "active" member or
// a JSON 400, 401, 403 or 413, never a 5xx or a panic; and it never says
// active for a token it did not issue.
func FuzzIntrospect(f *testing.F) {
	env := newTestServer(f)
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	app := env.createApp(apps.NewApplication{})
	plain := env.createApp(apps.NewApplication{Name: "no introspect"})
	w := env.do(func() *http.Request {
		r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
		r.Header.Set("Authorization", basic(app.ClientID, app.Secret))
		return r
	}())
	token, _ := decode[map[string]any](f, w.Body)["access_token"].(string)
	if token == "" {
		f.Fatalf("no token to seed with: %d", w.Code)
	}
	form := "application/x-www-form-urlencoded"
	good := basic(rs.ClientID, rs.Secret)
	seeds := []struct{ ct, body, auth string }{
		{form, "token=" + token, good},
		{form, "token=" + token + "&token_type_hint=access_token", good},
		{form, "token=" + token + "x", good},
		{form, "token=" + strings.Replace(token, "oat_", "oak_", 1), good},
		{form, "token=oat_" + app.ClientID + "_1o_" + strings.Repeat("A", 43), good},
		{form, "token=", good},
		{form, "", good},
		{form, "token=" + token + "&token=" + token, good},
		{form, "token=" + token, basic(plain.ClientID, plain.Secret)},
		{form, "token=" + token, basic(rs.ClientID, "ocs_wrong")},
		{form, "token=" + token, basic("unknown", "x")},
		{form, "token=" + token + "&client_id=" + rs.ClientID + "&client_secret=" + rs.Secret, ""},
		{form, "token=" + token + "&client_secret=" + rs.Secret, good},
		{form, "token=" + token, "Bearer " + token},
		{form + "; charset=utf-8", "token=" + token, good},
		{"application/json", `{"token":"` + token + `"}`, good},
		{form, "token=%zz", good},
		{form, "token=" + strings.Repeat("x", 17<<10), good},
		{"", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.ct, s.body, s.auth)
	}
	f.Fuzz(func(t *testing.T, ct, body, auth string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth/introspect", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := env.do(r)
		out := checkAnswer(t, w, 200, 400, 401, 403, 413)
		if w.Code != 200 {
			return
		}
		active, ok := out["active"].(bool)
		if !ok {
			t.Fatalf("200 without an active member: %s", w.Body)
		}
		if active {
			form, _ := url.ParseQuery(body)
			if form.Get("token") != token {
				t.Fatalf("active for a token oauthd did not issue: body %q: %s", body, w.Body)
			}
		}
	})
}
