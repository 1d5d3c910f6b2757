package signing

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// A client secret sealed with the deployment's key opens with it only, and
// a signing key's sealing cannot be replayed as a secret's.
func TestSealerRoundTrip(t *testing.T) {
	ctx := context.Background()
	key := bytes.Repeat([]byte{7}, 32)
	s := NewSealer(SealWith(key))
	sealed, err := s.Seal(ctx, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("s3cret")) {
		t.Fatal("sealed secret holds the secret in the clear")
	}
	got, err := s.Unseal(ctx, sealed)
	if err != nil || string(got) != "s3cret" {
		t.Fatalf("Unseal = %q, %v", got, err)
	}
	other := NewSealer(SealWith(bytes.Repeat([]byte{8}, 32)))
	tests := []struct {
		name   string
		s      *Sealer
		sealed []byte
		want   error
	}{
		{"other key", other, sealed, ErrUnseal},
		{"truncated", s, sealed[:10], ErrUnseal},
		{"tampered", s, append(append([]byte{}, sealed[:len(sealed)-1]...), sealed[len(sealed)-1]^1), ErrUnseal},
		{"no key", NewSealer(nil), sealed, ErrNoSealingKey},
		{"nil sealer", nil, sealed, ErrNoSealingKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.s.Unseal(ctx, tt.sealed); !errors.Is(err, tt.want) {
				t.Fatalf("Unseal = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := NewSealer(SealWith([]byte("short"))).Seal(ctx, []byte("x")); err == nil {
		t.Fatal("a short sealing key sealed")
	}
}
