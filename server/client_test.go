package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// Client authentication without shared secrets (issue 18), end to end:
// real listeners (plain HTTP, and TLS asking for a client certificate),
// the store on Redis, assertions signed and certificates made here.

// syncBuffer is a log sink the server's goroutines write while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// keyEnv is a server on Redis of kind, with its logs captured, served by
// a plain HTTP listener and (tlsSrv) a TLS one that asks for a client
// certificate and requires none, as serve's does.
type keyEnv struct {
	*testEnv
	logs   *syncBuffer
	http   *httptest.Server
	tlsSrv *httptest.Server
	seal   func(context.Context) ([]byte, error) // the sealing key of client_secret_jwt secrets
}

func newKeyEnv(t *testing.T, kind redistest.Kind, edit ...func(*Config)) *keyEnv {
	t.Helper()
	logs := &syncBuffer{}
	seal := signing.SealWith(bytes.Repeat([]byte{9}, 32))
	env := newTestServerOn(t, kind, nil, append([]func(*Config){func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.ClientAuth.Unseal = func(ctx context.Context, sealed []byte) ([]byte, error) { return signing.OpenSecret(ctx, seal, sealed) }
	}}, edit...)...)
	e := &keyEnv{testEnv: env, logs: logs, seal: seal}
	e.http = httptest.NewServer(env.srv.Handler())
	e.tlsSrv = httptest.NewUnstartedServer(env.srv.Handler())
	e.tlsSrv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	e.tlsSrv.StartTLS()
	t.Cleanup(func() { e.http.Close(); e.tlsSrv.Close() })
	return e
}

// keyApp makes an application of method m with auth (Method set here) and
// no secret, holding scopes.
func (e *keyEnv) keyApp(m string, auth store.ClientAuth, scopes ...string) testApp {
	e.t.Helper()
	if scopes == nil {
		scopes = []string{"sms", "groups"}
	}
	a := e.createApp(apps.NewApplication{Scopes: scopes})
	auth.Method = m
	e.update(a.ClientID, func(app *store.Application) {
		app.Auth = auth
		if !app.Auth.UsesSecret() {
			app.Secrets = nil
		}
	})
	if !auth.UsesSecret() {
		a.Secret = ""
	}
	a.Auth = auth
	return a
}

// post sends form to path on base with client (nil: http.DefaultClient)
// and returns the status and the decoded body.
func post(t *testing.T, client *http.Client, base, path string, form url.Values, hdr http.Header) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header[k] = v
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: %d, body not JSON: %v", path, resp.StatusCode, err)
	}
	if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("%s: 401 without WWW-Authenticate", path)
	}
	return resp.StatusCode, out
}

// clientKey is a private key a client signs its assertions with.
type clientKey struct {
	key any // crypto.Signer, or []byte for HS256
	alg string
	kid string
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func newClientKey(t *testing.T, alg string) clientKey {
	t.Helper()
	switch alg {
	case "EdDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return clientKey{key: k, alg: alg, kid: "ed-" + rand.Text()[:8]}
	case "RS256":
		rsaOnce.Do(func() { rsaKey, _ = rsa.GenerateKey(rand.Reader, 2048) })
		return clientKey{key: rsaKey, alg: alg, kid: "rs-" + rand.Text()[:8]}
	}
	t.Fatalf("no key for %s", alg)
	return clientKey{}
}

// jwks is the JWK Set of the keys' public halves, as JSON.
func jwks(t *testing.T, keys ...clientKey) []byte {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.key.(crypto.Signer).Public(), KeyID: k.kid, Algorithm: k.alg, Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign makes a compact JWS of claims with k.
func (k clientKey) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	return k.signB(t, claims)
}

// signB is sign for tests and benchmarks alike.
func (k clientKey) signB(t testing.TB, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if k.kid != "" {
		opts = opts.WithHeader("kid", k.kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: k.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// claims are a fresh assertion's claims: iss = sub = id, aud = aud, a
// unique jti, a minute to live.
func claims(id, aud string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": id, "sub": id, "aud": aud, "jti": rand.Text(), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
}

// assertionForm is a form authenticating with assertion, plus kv.
func assertionForm(assertion string, kv ...string) url.Values {
	f := url.Values{"client_assertion_type": {jwtBearer}, "client_assertion": {assertion}}
	for i := 0; i < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

const testIssuer = "http://oauthd.test"

// A token with private_key_jwt, EdDSA and RS256 keys, on both token
// paths (application read in the token script, or cached); the token it
// gets introspects as active at a resource server that authenticates
// with private_key_jwt too, which also follows the revocation feed so;
// and the application revokes its token with an assertion.
func TestPrivateKeyJWTEndpoints(t *testing.T) {
	for _, alg := range []string{"EdDSA", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			bothCaches(t, func(t *testing.T, cached bool) {
				e := newKeyEnv(t, redistest.Mini)
				if cached {
					e.cacheApps()
				}
				k, rsKey := newClientKey(t, alg), newClientKey(t, "EdDSA")
				app := e.keyApp(store.AuthPrivateKeyJWT, store.ClientAuth{JWKS: jwks(t, k)})
				rs := e.keyApp(store.AuthPrivateKeyJWT, store.ClientAuth{JWKS: jwks(t, rsKey)}, "tokens:introspect")

				assertion := k.sign(t, claims(app.ClientID, testIssuer))
				code, out := post(t, nil, e.http.URL, TokenPath, assertionForm(assertion, "grant_type", "client_credentials"), nil)
				tok, _ := out["access_token"].(string)
				if code != 200 || tok == "" {
					t.Fatalf("token: %d %v", code, out)
				}
				// aud the token endpoint's URL, as older clients send it.
				code, out = post(t, nil, e.http.URL, TokenPath, assertionForm(k.sign(t, claims(app.ClientID, testIssuer+TokenPath)), "grant_type", "client_credentials"), nil)
				if code != 200 {
					t.Fatalf("token with aud the token endpoint: %d %v", code, out)
				}

				code, out = post(t, nil, e.http.URL, IntrospectPath, assertionForm(rsKey.sign(t, claims(rs.ClientID, testIssuer)), "token", tok), nil)
				if code != 200 || out["active"] != true || out["client_id"] != app.ClientID {
					t.Fatalf("introspection: %d %v", code, out)
				}

				code, out = post(t, nil, e.http.URL, RevokePath, assertionForm(k.sign(t, claims(app.ClientID, testIssuer+RevokePath)), "token", tok), nil)
				if code != 200 {
					t.Fatalf("revocation: %d %v", code, out)
				}
				code, out = post(t, nil, e.http.URL, IntrospectPath, assertionForm(rsKey.sign(t, claims(rs.ClientID, testIssuer)), "token", tok), nil)
				if code != 200 || out["active"] != false {
					t.Fatalf("introspection after revocation: %d %v", code, out)
				}
				if strings.Contains(e.logs.String(), assertion) || strings.Contains(e.logs.String(), strings.Split(assertion, ".")[2]) {
					t.Fatal("an assertion is in the log")
				}
			})
		})
	}
}

// The revocation feed, a GET, takes a client assertion in its query.
func TestPrivateKeyJWTFeed(t *testing.T) {
	env, hs := newFeedServer(t)
	e := &keyEnv{testEnv: env}
	k := newClientKey(t, "EdDSA")
	rs := e.keyApp(store.AuthPrivateKeyJWT, store.ClientAuth{JWKS: jwks(t, k)}, "tokens:introspect")
	open := func(q url.Values) *http.Response {
		resp, err := hs.Client().Get(hs.URL + FeedPath + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	a := k.sign(t, claims(rs.ClientID, testIssuer))
	resp := open(assertionForm(a))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("feed: %d %v", resp.StatusCode, resp.Header)
	}
	resp.Body.Close()
	for name, q := range map[string]url.Values{
		"replayed":        assertionForm(a),
		"secret in query": {"client_id": {rs.ClientID}, "client_secret": {"x"}},
	} {
		if resp := open(q); resp.StatusCode != 401 && resp.StatusCode != 400 {
			t.Fatalf("%s: %d", name, resp.StatusCode)
		}
	}
}

// noneJWT is an unsigned JWT (alg none) of claims.
func noneJWT(claims map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	p, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// Each refusal of issue 18 at the token endpoint: 401 invalid_client (400
// invalid_request for a malformed request), the reason in the log line
// only, the assertion never there.
func TestClientAssertionRefused(t *testing.T) {
	e := newKeyEnv(t, redistest.Mini)
	k, stranger := newClientKey(t, "EdDSA"), newClientKey(t, "EdDSA")
	app := e.keyApp(store.AuthPrivateKeyJWT, store.ClientAuth{JWKS: jwks(t, k)})
	legacy := e.createApp(apps.NewApplication{})
	used := k.sign(t, claims(app.ClientID, testIssuer))
	if code, out := post(t, nil, e.http.URL, TokenPath, assertionForm(used, "grant_type", "client_credentials"), nil); code != 200 {
		t.Fatalf("first use: %d %v", code, out)
	}
	c := func(kv ...any) map[string]any {
		m := claims(app.ClientID, testIssuer)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	now := time.Now()
	hs256 := clientKey{key: []byte(strings.Repeat("k", 32)), alg: "HS256"}
	for _, tt := range []struct {
		name   string
		form   url.Values
		hdr    http.Header
		code   int
		reason string // in the log line
	}{
		{"replayed assertion", assertionForm(used), nil, 401, "replayed"},
		{"replayed assertion, a grant error of its own", assertionForm(used, "grant_type", "password"), nil, 401, "replayed"},
		{"wrong aud", assertionForm(k.sign(t, c("aud", "https://elsewhere.example"))), nil, 401, "aud"},
		{"expired", assertionForm(k.sign(t, c("iat", now.Add(-10*time.Minute).Unix(), "exp", now.Add(-5*time.Minute).Unix()))), nil, 401, "expired"},
		{"exp too far ahead", assertionForm(k.sign(t, c("exp", now.Add(time.Hour).Unix()))), nil, 401, "lifetime"},
		{"alg none", assertionForm(noneJWT(c())), nil, 401, "alg"},
		{"HS256 for a key application", assertionForm(hs256.sign(t, c())), nil, 401, "HS256"},
		{"key not registered", assertionForm(stranger.sign(t, c())), nil, 401, "no registered key matches"},
		{"no jti", assertionForm(k.sign(t, c("jti", nil))), nil, 401, "jti"},
		{"secret for a key-only application (basic)", url.Values{}, http.Header{"Authorization": {basic(app.ClientID, legacy.Secret)}}, 401, "secret for an application that authenticates with private_key_jwt"},
		{"secret for a key-only application (post)", url.Values{"client_id": {app.ClientID}, "client_secret": {legacy.Secret}}, nil, 401, "secret for an application that authenticates with private_key_jwt"},
		{"assertion for a secret application", assertionForm(k.sign(t, claims(legacy.ClientID, testIssuer))), nil, 401, "client_assertion for an application that authenticates with a client secret"},
		{"assertion of another client", assertionForm(k.sign(t, c()), "client_id", legacy.ClientID), nil, 401, "client_assertion for an application"},
		{"assertion and Basic", assertionForm(k.sign(t, c())), http.Header{"Authorization": {basic(app.ClientID, "x")}}, 400, "invalid_request"},
		{"assertion and client_secret", assertionForm(k.sign(t, c()), "client_secret", "x"), nil, 400, "invalid_request"},
		{"assertion without its type", url.Values{"client_assertion": {k.sign(t, c())}}, nil, 400, "invalid_request"},
		{"unknown assertion type", url.Values{"client_assertion_type": {"urn:example:saml"}, "client_assertion": {k.sign(t, c())}}, nil, 401, "unsupported client_assertion_type"},
		{"client_id alone", url.Values{"client_id": {app.ClientID}}, nil, 401, "without client_secret, client_assertion or client certificate"},
		{"garbage assertion", assertionForm("not.a.jwt"), nil, 401, "not a signed JWT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}}
			for k, v := range tt.form {
				form[k] = v
			}
			before := len(e.logs.String())
			code, out := post(t, nil, e.http.URL, TokenPath, form, tt.hdr)
			want := map[int]string{400: "invalid_request", 401: "invalid_client"}[tt.code]
			if code != tt.code || out["error"] != want {
				t.Fatalf("%d %v, want %d %s", code, out, tt.code, want)
			}
			line := e.logs.String()[before:]
			if !strings.Contains(line, tt.reason) {
				t.Fatalf("log line lacks %q: %s", tt.reason, line)
			}
			if d, _ := out["error_description"].(string); strings.Contains(d, tt.reason) && tt.code == 401 && tt.reason != "invalid_client" {
				t.Fatalf("the reason reached the client: %s", d)
			}
			if a := tt.form.Get("client_assertion"); a != "" && len(a) > 20 && strings.Contains(line, a) {
				t.Fatal("the assertion is in the log line")
			}
		})
	}
}

// Repeating client_assertion or client_assertion_type is invalid_request
// (RFC 6749 §3.2): read first-wins, one could hide behind the other.
func TestClientAssertionRepeated(t *testing.T) {
	e := newKeyEnv(t, redistest.Mini)
	k := newClientKey(t, "EdDSA")
	app := e.keyApp(store.AuthPrivateKeyJWT, store.ClientAuth{JWKS: jwks(t, k)})
	for _, p := range []string{"client_assertion", "client_assertion_type"} {
		f := assertionForm(k.sign(t, claims(app.ClientID, testIssuer)), "grant_type", "client_credentials")
		f.Add(p, f.Get(p))
		if code, out := post(t, nil, e.http.URL, TokenPath, f, nil); code != 400 || out["error"] != "invalid_request" {
			t.Fatalf("%s repeated: %d %v", p, code, out)
		}
	}
}

// An assertion spent on a request refused for its grant type is spent:
// sent again, even well-formed, it is a replay.
func TestAssertionSpentByRefusedRequest(t *testing.T) {
	e := newKeyEnv(t, redistest.Mini)
	k := newClientKey(t, "EdDSA")
	app := e.keyApp(store.AuthPrivateKeyJWT, store.ClientAuth{JWKS: jwks(t, k)})
	a := k.sign(t, claims(app.ClientID, testIssuer))
	if code, out := post(t, nil, e.http.URL, TokenPath, assertionForm(a, "grant_type", "password"), nil); code != 400 || out["error"] != "unsupported_grant_type" {
		t.Fatalf("bad grant type: %d %v", code, out)
	}
	if code, out := post(t, nil, e.http.URL, TokenPath, assertionForm(a, "grant_type", "client_credentials"), nil); code != 401 || out["error"] != "invalid_client" {
		t.Fatalf("the same assertion again: %d %v", code, out)
	}
}

// An assertion is single use across replicas: taken on one, it is
// refused on the other (two servers on one real Redis).
func TestAssertionReplayOnSecondReplica(t *testing.T) {
	e := newKeyEnv(t, redistest.Real)
	rdb, err := redis.NewClient(e.redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	other, err := New(Config{Issuer: testIssuer, Catalogue: e.apps}, redis.New(rdb, redis.Options{Prefix: "test"}))
	if err != nil {
		t.Fatal(err)
	}
	second := httptest.NewServer(other.Handler())
	t.Cleanup(second.Close)
	k := newClientKey(t, "EdDSA")
	app := e.keyApp(store.AuthPrivateKeyJWT, store.ClientAuth{JWKS: jwks(t, k)})
	a := k.sign(t, claims(app.ClientID, testIssuer))
	form := assertionForm(a, "grant_type", "client_credentials")
	if code, out := post(t, nil, e.http.URL, TokenPath, form, nil); code != 200 {
		t.Fatalf("first replica: %d %v", code, out)
	}
	if code, out := post(t, nil, second.URL, TokenPath, form, nil); code != 401 || out["error"] != "invalid_client" {
		t.Fatalf("replay on the second replica: %d %v", code, out)
	}
	// A fresh assertion works on the second replica: it was the jti.
	if code, out := post(t, nil, second.URL, TokenPath, assertionForm(k.sign(t, claims(app.ClientID, testIssuer)), "grant_type", "client_credentials"), nil); code != 200 {
		t.Fatalf("fresh assertion on the second replica: %d %v", code, out)
	}
}

// client_secret_jwt: an HS256 assertion made with the application's
// secret, which the store keeps sealed; the bare secret is refused.
func TestClientSecretJWT(t *testing.T) {
	e := newKeyEnv(t, redistest.Mini)
	a := e.createApp(apps.NewApplication{})
	sealed, err := signing.SealSecret(context.Background(), e.seal, []byte(a.Secret))
	if err != nil {
		t.Fatal(err)
	}
	e.update(a.ClientID, func(app *store.Application) {
		app.Auth.Method = store.AuthSecretJWT
		app.Secrets[0].Sealed = sealed
	})
	k := clientKey{key: []byte(a.Secret), alg: "HS256"}
	code, out := post(t, nil, e.http.URL, TokenPath, assertionForm(k.sign(t, claims(a.ClientID, testIssuer)), "grant_type", "client_credentials"), nil)
	if code != 200 || out["access_token"] == nil {
		t.Fatalf("client_secret_jwt: %d %v", code, out)
	}
	wrong := clientKey{key: []byte(a.Secret + "x"), alg: "HS256"}
	for name, form := range map[string]url.Values{
		"another secret": assertionForm(wrong.sign(t, claims(a.ClientID, testIssuer)), "grant_type", "client_credentials"),
		"bare secret":    {"grant_type": {"client_credentials"}, "client_id": {a.ClientID}, "client_secret": {a.Secret}},
	} {
		if code, out := post(t, nil, e.http.URL, TokenPath, form, nil); code != 401 {
			t.Fatalf("%s: %d %v", name, code, out)
		}
	}
}

// testPKI is a CA and certificates it or nobody signed.
type testPKI struct {
	ca     *x509.Certificate
	caKey  crypto.Signer
	serial int64
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return &testPKI{ca: ca, caKey: key, serial: 1}
}

// cert makes a client certificate for cn, signed by the CA or, when
// selfSigned, by its own key.
func (p *testPKI) cert(t *testing.T, cn string, selfSigned bool) tls.Certificate {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	p.serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"Example"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	parent, signer := p.ca, p.caKey
	if selfSigned {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// x5cJWKS is a JWK Set registering cert (self_signed_tls_client_auth).
func x5cJWKS(t *testing.T, cert tls.Certificate) []byte {
	t.Helper()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: cert.Leaf.PublicKey, Certificates: []*x509.Certificate{cert.Leaf}, KeyID: "c1", Use: "sig"}}}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tlsClient is a client of e's TLS listener presenting cert (none when
// its Certificate is empty).
func (e *keyEnv) tlsClient(cert tls.Certificate) *http.Client {
	c := e.tlsSrv.Client()
	tr := c.Transport.(*http.Transport).Clone()
	if len(cert.Certificate) > 0 {
		tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
	}
	return &http.Client{Transport: tr}
}

// Both mTLS methods over oauthd's TLS listener, which asks for a
// certificate and requires none, and each refusal: a certificate that does
// not match (another CA, another subject, one not registered), none.
func TestMTLSClientAuth(t *testing.T) {
	pki, other := newPKI(t), newPKI(t)
	pool := x509.NewCertPool()
	pool.AddCert(pki.ca)
	e := newKeyEnv(t, redistest.Mini, func(c *Config) { c.ClientAuth.ClientCAs = pool; c.MTLS = true })
	good := pki.cert(t, "billing.example", false)
	self := pki.cert(t, "self", true)
	pkiApp := e.keyApp(store.AuthTLS, store.ClientAuth{SubjectDN: "CN=billing.example,O=Example"})
	selfApp := e.keyApp(store.AuthSelfSignedTLS, store.ClientAuth{JWKS: x5cJWKS(t, self)})
	legacy := e.createApp(apps.NewApplication{})
	for _, tt := range []struct {
		name   string
		cert   tls.Certificate
		id     string
		code   int
		reason string
	}{
		{"tls_client_auth", good, pkiApp.ClientID, 200, ""},
		{"self_signed_tls_client_auth", self, selfApp.ClientID, 200, ""},
		{"certificate of another CA", other.cert(t, "billing.example", false), pkiApp.ClientID, 401, "does not verify against the client CA"},
		{"another subject", pki.cert(t, "sms.example", false), pkiApp.ClientID, 401, "registered subject DN"},
		{"self-signed not registered", pki.cert(t, "self", true), selfApp.ClientID, 401, "not registered"},
		{"CA-signed for a self-signed application", good, selfApp.ClientID, 401, "not registered"},
		{"no certificate", tls.Certificate{}, pkiApp.ClientID, 401, "without client_secret, client_assertion or client certificate"},
		{"certificate for a secret application", good, legacy.ClientID, 401, "tls_client_certificate for an application that authenticates with a client secret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.logs.String())
			code, out := post(t, e.tlsClient(tt.cert), e.tlsSrv.URL, TokenPath, url.Values{"grant_type": {"client_credentials"}, "client_id": {tt.id}}, nil)
			if code != tt.code {
				t.Fatalf("%d %v, want %d", code, out, tt.code)
			}
			if tt.code == 200 {
				return
			}
			if out["error"] != "invalid_client" {
				t.Fatalf("%v", out)
			}
			line := e.logs.String()[before:]
			if !strings.Contains(line, tt.reason) {
				t.Fatalf("log line lacks %q: %s", tt.reason, line)
			}
		})
	}
	// The legacy application's secret still works over the same listener,
	// with a certificate presented or not.
	if code, out := post(t, e.tlsClient(good), e.tlsSrv.URL, TokenPath, url.Values{"grant_type": {"client_credentials"}},
		http.Header{"Authorization": {basic(legacy.ClientID, legacy.Secret)}}); code != 200 {
		t.Fatalf("secret with a certificate presented: %d %v", code, out)
	}
	if strings.Contains(e.logs.String(), "BEGIN CERTIFICATE") || strings.Contains(e.logs.String(), base64.StdEncoding.EncodeToString(good.Leaf.Raw)[:40]) {
		t.Fatal("a certificate is in the log")
	}
}

// Behind a TLS-terminating proxy the client certificate comes in a header
// (URL-escaped PEM, nginx's $ssl_client_escaped_cert), believed from a
// trusted proxy only: from any other peer it is ignored, and that is
// logged once.
func TestClientCertHeader(t *testing.T) {
	pki := newPKI(t)
	pool := x509.NewCertPool()
	pool.AddCert(pki.ca)
	cert := pki.cert(t, "billing.example", false)
	escaped := url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Leaf.Raw})))
	for _, tt := range []struct {
		name    string
		trusted string
		hdr     string
		code    int
		reason  string
	}{
		{"from a trusted proxy", "127.0.0.0/8", escaped, 200, ""},
		{"from an untrusted peer", "10.0.0.0/8", escaped, 401, "without client_secret, client_assertion or client certificate"},
		{"not PEM", "127.0.0.0/8", "garbage", 401, "holds no PEM certificate"},
		{"proxy got no certificate", "127.0.0.0/8", "", 401, "without client_secret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newKeyEnv(t, redistest.Mini, func(c *Config) {
				c.ClientAuth.ClientCAs, c.ClientCertHeader = pool, "X-Client-Cert"
				c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix(tt.trusted)}
			})
			app := e.keyApp(store.AuthTLS, store.ClientAuth{SubjectDN: "CN=billing.example,O=Example"})
			for range 2 {
				before := len(e.logs.String())
				code, out := post(t, nil, e.http.URL, TokenPath, url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ClientID}},
					http.Header{"X-Client-Cert": {tt.hdr}})
				if code != tt.code {
					t.Fatalf("%d %v, want %d", code, out, tt.code)
				}
				if line := e.logs.String()[before:]; !strings.Contains(line, tt.reason) {
					t.Fatalf("log line lacks %q: %s", tt.reason, line)
				}
			}
			ignored := strings.Count(e.logs.String(), "not a trusted proxy ignored")
			if want := map[bool]int{true: 1, false: 0}[tt.trusted == "10.0.0.0/8"]; ignored != want {
				t.Fatalf("the ignored header was logged %d times, want %d", ignored, want)
			}
			if strings.Contains(e.logs.String(), escaped[:60]) {
				t.Fatal("the certificate header is in the log")
			}
		})
	}
}

// Workload identity: an application trusts an external issuer (OIDC
// discovery and JWKS, served here over TLS) for its assertions, with the
// subject and audience they must carry. Such a token is reused until it
// expires (a kubelet refreshes it), so it is not single use; a token of
// the wrong subject or audience is refused.
func TestWorkloadIdentity(t *testing.T) {
	k := newClientKey(t, "RS256")
	var issuer string
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": issuer + "/openid/v1/jwks"})
	})
	mux.HandleFunc("/openid/v1/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks(t, k))
	})
	idp := httptest.NewTLSServer(mux)
	t.Cleanup(idp.Close)
	issuer = idp.URL
	e := newKeyEnv(t, redistest.Mini, func(c *Config) {
		c.ClientAuth.HTTPClient, c.ClientAuth.AllowPrivateAddrs = idp.Client(), true
	})
	const sub, aud = "system:serviceaccount:sms:billing", "oauthd"
	app := e.keyApp(store.AuthPrivateKeyJWT, store.ClientAuth{TrustedIssuer: issuer, TrustedSubject: sub, TrustedAudience: aud})
	sa := func(sub, aud string) string {
		now := time.Now()
		return k.sign(t, map[string]any{"iss": issuer, "sub": sub, "aud": []string{aud}, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()})
	}
	tok := sa(sub, aud)
	for _, tt := range []struct {
		name      string
		assertion string
		code      int
		reason    string
	}{
		{"service-account token", tok, 200, ""},
		{"the same token again", tok, 200, ""},
		{"wrong subject", sa("system:serviceaccount:sms:other", aud), 401, "trusted subject"},
		{"wrong audience", sa(sub, "https://kubernetes.default.svc"), 401, "trusted audience"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.logs.String())
			code, out := post(t, nil, e.http.URL, TokenPath, assertionForm(tt.assertion, "grant_type", "client_credentials", "client_id", app.ClientID), nil)
			if code != tt.code {
				t.Fatalf("%d %v, want %d", code, out, tt.code)
			}
			if line := e.logs.String()[before:]; !strings.Contains(line, tt.reason) {
				t.Fatalf("log line lacks %q: %s", tt.reason, line)
			}
		})
	}
	// Without client_id the token names no application.
	if code, _ := post(t, nil, e.http.URL, TokenPath, assertionForm(tok, "grant_type", "client_credentials"), nil); code != 401 {
		t.Fatalf("workload token without client_id: %d", code)
	}
}

// A secret sent for a key-only application counts against the lock-outs
// as a wrong secret does, and is audited as client.auth_failed.
func TestKeyOnlySecretLocksOut(t *testing.T) {
	limits := defaultLimits
	limits.ClientFailures = redis.Rate{N: 3, Per: time.Minute}
	audit := &recordingAudit{}
	env := newTestServerOn(t, redistest.Mini, &limits, func(c *Config) { c.Audit = audit })
	e := &keyEnv{testEnv: env}
	k := newClientKey(t, "EdDSA")
	app := e.keyApp(store.AuthPrivateKeyJWT, store.ClientAuth{JWKS: jwks(t, k)})
	var codes []int
	for range 5 {
		codes = append(codes, e.authAt(TokenPath, app.ClientID, "ocs_guess", "192.0.2.7").status)
	}
	if codes[0] != 401 || codes[4] != 429 {
		t.Fatalf("statuses %v: want 401 first, 429 once locked out", codes)
	}
	if n := audit.count("client.auth_failed", app.ClientID); n < 3 {
		t.Fatalf("%d client.auth_failed events for the key-only application, want at least 3", n)
	}
}

// recordingAudit keeps the security events.
type recordingAudit struct {
	mu     sync.Mutex
	events []store.SecurityEvent
}

func (a *recordingAudit) Security(_ context.Context, e store.SecurityEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
}

func (a *recordingAudit) count(kind, clientID string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, e := range a.events {
		if e.Kind == kind && e.ClientID == clientID {
			n++
		}
	}
	return n
}

// A refused assertion's or certificate's reason quotes what the client
// sent (a kid, an iss, a time, a thumbprint): the failure metric counts it
// by its kind, so no client can mint label values; the log keeps the
// detail.
func TestClientAuthFailureLabels(t *testing.T) {
	obs := &recorder{}
	e := newKeyEnv(t, redistest.Mini, func(c *Config) { c.Observer = obs })
	k := newClientKey(t, "EdDSA")
	app := e.keyApp(store.AuthPrivateKeyJWT, store.ClientAuth{JWKS: jwks(t, k)})
	stranger := newClientKey(t, "EdDSA")
	legacy := e.createApp(apps.NewApplication{})
	used := k.sign(t, claims(app.ClientID, testIssuer))
	for _, form := range []url.Values{
		assertionForm(used),
		assertionForm(used), // a replay
		assertionForm(stranger.sign(t, claims(app.ClientID, testIssuer))),
		assertionForm(k.sign(t, claims(app.ClientID, "https://"+rand.Text()+".example"))),
		assertionForm("x." + rand.Text() + ".y"),
		{"client_id": {legacy.ClientID}, "client_secret": {"ocs_wrong"}},
	} {
		form.Set("grant_type", "client_credentials")
		post(t, nil, e.http.URL, TokenPath, form, nil)
	}
	obs.mu.Lock()
	got := slices.Clone(obs.auth)
	obs.mu.Unlock()
	want := []string{"client assertion replayed: its jti was used before", "client assertion refused", "client assertion refused", "client assertion refused", "wrong secret"}
	if !slices.Equal(got, want) {
		t.Fatalf("failure labels %q, want %q", got, want)
	}
	if !strings.Contains(e.logs.String(), "client assertion refused: no registered key matches") {
		t.Fatalf("the log lost the detail: %s", e.logs.String())
	}
}
