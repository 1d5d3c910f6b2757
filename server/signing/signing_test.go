package signing

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func sealKey(b byte) []byte { k := make([]byte, 32); k[0] = b; return k }

// newStore is a key store on a fresh miniredis.
func newStore(t *testing.T) KeyStore {
	t.Helper()
	rs := redistest.Start(t, redistest.Mini)
	rdb, err := redis.NewClient(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	return redis.New(rdb, redis.Options{Prefix: "t"})
}

func newRing(t *testing.T, st KeyStore, alg string, clk *clock, seal byte) *Ring {
	t.Helper()
	r, err := NewRing(st, SealWith(sealKey(seal)), alg, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Each algorithm signs a token that verifies, with typ at+jwt and the
// claims intact; a tampered token or a token of another ring does not.
func TestSignVerify(t *testing.T) {
	for _, alg := range []string{EdDSA, ES256, RS256} {
		t.Run(alg, func(t *testing.T) {
			st := newStore(t)
			clk := &clock{}
			r := newRing(t, st, alg, clk, 1)
			ctx := context.Background()
			if err := r.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			c := Claims{Issuer: "https://auth.example", Expiry: 2000000000, IssuedAt: 1900000000, ID: "app.1.ab",
				ClientID: "app", Subject: "app", Scope: "sms", Audience: []string{"https://sms.example"}}
			tok, err := r.Sign(c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Verify(ctx, tok)
			if err != nil || got.ID != c.ID || got.Scope != "sms" || len(got.Audience) != 1 {
				t.Fatalf("Verify = %+v, %v", got, err)
			}
			parts := strings.Split(tok, ".")
			tampered := parts[0] + "." + parts[1][:len(parts[1])-2] + "xx." + parts[2]
			if _, err := r.Verify(ctx, tampered); err == nil {
				t.Fatal("a tampered token verifies")
			}
			other := newRing(t, newStore(t), alg, clk, 1)
			if err := other.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := other.Verify(ctx, tok); err == nil {
				t.Fatal("another ring's key verifies the token")
			}
			// A second replica on the same store loads the same key.
			twin := newRing(t, st, alg, clk, 1)
			if err := twin.Load(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := twin.Verify(ctx, tok); err != nil {
				t.Fatalf("a replica cannot verify: %v", err)
			}
			// A wrong sealing key is an error naming the problem.
			if err := newRing(t, st, alg, clk, 2).Load(ctx); !errors.Is(err, ErrSealed) {
				t.Fatalf("Load with another sealing key: %v", err)
			}
		})
	}
}

// Rotation publishes the new key before it signs and keeps the old one
// published until every token it signed has expired.
func TestRotate(t *testing.T) {
	st := newStore(t)
	clk := &clock{}
	r := newRing(t, st, EdDSA, clk, 1)
	ctx := context.Background()
	if err := r.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	first, _ := r.Current()
	old, _ := r.Sign(Claims{ID: "x"})
	next, err := r.Rotate(ctx, 10*time.Minute, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kids := func() []string {
		var set struct{ Keys []struct{ Kid string } }
		b, _ := r.JWKS()
		_ = json.Unmarshal(b, &set)
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.Kid)
		}
		return out
	}
	if cur, _ := r.Current(); cur.ID != first.ID || len(kids()) != 2 {
		t.Fatalf("right after rotation: signing with %s, published %v; want the old key signing and both published", cur.ID, kids())
	}
	clk.advance(10*time.Minute + time.Second)
	if cur, _ := r.Current(); cur.ID != next.ID {
		t.Fatalf("after the publish delay the new key must sign")
	}
	if _, err := r.Verify(ctx, old); err != nil {
		t.Fatalf("a token of the old key no longer verifies while it may be live: %v", err)
	}
	clk.advance(time.Hour)
	if ks := kids(); len(ks) != 1 || ks[0] != next.ID {
		t.Fatalf("after the old key's tokens expired: published %v, want only %s", ks, next.ID)
	}
	if _, err := r.Verify(ctx, old); err == nil {
		t.Fatal("a retired key still verifies")
	}
}

// A rotation retires the current key after the longest lifetime it was
// told of. A token that would outlive it (an application's lifetime was
// raised after the rotation, before the next key signs) is signed by the
// next key, published already, and verifies for its whole life; tokens
// that fit are still signed by the current key.
func TestKeyNeverSignsPastItsRetirement(t *testing.T) {
	st := newStore(t)
	clk := &clock{}
	r := newRing(t, st, EdDSA, clk, 1)
	ctx := context.Background()
	if err := r.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	first, _ := r.Current()
	next, err := r.Rotate(ctx, 10*time.Minute, time.Hour) // first retires at +1h10m
	if err != nil {
		t.Fatal(err)
	}
	kid := func(token string) string {
		t.Helper()
		var h struct{ Kid string }
		b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
		if err != nil || json.Unmarshal(b, &h) != nil {
			t.Fatalf("header of %q: %v", token, err)
		}
		return h.Kid
	}
	now := clk.now()
	tests := []struct {
		name string
		life time.Duration
		want string
	}{
		{"fits before the current key retires", time.Hour, first.ID},
		{"ends exactly at its retirement", time.Hour + 10*time.Minute, first.ID},
		{"would outlive it", 24 * time.Hour, next.ID},
	}
	tokens := map[string]string{}
	for _, tt := range tests {
		tok, err := r.Sign(Claims{ID: tt.name, Expiry: now.Add(tt.life).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		if got := kid(tok); got != tt.want {
			t.Errorf("%s: signed by %s, want %s", tt.name, got, tt.want)
		}
		tokens[tt.name] = tok
	}
	// Past the first key's retirement, the long token still verifies.
	clk.advance(2 * time.Hour)
	if _, err := r.Verify(ctx, tokens["would outlive it"]); err != nil {
		t.Fatalf("the token that would have outlived its key: %v", err)
	}
	if _, err := r.Verify(ctx, tokens["fits before the current key retires"]); err == nil {
		t.Fatal("the retired key still verifies")
	}
}

// A replica verifies a token of a key another replica added since its
// last reload (a rotation, or a next key signing a long token): an unknown
// kid reloads the ring, at most once a second, so made-up kids do not
// cost a store read each.
func TestVerifyReloadsForUnknownKid(t *testing.T) {
	st := &countingStore{KeyStore: newStore(t)}
	clk := &clock{}
	a, b := newRing(t, st, EdDSA, clk, 1), newRing(t, st, EdDSA, clk, 1)
	ctx := context.Background()
	if err := a.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Rotate(ctx, 10*time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	long, err := a.Sign(Claims{ID: "long", Expiry: clk.now().Add(48 * time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(ctx, long); err != nil {
		t.Fatalf("the other replica refuses a token of the key added since it loaded: %v", err)
	}
	before := st.lists.Load()
	forged := "eyJhbGciOiJFZERTQSIsImtpZCI6Im5vc3VjaGtpZCIsInR5cCI6ImF0K2p3dCJ9.e30.AAAA"
	for range 100 {
		if _, err := b.Verify(ctx, forged); err == nil {
			t.Fatal("a token of a made-up kid verified")
		}
	}
	if n := st.lists.Load() - before; n > 1 {
		t.Errorf("100 tokens of a made-up kid read the keys %d times within a second, want at most 1", n)
	}
}

type countingStore struct {
	KeyStore
	lists atomic.Int64
}

func (s *countingStore) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	s.lists.Add(1)
	return s.KeyStore.ListSigningKeys(ctx)
}

// A verification waits for the reload an unknown kid causes only as long
// as its context allows: while the store hangs, a second verification
// joins the reload in flight (it starts none of its own, though the rate
// limit would allow one) and returns as soon as its context ends.
func TestVerifyGivesUpWithItsContext(t *testing.T) {
	st := &stuckStore{KeyStore: newStore(t), listing: make(chan struct{}, 1), release: make(chan struct{})}
	clk := &clock{}
	r := newRing(t, st, EdDSA, clk, 1)
	ctx := context.Background()
	if err := r.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	st.stuck.Store(true)
	forged := "eyJhbGciOiJFZERTQSIsImtpZCI6Im5vc3VjaGtpZCIsInR5cCI6ImF0K2p3dCJ9.e30.AAAA"
	first := make(chan error, 1)
	go func() { _, err := r.Verify(ctx, forged); first <- err }()
	select {
	case <-st.listing:
	case <-time.After(5 * time.Second):
		t.Fatal("no reload for an unknown kid within 5s")
	}

	clk.advance(2 * missReloadEvery)
	short, cancel := context.WithCancel(ctx)
	second := make(chan error, 1)
	go func() { _, err := r.Verify(short, forged); second <- err }()
	cancel()
	select {
	case err := <-second:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Verify with its context cancelled = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a Verify whose context ended still waits for the stuck reload after 5s")
	}
	if n := st.lists.Load(); n != 1 {
		t.Errorf("the store was read %d times, want once: the second Verify must share the reload in flight", n)
	}

	close(st.release)
	select {
	case err := <-first:
		if err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("the first Verify = %v, want an unknown key", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first Verify did not return within 5s of the store answering")
	}
}

// stuckStore's ListSigningKeys, once stuck is set, counts the call, says
// so on listing and hangs until release is closed, as a Redis that stopped
// answering would (the reload's own timeout aside).
type stuckStore struct {
	KeyStore
	stuck   atomic.Bool
	lists   atomic.Int64
	listing chan struct{}
	release chan struct{}
}

func (s *stuckStore) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	if s.stuck.Load() {
		s.lists.Add(1)
		select {
		case s.listing <- struct{}{}:
		default:
		}
		<-s.release
	}
	return s.KeyStore.ListSigningKeys(ctx)
}
