package signing

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// TestSealSecret: a sealed client secret opens with its sealing key only,
// never holds the secret in clear, and two seals of one secret differ
// (random nonce).
func TestSealSecret(t *testing.T) {
	ctx := context.Background()
	key, other := SealWith(bytes.Repeat([]byte{1}, 32)), SealWith(bytes.Repeat([]byte{2}, 32))
	plain := []byte("s3cr3t-of-a-client_secret_jwt-app")
	a, err := SealSecret(ctx, key, plain)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SealSecret(ctx, key, plain)
	if bytes.Equal(a, b) || bytes.Contains(a, plain) {
		t.Fatalf("sealed twice the same, or holds the secret: %x", a)
	}
	got, err := OpenSecret(ctx, key, a)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("OpenSecret = %q, %v", got, err)
	}
	for name, tc := range map[string]struct {
		key    func(context.Context) ([]byte, error)
		sealed []byte
	}{
		"other key": {other, a},
		"damaged":   {key, append(bytes.Clone(a[:len(a)-1]), a[len(a)-1]^1)},
		"short":     {key, a[:5]},
	} {
		if _, err := OpenSecret(ctx, tc.key, tc.sealed); !errors.Is(err, ErrSecretSealed) {
			t.Errorf("%s: err = %v, want ErrSecretSealed", name, err)
		}
	}
	if _, err := SealSecret(ctx, SealWith([]byte("short")), plain); err == nil {
		t.Error("a 5-byte sealing key sealed")
	}
}

// A ring seals client secrets with its own sealing key, so the CLI, every
// replica and the verifier agree on it.
func TestRingSealsSecrets(t *testing.T) {
	ctx := context.Background()
	r, err := NewRing(nil, SealWith(bytes.Repeat([]byte{3}, 32)), ES256, nil)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := r.SealSecret(ctx, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenSecret(ctx, SealWith(bytes.Repeat([]byte{3}, 32)), sealed); err != nil || string(got) != "x" {
		t.Fatalf("%q %v", got, err)
	}
	if got, err := r.OpenSecret(ctx, sealed); err != nil || string(got) != "x" {
		t.Fatalf("%q %v", got, err)
	}
}
