package clientauth

import (
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oauthd/oauthd/store"
)

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestParseAssertion(t *testing.T) {
	ed := signer{key: edKey(t), alg: "EdDSA", kid: "k1"}
	good := sign(t, ed, claimsFor(testClient))
	payload := b64(`{"iss":"a","sub":"a","aud":"x","exp":1}`)
	tests := []struct {
		name string
		raw  string
		want string // reason fragment; "" parses
	}{
		{"valid", good, ""},
		{"empty", "", "empty"},
		{"too large", good + strings.Repeat("a", MaxAssertionBytes), "over the limit"},
		{"not a JWT", "hello", "not a signed JWT"},
		{"alg none", b64(`{"alg":"none"}`) + "." + payload + ".", `alg "none" is not allowed`},
		{"alg none upper case", b64(`{"alg":"NONE"}`) + "." + payload + ".", "is not allowed"},
		{"alg HS512 not in the list", b64(`{"alg":"HS512"}`) + "." + payload + ".c2ln", `alg "HS512" is not allowed`},
		{"alg ES384 not in the list", b64(`{"alg":"ES384"}`) + "." + payload + ".c2ln", `alg "ES384" is not allowed`},
		{"JSON serialization", `{"payload":"` + payload + `","protected":"` + b64(`{"alg":"EdDSA"}`) + `","signature":"c2ln"}`, "compact"},
		{"encrypted (5 parts)", "a.b.c.d.e", "not a signed JWT"},
		{"payload not JSON", b64(`{"alg":"EdDSA"}`) + "." + b64("nope") + ".c2ln", "not a JSON object"},
		{"exp a string", b64(`{"alg":"EdDSA"}`) + "." + b64(`{"exp":"soon"}`) + ".c2ln", "not a JSON object"},
		{"aud a number", b64(`{"alg":"EdDSA"}`) + "." + b64(`{"aud":5}`) + ".c2ln", "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseAssertion(tt.raw)
			wantRefusal(t, err, tt.want)
			if tt.want == "" && (a.Issuer != testClient || a.KeyID != "k1" || a.Algorithm != "EdDSA" || a.ID == "" ||
				!a.Expiry.Equal(testNow.Add(2*time.Minute)) || len(a.Audience) != 1) {
				t.Errorf("parsed %+v", a)
			}
		})
	}
}

// aud may be one string or an array (RFC 7519 §4.1.3).
func TestParseAssertionAudienceForms(t *testing.T) {
	ed := signer{key: edKey(t), alg: "EdDSA"}
	for _, aud := range []any{testIssuer, []string{"https://other", testIssuer}} {
		a, err := ParseAssertion(sign(t, ed, with(claimsFor(testClient), "aud", aud)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(a.Audience, " "), testIssuer) {
			t.Errorf("aud %v parsed as %v", aud, a.Audience)
		}
	}
}

func TestAssertionClientID(t *testing.T) {
	tests := []struct {
		name     string
		iss, sub string
		form     string
		want     string
		refused  string
	}{
		{"iss = sub", "app1", "app1", "", "app1", ""},
		{"form client_id", "app1", "app1", "app1", "app1", ""},
		{"form client_id wins (VerifyAssertion then holds iss to it)", "app1", "app1", "app2", "app2", ""},
		{"iss != sub without client_id", "https://kubernetes.default.svc", "system:serviceaccount:sms:billing", "", "", "send client_id"},
		{"workload identity with client_id", "https://kubernetes.default.svc", "system:serviceaccount:sms:billing", "billing", "billing", ""},
		{"no iss", "", "app1", "", "", "no iss or sub"},
		{"no sub", "app1", "", "", "", "no iss or sub"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Assertion{Issuer: tt.iss, Subject: tt.sub}
			got, err := a.ClientID(tt.form)
			wantRefusal(t, err, tt.refused)
			if got != tt.want {
				t.Errorf("ClientID = %q, want %q", got, tt.want)
			}
		})
	}
}

// Every claim rule of RFC 7523 §3, each refused with its reason, and the
// reason never holds the assertion.
func TestVerifyAssertionClaims(t *testing.T) {
	ed := signer{key: edKey(t), alg: "EdDSA", kid: "k1"}
	other := signer{key: edKey(t), alg: "EdDSA", kid: "k1"}
	app := keyApp(t, ed)
	v := newVerifier(t, nil)
	base := claimsFor(testClient)
	tests := []struct {
		name   string
		s      signer
		claims map[string]any
		want   string
	}{
		{"valid", ed, base, ""},
		{"aud the token endpoint", ed, with(base, "aud", testTokenURL), ""},
		{"aud an array naming the issuer", ed, with(base, "aud", []string{"https://elsewhere", testIssuer}), ""},
		{"aud another server", ed, with(base, "aud", "https://evil.example"), "aud does not name this server"},
		{"aud a prefix of the issuer", ed, with(base, "aud", "https://auth.example.co"), "aud does not name this server"},
		{"aud the issuer with a slash", ed, with(base, "aud", testIssuer+"/"), "aud does not name this server"},
		{"no aud", ed, with(base, "aud", nil), "aud does not name this server"},
		{"iss another client", ed, with(base, "iss", "someone-else"), "iss"},
		{"sub another client", ed, with(base, "sub", "someone-else"), "sub"},
		{"no exp", ed, with(base, "exp", nil), "no exp"},
		{"expired", ed, with(base, "iat", testNow.Add(-3*time.Minute).Unix(), "exp", testNow.Add(-time.Minute).Unix()), "expired"},
		{"expired within the leeway", ed, with(base, "iat", testNow.Add(-3*time.Minute).Unix(), "exp", testNow.Add(-Leeway/2).Unix()), ""},
		{"exp too far after iat", ed, with(base, "exp", testNow.Add(10*time.Minute).Unix()), "lifetime"},
		{"exp exactly MaxLifetime after iat", ed, with(base, "exp", testNow.Add(DefaultMaxLifetime).Unix()), ""},
		{"no iat, exp too far from now", ed, with(base, "iat", nil, "exp", testNow.Add(6*time.Minute).Unix()), "lifetime"},
		{"no iat, exp near", ed, with(base, "iat", nil), ""},
		{"iat in the future", ed, with(base, "iat", testNow.Add(2*time.Minute).Unix(), "exp", testNow.Add(3*time.Minute).Unix()), "iat"},
		{"iat within the leeway", ed, with(base, "iat", testNow.Add(Leeway/2).Unix()), ""},
		{"nbf in the future", ed, with(base, "nbf", testNow.Add(time.Minute).Unix()), "nbf"},
		{"nbf past", ed, with(base, "nbf", testNow.Add(-time.Minute).Unix()), ""},
		{"no jti", ed, with(base, "jti", nil), "no jti"},
		{"empty jti", ed, with(base, "jti", ""), "no jti"},
		{"jti too long", ed, with(base, "jti", strings.Repeat("j", MaxJTILength+1)), "jti"},
		{"signed by an unregistered key", other, base, "does not verify"},
		{"unknown kid", signer{key: ed.key, alg: "EdDSA", kid: "nope"}, base, `no registered key matches kid "nope"`},
		{"no kid: every key is tried", signer{key: ed.key, alg: "EdDSA"}, base, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := sign(t, tt.s, tt.claims)
			a, err := verify(v, app, raw)
			wantRefusal(t, err, tt.want, raw)
			if tt.want == "" && (a.Workload || a.Issuer != testClient) {
				t.Errorf("verified assertion %+v", a)
			}
		})
	}
}

// The signature covers the whole assertion: a changed claim or signature
// does not verify, and VerifyAssertion checks the raw assertion, not the
// fields a caller may have edited.
func TestVerifyAssertionTampered(t *testing.T) {
	ed := signer{key: edKey(t), alg: "EdDSA", kid: "k1"}
	app := keyApp(t, ed)
	v := newVerifier(t, nil)
	raw := sign(t, ed, claimsFor(testClient))
	parts := strings.Split(raw, ".")
	forged := b64(strings.Replace(string(must(base64.RawURLEncoding.DecodeString(parts[1]))), testClient, "admin-app", -1))

	t.Run("claims changed", func(t *testing.T) {
		_, err := verify(v, &store.Application{ClientID: "admin-app", Auth: app.Auth}, parts[0]+"."+forged+"."+parts[2])
		wantRefusal(t, err, "does not verify")
	})
	t.Run("raw replaced after parsing", func(t *testing.T) {
		a, err := ParseAssertion(raw)
		if err != nil {
			t.Fatal(err)
		}
		a.Raw = parts[0] + "." + forged + "." + parts[2]
		wantRefusal(t, v.VerifyAssertion(context.Background(), app, a), "iss")
	})
	t.Run("signature changed", func(t *testing.T) {
		sig := []byte(parts[2])
		if sig[3] == 'A' {
			sig[3] = 'B'
		} else {
			sig[3] = 'A'
		}
		_, err := verify(v, app, parts[0]+"."+parts[1]+"."+string(sig))
		wantRefusal(t, err, "does not verify")
	})
	t.Run("fields edited after parsing", func(t *testing.T) {
		a, err := ParseAssertion(raw)
		if err != nil {
			t.Fatal(err)
		}
		a.ID, a.Issuer, a.Audience[0] = "another-jti", "admin-app", "https://evil.example"
		if err := v.VerifyAssertion(context.Background(), app, a); err != nil {
			t.Fatal(err)
		}
		if a.ID != "jti-"+testClient+"-1" || a.Issuer != testClient || a.Audience[0] != testIssuer {
			t.Errorf("after verification: %+v, want the signed claims", a)
		}
		// Verified twice: the same answer.
		if err := v.VerifyAssertion(context.Background(), app, a); err != nil {
			t.Fatal(err)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// The algorithm allowlist: each signing algorithm works with its key
// type; HMAC for a key application (algorithm confusion), a key of the
// wrong type, a JWK whose alg differs and a short RSA key are refused.
func TestVerifyAssertionAlgorithms(t *testing.T) {
	ed := signer{key: edKey(t), alg: "EdDSA", kid: "ed"}
	ec := signer{key: ecKey(t, elliptic.P256()), alg: "ES256", kid: "ec"}
	rs := signer{key: rsaKey(t, 2048), alg: "RS256", kid: "rs"}
	ps := signer{key: rsaKey(t, 2048), alg: "PS256", kid: "rs"}
	short := signer{key: rsaKey(t, 1024), alg: "RS256", kid: "short"}
	pubDER := must(x509.MarshalPKIXPublicKey(rs.publicJWK().Key))
	v := newVerifier(t, nil)
	claims := claimsFor(testClient)

	// rsAlg registers rs's key restricted to RS256.
	rsJWK := rs.publicJWK()
	rsJWK.Algorithm = "RS256"
	rsOnly := &store.Application{ClientID: testClient, Auth: store.ClientAuth{Method: store.AuthPrivateKeyJWT,
		JWKS: must(json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{rsJWK}}))}}

	tests := []struct {
		name string
		app  *store.Application
		s    signer
		want string
	}{
		{"EdDSA", keyApp(t, ed, ec, rs), ed, ""},
		{"ES256", keyApp(t, ed, ec, rs), ec, ""},
		{"RS256", keyApp(t, ed, ec, rs), rs, ""},
		{"PS256", keyApp(t, ed, ec, rs), ps, ""},
		{"HS256 with the public key as secret (alg confusion)", keyApp(t, rs),
			signer{key: pubDER, alg: "HS256", kid: "rs"}, "alg HS256 not allowed for private_key_jwt"},
		{"ES256 header on an EdDSA key", keyApp(t, ed), signer{key: ec.key, alg: "ES256", kid: "ed"}, "no registered key fits alg ES256"},
		{"ES384 key registered as P-256 kid", keyApp(t, ec), signer{key: ecKey(t, elliptic.P384()), alg: "ES384", kid: "ec"}, `alg "ES384" is not allowed`},
		{"PS256 with a JWK restricted to RS256", rsOnly, ps, "no registered key fits alg PS256"},
		{"RS256 with a JWK restricted to RS256", rsOnly, rs, ""},
		{"RSA key under 2048 bits", keyApp(t, short), short, "RSA key of 1024 bits is under 2048"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verify(v, tt.app, sign(t, tt.s, claims))
			wantRefusal(t, err, tt.want)
		})
	}
}

// Only the two assertion methods verify assertions; the others are
// refused whatever the assertion.
func TestVerifyAssertionMethod(t *testing.T) {
	ed := signer{key: edKey(t), alg: "EdDSA"}
	v := newVerifier(t, nil)
	raw := sign(t, ed, claimsFor(testClient))
	for _, m := range []string{"", store.AuthSecretBasic, store.AuthSecretPost, store.AuthTLS, store.AuthSelfSignedTLS, "bogus"} {
		t.Run("method "+m, func(t *testing.T) {
			app := keyApp(t, ed)
			app.Auth.Method = m
			_, err := verify(v, app, raw)
			wantRefusal(t, err, "not a client assertion")
		})
	}
	t.Run("no keys registered", func(t *testing.T) {
		app := keyApp(t, ed)
		app.Auth.JWKS = nil
		_, err := verify(v, app, raw)
		wantRefusal(t, err, "no registered keys")
	})
	t.Run("nil application", func(t *testing.T) {
		a, _ := ParseAssertion(raw)
		wantRefusal(t, v.VerifyAssertion(context.Background(), nil, a), "no application")
	})
}

// A Verifier's options: MaxLifetime shortens or lengthens the bound, and
// TokenEndpoints are accepted audiences besides the issuer.
func TestVerifyAssertionConfig(t *testing.T) {
	ed := signer{key: edKey(t), alg: "EdDSA"}
	app := keyApp(t, ed)
	long := with(claimsFor(testClient), "exp", testNow.Add(20*time.Minute).Unix())
	t.Run("MaxLifetime 30m accepts 20m", func(t *testing.T) {
		v := newVerifier(t, func(c *Config) { c.MaxLifetime = 30 * time.Minute })
		_, err := verify(v, app, sign(t, ed, long))
		wantRefusal(t, err, "")
	})
	t.Run("MaxLifetime 1m refuses 2m", func(t *testing.T) {
		v := newVerifier(t, func(c *Config) { c.MaxLifetime = time.Minute })
		_, err := verify(v, app, sign(t, ed, claimsFor(testClient)))
		wantRefusal(t, err, "lifetime")
	})
	t.Run("mTLS alias as aud", func(t *testing.T) {
		v := newVerifier(t, func(c *Config) { c.TokenEndpoints = append(c.TokenEndpoints, "https://mtls.example.com/oauth/token") })
		_, err := verify(v, app, sign(t, ed, with(claimsFor(testClient), "aud", "https://mtls.example.com/oauth/token")))
		wantRefusal(t, err, "")
	})
	t.Run("negative duration", func(t *testing.T) {
		if _, err := New(Config{Issuer: testIssuer, MaxLifetime: -1}); err == nil {
			t.Fatal("New accepted a negative MaxLifetime")
		}
	})
}
