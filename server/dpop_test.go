package server

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/labstack/echo/v4"
	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/introspect"
	"github.com/oauthd/oauthd/server/oauthclient"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

const tokenURL = "http://oauthd.test/oauth/token"

// proofKey signs hand-made DPoP proofs, good and bad.
type proofKey struct {
	priv ed25519.PrivateKey
	jwk  jose.JSONWebKey
}

func newProofKey(t *testing.T) *proofKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &proofKey{priv: priv, jwk: jose.JSONWebKey{Key: priv.Public()}}
}

func (k *proofKey) jkt(t *testing.T) string {
	t.Helper()
	sum, err := k.jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(sum)
}

// proof is a proof for POST tokenURL made now, with edit applied to its
// claims.
func (k *proofKey) proof(t *testing.T, edit func(c map[string]any)) string {
	t.Helper()
	c := map[string]any{"jti": rand.Text(), "htm": "POST", "htu": tokenURL, "iat": time.Now().Unix()}
	if edit != nil {
		edit(c)
	}
	return k.sign(t, jose.EdDSA, k.priv, k.jwk, c)
}

func (k *proofKey) sign(t *testing.T, alg jose.SignatureAlgorithm, key any, jwk any, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("dpop+jwt").WithHeader("jwk", jwk))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := jws.CompactSerialize()
	return raw
}

// tokenRequest is a client_credentials request of app with the given
// DPoP headers.
func dpopTokenRequest(app testApp, proofs ...string) *http.Request {
	r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
	r.Header.Set("Authorization", basic(app.ClientID, app.Secret))
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	return r
}

// A token request with a good proof gets a DPoP token bound to the
// proof's key: token_type DPoP, and introspection's cnf.jkt and
// token_type, whether the store held the application or read it in the
// token script (which writes the record again with the binding).
func TestDPoPTokenBound(t *testing.T) {
	bothCaches(t, func(t *testing.T, cached bool) {
		env := newTestServer(t)
		if cached {
			env.cacheApps()
		}
		app := env.createApp(apps.NewApplication{})
		rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
		key := newProofKey(t)
		w := env.do(dpopTokenRequest(app, key.proof(t, nil)))
		if w.Code != http.StatusOK {
			t.Fatalf("token: %d %s", w.Code, w.Body)
		}
		tok := decode[tokenResponse](t, w.Body)
		if tok.TokenType != "DPoP" {
			t.Errorf("token_type = %q, want DPoP", tok.TokenType)
		}
		_, body := env.introspect(rs, url.Values{"token": {tok.AccessToken}})
		got := decode[introspection](t, strings.NewReader(body))
		if !got.Active || got.TokenType != "DPoP" || got.Cnf == nil || got.Cnf.JKT != key.jkt(t) || got.Cnf.X5tS256 != "" {
			t.Errorf("introspection = %s, want active, token_type DPoP and cnf.jkt %s", body, key.jkt(t))
		}
		// Without a proof: a bearer token, as before.
		w = env.do(dpopTokenRequest(app))
		if tok := decode[tokenResponse](t, w.Body); w.Code != 200 || tok.TokenType != "Bearer" {
			t.Errorf("no proof: %d %+v, want a Bearer token", w.Code, tok)
		}
	})
}

// A JWT access token carries cnf.jkt (RFC 9449 §6.1).
func TestDPoPJWTAccessToken(t *testing.T) {
	env, _ := newJWTServer(t)
	app := env.createApp(apps.NewApplication{TokenFormat: store.TokenJWT})
	key := newProofKey(t)
	w := env.do(dpopTokenRequest(app, key.proof(t, nil)))
	if w.Code != http.StatusOK {
		t.Fatalf("token: %d %s", w.Code, w.Body)
	}
	tok := decode[tokenResponse](t, w.Body)
	cnf, _ := jwtPart(t, tok.AccessToken, 1)["cnf"].(map[string]any)
	if tok.TokenType != "DPoP" || cnf["jkt"] != key.jkt(t) {
		t.Errorf("token_type %q, cnf %v; want DPoP and jkt %s", tok.TokenType, cnf, key.jkt(t))
	}
}

// Each refusal of RFC 9449 §4.3 at the token endpoint is 400
// invalid_dpop_proof, and issues nothing.
func TestDPoPProofRefused(t *testing.T) {
	env := newTestServer(t)
	app := env.createApp(apps.NewApplication{})
	key := newProofKey(t)
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	claims := map[string]any{"jti": "fixed", "htm": "POST", "htu": tokenURL, "iat": time.Now().Unix()}
	unsigned := func(alg, sig string) string {
		h, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": alg, "jwk": key.jwk})
		c, _ := json.Marshal(claims)
		return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "." + sig
	}
	hs256 := key.sign(t, jose.HS256, []byte(strings.Repeat("k", 32)), key.jwk, claims)
	private := key.sign(t, jose.EdDSA, key.priv, jose.JSONWebKey{Key: key.priv}, claims)
	replayed := key.proof(t, nil)
	if w := env.do(dpopTokenRequest(app, replayed)); w.Code != 200 {
		t.Fatalf("first use of a proof: %d %s", w.Code, w.Body)
	}
	tests := []struct {
		name, want string
		proofs     []string
	}{
		{"wrong htm", "htm", []string{key.proof(t, set("htm", "GET"))}},
		{"wrong htu", "htu", []string{key.proof(t, set("htu", "http://oauthd.test/oauth/introspect"))}},
		{"htu of another server", "htu", []string{key.proof(t, set("htu", "https://other.example/oauth/token"))}},
		{"stale iat", "iat", []string{key.proof(t, set("iat", time.Now().Add(-5*time.Minute).Unix()))}},
		{"alg none", "alg", []string{unsigned("none", "")}},
		{"HS256", "alg", []string{hs256}},
		{"private key in jwk", "private", []string{private}},
		{"two DPoP headers", "one DPoP header", []string{key.proof(t, nil), key.proof(t, nil)}},
		{"replayed proof", "used already", []string{replayed}},
		{"garbage", "compact JWS", []string{"not-a-jws"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := env.do(dpopTokenRequest(app, tt.proofs...))
			e := decode[oauthError](t, w.Body)
			if w.Code != http.StatusBadRequest || e.Error != "invalid_dpop_proof" || !strings.Contains(e.Description, tt.want) {
				t.Errorf("%d %+v, want 400 invalid_dpop_proof naming %q", w.Code, e, tt.want)
			}
		})
	}
}

// A proof spent on one replica is refused on another sharing the Redis,
// with nothing written, on miniredis and on a real redis-server; and a
// DPoP token costs one Redis round trip once the application is cached:
// the proof's jti is taken by the script that writes the record (as it is
// when the application is not cached: store/redis
// TestBoundTokenOneRoundTrip).
func TestDPoPReplayOnSecondReplica(t *testing.T) {
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			env := newTestServerOn(t, kind, nil)
			app := env.createApp(apps.NewApplication{})
			rdb, err := redis.NewClient(env.redis.URL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { rdb.Close() })
			var rt redisRoundTrips
			rdb.AddHook(&rt)
			st := redis.New(rdb, redis.Options{Prefix: "test"})
			second, err := New(Config{Issuer: "http://oauthd.test", Catalogue: apps.New(st, nil, apps.Options{})}, st)
			if err != nil {
				t.Fatal(err)
			}
			(&testEnv{t: t, store: st}).cacheApps()
			key := newProofKey(t)
			do := func(r *http.Request) *httptest.ResponseRecorder {
				w := httptest.NewRecorder()
				second.Handler().ServeHTTP(w, r)
				return w
			}
			// The first reads the application (and caches it) in one
			// script, the second writes with the other: each loaded once.
			for range 2 {
				if w := do(dpopTokenRequest(app, key.proof(t, nil))); w.Code != 200 {
					t.Fatalf("second replica: %d %s", w.Code, w.Body)
				}
			}
			var w *httptest.ResponseRecorder
			if n := rt.count(func() { w = do(dpopTokenRequest(app, key.proof(t, nil))) }); n != 1 || w.Code != 200 {
				t.Errorf("a DPoP token, its application cached: %d round trips, %d %s; want 1, 200", n, w.Code, w.Body)
			}
			proof := key.proof(t, nil)
			if w := env.do(dpopTokenRequest(app, proof)); w.Code != 200 {
				t.Fatalf("first replica: %d %s", w.Code, w.Body)
			}
			before := tokenCount(t, env.store, app.ClientID)
			w = do(dpopTokenRequest(app, proof))
			if e := decode[oauthError](t, w.Body); w.Code != 400 || e.Error != "invalid_dpop_proof" || !strings.Contains(e.Description, "used already") {
				t.Errorf("second replica: %d %+v, want 400 invalid_dpop_proof, used already", w.Code, e)
			}
			if after := tokenCount(t, env.store, app.ClientID); after != before {
				t.Errorf("the replay wrote a token: %d tokens, %d before", after, before)
			}
		})
	}
}

// tokenCount is how many live tokens id has.
func tokenCount(t *testing.T, st *redis.Store, id string) int {
	t.Helper()
	toks, _, err := st.ListTokens(context.Background(), id, 1000, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return len(toks)
}

// redisRoundTrips counts the commands and pipelines a go-redis client
// sends, each one round trip, but for a connection's handshake.
type redisRoundTrips struct{ n atomic.Int64 }

func (*redisRoundTrips) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *redisRoundTrips) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		switch cmd.Name() {
		case "hello", "client", "auth", "select":
		default:
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *redisRoundTrips) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

func (h *redisRoundTrips) count(f func()) int64 {
	before := h.n.Load()
	f()
	return h.n.Load() - before
}

// With dpop.require_nonce a proof without the server's nonce is answered
// use_dpop_nonce with a DPoP-Nonce, which a replica with the same key
// accepts; oauthclient follows the flow by itself.
func TestDPoPNonce(t *testing.T) {
	nonceKey := []byte(strings.Repeat("n", 32))
	withNonce := func(c *Config) { c.Binding.RequireNonce, c.Binding.NonceKey = true, nonceKey }
	env := newTestServer(t, withNonce)
	app := env.createApp(apps.NewApplication{})
	key := newProofKey(t)
	w := env.do(dpopTokenRequest(app, key.proof(t, nil)))
	nonce := w.Header().Get("DPoP-Nonce")
	if e := decode[oauthError](t, w.Body); w.Code != 400 || e.Error != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("no nonce: %d %+v, DPoP-Nonce %q; want 400 use_dpop_nonce with a nonce", w.Code, e, nonce)
	}
	w = env.do(dpopTokenRequest(app, key.proof(t, func(c map[string]any) { c["nonce"] = "forged" })))
	if e := decode[oauthError](t, w.Body); w.Code != 400 || e.Error != "use_dpop_nonce" {
		t.Errorf("forged nonce: %d %+v, want use_dpop_nonce", w.Code, e)
	}
	rdb, _ := redis.NewClient(env.redis.URL)
	t.Cleanup(func() { rdb.Close() })
	st := redis.New(rdb, redis.Options{Prefix: "test"})
	cfg := Config{Issuer: "http://oauthd.test", Catalogue: apps.New(st, nil, apps.Options{})}
	withNonce(&cfg)
	second, err := New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	second.Handler().ServeHTTP(rec, dpopTokenRequest(app, key.proof(t, func(c map[string]any) { c["nonce"] = nonce })))
	if rec.Code != 200 || decode[tokenResponse](t, rec.Body).TokenType != "DPoP" {
		t.Errorf("nonce from the first replica at the second: %d", rec.Code)
	}

	// oauthclient retries once with the nonce it was handed.
	ts := httptest.NewServer(env.srv.Handler())
	t.Cleanup(ts.Close)
	dk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	oc, err := oauthclient.New(oauthclient.Config{TokenURL: tokenURL, ClientID: app.ClientID, ClientSecret: app.Secret, DPoPKey: dk,
		HTTPClient: &http.Client{Transport: rewriteHost{ts}}})
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := oc.Token(context.Background()); err != nil || tok.TokenType != "DPoP" {
		t.Errorf("oauthclient with the nonce flow: %v, %v", tok, err)
	}
}

// rewriteHost sends requests for oauthd.test to a test server, keeping
// the URL the proof names.
type rewriteHost struct{ ts *httptest.Server }

func (h rewriteHost) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	u, _ := url.Parse(h.ts.URL)
	r.URL.Host = u.Host
	return h.ts.Client().Transport.RoundTrip(r)
}

// An application with dpop_bound_access_tokens gets no token without a
// proof (RFC 9449 §5.2), and a bound one with.
func TestDPoPBoundApplication(t *testing.T) {
	env := newTestServer(t)
	app := env.createApp(apps.NewApplication{})
	env.update(app.ClientID, func(a *store.Application) { a.DPoPBound = true })
	w := env.do(dpopTokenRequest(app))
	if e := decode[oauthError](t, w.Body); w.Code != 400 || e.Error != "invalid_dpop_proof" || !strings.Contains(e.Description, "dpop_bound_access_tokens") {
		t.Errorf("DPoP-bound application without a proof: %d %+v", w.Code, e)
	}
	w = env.do(dpopTokenRequest(app, newProofKey(t).proof(t, nil)))
	if w.Code != 200 || decode[tokenResponse](t, w.Body).TokenType != "DPoP" {
		t.Errorf("DPoP-bound application with a proof: %d", w.Code)
	}
}

// A FAPI 2.0 application authenticating with a shared secret is refused
// invalid_client, saying why, even with a proof; so is every application
// when the profile is the server's default, unless it opts out.
func TestFAPIRefusesSecret(t *testing.T) {
	for _, tt := range []struct {
		name       string
		def        bool
		profile    string
		wantRefuse bool
	}{
		{"fapi2 application", false, store.ProfileFAPI2, true},
		{"server default", true, "", true},
		{"opted out of the default", true, store.ProfileNone, false},
		{"no profile", false, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestServer(t, func(c *Config) { c.Binding.FAPIDefault = tt.def })
			app := env.createApp(apps.NewApplication{})
			env.update(app.ClientID, func(a *store.Application) { a.Profile = tt.profile })
			r := dpopTokenRequest(app, newProofKey(t).proof(t, nil))
			r.TLS = &tls.ConnectionState{}
			w := env.do(r)
			e := decode[oauthError](t, w.Body)
			switch {
			case tt.wantRefuse && (w.Code != 401 || e.Error != "invalid_client" || !strings.Contains(e.Description, "FAPI 2.0")):
				t.Errorf("%d %+v, want 401 invalid_client naming FAPI 2.0", w.Code, e)
			case !tt.wantRefuse && w.Code != 200:
				t.Errorf("%d %+v, want a token", w.Code, e)
			}
		})
	}
}

// The rest of the FAPI 2.0 policy, for an application that authenticates
// with a key or a certificate: sender-constrained tokens only, over TLS
// only, FAPI's proof algorithms and proof age.
func TestFAPISenderPolicy(t *testing.T) {
	env := newTestServer(t)
	fapi := &store.Application{Profile: store.ProfileFAPI2, Auth: store.ClientAuth{Method: store.AuthPrivateKeyJWT}}
	dpopBound := store.Confirmation{JKT: "jkt"}
	tests := []struct {
		name string
		tls  bool
		b    binding
		want string // error code, "" for none
	}{
		{"DPoP over TLS", true, binding{cnf: dpopBound, alg: "EdDSA"}, ""},
		{"DPoP over TLS, EdDSA named Ed25519 (RFC 9864)", true, binding{cnf: dpopBound, alg: "Ed25519"}, ""},
		{"certificate over TLS", true, binding{cnf: store.Confirmation{X5TS256: "x5t"}}, ""},
		{"unbound token asked", true, binding{}, "invalid_request"},
		{"plain HTTP", false, binding{cnf: dpopBound, alg: "EdDSA"}, "invalid_request"},
		{"RS256 proof", true, binding{cnf: dpopBound, alg: "RS256"}, "invalid_dpop_proof"},
		{"old proof", true, binding{cnf: dpopBound, alg: "ES256", age: 90 * time.Second}, "invalid_dpop_proof"},
		{"RS256 client assertion", true, binding{cnf: dpopBound, alg: "ES256", assertionAlg: "RS256"}, "invalid_client"},
		{"PS256 client assertion", true, binding{cnf: dpopBound, alg: "ES256", assertionAlg: "PS256"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/oauth/token", nil)
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			c := echo.New().NewContext(r, httptest.NewRecorder())
			err := env.srv.senderPolicy(c, fapi, tt.b)
			var code string
			if e, ok := err.(interface{ Error() string }); ok && err != nil {
				code, _, _ = strings.Cut(e.Error(), ":")
			}
			if code != tt.want {
				t.Errorf("senderPolicy = %v, want %q", err, tt.want)
			}
		})
	}
}

// A certificate presented on the TLS listener binds the token to it
// (RFC 8705 §3): introspection's cnf x5t#S256 is the SHA-256 of its DER,
// and the metadata says tokens are certificate-bound.
func TestCertificateBoundToken(t *testing.T) {
	ts := httptest.NewUnstartedServer(nil)
	ts.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	issuer := "https://" + ts.Listener.Addr().String()
	env := newTestServer(t, func(c *Config) { c.Issuer, c.Binding.TLS = issuer, true })
	ts.Config.Handler = env.srv.Handler()
	ts.StartTLS()
	t.Cleanup(ts.Close)
	app := env.createApp(apps.NewApplication{})
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})

	cert := selfSigned(t)
	client := ts.Client()
	client.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{cert}
	req, _ := http.NewRequest(http.MethodPost, issuer+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(app.ClientID, app.Secret)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	tok := decode[tokenResponse](t, res.Body)
	if res.StatusCode != 200 || tok.TokenType != "Bearer" {
		t.Fatalf("token with a certificate: %d %+v", res.StatusCode, tok)
	}
	sum := sha256.Sum256(cert.Leaf.Raw)
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	_, body := env.introspect(rs, url.Values{"token": {tok.AccessToken}})
	if got := decode[introspection](t, strings.NewReader(body)); got.Cnf == nil || got.Cnf.X5tS256 != want {
		t.Errorf("introspection = %s, want cnf x5t#S256 %s", body, want)
	}
	m := decode[map[string]any](t, env.do(getRequest("/.well-known/oauth-authorization-server")).Body)
	if m["tls_client_certificate_bound_access_tokens"] != true {
		t.Errorf("metadata tls_client_certificate_bound_access_tokens = %v", m["tls_client_certificate_bound_access_tokens"])
	}
	if algs, _ := json.Marshal(m["dpop_signing_alg_values_supported"]); string(algs) != `["EdDSA","Ed25519","ES256","PS256","RS256"]` {
		t.Errorf("metadata dpop_signing_alg_values_supported = %s", algs)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "daemon"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// A revoked DPoP token is inactive like any other.
func TestDPoPTokenRevoked(t *testing.T) {
	env := newTestServer(t)
	app := env.createApp(apps.NewApplication{})
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	w := env.do(dpopTokenRequest(app, newProofKey(t).proof(t, nil)))
	tok := decode[tokenResponse](t, w.Body)
	if code, body := env.revoke(app, tok.AccessToken); code != 200 {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if _, body := env.introspect(rs, url.Values{"token": {tok.AccessToken}}); body != `{"active":false}` {
		t.Errorf("revoked DPoP token: %s", body)
	}
}

// End to end: a DPoP token from oauthd opens a resource server guarded
// by the resource-server package with a proof of its key, and with
// nothing else: not as Bearer, not with another key's proof.
func TestDPoPEndToEnd(t *testing.T) {
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	env := newTestServer(t, func(c *Config) { c.Issuer = issuer })
	ts.Config.Handler = env.srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	app := env.createApp(apps.NewApplication{})
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	oc, err := oauthclient.New(oauthclient.Config{TokenURL: issuer + "/oauth/token", ClientID: app.ClientID, ClientSecret: app.Secret, DPoPKey: key})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := oc.Token(context.Background())
	if err != nil || tok.TokenType != "DPoP" {
		t.Fatalf("token: %v %v", tok, err)
	}
	ic, err := introspect.New(introspect.Config{Issuer: issuer, ClientID: rs.ClientID, ClientSecret: rs.Secret,
		PublicURL: "https://sms.example"})
	if err != nil {
		t.Fatal(err)
	}
	api := ic.Require("sms")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	const rsURL = "https://sms.example/v1/sms"
	thiefKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	thief, _ := oauthclient.NewDPoP(thiefKey)
	call := func(scheme string, proof *oauthclient.DPoP) int {
		r := httptest.NewRequest(http.MethodGet, rsURL, nil)
		r.Header.Set("Authorization", scheme+" "+tok.AccessToken)
		if proof != nil {
			p, err := proof.Proof(http.MethodGet, rsURL, tok.AccessToken, "")
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("DPoP", p)
		}
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		return w.Code
	}
	if code := call("DPoP", oc.DPoP()); code != 200 {
		t.Errorf("DPoP token with its proof: %d, want 200", code)
	}
	if code := call("Bearer", nil); code != 401 {
		t.Errorf("DPoP token as Bearer: %d, want 401", code)
	}
	if code := call("DPoP", thief); code != 401 {
		t.Errorf("DPoP token with another key's proof: %d, want 401", code)
	}
}

// A FAPI 2.0 application's token lives at most fapi.max_token_lifetime
// (10m by default), whatever its application's lifetime (never under
// fapi.default included) and the ttl asked for, and expires_in says so;
// a shorter lifetime or ttl stands, and an application outside the
// profile is not capped. On both token paths.
func TestFAPITokenLifetimeCapped(t *testing.T) {
	tests := []struct {
		name     string
		max      time.Duration // fapi.max_token_lifetime, 0 for the default
		profile  string
		lifetime time.Duration // the application's, 0 for never
		ttl      string
		want     float64 // expires_in; 0 for none
	}{
		{"24h application", 0, store.ProfileFAPI2, 24 * time.Hour, "", 600},
		{"ttl shorter", 0, store.ProfileFAPI2, 24 * time.Hour, "60", 60},
		{"ttl longer", 0, store.ProfileFAPI2, 24 * time.Hour, "3600", 600},
		{"application shorter", 0, store.ProfileFAPI2, 5 * time.Minute, "", 300},
		{"cap set to 2m", 2 * time.Minute, store.ProfileFAPI2, 24 * time.Hour, "", 120},
		{"never under fapi.default", 0, "", 0, "", 600},
		{"no profile", 0, store.ProfileNone, 24 * time.Hour, "", 86400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bothCaches(t, func(t *testing.T, cached bool) {
				e := newKeyEnv(t, redistest.Mini, func(c *Config) {
					c.Binding.FAPIMaxLifetime, c.Binding.FAPIDefault = tt.max, true
				})
				if cached {
					e.cacheApps()
				}
				k := newClientKey(t, "EdDSA")
				app := e.keyApp(store.AuthPrivateKeyJWT, store.ClientAuth{JWKS: jwks(t, k)})
				e.update(app.ClientID, func(a *store.Application) { a.Profile, a.TokenLifetime = tt.profile, tt.lifetime })
				form := assertionForm(k.sign(t, claims(app.ClientID, testIssuer)), "grant_type", "client_credentials")
				if tt.ttl != "" {
					form.Set("ttl", tt.ttl)
				}
				code, out := post(t, e.tlsSrv.Client(), e.tlsSrv.URL, TokenPath, form, http.Header{"Dpop": {newProofKey(t).proof(t, nil)}})
				if code != 200 || out["token_type"] != "DPoP" {
					t.Fatalf("token: %d %v", code, out)
				}
				if got, _ := out["expires_in"].(float64); got != tt.want {
					t.Errorf("expires_in = %v, want %v", out["expires_in"], tt.want)
				}
			})
		})
	}
}

// A request with a client assertion and a DPoP proof spends both with its
// token's write, in one step: replaying the proof with a fresh assertion
// is invalid_dpop_proof, nothing written, and that assertion is still
// good; replaying the assertion with a fresh proof is invalid_client, and
// that proof is still good. On both token paths.
func TestDPoPProofAndAssertionTakenTogether(t *testing.T) {
	bothCaches(t, func(t *testing.T, cached bool) {
		e := newKeyEnv(t, redistest.Mini)
		if cached {
			e.cacheApps()
		}
		k := newClientKey(t, "EdDSA")
		app := e.keyApp(store.AuthPrivateKeyJWT, store.ClientAuth{JWKS: jwks(t, k)})
		key := newProofKey(t)
		token := func(assertion, proof string) (int, map[string]any) {
			t.Helper()
			return post(t, nil, e.http.URL, TokenPath, assertionForm(assertion, "grant_type", "client_credentials"), http.Header{"Dpop": {proof}})
		}
		a1, p1 := k.sign(t, claims(app.ClientID, testIssuer)), key.proof(t, nil)
		if code, out := token(a1, p1); code != 200 || out["token_type"] != "DPoP" {
			t.Fatalf("first: %d %v", code, out)
		}
		before := tokenCount(t, e.store, app.ClientID)
		a2, p2 := k.sign(t, claims(app.ClientID, testIssuer)), key.proof(t, nil)
		if code, out := token(a2, p1); code != 400 || out["error"] != "invalid_dpop_proof" {
			t.Errorf("replayed proof, fresh assertion: %d %v, want 400 invalid_dpop_proof", code, out)
		}
		if code, out := token(a1, p2); code != 401 || out["error"] != "invalid_client" {
			t.Errorf("replayed assertion, fresh proof: %d %v, want 401 invalid_client", code, out)
		}
		if n := tokenCount(t, e.store, app.ClientID); n != before {
			t.Errorf("the replays wrote %d tokens", n-before)
		}
		if code, out := token(a2, p2); code != 200 {
			t.Errorf("the assertion and the proof the replays left: %d %v, want 200", code, out)
		}
	})
}
