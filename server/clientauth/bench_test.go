package clientauth

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"testing"
)

// BenchmarkVerifyAssertion is the cost of one private_key_jwt check with
// an inline JWKS (parsed once, cached): parsing plus the claims plus the
// signature, which dominates.
func BenchmarkVerifyAssertion(b *testing.B) {
	for _, tt := range []struct {
		alg string
		key func() crypto.Signer
	}{
		{"EdDSA", func() crypto.Signer { return edKey(b) }},
		{"ES256", func() crypto.Signer { return ecKey(b, elliptic.P256()) }},
		{"RS256", func() crypto.Signer { return rsaKey(b, 2048) }},
		{"PS256", func() crypto.Signer { return rsaKey(b, 2048) }},
	} {
		b.Run(tt.alg, func(b *testing.B) {
			s := signer{key: tt.key(), alg: tt.alg, kid: "k1"}
			app := keyApp(b, s)
			v := newVerifier(b, nil)
			raw := sign(b, s, claimsFor(testClient))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				a, err := ParseAssertion(raw)
				if err != nil {
					b.Fatal(err)
				}
				if err := v.VerifyAssertion(ctx, app, a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
