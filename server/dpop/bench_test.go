package dpop

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// BenchmarkVerify is one ES256 proof's check at the token endpoint, its
// header cached: the P-256 verification and the claims.
func BenchmarkVerify(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	benchVerify(b, key, jose.ES256, key.Public())
}

// BenchmarkVerifyAlg is BenchmarkVerify for each accepted algorithm: what
// a client's choice of key costs the server per proof.
func BenchmarkVerifyAlg(b *testing.B) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tt := range []struct {
		alg      jose.SignatureAlgorithm
		key, pub any
	}{
		{jose.EdDSA, ed, ed.Public()}, {jose.ES256, ec, ec.Public()}, {jose.PS256, rs, rs.Public()}, {jose.RS256, rs, rs.Public()},
	} {
		b.Run(string(tt.alg), func(b *testing.B) { benchVerify(b, tt.key, tt.alg, tt.pub) })
	}
}

func benchVerify(b *testing.B, key any, alg jose.SignatureAlgorithm, pub any) {
	now := time.Now()
	v := New(Config{Now: func() time.Time { return now }})
	proof := sign(b, key, alg, jose.JSONWebKey{Key: pub}, nil, pc(now, nil))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(proof, "POST", []string{endpoint}); err != nil {
			b.Fatal(err)
		}
	}
}
