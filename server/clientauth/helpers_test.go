package clientauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oauthd/oauthd/store"
)

const (
	testIssuer   = "https://auth.example.com"
	testTokenURL = "https://auth.example.com/oauth/token"
	testClient   = "billing-daemon"
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// RSA key generation takes a while: each size once per test binary.
var rsaKeys sync.Map

func rsaKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	if k, ok := rsaKeys.Load(bits); ok {
		return k.(*rsa.PrivateKey)
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := rsaKeys.LoadOrStore(bits, k)
	return k2.(*rsa.PrivateKey)
}

func edKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signer is a private key and how it signs.
type signer struct {
	key any // crypto.Signer, or []byte for HMAC
	alg string
	kid string
}

// publicJWK is s's public key as a JWK.
func (s signer) publicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: s.key.(crypto.Signer).Public(), KeyID: s.kid}
}

// jwks is the JWK Set of the signers' public keys, as JSON.
func jwks(t testing.TB, ss ...signer) []byte {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, s := range ss {
		set.Keys = append(set.Keys, s.publicJWK())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign makes a compact JWS of claims (a map, marshalled as is).
func sign(t testing.TB, s signer, claims map[string]any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if s.kid != "" {
		opts = opts.WithHeader("kid", s.kid)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(s.alg), Key: s.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// claimsFor are valid assertion claims for clientID at testNow.
func claimsFor(clientID string) map[string]any {
	return map[string]any{
		"iss": clientID,
		"sub": clientID,
		"aud": testIssuer,
		"jti": "jti-" + clientID + "-1",
		"iat": testNow.Unix(),
		"exp": testNow.Add(2 * time.Minute).Unix(),
	}
}

// with returns a copy of m with the given changes; a nil value deletes.
func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func keyApp(t testing.TB, ss ...signer) *store.Application {
	return &store.Application{
		ClientID: testClient,
		Enabled:  true,
		Auth:     store.ClientAuth{Method: store.AuthPrivateKeyJWT, JWKS: jwks(t, ss...)},
	}
}

// newVerifier builds a Verifier on the test clock; change edits its Config.
func newVerifier(t testing.TB, change func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{
		Issuer:         testIssuer,
		TokenEndpoints: []string{testTokenURL},
		Now:            func() time.Time { return testNow },
	}
	if change != nil {
		change(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// verify parses raw and verifies it for app.
func verify(v *Verifier, app *store.Application, raw string) (*Assertion, error) {
	a, err := ParseAssertion(raw)
	if err != nil {
		return nil, err
	}
	return a, v.VerifyAssertion(context.Background(), app, a)
}

// wantRefusal fails t unless err is an *Error whose reason contains want
// (nil err when want is ""), and names neither the assertion nor any of
// the secrets.
func wantRefusal(t *testing.T, err error, want string, secrets ...string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *Error with %q", err, err, want)
	}
	if !strings.Contains(e.Reason, want) {
		t.Fatalf("reason %q does not contain %q", e.Reason, want)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(e.Reason, s) {
			t.Fatalf("reason %q holds a secret or the assertion", e.Reason)
		}
	}
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
