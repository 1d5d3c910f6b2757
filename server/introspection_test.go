package server

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/apps"

	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/store"
)

// clock is a test clock the server reads; advance moves it forward.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// issue gets a token for app through the token endpoint.
func (e *testEnv) issue(app testApp, scope string) string {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	r := formRequest("/oauth/token", form)
	r.Header.Set("Authorization", basic(app.ClientID, app.Secret))
	w := e.do(r)
	if w.Code != http.StatusOK {
		e.t.Fatalf("token: %d %s", w.Code, w.Body)
	}
	return decode[map[string]any](e.t, w.Body)["access_token"].(string)
}

// introspect asks as rs and returns the status and raw body.
func (e *testEnv) introspect(rs testApp, form url.Values) (int, string) {
	e.t.Helper()
	r := formRequest("/oauth/introspect", form)
	r.Header.Set("Authorization", basic(rs.ClientID, rs.Secret))
	w := e.do(r)
	if w.Code == http.StatusOK && w.Header().Get("Cache-Control") != "no-store" {
		e.t.Errorf("introspection answer without Cache-Control: no-store")
	}
	return w.Code, strings.TrimSpace(w.Body.String())
}

func (e *testEnv) revoke(app testApp, token string) (int, string) {
	e.t.Helper()
	r := formRequest("/oauth/revoke", url.Values{"token": {token}})
	r.Header.Set("Authorization", basic(app.ClientID, app.Secret))
	w := e.do(r)
	return w.Code, strings.TrimSpace(w.Body.String())
}

func TestIntrospectActive(t *testing.T) {
	env := newTestServer(t)
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	app := env.createApp(apps.NewApplication{Scopes: []string{"sms groups"}, TokenLifetime: "1h"})
	never := env.createApp(apps.NewApplication{Scopes: []string{"sms"}, TokenLifetime: "never"})

	tok := env.issue(app, "sms")
	code, body := env.introspect(rs, url.Values{"token": {tok}, "token_type_hint": {"access_token"}})
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	got := decode[map[string]any](t, strings.NewReader(body))
	want := map[string]any{"active": true, "scope": "sms", "client_id": app.ClientID, "token_type": "Bearer",
		"sub": app.ClientID, "iss": "http://oauthd.test"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	iat, _ := got["iat"].(float64)
	exp, _ := got["exp"].(float64)
	if exp-iat != 3600 || time.Since(time.Unix(int64(iat), 0)) > time.Minute {
		t.Errorf("iat %v exp %v", iat, exp)
	}
	if jti, _ := got["jti"].(string); jti == "" {
		t.Error("no jti")
	}

	// A never-expiring token has no exp; an unknown hint is ignored.
	code, body = env.introspect(rs, url.Values{"token": {env.issue(never, "")}, "token_type_hint": {"refresh_token_or_whatever"}})
	got = decode[map[string]any](t, strings.NewReader(body))
	if code != 200 || got["active"] != true {
		t.Fatalf("never token: %d %s", code, body)
	}
	if _, ok := got["exp"]; ok {
		t.Errorf("never-expiring token introspected with exp: %s", body)
	}
}

func TestIntrospectInactive(t *testing.T) {
	for _, withReason := range []bool{false, true} {
		name := "plain"
		if withReason {
			name = "with inactive_reason"
		}
		t.Run(name, func(t *testing.T) {
			clk := &clock{}
			env := newTestServer(t, func(c *Config) {
				c.Now = clk.now
				c.InactiveReason = withReason
				c.Tombstone = time.Hour
			})
			rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
			newApp := func(lifetime string) testApp {
				return env.createApp(apps.NewApplication{Scopes: []string{"sms groups"}, TokenLifetime: lifetime})
			}
			reason := func(r string) string {
				if withReason {
					return `{"active":false,"inactive_reason":"` + r + `"}`
				}
				return `{"active":false}`
			}
			tests := []struct {
				name  string
				token func() string
				want  string
			}{
				{"unknown but well-formed", func() string {
					raw, _ := credential.NewToken(rs.ClientID, store.NeverBucket(0))
					return raw
				}, `{"active":false}`},
				{"malformed", func() string { return "not-a-token" }, `{"active":false}`},
				{"empty", func() string { return "" }, `{"active":false}`},
				{"huge", func() string { return strings.Repeat("x", 10000) }, `{"active":false}`},
				{"revoked by its owner", func() string {
					a := newApp("1h")
					tok := env.issue(a, "")
					if code, _ := env.revoke(a, tok); code != 200 {
						t.Fatalf("revoke: %d", code)
					}
					return tok
				}, reason("revoked")},
				{"expired", func() string {
					a := newApp("2s")
					tok := env.issue(a, "")
					clk.advance(3 * time.Second)
					return tok
				}, reason("expired")},
				{"every token of the application revoked", func() string {
					a := newApp("1h")
					tok := env.issue(a, "")
					env.update(a.ClientID, func(a *store.Application) { a.Generation++ })
					return tok
				}, reason("revoked")},
				{"application deleted", func() string {
					a := newApp("1h")
					tok := env.issue(a, "")
					if err := env.store.DeleteApplication(context.Background(), a.ClientID); err != nil {
						t.Fatal(err)
					}
					return tok
				}, `{"active":false}`}, // its records are gone with it
				{"application disabled", func() string {
					a := newApp("never")
					tok := env.issue(a, "")
					env.update(a.ClientID, func(a *store.Application) { a.Enabled = false })
					return tok
				}, reason("revoked")},
				{"all its scopes taken away", func() string {
					a := newApp("1h")
					tok := env.issue(a, "sms")
					env.update(a.ClientID, func(a *store.Application) { a.Scopes = []string{"groups"} })
					return tok
				}, reason("revoked")},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					code, body := env.introspect(rs, url.Values{"token": {tt.token()}})
					if code != 200 || body != tt.want {
						t.Fatalf("got %d %s, want 200 %s", code, body, tt.want)
					}
				})
			}
		})
	}
}

// Narrowing an application's scopes narrows its live tokens at once.
func TestIntrospectNarrowedScopes(t *testing.T) {
	env := newTestServer(t)
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	app := env.createApp(apps.NewApplication{Scopes: []string{"sms groups reports"}})
	tok := env.issue(app, "")
	env.update(app.ClientID, func(a *store.Application) { a.Scopes = []string{"groups", "viber"} })
	_, body := env.introspect(rs, url.Values{"token": {tok}})
	got := decode[map[string]any](t, strings.NewReader(body))
	if got["active"] != true || got["scope"] != "groups" {
		t.Fatalf("after narrowing: %s", body)
	}
}

func TestIntrospectCaller(t *testing.T) {
	env := newTestServer(t)
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	daemon := env.createApp(apps.NewApplication{Scopes: []string{"sms"}})
	tok := env.issue(daemon, "")

	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		code   string
	}{
		{"no credentials", func() *http.Request {
			return formRequest("/oauth/introspect", url.Values{"token": {tok}})
		}, 401, "invalid_client"},
		{"wrong secret", func() *http.Request {
			r := formRequest("/oauth/introspect", url.Values{"token": {tok}})
			r.Header.Set("Authorization", basic(rs.ClientID, "ocs_nope"))
			return r
		}, 401, "invalid_client"},
		{"unknown caller, malformed token", func() *http.Request {
			r := formRequest("/oauth/introspect", url.Values{"token": {"junk"}})
			r.Header.Set("Authorization", basic("ghost", "x"))
			return r
		}, 401, "invalid_client"},
		{"caller without tokens:introspect", func() *http.Request {
			r := formRequest("/oauth/introspect", url.Values{"token": {tok}})
			r.Header.Set("Authorization", basic(daemon.ClientID, daemon.Secret))
			return r
		}, 403, "insufficient_scope"},
		{"token parameter missing", func() *http.Request {
			r := formRequest("/oauth/introspect", url.Values{})
			r.Header.Set("Authorization", basic(rs.ClientID, rs.Secret))
			return r
		}, 400, "invalid_request"},
		{"client_secret_post", func() *http.Request {
			return formRequest("/oauth/introspect", url.Values{"token": {tok}, "client_id": {rs.ClientID}, "client_secret": {rs.Secret}})
		}, 200, ""},
		{"json body", func() *http.Request {
			r := formRequest("/oauth/introspect", url.Values{"token": {tok}})
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", basic(rs.ClientID, rs.Secret))
			return r
		}, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := env.do(tt.req())
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			body := decode[map[string]any](t, w.Body)
			if tt.code == "" {
				if body["active"] != true {
					t.Fatalf("answer %v", body)
				}
				return
			}
			if body["error"] != tt.code || body["error_description"] == "" {
				t.Fatalf("answer %v, want error %s", body, tt.code)
			}
			if (tt.status == 401) != (w.Header().Get("WWW-Authenticate") != "") {
				t.Errorf("WWW-Authenticate %q on %d", w.Header().Get("WWW-Authenticate"), tt.status)
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	env := newTestServer(t)
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	owner := env.createApp(apps.NewApplication{})
	other := env.createApp(apps.NewApplication{})
	othersToken := env.issue(other, "")
	unknown, _ := credential.NewToken(owner.ClientID, store.NeverBucket(0))

	active := func(tok string) bool {
		_, body := env.introspect(rs, url.Values{"token": {tok}})
		return strings.Contains(body, `"active":true`)
	}
	tok := env.issue(owner, "")
	if !active(tok) {
		t.Fatal("fresh token inactive")
	}
	for _, tt := range []struct{ name, token string }{
		{"own token", tok},
		{"already revoked", tok},
		{"unknown", unknown},
		{"malformed", "garbage"},
		{"empty", ""},
		{"another application's", othersToken},
	} {
		r := formRequest("/oauth/revoke", url.Values{"token": {tt.token}, "token_type_hint": {"access_token"}})
		r.Header.Set("Authorization", basic(owner.ClientID, owner.Secret))
		w := env.do(r)
		if w.Code != 200 || strings.TrimSpace(w.Body.String()) != "{}" || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %q %q", tt.name, w.Code, w.Body, w.Header().Get("Content-Type"))
		}
	}
	if active(tok) {
		t.Fatal("revoked token still active")
	}
	if !active(othersToken) {
		t.Fatal("revoking another application's token took effect")
	}

	// The caller must authenticate, and must name a token.
	r := formRequest("/oauth/revoke", url.Values{"token": {othersToken}})
	r.Header.Set("Authorization", basic(owner.ClientID, "ocs_wrong"))
	if w := env.do(r); w.Code != 401 || w.Header().Get("WWW-Authenticate") == "" {
		t.Fatalf("bad credentials: %d", w.Code)
	}
	r = formRequest("/oauth/revoke", url.Values{})
	r.Header.Set("Authorization", basic(owner.ClientID, owner.Secret))
	if w := env.do(r); w.Code != 400 {
		t.Fatalf("no token parameter: %d %s", w.Code, w.Body)
	}
}

func TestMetadata(t *testing.T) {
	env := newTestServer(t, func(c *Config) { c.ServiceDocumentation = "https://docs.example/oauthd" })
	w := env.do(getRequest("/.well-known/oauth-authorization-server"))
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	m := decode[map[string]any](t, w.Body)
	want := map[string]string{
		"issuer":                 "http://oauthd.test",
		"token_endpoint":         "http://oauthd.test/oauth/token",
		"introspection_endpoint": "http://oauthd.test/oauth/introspect",
		"revocation_endpoint":    "http://oauthd.test/oauth/revoke",
		"service_documentation":  "https://docs.example/oauthd",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	join := func(k string) string {
		var out []string
		for _, v := range m[k].([]any) {
			out = append(out, v.(string))
		}
		return strings.Join(out, " ")
	}
	if join("grant_types_supported") != "client_credentials" {
		t.Errorf("grant types %v", m["grant_types_supported"])
	}
	for _, k := range []string{"token_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported", "revocation_endpoint_auth_methods_supported"} {
		if join(k) != "client_secret_basic client_secret_post private_key_jwt" {
			t.Errorf("%s = %v", k, m[k])
		}
	}
	for _, k := range []string{"token_endpoint_auth_signing_alg_values_supported", "introspection_endpoint_auth_signing_alg_values_supported", "revocation_endpoint_auth_signing_alg_values_supported"} {
		if join(k) != "EdDSA Ed25519 ES256 PS256 RS256" {
			t.Errorf("%s = %v", k, m[k])
		}
	}
	if m["tls_client_certificate_bound_access_tokens"] != false || m["mtls_endpoint_aliases"] != nil {
		t.Errorf("mTLS fields without mTLS: %v %v", m["tls_client_certificate_bound_access_tokens"], m["mtls_endpoint_aliases"])
	}
	if s := join("scopes_supported"); !strings.Contains(s, "sms") || !strings.Contains(s, "tokens:introspect") {
		t.Errorf("scopes_supported %q", s)
	}
}

// The metadata lists every client authentication method the deployment
// can take (issue 18): client_secret_jwt with a sealing key to open its
// secrets, the mTLS methods when certificates can reach oauthd, and
// mtls_endpoint_aliases at client_auth.mtls_base_url.
func TestMetadataClientAuthMethods(t *testing.T) {
	unseal := func(context.Context, []byte) ([]byte, error) { return nil, nil }
	for _, tt := range []struct {
		name    string
		edit    func(*Config)
		methods string
		algs    string
		aliases map[string]any
	}{
		{"secrets and keys", func(*Config) {}, "client_secret_basic client_secret_post private_key_jwt", "EdDSA Ed25519 ES256 PS256 RS256", nil},
		{"sealing key", func(c *Config) { c.ClientAuth.Unseal = unseal },
			"client_secret_basic client_secret_post client_secret_jwt private_key_jwt", "EdDSA Ed25519 ES256 PS256 RS256 HS256", nil},
		{"TLS listener", func(c *Config) { c.MTLS = true },
			"client_secret_basic client_secret_post private_key_jwt self_signed_tls_client_auth", "EdDSA Ed25519 ES256 PS256 RS256", nil},
		{"TLS listener and a client CA", func(c *Config) { c.MTLS, c.ClientAuth.ClientCAs = true, x509.NewCertPool() },
			"client_secret_basic client_secret_post private_key_jwt tls_client_auth self_signed_tls_client_auth", "EdDSA Ed25519 ES256 PS256 RS256", nil},
		{"mTLS elsewhere", func(c *Config) {
			c.MTLSBaseURL, c.ClientAuth.ClientCAs = "https://mtls.oauthd.test", x509.NewCertPool()
		},
			"client_secret_basic client_secret_post private_key_jwt tls_client_auth self_signed_tls_client_auth", "EdDSA Ed25519 ES256 PS256 RS256",
			map[string]any{"token_endpoint": "https://mtls.oauthd.test/oauth/token", "introspection_endpoint": "https://mtls.oauthd.test/oauth/introspect",
				"revocation_endpoint": "https://mtls.oauthd.test/oauth/revoke"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestServer(t, tt.edit)
			m := decode[map[string]any](t, env.do(getRequest("/.well-known/oauth-authorization-server")).Body)
			join := func(k string) string {
				var out []string
				for _, v := range m[k].([]any) {
					out = append(out, v.(string))
				}
				return strings.Join(out, " ")
			}
			for _, ep := range []string{"token", "introspection", "revocation"} {
				if got := join(ep + "_endpoint_auth_methods_supported"); got != tt.methods {
					t.Errorf("%s methods = %s, want %s", ep, got, tt.methods)
				}
				if got := join(ep + "_endpoint_auth_signing_alg_values_supported"); got != tt.algs {
					t.Errorf("%s algs = %s, want %s", ep, got, tt.algs)
				}
			}
			if got, _ := m["mtls_endpoint_aliases"].(map[string]any); !reflect.DeepEqual(got, tt.aliases) {
				t.Errorf("mtls_endpoint_aliases = %v, want %v", got, tt.aliases)
			}
		})
	}
}
