package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// newJWTServer is newTestServer with a signing key ring on the same store.
func newJWTServer(t *testing.T, edit ...func(*Config)) (*testEnv, *signing.Ring) {
	t.Helper()
	rs := redistest.Start(t, redistest.Mini)
	rdb, err := redis.NewClient(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	st := redis.New(rdb, redis.Options{Prefix: "test"})
	ring, err := signing.NewRing(st, signing.SealWith(make([]byte, 32)), signing.EdDSA, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ring.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc := apps.New(st, scopes.Default(), apps.Options{})
	cfg := Config{Issuer: "http://oauthd.test", Catalogue: svc, Signer: ring}
	for _, f := range edit {
		f(&cfg)
	}
	srv, err := New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, srv: srv, store: st, apps: svc, redis: rs}, ring
}

func (e *testEnv) tokenWith(app testApp, form url.Values) (int, map[string]any) {
	e.t.Helper()
	form.Set("grant_type", "client_credentials")
	r := formRequest("/oauth/token", form)
	r.Header.Set("Authorization", basic(app.ClientID, app.Secret))
	w := e.do(r)
	return w.Code, decode[map[string]any](e.t, w.Body)
}

func jwtPart(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// An application with token_format jwt gets RFC 9068 access tokens:
// typ at+jwt, the claims the RFC names and no more, aud from its
// audiences narrowed by RFC 8707 resource; introspection, revocation,
// revoke-all and disabling reach them as they reach opaque tokens.
func TestJWTAccessTokens(t *testing.T) {
	bothCaches(t, func(t *testing.T, cached bool) {
		env, ring := newJWTServer(t)
		if cached {
			env.cacheApps()
		}
		rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
		app := env.createApp(apps.NewApplication{Scopes: []string{"sms", "groups"}, TokenLifetime: "1h", TokenFormat: "jwt",
			Audiences: []string{"https://sms.example", "https://voice.example"}})

		code, body := env.tokenWith(app, url.Values{"scope": {"sms"}})
		tok, _ := body["access_token"].(string)
		if code != 200 || strings.Count(tok, ".") != 2 || body["expires_in"] != float64(3600) {
			t.Fatalf("token: %d %v", code, body)
		}
		h, c := jwtPart(t, tok, 0), jwtPart(t, tok, 1)
		if h["typ"] != "at+jwt" || h["alg"] != "EdDSA" || h["kid"] == nil {
			t.Errorf("header %v", h)
		}
		want := map[string]any{"iss": "http://oauthd.test", "client_id": app.ClientID, "sub": app.ClientID, "scope": "sms"}
		for k, v := range want {
			if c[k] != v {
				t.Errorf("claim %s = %v, want %v", k, c[k], v)
			}
		}
		if aud, _ := c["aud"].([]any); len(aud) != 2 {
			t.Errorf("aud %v, want the application's two audiences", c["aud"])
		}
		if c["exp"].(float64)-c["iat"].(float64) != 3600 || c["jti"] == nil || len(c) != 8 {
			t.Errorf("claims %v: want exactly iss exp iat jti client_id sub scope aud", c)
		}
		if _, err := ring.Verify(context.Background(), tok); err != nil {
			t.Fatalf("the ring does not verify its token: %v", err)
		}

		// RFC 8707: resource narrows aud; an unknown one is invalid_target.
		code, body = env.tokenWith(app, url.Values{"resource": {"https://sms.example"}})
		narrowed, _ := body["access_token"].(string)
		// One audience is a string (RFC 7519 §4.1.3 allows either).
		if aud := jwtPart(t, narrowed, 1)["aud"]; code != 200 || aud != "https://sms.example" {
			t.Fatalf("resource narrowing: %d %v", code, body)
		}
		if code, body = env.tokenWith(app, url.Values{"resource": {"https://evil.example"}}); code != 400 || body["error"] != "invalid_target" {
			t.Fatalf("unknown resource: %d %v", code, body)
		}

		// Introspection: active, with aud; then revoked by the holder.
		_, raw := env.introspect(rs, url.Values{"token": {narrowed}})
		got := decode[map[string]any](t, strings.NewReader(raw))
		if got["active"] != true || got["jti"] != jwtPart(t, narrowed, 1)["jti"] {
			t.Fatalf("introspecting a JWT: %s", raw)
		}
		if aud, _ := got["aud"].([]any); len(aud) != 1 {
			t.Fatalf("introspection aud %v", got["aud"])
		}
		r := formRequest("/oauth/revoke", url.Values{"token": {narrowed}})
		r.Header.Set("Authorization", basic(app.ClientID, app.Secret))
		if w := env.do(r); w.Code != http.StatusOK {
			t.Fatalf("revoke: %d", w.Code)
		}
		if env.active(rs, narrowed, "") {
			t.Fatal("a revoked JWT is still active")
		}
		if !env.active(rs, tok, "") {
			t.Fatal("revoking one JWT revoked another")
		}
		// Revoke-all and disabling reach JWTs.
		if err := env.apps.RevokeTokens(context.Background(), app.ClientID); err != nil {
			t.Fatal(err)
		}
		if env.active(rs, tok, "") {
			t.Fatal("a JWT survives revoke-all")
		}

		// A forged or foreign JWT is inactive; a tampered one too.
		other, _ := newJWTServer(t)
		otherApp := other.createApp(apps.NewApplication{Scopes: []string{"sms"}, TokenLifetime: "1h", TokenFormat: "jwt"})
		_, ob := other.tokenWith(otherApp, url.Values{})
		if env.active(rs, ob["access_token"].(string), "") {
			t.Fatal("a JWT signed by another server's key is active")
		}
		parts := strings.Split(tok, ".")
		if env.active(rs, parts[0]+"."+parts[1]+"."+strings.Repeat("A", len(parts[2])), "") {
			t.Fatal("a JWT with a bad signature is active")
		}

		// The keys and the metadata.
		w := env.do(getRequest(JWKSPath))
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &set)
		if w.Code != 200 || len(set.Keys) != 1 || set.Keys[0]["kid"] != h["kid"] || set.Keys[0]["d"] != nil {
			t.Fatalf("jwks: %d %s", w.Code, w.Body)
		}
		meta := decode[map[string]any](t, env.do(getRequest("/.well-known/oauth-authorization-server")).Body)
		if meta["jwks_uri"] != "http://oauthd.test"+JWKSPath {
			t.Fatalf("metadata jwks_uri %v", meta["jwks_uri"])
		}
	})
}

// A jwt application needs a finite lifetime; unknown formats are refused.
func TestJWTFormatValidation(t *testing.T) {
	env, _ := newJWTServer(t)
	for _, in := range []apps.NewApplication{
		{Name: "x", Scopes: []string{"sms"}, TokenFormat: "jwt", TokenLifetime: "never"},
		{Name: "x", Scopes: []string{"sms"}, TokenFormat: "paseto"},
	} {
		if _, _, err := env.apps.Create(context.Background(), in); err == nil {
			t.Errorf("Create(%+v) accepted", in)
		}
	}
	a := env.createApp(apps.NewApplication{Scopes: []string{"sms"}, TokenLifetime: "1h", TokenFormat: "jwt"})
	never := "never"
	if _, err := env.apps.Update(context.Background(), a.ClientID, apps.ApplicationPatch{TokenLifetime: &never}); err == nil {
		t.Error("a jwt application's lifetime became never")
	}
	opaque := store.TokenOpaque
	if _, err := env.apps.Update(context.Background(), a.ClientID, apps.ApplicationPatch{TokenLifetime: &never, TokenFormat: &opaque}); err != nil {
		t.Errorf("switching to opaque and never together: %v", err)
	}
}

// While the signing keys are not loaded (Redis down at start, keys that do
// not open), the JWKS is unknown, not empty: an empty set cached for five
// minutes would make every verifier refuse every token meanwhile. It is a
// 503 that nobody may cache, with Retry-After.
func TestJWKSUnknownWhileKeysAreNot(t *testing.T) {
	ring, err := signing.NewRing(nil, signing.SealWith(make([]byte, 32)), signing.EdDSA, nil)
	if err != nil {
		t.Fatal(err)
	}
	env := newTestServer(t, func(c *Config) { c.Signer = ring })
	w := env.do(getRequest(JWKSPath))
	body := decode[map[string]any](t, w.Body)
	if w.Code != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Fatalf("jwks with no key loaded: %d %v", w.Code, body)
	}
	if h := w.Header(); h.Get("Cache-Control") != "no-store" || h.Get("Retry-After") == "" {
		t.Fatalf("jwks with no key loaded: Cache-Control %q, Retry-After %q", h.Get("Cache-Control"), h.Get("Retry-After"))
	}
}
