package apps

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthd/oauthd/store"
)

// testJWKS is a JWK Set of one fresh public EC key, with its certificate
// as x5c when withCert.
func testJWKS(t testing.TB, kid string, withCert bool) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}
	if withCert {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "billing"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		jwk.Certificates = []*x509.Certificate{cert}
	}
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testSeal is a sealing function for tests: it marks the secret, so a
// test can tell a sealed copy from none and whose copy it is.
func testSeal(_ context.Context, plain []byte) ([]byte, error) {
	out := append([]byte("sealed:"), plain...)
	return out, nil
}

func TestCheckAuth(t *testing.T) {
	jwks, certs := testJWKS(t, "k1", false), testJWKS(t, "k2", true)
	wi := store.ClientAuth{Method: store.AuthPrivateKeyJWT, TrustedIssuer: "https://kubernetes.default.svc",
		TrustedSubject: "system:serviceaccount:sms:billing", TrustedAudience: "https://auth.example.com"}
	tests := []struct {
		name  string
		in    store.ClientAuth
		field string // "" for accepted
	}{
		{"legacy", store.ClientAuth{}, ""},
		{"basic", store.ClientAuth{Method: store.AuthSecretBasic}, ""},
		{"client_secret_jwt", store.ClientAuth{Method: store.AuthSecretJWT}, ""},
		{"unknown method", store.ClientAuth{Method: "none"}, fieldMethod},
		{"secret with keys", store.ClientAuth{Method: store.AuthSecretPost, JWKS: jwks}, fieldJWKS},
		{"legacy with subject", store.ClientAuth{SubjectDN: "CN=x"}, fieldSubjectDN},
		{"private_key_jwt jwks", store.ClientAuth{Method: store.AuthPrivateKeyJWT, JWKS: jwks}, ""},
		{"private_key_jwt jwks_uri", store.ClientAuth{Method: store.AuthPrivateKeyJWT, JWKSURI: "https://billing.example.com/jwks.json"}, ""},
		{"private_key_jwt http jwks_uri", store.ClientAuth{Method: store.AuthPrivateKeyJWT, JWKSURI: "http://billing.example.com/jwks.json"}, fieldJWKSURI},
		{"private_key_jwt nothing", store.ClientAuth{Method: store.AuthPrivateKeyJWT}, fieldJWKS},
		{"private_key_jwt both", store.ClientAuth{Method: store.AuthPrivateKeyJWT, JWKS: jwks, JWKSURI: "https://x.example/j"}, fieldJWKS},
		{"private_key_jwt not a set", store.ClientAuth{Method: store.AuthPrivateKeyJWT, JWKS: []byte(`{"keys":"x"}`)}, fieldJWKS},
		{"private_key_jwt with subject", store.ClientAuth{Method: store.AuthPrivateKeyJWT, JWKS: jwks, SubjectDN: "CN=x"}, fieldSubjectDN},
		{"workload identity", wi, ""},
		{"workload identity and jwks", func() store.ClientAuth { c := wi; c.JWKS = jwks; return c }(), fieldJWKS},
		{"workload identity http issuer", func() store.ClientAuth { c := wi; c.TrustedIssuer = "http://k8s"; return c }(), "workload_identity.issuer"},
		{"workload identity no subject", func() store.ClientAuth { c := wi; c.TrustedSubject = ""; return c }(), "workload_identity.subject"},
		{"workload identity no audience", func() store.ClientAuth { c := wi; c.TrustedAudience = ""; return c }(), "workload_identity.audience"},
		{"workload identity no issuer", func() store.ClientAuth { c := wi; c.TrustedIssuer = ""; return c }(), "workload_identity.issuer"},
		{"workload identity bad jwks_uri", func() store.ClientAuth { c := wi; c.TrustedJWKSURI = "ftp://x"; return c }(), "workload_identity.jwks_uri"},
		{"tls subject", store.ClientAuth{Method: store.AuthTLS, SubjectDN: "CN=billing,O=Example,C=DE"}, ""},
		{"tls san dns", store.ClientAuth{Method: store.AuthTLS, SANDNS: "billing.sms.example.com"}, ""},
		{"tls bad san dns", store.ClientAuth{Method: store.AuthTLS, SANDNS: "bill ing"}, "tls_client_auth_san_dns"},
		{"tls san uri", store.ClientAuth{Method: store.AuthTLS, SANURI: "spiffe://example.org/ns/sms/sa/billing"}, ""},
		{"tls relative san uri", store.ClientAuth{Method: store.AuthTLS, SANURI: "billing"}, "tls_client_auth_san_uri"},
		{"tls san ip", store.ClientAuth{Method: store.AuthTLS, SANIP: "2001:db8::1"}, ""},
		{"tls bad san ip", store.ClientAuth{Method: store.AuthTLS, SANIP: "10.0.0.300"}, "tls_client_auth_san_ip"},
		{"tls san email", store.ClientAuth{Method: store.AuthTLS, SANEmail: "billing@example.com"}, ""},
		{"tls bad san email", store.ClientAuth{Method: store.AuthTLS, SANEmail: "Billing <billing@example.com>"}, "tls_client_auth_san_email"},
		{"tls two fields", store.ClientAuth{Method: store.AuthTLS, SubjectDN: "CN=x", SANDNS: "x.example"}, fieldSubjectDN},
		{"tls nothing", store.ClientAuth{Method: store.AuthTLS}, fieldSubjectDN},
		{"tls with keys", store.ClientAuth{Method: store.AuthTLS, SubjectDN: "CN=x", JWKS: jwks}, fieldJWKS},
		{"self-signed with x5c", store.ClientAuth{Method: store.AuthSelfSignedTLS, JWKS: certs}, ""},
		{"self-signed without x5c", store.ClientAuth{Method: store.AuthSelfSignedTLS, JWKS: jwks}, fieldJWKS},
		{"self-signed jwks_uri", store.ClientAuth{Method: store.AuthSelfSignedTLS, JWKSURI: "https://x.example/jwks"}, ""},
		{"self-signed nothing", store.ClientAuth{Method: store.AuthSelfSignedTLS}, fieldJWKS},
		{"self-signed with subject", store.ClientAuth{Method: store.AuthSelfSignedTLS, JWKS: certs, SubjectDN: "CN=x"}, fieldSubjectDN},
		{"too long", store.ClientAuth{Method: store.AuthTLS, SubjectDN: "CN=" + strings.Repeat("x", 2000)}, fieldSubjectDN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkAuth(tt.in)
			var e *Error
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.field == "":
				if got.Method != tt.in.Method {
					t.Errorf("method %q, want %q", got.Method, tt.in.Method)
				}
			case !errors.As(err, &e) || e.Code != CodeInvalid || e.Field != tt.field:
				t.Fatalf("err = %#v, want invalid on %s", err, tt.field)
			case e.Message == "":
				t.Fatal("no message")
			}
		})
	}
	if got, _ := checkAuth(store.ClientAuth{Method: store.AuthTLS, SANIP: "::ffff:10.0.0.1"}); got.SANIP != "10.0.0.1" {
		t.Errorf("SANIP not normalised: %q", got.SANIP)
	}
}

// An application created for keys or a certificate has no secret at all;
// one for client_secret_jwt has a secret sealed too, and without a
// sealing key it is refused with the setting to make.
func TestCreateWithAuthMethod(t *testing.T) {
	ctx := WithActor(context.Background(), Actor{Name: "test"})
	env := newTestEnv(t, Options{Seal: testSeal})
	a, secret, err := env.apps.Create(ctx, NewApplication{Name: "keys", Scopes: []string{"sms"},
		Auth: store.ClientAuth{Method: store.AuthPrivateKeyJWT, JWKS: testJWKS(t, "k1", false)}})
	if err != nil || secret != "" || len(a.Secrets) != 0 {
		t.Fatalf("private_key_jwt: secret %q, secrets %v, %v", secret, a.Secrets, err)
	}
	if got, _ := env.store.GetApplication(ctx, a.ClientID); got.Auth.Method != store.AuthPrivateKeyJWT || len(Keys(got.Auth.JWKS)) != 1 {
		t.Fatalf("stored auth %+v", got.Auth)
	}
	a, secret, err = env.apps.Create(ctx, NewApplication{Name: "hmac", Scopes: []string{"sms"}, Auth: store.ClientAuth{Method: store.AuthSecretJWT}})
	if err != nil || secret == "" || len(a.Secrets) != 1 || !bytes.Equal(a.Secrets[0].Sealed, []byte("sealed:"+secret)) {
		t.Fatalf("client_secret_jwt: %q %+v %v", secret, a.Secrets, err)
	}
	if _, _, err := env.apps.Create(ctx, NewApplication{Name: "plain", Scopes: []string{"sms"}}); err != nil {
		t.Fatal(err)
	}
	noSeal := newTestEnv(t, Options{})
	_, _, err = noSeal.apps.Create(ctx, NewApplication{Name: "hmac", Scopes: []string{"sms"}, Auth: store.ClientAuth{Method: store.AuthSecretJWT}})
	if ErrorCode(err) != CodeInvalid || !strings.Contains(err.Error(), "jwt.sealing_key_file") {
		t.Fatalf("client_secret_jwt without sealing key: %v", err)
	}
	a, _, err = noSeal.apps.Create(ctx, NewApplication{Name: "basic", Scopes: []string{"sms"}})
	if err != nil || a.Secrets[0].Sealed != nil {
		t.Fatalf("a classic secret sealed: %+v %v", a.Secrets, err)
	}
}

// Switching methods moves the secrets with them: to keys removes every
// secret, back to a secret method issues one (shown once), to
// client_secret_jwt replaces them by one sealed secret; each switch is
// audited as application.auth_changed, naming the method before and after.
func TestPatchAuthSwitchesSecrets(t *testing.T) {
	ctx := WithActor(context.Background(), Actor{Name: "test"})
	env := newTestEnv(t, Options{Seal: testSeal})
	a, _, err := env.apps.Create(ctx, NewApplication{Name: "d", Scopes: []string{"sms"}})
	if err != nil {
		t.Fatal(err)
	}
	id := a.ClientID
	patch := func(c store.ClientAuth) (store.Application, string) {
		t.Helper()
		a, secret, err := env.apps.Patch(ctx, id, ApplicationPatch{Auth: &c})
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		return a, secret
	}
	a, secret := patch(store.ClientAuth{Method: store.AuthPrivateKeyJWT, JWKS: testJWKS(t, "k1", false)})
	if secret != "" || len(a.Secrets) != 0 {
		t.Fatalf("to keys: secret %q, secrets %v", secret, a.Secrets)
	}
	// Rotating: new keys, the method kept (Method "").
	a, _ = patch(store.ClientAuth{JWKS: testJWKS(t, "k2", false)})
	if a.Auth.Method != store.AuthPrivateKeyJWT || Keys(a.Auth.JWKS)[0].KeyID != "k2" {
		t.Fatalf("rotated: %+v", a.Auth)
	}
	a, secret = patch(store.ClientAuth{Method: store.AuthSecretBasic})
	if secret == "" || len(a.Secrets) != 1 || !a.VerifySecret(secret, time.Now()) || a.Secrets[0].Sealed != nil || len(a.Auth.JWKS) != 0 {
		t.Fatalf("to basic: %q %+v %+v", secret, a.Secrets, a.Auth)
	}
	old := a.Secrets[0].ID
	a, secret = patch(store.ClientAuth{Method: store.AuthSecretJWT})
	if secret == "" || len(a.Secrets) != 1 || a.Secrets[0].ID == old || !bytes.Equal(a.Secrets[0].Sealed, []byte("sealed:"+secret)) {
		t.Fatalf("to client_secret_jwt: %q %+v", secret, a.Secrets)
	}
	kept := a.Secrets[0].ID
	a, secret = patch(store.ClientAuth{Method: store.AuthSecretPost})
	if secret != "" || len(a.Secrets) != 1 || a.Secrets[0].ID != kept || a.Secrets[0].Sealed != nil {
		t.Fatalf("to post: %q %+v", secret, a.Secrets)
	}
	// The same setting again changes nothing and audits nothing.
	if _, secret = patch(store.ClientAuth{Method: store.AuthSecretPost}); secret != "" {
		t.Fatal("an unchanged method issued a secret")
	}
	// A refused setting leaves the application as it was.
	if _, _, err := env.apps.Patch(ctx, id, ApplicationPatch{Auth: &store.ClientAuth{Method: store.AuthTLS}}); ErrorCode(err) != CodeInvalid {
		t.Fatalf("tls_client_auth without a subject: %v", err)
	}
	ev, _, err := env.store.ListEvents(ctx, store.EventFilter{Log: store.LogAdmin, Kind: "application.auth_changed"}, "", 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 5 {
		t.Fatalf("%d auth_changed events, want 5: %+v", len(ev), ev)
	}
	last := ev[0].Detail
	if last[fieldMethod] != store.AuthSecretPost || last["previous"].(map[string]any)[fieldMethod] != store.AuthSecretJWT {
		t.Fatalf("last event %+v", last)
	}
	if d := ev[len(ev)-1].Detail; d["secrets_removed"] == nil || d["jwks"] == nil {
		t.Fatalf("first event names neither the removed secrets nor the keys: %+v", d)
	}
}

// A key-only application has no secret to reset; a client_secret_jwt
// application's new secret is sealed too.
func TestResetSecretFollowsMethod(t *testing.T) {
	ctx := WithActor(context.Background(), Actor{Name: "test"})
	env := newTestEnv(t, Options{Seal: testSeal})
	keys, _, err := env.apps.Create(ctx, NewApplication{Name: "keys", Scopes: []string{"sms"},
		Auth: store.ClientAuth{Method: store.AuthTLS, SubjectDN: "CN=billing"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := env.apps.ResetSecret(ctx, keys.ClientID, 0); ErrorCode(err) != CodeConflict || !strings.Contains(err.Error(), "no shared secret") {
		t.Fatalf("reset of a tls_client_auth application: %v", err)
	}
	hmac, _, err := env.apps.Create(ctx, NewApplication{Name: "hmac", Scopes: []string{"sms"}, Auth: store.ClientAuth{Method: store.AuthSecretJWT}})
	if err != nil {
		t.Fatal(err)
	}
	a, secret, _, err := env.apps.ResetSecret(ctx, hmac.ClientID, time.Hour)
	if err != nil || len(a.Secrets) != 2 || !bytes.Equal(a.Secrets[1].Sealed, []byte("sealed:"+secret)) {
		t.Fatalf("reset of client_secret_jwt: %+v %v", a.Secrets, err)
	}
}

// Delegated administration changes the keys of its own owner's
// applications and may move them to keys, as it may reset a secret; it
// never moves one from keys back to a shared secret, as it never widens
// an allowlist, so an operator's choice of keys holds.
func TestDelegateChangesKeysNotBackToSecrets(t *testing.T) {
	admin := WithActor(context.Background(), Actor{Name: "admin-key:test"})
	env := newTestEnv(t, Options{Seal: testSeal})
	a, _, err := env.apps.Create(admin, NewApplication{Name: "d", Owner: "acct", Scopes: []string{"sms"}})
	if err != nil {
		t.Fatal(err)
	}
	delegate := WithActor(context.Background(), Actor{Name: "client:mgr", Delegate: &Delegate{ClientID: "mgr", Owner: "acct", Scopes: []string{"sms", "applications"}}})
	for _, c := range []store.ClientAuth{
		{Method: store.AuthPrivateKeyJWT, JWKS: testJWKS(t, "k1", false)},
		{JWKS: testJWKS(t, "k2", false)},
		{Method: store.AuthTLS, SubjectDN: "CN=billing"},
	} {
		if _, _, err := env.apps.Patch(delegate, a.ClientID, ApplicationPatch{Auth: &c}); err != nil {
			t.Fatalf("delegate %+v: %v", c, err)
		}
	}
	_, _, err = env.apps.Patch(delegate, a.ClientID, ApplicationPatch{Auth: &store.ClientAuth{Method: store.AuthSecretBasic}})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeForbidden || e.Rule != "auth_method" {
		t.Fatalf("delegate back to a secret: %v", err)
	}
	if _, _, err := env.apps.Patch(admin, a.ClientID, ApplicationPatch{Auth: &store.ClientAuth{Method: store.AuthSecretBasic}}); err != nil {
		t.Fatalf("admin back to a secret: %v", err)
	}
	other, _, _ := env.apps.Create(admin, NewApplication{Name: "o", Owner: "other", Scopes: []string{"sms"}})
	if _, _, err := env.apps.Patch(delegate, other.ClientID, ApplicationPatch{Auth: &store.ClientAuth{Method: store.AuthTLS, SubjectDN: "CN=x"}}); ErrorCode(err) != CodeForbidden {
		t.Fatalf("delegate changed another owner's keys: %v", err)
	}
}

// Import carries the method and keys; a key-only application takes no
// secret, a client_secret_jwt one seals a secret in clear and takes
// digests only with their sealed copies.
func TestImportAuth(t *testing.T) {
	ctx := WithActor(context.Background(), Actor{Name: "test"})
	env := newTestEnv(t, Options{Seal: testSeal})
	const good = "Zr8fK2mQ9vXw4TnB7cYp3LhJ6sDa1GeU"
	keys := NewApplication{Name: "k", Scopes: []string{"sms"}, Auth: store.ClientAuth{Method: store.AuthPrivateKeyJWT, JWKSURI: "https://k.example/jwks"}}
	if _, err := env.apps.Import(ctx, ImportedApplication{NewApplication: keys, ClientID: "keys-1", ClientSecret: good}); ErrorCode(err) != CodeInvalid {
		t.Fatalf("key-only with a secret: %v", err)
	}
	a, err := env.apps.Import(ctx, ImportedApplication{NewApplication: keys, ClientID: "keys-1"})
	if err != nil || a.Auth.JWKSURI != "https://k.example/jwks" || len(a.Secrets) != 0 {
		t.Fatalf("key-only: %+v %v", a, err)
	}
	hmac := NewApplication{Name: "h", Scopes: []string{"sms"}, Auth: store.ClientAuth{Method: store.AuthSecretJWT}}
	a, err = env.apps.Import(ctx, ImportedApplication{NewApplication: hmac, ClientID: "hmac-1", ClientSecret: good})
	if err != nil || !bytes.Equal(a.Secrets[0].Sealed, []byte("sealed:"+good)) {
		t.Fatalf("client_secret_jwt in clear: %+v %v", a.Secrets, err)
	}
	digest := store.Secret{ID: "s1", Digest: store.Sum(good), CreatedAt: time.Now().Add(-time.Hour)}
	if _, err := env.apps.Import(ctx, ImportedApplication{NewApplication: hmac, ClientID: "hmac-2", Secrets: []store.Secret{digest}}); ErrorCode(err) != CodeInvalid {
		t.Fatalf("client_secret_jwt digest without sealed copy: %v", err)
	}
	digest.Sealed = []byte("sealed:" + good)
	if a, err = env.apps.Import(ctx, ImportedApplication{NewApplication: hmac, ClientID: "hmac-2", Secrets: []store.Secret{digest}}); err != nil || !bytes.Equal(a.Secrets[0].Sealed, digest.Sealed) {
		t.Fatalf("client_secret_jwt digests: %+v %v", a.Secrets, err)
	}
	// A sealed copy means nothing to another method: dropped.
	if a, err = env.apps.Import(ctx, ImportedApplication{NewApplication: NewApplication{Name: "b", Scopes: []string{"sms"}}, ClientID: "basic-1", Secrets: []store.Secret{digest}}); err != nil || a.Secrets[0].Sealed != nil {
		t.Fatalf("basic with a sealed copy: %+v %v", a.Secrets, err)
	}
}

// labelSeal seals by prefixing a label and opens only what carries it: a
// stand-in for a sealing key.
func labelSeal(label string) (seal, open func(context.Context, []byte) ([]byte, error)) {
	seal = func(_ context.Context, p []byte) ([]byte, error) { return append([]byte(label+":"), p...), nil }
	open = func(_ context.Context, s []byte) ([]byte, error) {
		if !bytes.HasPrefix(s, []byte(label+":")) {
			return nil, errors.New("does not open with " + label)
		}
		return s[len(label)+1:], nil
	}
	return seal, open
}

// ResealSecrets moves every client_secret_jwt secret to the new sealing
// key, leaves other applications alone, may be run again (moving
// nothing twice), and stops at a copy no key opens, naming it.
func TestResealSecrets(t *testing.T) {
	ctx := WithActor(context.Background(), Actor{Name: "cli"})
	sealOld, openOld := labelSeal("old")
	sealNew, openNew := labelSeal("new")
	env := newTestEnv(t, Options{Seal: sealOld})
	var ids []string
	for range 3 {
		a, _, err := env.apps.Create(ctx, NewApplication{Name: "h", Scopes: []string{"sms"}, Auth: store.ClientAuth{Method: store.AuthSecretJWT}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ClientID)
	}
	if _, _, _, err := env.apps.ResetSecret(ctx, ids[0], time.Hour); err != nil {
		t.Fatal(err)
	}
	basic, _, _ := env.apps.Create(ctx, NewApplication{Name: "b", Scopes: []string{"sms"}})
	n, err := env.apps.ResealSecrets(ctx, openOld, sealNew, openNew)
	if err != nil || n != 4 {
		t.Fatalf("moved %d, %v; want 4", n, err)
	}
	for _, id := range ids {
		a, _, _ := env.apps.Get(ctx, id)
		for _, sec := range a.Secrets {
			plain, err := openNew(ctx, sec.Sealed)
			if err != nil || !a.VerifySecret(string(plain), time.Now()) {
				t.Fatalf("%s: %q does not open with the new key to its secret: %v", id, sec.Sealed, err)
			}
		}
	}
	if b, _, _ := env.apps.Get(ctx, basic.ClientID); b.Secrets[0].Sealed != nil {
		t.Fatal("a basic application's secret got sealed")
	}
	if n, err := env.apps.ResealSecrets(ctx, openOld, sealNew, openNew); err != nil || n != 0 {
		t.Fatalf("second run moved %d, %v", n, err)
	}
	if _, err := env.store.UpdateApplication(ctx, ids[1], func(a store.Application) (store.Application, error) {
		a.Secrets[0].Sealed = []byte("other:x")
		return a, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.apps.ResealSecrets(ctx, openOld, sealNew, openNew); err == nil || !strings.Contains(err.Error(), ids[1]) {
		t.Fatalf("a copy no key opens: %v", err)
	}
	delegate := WithActor(context.Background(), Actor{Name: "client:x", Delegate: &Delegate{ClientID: "x", Owner: "o"}})
	if _, err := env.apps.ResealSecrets(delegate, openOld, sealNew, openNew); ErrorCode(err) != CodeForbidden {
		t.Fatalf("a delegate resealed: %v", err)
	}
}

// A secret reset's event writes its grace period as lifetimes are
// written, and no grace as 0s.
func TestResetSecretEventGrace(t *testing.T) {
	env := newTestEnv(t, Options{})
	ctx := WithActor(context.Background(), Actor{Name: "admin-key:test"})
	a, _, err := env.apps.Create(ctx, NewApplication{Name: "daemon", Scopes: []string{"sms"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		grace time.Duration
		want  string
	}{{90 * time.Minute, "1h30m"}, {time.Hour, "1h"}, {0, "0s"}, {90 * time.Second, "1m30s"}} {
		if _, _, _, err := env.apps.ResetSecret(ctx, a.ClientID, tt.grace); err != nil {
			t.Fatal(err)
		}
		ev, _, err := env.apps.Events(ctx, store.EventFilter{ClientID: a.ClientID, Kind: "secret.reset"}, "", 1)
		if err != nil || len(ev) != 1 {
			t.Fatalf("events: %v, %v", ev, err)
		}
		if got := ev[0].Detail["grace_period"]; got != tt.want {
			t.Errorf("grace %v written %v, want %q", tt.grace, got, tt.want)
		}
		// The grace periods' secrets would fill the application up.
		if _, _, _, err := env.apps.ResetSecret(ctx, a.ClientID, 0); err != nil {
			t.Fatal(err)
		}
	}
}
