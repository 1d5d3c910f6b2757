package signing

import (
	"context"
	"crypto"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// Reseal moves every key to the new sealing key or none: a key that does
// not open with the old one is an error naming it. A resealed key keeps
// its id, algorithm and times, holds the same private key, and opens with
// the new sealing key only.
func TestReseal(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	clk := &clock{}
	if err := newRing(t, st, EdDSA, clk, 1).Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	// An ES256 key rotated in: the EdDSA one now has a retirement time.
	if _, err := newRing(t, st, ES256, clk, 1).Rotate(ctx, 0, time.Hour); err != nil {
		t.Fatal(err)
	}
	keys, err := st.ListSigningKeys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("ListSigningKeys = %d keys, %v", len(keys), err)
	}
	renamed := append([]store.SigningKey{keys[0]}, keys[1])
	renamed[1].ID = keys[0].ID + "x" // a sealed key passed off under another id

	for _, tt := range []struct {
		name     string
		keys     []store.SigningKey
		from, to []byte
		wantErr  string // "": success
	}{
		{"every key", keys, sealKey(1), sealKey(2), ""},
		{"no keys", nil, sealKey(1), sealKey(2), ""},
		{"wrong current key", keys, sealKey(3), sealKey(2), `signing key "` + keys[0].ID + `"`},
		{"a key under another id", renamed, sealKey(1), sealKey(2), `signing key "` + renamed[1].ID + `"`},
		{"short new key", keys, sealKey(1), make([]byte, 16), "the new sealing key: signing: the sealing key must be 32 bytes, got 16"},
		{"short current key", keys, nil, sealKey(2), "the current sealing key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Reseal(tt.keys, tt.from, tt.to)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || got != nil {
					t.Fatalf("Reseal = %d keys, %v; want none and an error containing %q", len(got), err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != len(tt.keys) {
				t.Fatalf("Reseal = %d keys, %v; want %d", len(got), err, len(tt.keys))
			}
			from, _ := sealer(tt.from)
			to, _ := sealer(tt.to)
			for i, r := range got {
				in := tt.keys[i]
				if r.ID != in.ID || r.Alg != in.Alg || !r.CreatedAt.Equal(in.CreatedAt) || !r.ActiveAt.Equal(in.ActiveAt) || !r.RetireAt.Equal(in.RetireAt) {
					t.Errorf("resealed %+v, was %+v: only the sealed form may change", r, in)
				}
				if _, err := unseal(from, r); !errors.Is(err, ErrSealed) {
					t.Errorf("key %s still opens with the old sealing key (%v)", r.ID, err)
				}
				was, _ := unseal(from, in)
				now, err := unseal(to, r)
				if err != nil {
					t.Fatalf("key %s does not open with the new sealing key: %v", r.ID, err)
				}
				if !now.Private.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(was.Private.Public()) {
					t.Errorf("key %s holds another private key after resealing", r.ID)
				}
			}
		})
	}
}
