package introspect

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequire(t *testing.T) {
	const (
		noTokenChallenge = `Bearer realm="test"`
		noTokenDesc      = "a bearer token is required in the Authorization header"
		unavailableDesc  = "the authorization server cannot validate the token right now; retry shortly"
	)
	noToken := map[string]string{"error_description": noTokenDesc}
	invalid := func(desc string) (string, map[string]string) {
		return `Bearer realm="test", error="invalid_token", error_description="` + desc + `"`,
			map[string]string{"error": "invalid_token", "error_description": desc}
	}
	invalidCh, invalidBody := invalid("invalid token")
	expiredCh, expiredBody := invalid("token expired")
	revokedCh, revokedBody := invalid("token revoked")
	unavailable := map[string]string{"error": "temporarily_unavailable", "error_description": unavailableDesc}

	f := newFake(t)
	f.set("tok-all", activeAnswer("reports sms groups", 0))
	f.set("tok-sms", activeAnswer("sms", 0))
	f.set("tok-dead", inactiveAnswer(""))
	f.set("tok-expired", inactiveAnswer("expired"))
	f.set("tok-revoked", inactiveAnswer("revoked"))
	f.set("tok-500", answer{http.StatusInternalServerError, `{"error":"server_error"}`})
	f.set("tok-403", answer{http.StatusForbidden, `{"error":"insufficient_scope","error_description":"needs tokens:introspect"}`})
	f.set("tok-503", answer{http.StatusServiceUnavailable, `{"error":"temporarily_unavailable"}`})
	f.set("tok-html", answer{http.StatusOK, `<html>sign in</html>`})
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name   string
		method string
		target string
		body   string
		header map[string]string
		cfg    func(*Config)

		wantStatus    int
		wantChallenge string // exact WWW-Authenticate; "" for none
		wantBody      map[string]string
		wantLog       string // in the log, for 503s
	}{
		{name: "no header", wantStatus: 401, wantChallenge: noTokenChallenge, wantBody: noToken},
		{name: "another query", target: "/?access_tokens=x&page=2", wantStatus: 401, wantChallenge: noTokenChallenge, wantBody: noToken},
		{name: "basic scheme", header: map[string]string{"Authorization": "Basic dXNlcjpwYXNz"},
			wantStatus: 401, wantChallenge: noTokenChallenge, wantBody: noToken},
		{name: "bearer without token", header: map[string]string{"Authorization": "Bearer"},
			wantStatus: 401, wantChallenge: noTokenChallenge, wantBody: noToken},
		{name: "bearer with blank token", header: map[string]string{"Authorization": "Bearer   "},
			wantStatus: 401, wantChallenge: noTokenChallenge, wantBody: noToken},
		// Not read, and the answer says so: URLs end up in logs.
		{name: "token in query only", target: "/?access_token=tok-all", wantStatus: 401, wantChallenge: noTokenChallenge,
			wantBody: map[string]string{"error_description": "send the access token in the Authorization header, not as access_token in the URL, which ends up in logs (RFC 6750 §2.3 is not accepted here)"}},
		{name: "token in form body only", method: http.MethodPost, body: "access_token=tok-all",
			header:     map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			wantStatus: 401, wantChallenge: noTokenChallenge, wantBody: noToken},
		{name: "inactive", header: map[string]string{"Authorization": "Bearer tok-dead"},
			wantStatus: 401, wantChallenge: invalidCh, wantBody: invalidBody},
		{name: "inactive, expired", header: map[string]string{"Authorization": "Bearer tok-expired"},
			wantStatus: 401, wantChallenge: expiredCh, wantBody: expiredBody},
		{name: "inactive, revoked", header: map[string]string{"Authorization": "Bearer tok-revoked"},
			wantStatus: 401, wantChallenge: revokedCh, wantBody: revokedBody},
		{name: "malformed token", header: map[string]string{"Authorization": "Bearer " + strings.Repeat("x", MaxTokenLen+1)},
			wantStatus: 401, wantChallenge: invalidCh, wantBody: invalidBody},
		{name: "missing scope", header: map[string]string{"Authorization": "Bearer tok-sms"},
			wantStatus:    403,
			wantChallenge: `Bearer realm="test", error="insufficient_scope", scope="sms groups", error_description="scope required: sms groups"`,
			wantBody:      map[string]string{"error": "insufficient_scope", "error_description": "scope required: sms groups", "scope": "sms groups"}},
		{name: "all scopes", header: map[string]string{"Authorization": "Bearer tok-all"}, wantStatus: 200},
		{name: "scheme is case-insensitive", header: map[string]string{"Authorization": "bEARER tok-all"}, wantStatus: 200},
		{name: "api key without Authorization", header: map[string]string{"X-API-Key": "tok-all"}, wantStatus: 200},
		{name: "api key ignored beside Authorization",
			header:     map[string]string{"Authorization": "Basic dXNlcjpwYXNz", "X-API-Key": "tok-all"},
			wantStatus: 401, wantChallenge: noTokenChallenge, wantBody: noToken},
		{name: "inactive api key", header: map[string]string{"X-API-Key": "tok-dead"},
			wantStatus: 401, wantChallenge: invalidCh, wantBody: invalidBody},
		{name: "oauthd 500", header: map[string]string{"Authorization": "Bearer tok-500"},
			wantStatus: 503, wantBody: unavailable, wantLog: "answered 500"},
		{name: "oauthd 401", header: map[string]string{"Authorization": "Bearer tok-all"},
			cfg:        func(c *Config) { c.ClientSecret = "wrong" },
			wantStatus: 503, wantBody: unavailable, wantLog: "check the client_id and client_secret"},
		{name: "oauthd 403", header: map[string]string{"Authorization": "Bearer tok-403"},
			wantStatus: 503, wantBody: unavailable, wantLog: "tokens:introspect"},
		{name: "oauthd 503", header: map[string]string{"Authorization": "Bearer tok-503"},
			wantStatus: 503, wantBody: unavailable, wantLog: "temporarily unavailable"},
		{name: "oauthd answers HTML", header: map[string]string{"Authorization": "Bearer tok-html"},
			wantStatus: 503, wantBody: unavailable, wantLog: "not RFC 7662 JSON"},
		{name: "oauthd unreachable", header: map[string]string{"Authorization": "Bearer tok-all"},
			cfg:        func(c *Config) { c.Issuer, c.Endpoint = "", closed.URL },
			wantStatus: 503, wantBody: unavailable, wantLog: "cannot reach oauthd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			cfg := f.config()
			cfg.Realm = "test"
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			c := newClient(t, cfg)
			var seen *Response
			h := c.Require("sms", "groups")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen, _ = FromContext(r.Context())
				w.WriteHeader(http.StatusOK)
			}))
			method, target := tt.method, tt.target
			if method == "" {
				method = http.MethodGet
			}
			if target == "" {
				target = "/"
			}
			req := httptest.NewRequest(method, target, strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.wantChallenge {
				t.Errorf("WWW-Authenticate = %q\nwant               %q", got, tt.wantChallenge)
			}
			if tt.wantStatus == http.StatusOK {
				if seen == nil || !seen.Active || seen.ClientID != "app1" {
					t.Errorf("handler saw %+v in its context, want the active answer", seen)
				}
				return
			}
			if seen != nil {
				t.Fatalf("handler ran for a refused request")
			}
			for k, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"} {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			wantRetry := ""
			if tt.wantStatus == http.StatusServiceUnavailable {
				wantRetry = "1"
			}
			if got := rec.Header().Get("Retry-After"); got != wantRetry {
				t.Errorf("Retry-After = %q, want %q", got, wantRetry)
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if !mapsEqual(body, tt.wantBody) {
				t.Errorf("body = %v, want %v", body, tt.wantBody)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log %q does not say %q", logs.String(), tt.wantLog)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestRequireWithoutScopes(t *testing.T) {
	f := newFake(t)
	f.set("tok", activeAnswer("", 0))
	c := newClient(t, f.config())
	h := c.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer tok")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("status = %d, want 204: any active token will do", rec.Code)
	}
}

func TestRealmIsQuoted(t *testing.T) {
	f := newFake(t)
	cfg := f.config()
	cfg.Realm = `my "api" \ v2`
	h := newClient(t, cfg).Require()(http.NotFoundHandler())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if got, want := rec.Header().Get("WWW-Authenticate"), `Bearer realm="my \"api\" \\ v2"`; got != want {
		t.Errorf("WWW-Authenticate = %s, want %s", got, want)
	}
}

func TestRequirePanicsOnBadScope(t *testing.T) {
	f := newFake(t)
	c := newClient(t, f.config())
	for _, scope := range []string{"", "sms groups", `a"b`, `a\b`, "tök"} {
		t.Run(scope, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Require(%q) did not panic", scope)
				}
			}()
			c.Require("sms", scope)
		})
	}
}

func TestResponseHelpers(t *testing.T) {
	tests := []struct {
		scope      string
		has        string
		wantHas    bool
		wantScopes int
	}{
		{"sms groups", "sms", true, 2},
		{"sms groups", "groups", true, 2},
		{"sms groups", "gro", false, 2},
		{"sms groups", "sms groups", false, 2},
		{"smsx", "sms", false, 1},
		{"", "sms", false, 0},
		{"sms", "", false, 1},
		{"a  b", "b", true, 2},
	}
	for _, tt := range tests {
		r := &Response{Scope: tt.scope}
		if got := r.HasScope(tt.has); got != tt.wantHas {
			t.Errorf("Response{Scope: %q}.HasScope(%q) = %v, want %v", tt.scope, tt.has, got, tt.wantHas)
		}
		if got := len(r.Scopes()); got != tt.wantScopes {
			t.Errorf("Response{Scope: %q}.Scopes() has %d, want %d", tt.scope, got, tt.wantScopes)
		}
	}
	if got := (&Response{}).ExpiresAt(); !got.IsZero() {
		t.Errorf("ExpiresAt without exp = %v, want zero", got)
	}
	if got := (&Response{Exp: 1700000000}).ExpiresAt(); got.Unix() != 1700000000 {
		t.Errorf("ExpiresAt = %v", got)
	}
}

func TestContext(t *testing.T) {
	if _, ok := FromContext(context.Background()); ok {
		t.Error("FromContext found a Response in an empty context")
	}
	if _, ok := FromContext(NewContext(context.Background(), nil)); ok {
		t.Error("FromContext reported a nil Response")
	}
	want := &Response{Active: true}
	if got, ok := FromContext(NewContext(context.Background(), want)); !ok || got != want {
		t.Errorf("FromContext = %v, %v", got, ok)
	}
}

// A request repeating its credential is refused with invalid_request (RFC
// 6750 §3.1) before anything is introspected: a proxy that read the first
// header and this server must never disagree on which token it carried.
func TestRepeatedCredential(t *testing.T) {
	f := newFake(t)
	f.set("tok-a", activeAnswer("sms", 0))
	f.set("tok-b", activeAnswer("sms", 0))
	c := newClient(t, f.config())
	h := c.Require("sms")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, hdr := range []string{"Authorization", "X-Api-Key"} {
		r := httptest.NewRequest("GET", "/", nil)
		prefix := ""
		if hdr == "Authorization" {
			prefix = "Bearer "
		}
		r.Header.Add(hdr, prefix+"tok-a")
		r.Header.Add(hdr, prefix+"tok-b")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var body map[string]string
		json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != http.StatusBadRequest || body["error"] != "invalid_request" ||
			!strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_request"`) {
			t.Errorf("two %s headers: %d %v %q", hdr, w.Code, body, w.Header().Get("WWW-Authenticate"))
		}
	}
	if n := f.introspections.Load(); n != 0 {
		t.Errorf("%d introspections for refused requests", n)
	}
}
