package clientauth

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// fakeSeal "seals" by prefixing, enough to prove the Verifier unseals
// with Config.Unseal and refuses what it cannot unseal.
func fakeSeal(secret string) []byte { return []byte("sealed:" + secret) }

func fakeUnseal(calls *atomic.Int64) func(context.Context, []byte) ([]byte, error) {
	return func(_ context.Context, sealed []byte) ([]byte, error) {
		calls.Add(1)
		s, ok := strings.CutPrefix(string(sealed), "sealed:")
		if !ok {
			return nil, errors.New("message authentication failed")
		}
		return []byte(s), nil
	}
}

func secretApp(secrets ...store.Secret) *store.Application {
	return &store.Application{ClientID: testClient, Enabled: true, Secrets: secrets,
		Auth: store.ClientAuth{Method: store.AuthSecretJWT}}
}

// client_secret_jwt: the assertion is an HMAC with the client secret
// (RFC 7523 §2.2 via OIDC Core §9), checked against every active sealed
// secret of the application.
func TestClientSecretJWT(t *testing.T) {
	const secret = "ocs_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
	const old = "ocs_old-old-old-old-old-old-old-old-old-old-old-o"
	var calls atomic.Int64
	v := newVerifier(t, func(c *Config) { c.Unseal = fakeUnseal(&calls) })
	claims := claimsFor(testClient)
	hs := func(s string) string { return sign(t, signer{key: []byte(s), alg: "HS256"}, claims) }
	active := store.Secret{ID: "s1", Sealed: fakeSeal(secret)}
	rotating := store.Secret{ID: "s0", Sealed: fakeSeal(old), ExpiresAt: testNow.Add(time.Hour)}
	expired := store.Secret{ID: "s0", Sealed: fakeSeal(old), ExpiresAt: testNow.Add(-time.Second)}
	ed := signer{key: edKey(t), alg: "EdDSA"}

	tests := []struct {
		name string
		app  *store.Application
		raw  string
		want string
	}{
		{"the active secret", secretApp(active), hs(secret), ""},
		{"the old secret while rotating", secretApp(rotating, active), hs(old), ""},
		{"the new secret while rotating", secretApp(rotating, active), hs(secret), ""},
		{"an expired secret", secretApp(expired, active), hs(old), "does not verify with any active secret"},
		{"a wrong secret", secretApp(active), hs(secret + "x"), "does not verify with any active secret"},
		{"only an unsealed (legacy) secret", secretApp(store.Secret{ID: "s1"}), hs(secret), "no active secret usable for client_secret_jwt"},
		{"a secret sealed with another key", secretApp(store.Secret{ID: "s1", Sealed: []byte("garbage")}), hs(secret), "cannot be unsealed"},
		{"a key-signed assertion", secretApp(active), sign(t, ed, claims), "alg EdDSA not allowed for client_secret_jwt"},
		{"an HS256 assertion with wrong aud", secretApp(active), sign(t, signer{key: []byte(secret), alg: "HS256"},
			with(claims, "aud", "https://other")), "aud does not name this server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verify(v, tt.app, tt.raw)
			wantRefusal(t, err, tt.want, tt.raw, secret, old)
		})
	}

	t.Run("no Unseal configured", func(t *testing.T) {
		v := newVerifier(t, nil)
		_, err := verify(v, secretApp(active), hs(secret))
		wantRefusal(t, err, "no sealing key configured")
	})
}

// An unsealed secret is cached (by the sealed bytes) so a busy client
// costs one AES-GCM open, not one per request.
func TestClientSecretJWTUnsealCache(t *testing.T) {
	const secret = "ocs_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
	var calls atomic.Int64
	v := newVerifier(t, func(c *Config) { c.Unseal = fakeUnseal(&calls) })
	raw := sign(t, signer{key: []byte(secret), alg: "HS256"}, claimsFor(testClient))
	app := secretApp(store.Secret{ID: "s1", Sealed: fakeSeal(secret)})
	for range 3 {
		if _, err := verify(v, app, raw); err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("Unseal called %d times for 3 verifications, want 1", n)
	}
	// A new secret (other sealed bytes) is unsealed afresh, never served
	// from the old entry.
	const next = "ocs_9876543210abcdefghijklmnopqrstuvwxyzABCDEFG"
	app = secretApp(store.Secret{ID: "s1", Sealed: fakeSeal(next)})
	if _, err := verify(v, app, raw); err == nil {
		t.Error("the old secret still verifies after the sealed secret changed")
	}
}
