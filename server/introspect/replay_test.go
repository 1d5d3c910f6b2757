package introspect

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestMemoryReplayCache(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	m := NewMemoryReplayCache(3)
	m.now = clk.Now
	seen := func(key string, ttl time.Duration) bool {
		t.Helper()
		s, err := m.Seen(ctx, key, clk.Now().Add(ttl))
		if err != nil {
			t.Fatalf("Seen(%s): %v", key, err)
		}
		return s
	}
	if seen("a", time.Minute) || !seen("a", time.Minute) {
		t.Fatal("a key is not seen the first time, and seen the second")
	}
	// Kept for its whole lifetime, across generations...
	for range 5 {
		clk.Advance(10 * time.Second)
		if !seen("a", time.Minute) {
			t.Fatalf("a forgotten %v after it was added, within its minute", clk.Now().Sub(time.Unix(1700000000, 0)))
		}
	}
	// ...and then let go.
	clk.Advance(11 * time.Second)
	if seen("a", time.Minute) {
		t.Fatal("a still seen past its lifetime")
	}
	// A longer lifetime than any before stretches the generations.
	if seen("long", 5*time.Minute) {
		t.Fatal("long seen at first")
	}
	clk.Advance(4 * time.Minute)
	if !seen("long", 5*time.Minute) {
		t.Fatal("long forgotten within its five minutes")
	}
	// Full: refused with an error, never by forgetting a live key.
	m2 := NewMemoryReplayCache(2)
	m2.now = clk.Now
	for i := range 2 {
		if s, err := m2.Seen(ctx, fmt.Sprint(i), clk.Now().Add(time.Minute)); s || err != nil {
			t.Fatal(s, err)
		}
	}
	if _, err := m2.Seen(ctx, "x", clk.Now().Add(time.Minute)); !errors.Is(err, ErrReplayCacheFull) {
		t.Fatalf("full cache: %v, want ErrReplayCacheFull", err)
	}
	if s, err := m2.Seen(ctx, "0", clk.Now().Add(time.Minute)); !s || err != nil {
		t.Fatal("a full cache still knows its keys")
	}
	clk.Advance(3 * time.Minute) // both generations are past: room again
	if s, err := m2.Seen(ctx, "x", clk.Now().Add(time.Minute)); s || err != nil {
		t.Fatalf("after expiry: %v %v", s, err)
	}
	if m2.Len() != 1 {
		t.Fatalf("Len %d after expiry, want 1", m2.Len())
	}
}

// A JWT access token validated here carries its binding in cnf: a
// DPoP-bound one is accepted with a proof of its key, and refused as a
// bearer token.
func TestLocalJWTBound(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	srv := newJWTIssuer(t, pub, func(w http.ResponseWriter, r *http.Request) {
		t.Error("a JWT valid here was sent to oauthd")
	})
	clk := newClock()
	c := newClient(t, Config{Issuer: srv.URL, ClientID: "rs", ClientSecret: "s", LocalJWT: true, Realm: "test",
		Now: clk.Now, PublicURL: "https://sms.example"})
	key := newProofKey(t, algES256)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	token, err := jwt.Signed(s).Claims(map[string]any{"iss": srv.URL, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
		"jti": "a.1.b", "client_id": "a", "sub": "a", "scope": "sms", "cnf": map[string]string{"jkt": key.jkt(t)}}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	h := c.Require("sms")(okHandler())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, dpopRequest("GET", "DPoP", token, key.proofFor(t, "GET", rsURL, token, now, nil)))
	checkAnswer(t, rec, 200, nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, dpopRequest("GET", "Bearer", token))
	checkAnswer(t, rec, 401, []string{bearerChallenge("invalid_token", refusals[refBoundAsBearer].desc), bareDPoP})
	if r, _ := c.Introspect(context.Background(), token); r.TokenType != "DPoP" || r.Cnf.JKT != key.jkt(t) {
		t.Fatalf("answer %+v: want token_type DPoP and the cnf", r)
	}
}
