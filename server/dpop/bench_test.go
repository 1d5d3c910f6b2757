package dpop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// BenchmarkVerify is one ES256 proof's check at the token endpoint, its
// header cached: the P-256 verification and the claims.
func BenchmarkVerify(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	v := New(Config{Now: func() time.Time { return now }})
	proof := sign(b, key, jose.ES256, jose.JSONWebKey{Key: key.Public()}, nil, pc(now, nil))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(proof, "POST", []string{endpoint}); err != nil {
			b.Fatal(err)
		}
	}
}
