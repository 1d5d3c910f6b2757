package introspect

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// LocalJWT accepts only a JWT access token of oauthd's keys, with typ
// at+jwt, oauthd's iss, an exp not past (beyond the leeway) and, when the
// client has an Audience, that audience; anything else is inactive.
func TestValidateJWT(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	var srv *httptest.Server
	jwksHits := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "introspection_endpoint": srv.URL + "/oauth/introspect", "jwks_uri": srv.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		jwksHits++
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: "k1", Algorithm: "EdDSA", Use: "sig"}}})
	})
	introspected := 0
	mux.HandleFunc("POST /oauth/introspect", func(w http.ResponseWriter, r *http.Request) {
		introspected++
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"active":false}`))
	})
	srv = httptest.NewServer(mux)
	defer srv.Close()
	now := time.Now()
	c, err := New(Config{Issuer: srv.URL, ClientID: "rs", ClientSecret: "s", LocalJWT: true, Audience: "https://sms.example",
		JWTLeeway: 5 * time.Second, JWKSRefreshFloor: time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(kid, typ string, claims map[string]any, key any) string {
		opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", kid)
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key}, opts)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Signed(s).Claims(claims).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	base := func() map[string]any {
		return map[string]any{"iss": srv.URL, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "jti": "a.1.b", "client_id": "a", "sub": "a", "scope": "sms"}
	}
	with := func(k string, v any) map[string]any { m := base(); m[k] = v; return m }
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	fenced := sign("k1", "at+jwt", with("ip_allowlist", []string{"192.0.2.0/24", "2001:db8::/64"}), priv)
	inside, outside := netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("198.51.100.1")
	tests := []struct {
		name   string
		token  string
		active bool
		from   netip.Addr
	}{
		{"good", sign("k1", "at+jwt", base(), priv), true, netip.Addr{}},
		{"for this audience", sign("k1", "at+jwt", with("aud", "https://sms.example"), priv), true, netip.Addr{}},
		{"for another audience", sign("k1", "at+jwt", with("aud", []string{"https://voice.example"}), priv), false, netip.Addr{}},
		{"wrong typ", sign("k1", "JWT", base(), priv), false, netip.Addr{}},
		{"wrong issuer", sign("k1", "at+jwt", with("iss", "https://evil.example"), priv), false, netip.Addr{}},
		{"expired beyond leeway", sign("k1", "at+jwt", with("exp", now.Add(-6*time.Second).Unix()), priv), false, netip.Addr{}},
		{"expired within leeway", sign("k1", "at+jwt", with("exp", now.Add(-3*time.Second).Unix()), priv), true, netip.Addr{}},
		{"no exp", sign("k1", "at+jwt", with("exp", nil), priv), false, netip.Addr{}},
		{"issued in the future", sign("k1", "at+jwt", with("iat", now.Add(time.Minute).Unix()), priv), false, netip.Addr{}},
		{"another key under our kid", sign("k1", "at+jwt", base(), otherKey), false, netip.Addr{}},
		{"unknown kid: asks oauthd", sign("k9", "at+jwt", base(), otherKey), false, netip.Addr{}},
		{"not a JWT", "eyJ.x.y", false, netip.Addr{}},
		{"not yet valid (nbf)", sign("k1", "at+jwt", with("nbf", now.Add(time.Minute).Unix()), priv), false, netip.Addr{}},
		{"nbf within leeway", sign("k1", "at+jwt", with("nbf", now.Add(3*time.Second).Unix()), priv), true, netip.Addr{}},
		// A forged token's far exp does not buy it a local decision:
		// oauthd decides, from a record such a token does not have.
		{"longer-lived than trusted: asks oauthd", sign("k1", "at+jwt", with("exp", now.Add(100*365*24*time.Hour).Unix()), priv), false, netip.Addr{}},
		{"no iat: asks oauthd", sign("k1", "at+jwt", with("iat", nil), priv), false, netip.Addr{}},
		// The allowlist holds for a JWT checked here as at oauthd, and
		// after the answer is cached.
		{"allowlisted, from inside", fenced, true, inside},
		{"allowlisted, from outside (cached)", fenced, false, outside},
		{"allowlisted, from no address", fenced, false, netip.Addr{}},
		{"allowlisted, IPv6 inside", fenced, true, netip.MustParseAddr("2001:db8::9")},
		{"allowlisted, mapped IPv4 inside", fenced, true, netip.MustParseAddr("::ffff:192.0.2.8")},
		{"malformed allowlist", sign("k1", "at+jwt", with("ip_allowlist", []string{"nonsense"}), priv), false, inside},
	}
	for _, tt := range tests {
		r, err := c.IntrospectFrom(context.Background(), tt.token, tt.from)
		if err != nil || r.Active != tt.active {
			t.Errorf("%s: active %v, %v; want %v", tt.name, r != nil && r.Active, err, tt.active)
		}
		if tt.active && (r.ClientID != "a" || r.Scope != "sms" || r.Jti != "a.1.b") {
			t.Errorf("%s: answer %+v", tt.name, r)
		}
	}
	if introspected != 3 {
		t.Errorf("%d introspections; only the tokens of an unknown key, of no iat and of a too long life should be sent to oauthd", introspected)
	}
	// Unknown kids do not make the client fetch the JWKS on every token.
	if jwksHits > 2 {
		t.Errorf("%d JWKS fetches; the refresh floor should hold them to 2", jwksHits)
	}
}

// Following the feed, a JWT is decided here only while the feed is live
// and only if it was issued after the last event about its application;
// an older one goes to oauthd, which knows whether it was revoked.
func TestLocalJWTFollowsFeedMarks(t *testing.T) {
	var m jwtMarks
	t0 := time.Unix(1_800_000_000, 0)
	if !m.since("a").IsZero() {
		t.Fatal("no mark yet")
	}
	m.markAll(t0)
	m.mark("a", t0.Add(time.Minute))
	if m.since("a") != t0.Add(time.Minute) || m.since("b") != t0 {
		t.Fatalf("since a %v b %v", m.since("a"), m.since("b"))
	}
	m.markAll(t0.Add(2 * time.Minute))
	if m.since("a") != t0.Add(2*time.Minute) {
		t.Fatal("a reset must hold every application")
	}
}

// A JWT left to oauthd (here: the feed is followed but not live, so
// nothing is decided locally) is verified and introspected once; the
// requests after it are answered from the cache, without checking its
// signature again (which costs more than the rest of the request).
func TestDeferredJWTVerifiedOnce(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	var introspected atomic.Int32
	srv := newJWTIssuer(t, pub, func(w http.ResponseWriter, r *http.Request) {
		introspected.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"active":true,"client_id":"a","scope":"sms","token_type":"Bearer","jti":"a.1.b"}`))
	})
	c, err := New(Config{Issuer: srv.URL, ClientID: "rs", ClientSecret: "s", LocalJWT: true, FollowFeed: true})
	if err != nil {
		t.Fatal(err)
	}
	var verified atomic.Int32
	c.testHookVerify = func() { verified.Add(1) }
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	token, err := jwt.Signed(s).Claims(map[string]any{"iss": srv.URL, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
		"jti": "a.1.b", "client_id": "a", "sub": "a", "scope": "sms"}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []netip.Addr{netip.MustParseAddr("192.0.2.7"), {}} {
		verified.Store(0)
		introspected.Store(0)
		for range 10 {
			r, err := c.IntrospectFrom(context.Background(), token, from)
			if err != nil || !r.Active {
				t.Fatalf("from %v: %+v, %v; want oauthd's active answer", from, r, err)
			}
		}
		if v, n := verified.Load(), introspected.Load(); v != 1 || n != 1 {
			t.Errorf("from %v: 10 requests verified the signature %d times and asked oauthd %d times; want 1 and 1", from, v, n)
		}
	}
}

// newJWTIssuer is an oauthd publishing metadata and one EdDSA key, k1, in
// its JWKS, whose introspection endpoint is introspect.
func newJWTIssuer(t *testing.T, pub ed25519.PublicKey, introspect http.HandlerFunc) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "introspection_endpoint": srv.URL + "/oauth/introspect", "jwks_uri": srv.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: "k1", Algorithm: "EdDSA", Use: "sig"}}})
	})
	mux.HandleFunc("POST /oauth/introspect", introspect)
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}
