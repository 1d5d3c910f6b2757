package apps

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthd/oauthd/store"
)

// ParseKeys takes keys as operators hold them (a JWK Set, one JWK, PEM
// public keys and certificates) and gives a JWK Set the service accepts;
// a private key is refused, whatever its form.
func TestParseKeys(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	privDER, _ := x509.MarshalPKCS8PrivateKey(k)
	privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))
	set := testJWKS(t, "k1", true)
	var parsed jose.JSONWebKeySet
	_ = json.Unmarshal(set, &parsed)
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: parsed.Keys[0].Certificates[0].Raw}))
	oneJWK, _ := json.Marshal(parsed.Keys[0].Public())
	privJWK, _ := json.Marshal(jose.JSONWebKey{Key: k})
	for name, tt := range map[string]struct {
		in    string
		keys  int
		x5c   bool
		error string
	}{
		"jwks":            {string(set), 1, true, ""},
		"one jwk":         {string(oneJWK), 1, false, ""},
		"pem public key":  {pubPEM, 1, false, ""},
		"pem two blocks":  {pubPEM + "\n" + certPEM, 2, true, ""},
		"pem certificate": {certPEM, 1, true, ""},
		"pem private key": {privPEM, 0, false, "private key"},
		"jwk private key": {string(privJWK), 0, false, "private key"},
		"garbage":         {"hello", 0, false, "no PEM block"},
		"empty":           {"  ", 0, false, ""},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ParseKeys([]byte(tt.in))
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) || ErrorCode(err) != CodeInvalid {
					t.Fatalf("err %v, want %q", err, tt.error)
				}
				return
			}
			if err != nil || len(Keys(got)) != tt.keys {
				t.Fatalf("%s: %v", got, err)
			}
			if tt.keys == 0 {
				return
			}
			method := store.AuthPrivateKeyJWT
			if tt.x5c {
				method = store.AuthSelfSignedTLS
			}
			if _, err := checkAuth(store.ClientAuth{Method: method, JWKS: got}); err != nil {
				t.Fatalf("the service refuses what ParseKeys gave: %v\n%s", err, got)
			}
		})
	}
}
