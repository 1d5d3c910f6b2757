package clientauth

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oauthd/oauthd/store"
)

// signEd25519 makes a compact JWS as oauth4webapi 3.8 does for an Ed25519
// key: alg "Ed25519" (RFC 9864), which go-jose 4.1 cannot sign.
func signEd25519(t *testing.T, key ed25519.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, []byte(input)))
}

// TestEd25519AlgName: an assertion naming RFC 9864's "Ed25519" verifies
// with the registered Ed25519 key, whether the JWK says alg EdDSA, Ed25519
// or nothing; tampered, with another key, with crit, or for an RSA key,
// it is refused.
func TestEd25519AlgName(t *testing.T) {
	key, other := edKey(t), edKey(t)
	v := newVerifier(t, nil)
	appWith := func(k ed25519.PrivateKey, alg string) []byte {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.Public(), KeyID: "k1", Algorithm: alg}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := signEd25519(t, key, map[string]any{"alg": "Ed25519", "kid": "k1"}, claimsFor(testClient))
	for _, jwkAlg := range []string{"", "EdDSA", "Ed25519"} {
		a := keyApp(t, signer{key: key, alg: "EdDSA", kid: "k1"})
		a.Auth.JWKS = appWith(key, jwkAlg)
		if _, err := verify(v, a, good); err != nil {
			t.Errorf("jwk alg %q: %v", jwkAlg, err)
		}
	}
	tampered := good[:strings.LastIndex(good, ".")+1] + base64.RawURLEncoding.EncodeToString(make([]byte, 64))
	rsaApp := keyApp(t, signer{key: rsaKey(t, 2048), alg: "RS256", kid: "k1"})
	otherApp := keyApp(t, signer{key: other, alg: "EdDSA", kid: "k1"})
	for _, tc := range []struct {
		name, raw string
		app       *store.Application
		want      string
	}{
		{"tampered signature", tampered, keyApp(t, signer{key: key, alg: "EdDSA", kid: "k1"}), "does not verify"},
		{"another key", good, otherApp, "does not verify"},
		{"crit header", signEd25519(t, key, map[string]any{"alg": "Ed25519", "kid": "k1", "crit": []string{"b64"}, "b64": false}, claimsFor(testClient)), otherApp, "critical"},
		{"an RSA application", good, rsaApp, "no registered key fits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verify(v, tc.app, tc.raw)
			wantRefusal(t, err, tc.want)
		})
	}
}
