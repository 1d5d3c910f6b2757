package introspect

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// proofKey signs DPoP proofs for tests, with the standard library alone,
// so that a test can make any header or claims a client could send,
// malformed ones included.
type proofKey struct {
	alg    string
	signer crypto.Signer
	jwk    map[string]any // the public JWK, as sent
}

var (
	rsaKeyOnce sync.Once
	rsaKey     *rsa.PrivateKey
)

// newProofKey makes a key for alg (ES256, EdDSA, Ed25519, RS256 or PS256). The RSA
// key is made once per test binary: generating one takes a while.
func newProofKey(t testing.TB, alg string) *proofKey {
	t.Helper()
	k := &proofKey{alg: alg}
	switch alg {
	case algES256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := priv.PublicKey.Bytes() // uncompressed point: 0x04 || x || y
		k.signer = priv
		k.jwk = map[string]any{"kty": "EC", "crv": "P-256", "x": b64u(b[1:33]), "y": b64u(b[33:])}
	case algEdDSA, algEd25519:
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.signer = priv
		k.jwk = map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64u(pub)}
	case algRS256, algPS256:
		rsaKeyOnce.Do(func() {
			var err error
			if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				panic(err)
			}
		})
		k.signer = rsaKey
		k.jwk = map[string]any{"kty": "RSA", "n": b64u(rsaKey.N.Bytes()), "e": b64u(big.NewInt(int64(rsaKey.E)).Bytes())}
	default:
		t.Fatalf("no key for %s", alg)
	}
	return k
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jkt is the key's RFC 7638 thumbprint as go-jose computes it: an
// implementation independent of the package's.
func (k *proofKey) jkt(t testing.TB) string {
	t.Helper()
	sum, err := (&jose.JSONWebKey{Key: k.signer.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return b64u(sum)
}

// proofFor is a well-formed proof for a request, which edit may change
// before it is signed.
func (k *proofKey) proofFor(t testing.TB, method, uri, token string, iat time.Time, edit func(h, c map[string]any)) string {
	t.Helper()
	h := map[string]any{"typ": "dpop+jwt", "alg": k.alg, "jwk": k.jwk}
	c := map[string]any{"jti": randomID(), "htm": method, "htu": uri, "iat": iat.Unix()}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		c["ath"] = b64u(sum[:])
	}
	if edit != nil {
		edit(h, c)
	}
	return k.sign(t, h, c)
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b64u(b)
}

// sign makes the compact JWS of header and claims with k, whatever the
// header's alg says.
func (k *proofKey) sign(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	input := b64u(hb) + "." + b64u(cb)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	switch priv := k.signer.(type) {
	case *ecdsa.PrivateKey:
		var r, s *big.Int
		if r, s, err = ecdsa.Sign(rand.Reader, priv, digest[:]); err == nil {
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		}
	case ed25519.PrivateKey:
		sig = ed25519.Sign(priv, []byte(input))
	case *rsa.PrivateKey:
		if k.alg == algPS256 {
			sig, err = rsa.SignPSS(rand.Reader, priv, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, digest[:])
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64u(sig)
}

// Proofs go-jose signs (EmbedJWK puts the public key in the header) are
// read as go-jose reads them: the package's own JWS code agrees with an
// independent implementation on signature and thumbprint, for every
// algorithm, and refuses the same proof once tampered with.
func TestProofAgreesWithGoJose(t *testing.T) {
	c := newClient(t, Config{Endpoint: "http://oauthd.test", ClientID: "a", ClientSecret: "b"})
	for _, alg := range dpopAlgorithms {
		t.Run(alg, func(t *testing.T) {
			k := newProofKey(t, alg)
			opts := (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt")
			signAlg := jose.SignatureAlgorithm(alg)
			if alg == algEd25519 {
				// go-jose knows EdDSA only; RFC 9864's name for the same
				// signature goes in the header.
				signAlg, opts = jose.EdDSA, opts.WithHeader("alg", algEd25519)
			}
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: signAlg, Key: k.signer}, opts)
			if err != nil {
				t.Fatal(err)
			}
			for range 20 { // ES256: r and s with and without their high bit set
				obj, err := s.Sign([]byte(`{"jti":"` + randomID() + `","htm":"GET","htu":"https://a.example/x","iat":1700000000}`))
				if err != nil {
					t.Fatal(err)
				}
				compact, err := obj.CompactSerialize()
				if err != nil {
					t.Fatal(err)
				}
				p, ref := c.parseProof(compact)
				if ref != refNone {
					t.Fatalf("parseProof refused go-jose's proof: %d", ref)
				}
				if !p.Verify() {
					t.Fatalf("go-jose's signature does not verify")
				}
				if got, want := b64u(p.JKT[:]), k.jkt(t); got != want {
					t.Fatalf("thumbprint %s, go-jose's %s", got, want)
				}
				// One bit of the payload changed: the signature no longer holds.
				parts := strings.Split(compact, ".")
				payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
				payload[len(payload)-2] ^= 1
				tampered := parts[0] + "." + b64u(payload) + "." + parts[2]
				if p, ref := c.parseProof(tampered); ref == refNone && p.Verify() {
					t.Fatalf("a tampered proof verifies")
				}
			}
		})
	}
}
