package dpop

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const endpoint = "https://as.example/oauth/token"

// sign makes a proof: header members over the usual ones, claims as given.
func sign(t testing.TB, key any, alg jose.SignatureAlgorithm, jwk any, extra map[jose.HeaderKey]any, cl map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("dpop+jwt")
	if jwk != nil {
		opts = opts.WithHeader("jwk", jwk)
	}
	for k, v := range extra {
		opts = opts.WithHeader(k, v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(cl)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func pc(now time.Time, edit func(map[string]any)) map[string]any {
	c := map[string]any{"jti": "j1", "htm": "POST", "htu": endpoint, "iat": now.Unix()}
	if edit != nil {
		edit(c)
	}
	return c
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	v := New(Config{Now: func() time.Time { return now }})
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub := jose.JSONWebKey{Key: edKey.Public()}
	ecPub := jose.JSONWebKey{Key: ecKey.Public()}
	ecKey2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecOther := jose.JSONWebKey{Key: ecKey2.Public()}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	smallRSA, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	tp, _ := edPub.Thumbprint(crypto.SHA256)
	wantJKT := base64.RawURLEncoding.EncodeToString(tp)
	// A header whose jwk is the private key itself.
	privJWK := jose.JSONWebKey{Key: edKey}
	hsProof := sign(t, []byte(strings.Repeat("k", 32)), jose.HS256, edPub, nil, pc(now, nil))
	_, p, _ := strings.Cut(sign(t, edKey, jose.EdDSA, edPub, nil, pc(now, nil)), ".")
	p, _, _ = strings.Cut(p, ".")
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"dpop+jwt","alg":"none","jwk":` + mustJSON(edPub) + `}`))
	tests := []struct {
		name, proof, method, refusal string
	}{
		{"EdDSA", sign(t, edKey, jose.EdDSA, edPub, nil, pc(now, nil)), "POST", ""},
		{"ES256", sign(t, ecKey, jose.ES256, ecPub, nil, pc(now, nil)), "POST", ""},
		{"htu normalised", sign(t, edKey, jose.EdDSA, edPub, nil, pc(now, func(c map[string]any) { c["htu"] = "HTTPS://AS.example:443/oauth/./token?x=1" })), "POST", ""},
		{"wrong htm", sign(t, edKey, jose.EdDSA, edPub, nil, pc(now, func(c map[string]any) { c["htm"] = "GET" })), "POST", "htm"},
		{"wrong htu", sign(t, edKey, jose.EdDSA, edPub, nil, pc(now, func(c map[string]any) { c["htu"] = "https://as.example/oauth/introspect" })), "POST", "htu"},
		{"stale iat", sign(t, edKey, jose.EdDSA, edPub, nil, pc(now, func(c map[string]any) { c["iat"] = now.Add(-2 * time.Minute).Unix() })), "POST", "iat"},
		{"future iat", sign(t, edKey, jose.EdDSA, edPub, nil, pc(now, func(c map[string]any) { c["iat"] = now.Add(time.Minute).Unix() })), "POST", "future"},
		{"no iat", sign(t, edKey, jose.EdDSA, edPub, nil, pc(now, func(c map[string]any) { delete(c, "iat") })), "POST", "iat"},
		{"no jti", sign(t, edKey, jose.EdDSA, edPub, nil, pc(now, func(c map[string]any) { delete(c, "jti") })), "POST", "jti"},
		{"alg none", noneHeader + "." + p + ".", "POST", "alg"},
		{"HS256", hsProof, "POST", "alg"},
		{"private key in jwk", sign(t, edKey, jose.EdDSA, privJWK, nil, pc(now, nil)), "POST", "private"},
		{"no jwk", sign(t, edKey, jose.EdDSA, nil, nil, pc(now, nil)), "POST", "jwk"},
		{"wrong typ", sign(t, edKey, jose.EdDSA, edPub, map[jose.HeaderKey]any{"typ": "JWT"}, pc(now, nil)), "POST", "typ"},
		{"typ application/jwt", sign(t, edKey, jose.EdDSA, edPub, map[jose.HeaderKey]any{"typ": "application/jwt"}, pc(now, nil)), "POST", "typ"},
		// RFC 7515 §4.1.9: the media type compared as media types are,
		// with or without "application/" (as the resource server takes it).
		{"typ application/dpop+jwt", sign(t, edKey, jose.EdDSA, edPub, map[jose.HeaderKey]any{"typ": "application/dpop+jwt"}, pc(now, func(c map[string]any) { c["jti"] = "j-typ-1" })), "POST", ""},
		{"typ in capitals", sign(t, edKey, jose.EdDSA, edPub, map[jose.HeaderKey]any{"typ": "DPoP+JWT"}, pc(now, func(c map[string]any) { c["jti"] = "j-typ-2" })), "POST", ""},
		{"crit", sign(t, edKey, jose.EdDSA, edPub, map[jose.HeaderKey]any{"crit": []string{"x"}, "x": 1}, pc(now, nil)), "POST", "critical"},
		{"signed by another key", sign(t, ecKey, jose.ES256, ecOther, nil, pc(now, nil)), "POST", "signature"},
		{"not a JWS", "abc", "POST", "compact"},
		{"PS256", sign(t, rsaKey, jose.PS256, jose.JSONWebKey{Key: rsaKey.Public()}, nil, pc(now, nil)), "POST", ""},
		{"RS256", sign(t, rsaKey, jose.RS256, jose.JSONWebKey{Key: rsaKey.Public()}, nil, pc(now, nil)), "POST", ""},
		{"RSA key under 2048 bits", sign(t, smallRSA, jose.RS256, jose.JSONWebKey{Key: smallRSA.Public()}, nil, pc(now, nil)), "POST", "valid public key"},
		// A key past 4096 bits, refused before any signature is checked:
		// the jwk of a modulus that large with a signature of its size.
		{"RSA key over 4096 bits", hugeRSAProof(t, now), "POST", "valid public key"},
		{"ES256 on P-384", sign(t, p384, jose.ES384, jose.JSONWebKey{Key: p384.Public()}, map[jose.HeaderKey]any{"alg": "ES256"}, pc(now, nil)), "POST", "valid public key"},
		{"tampered signature, header known", tamper(sign(t, edKey, jose.EdDSA, edPub, nil, pc(now, nil))), "POST", "signature"},
		// RFC 9864's fully-specified name, which oauth4webapi 3.8 signs
		// Ed25519 keys with: the same signature, the same thumbprint.
		{"EdDSA named Ed25519 (RFC 9864)", sign(t, edKey, jose.EdDSA, edPub, map[jose.HeaderKey]any{"alg": "Ed25519"}, pc(now, func(c map[string]any) { c["jti"] = "j-ed25519" })), "POST", ""},
		{"Ed25519 with a P-256 key", sign(t, ecKey, jose.ES256, ecPub, map[jose.HeaderKey]any{"alg": "Ed25519"}, pc(now, nil)), "POST", "valid public key"},
		{"Ed25519, tampered signature", tamper(sign(t, edKey, jose.EdDSA, edPub, map[jose.HeaderKey]any{"alg": "Ed25519"}, pc(now, nil))), "POST", "signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(tt.proof, tt.method, []string{endpoint})
			var e *Error
			switch {
			case tt.refusal == "" && err != nil:
				t.Fatalf("Verify = %v", err)
			case tt.refusal == "":
				if strings.HasPrefix(tt.name, "EdDSA") && got.JKT != wantJKT {
					t.Errorf("JKT = %s, want %s", got.JKT, wantJKT)
				}
			case !errors.As(err, &e) || !strings.Contains(e.Reason, tt.refusal):
				t.Fatalf("Verify = %v, want a refusal naming %q", err, tt.refusal)
			}
		})
	}
}

// hugeRSAProof is a proof whose jwk is an RSA public key of 4104 bits (an
// odd modulus: no key pair is made, the check refuses it by its size
// first) and whose signature is as long as that key's.
func hugeRSAProof(t *testing.T, now time.Time) string {
	t.Helper()
	n := make([]byte, 4104/8)
	if _, err := rand.Read(n); err != nil {
		t.Fatal(err)
	}
	n[0] |= 0x80
	n[len(n)-1] |= 1
	b64 := base64.RawURLEncoding.EncodeToString
	head := fmt.Sprintf(`{"typ":"dpop+jwt","alg":"RS256","jwk":{"kty":"RSA","n":%q,"e":"AQAB"}}`, b64(n))
	claims, _ := json.Marshal(pc(now, nil))
	return b64([]byte(head)) + "." + b64(claims) + "." + b64(make([]byte, len(n)))
}

// tamper flips a bit of the proof's signature.
func tamper(p string) string {
	i := strings.LastIndexByte(p, '.')
	sig := []byte(p[i+1:])
	if sig[3] == 'A' {
		sig[3] = 'B'
	} else {
		sig[3] = 'A'
	}
	return p[:i+1] + string(sig)
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestNormalizeURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://AS.Example:443/oauth/token":              "https://as.example/oauth/token",
		"http://as.example:80":                            "http://as.example/",
		"https://as.example:8443/a/../oauth/%7Etoken?q#f": "https://as.example:8443/oauth/~token",
		"https://[::1]:443/x":                             "https://[::1]/x",
	} {
		if got, err := NormalizeURL(in); err != nil || got != want {
			t.Errorf("NormalizeURL(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"/oauth/token", "ftp://x/y", "https://u:p@x/y", "mailto:x"} {
		if _, err := NormalizeURL(bad); err == nil {
			t.Errorf("NormalizeURL(%q) passed", bad)
		}
	}
}

func TestNonces(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	n := NewNonces([]byte(strings.Repeat("s", 32)), time.Minute, clock)
	other := NewNonces([]byte(strings.Repeat("o", 32)), time.Minute, clock)
	cur := n.Current()
	if !n.Valid(cur) {
		t.Fatal("the current nonce is refused")
	}
	if other.Valid(cur) {
		t.Error("a nonce made with another key passed")
	}
	now = now.Add(time.Minute)
	if !n.Valid(cur) {
		t.Error("last window's nonce is refused")
	}
	now = now.Add(time.Minute)
	if n.Valid(cur) {
		t.Error("a nonce two windows old passed")
	}
	if n.Valid("garbage") || n.Valid("") {
		t.Error("garbage passed as a nonce")
	}
}

// FuzzVerify: no proof makes Verify panic, and whatever passes carries a
// thumbprint and a jti.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	f.Add(sign(f, key, jose.EdDSA, jose.JSONWebKey{Key: key.Public()}, nil, pc(now, nil)))
	f.Add("e30.e30.")
	f.Add("..")
	v := New(Config{Now: func() time.Time { return now }})
	f.Fuzz(func(t *testing.T, proof string) {
		p, err := v.Verify(proof, "POST", []string{endpoint})
		if err == nil && (p.JKT == "" || p.ID == "") {
			t.Fatalf("accepted %q without a thumbprint or jti: %+v", proof, p)
		}
	})
}

// derSignature builds the DER encoding/asn1 makes of ECDSA-Sig-Value for
// every shape of r and s: a high bit (a zero byte prepended), leading
// zero bytes (dropped), zero itself.
func TestDERSignature(t *testing.T) {
	fixed := func(b ...byte) []byte { return append(make([]byte, 32-len(b)), b...) }
	high := bytes.Repeat([]byte{0xff}, 32)
	for _, tt := range []struct{ r, s []byte }{
		{high, high},
		{fixed(1), fixed(0x80)},
		{fixed(0x7f, 0xff), fixed()},
		{fixed(0x80, 0, 0), append([]byte{0x7f}, high[1:]...)},
	} {
		want, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(tt.r), new(big.Int).SetBytes(tt.s)})
		if err != nil {
			t.Fatal(err)
		}
		if got := derSignature(nil, tt.r, tt.s); !bytes.Equal(got, want) {
			t.Errorf("derSignature(%x, %x) = %x, want %x", tt.r, tt.s, got, want)
		}
	}
}
