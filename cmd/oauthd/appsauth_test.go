package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/admin/adminapi"
	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// writePEM writes a fresh EC public key and a self-signed certificate of
// another key, as PEM files, and returns their paths and the private key
// file's.
func writePEM(t *testing.T) (pub, cert, priv string) {
	t.Helper()
	dir := t.TempDir()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pub = filepath.Join(dir, "billing.pub.pem")
	os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
	ck, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "billing", Organization: []string{"Example"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	cder, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ck.PublicKey, ck)
	cert = filepath.Join(dir, "billing.crt")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cder}), 0o600)
	pder, _ := x509.MarshalPKCS8PrivateKey(k)
	priv = filepath.Join(dir, "billing.key")
	os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pder}), 0o600)
	return pub, cert, priv
}

// TestCLIClientAuth sets and shows every kind of client authentication
// with the apps verbs, through a running server and straight on Redis:
// a PEM public key for private_key_jwt (no secret; get shows kid, kty,
// alg, thumbprint), a certificate for self_signed_tls_client_auth (x5c),
// a subject DN for tls_client_auth, a Kubernetes service account as
// workload identity, a JWK, client_secret_jwt (sealed with the
// deployment's key), and back to a shared secret, which prints the new
// secret once.
func TestCLIClientAuth(t *testing.T) {
	t.Parallel()
	rs := startScannedRedis(t, redistest.Mini)
	sealing := newSealingKey(t)
	key, digest := newAdminKey(t)
	p := startOAuthd(t, map[string]string{"OAUTHD_ADMIN_KEY_SHA256": digest, "OAUTHD_JWT_SEALING_KEY": sealing}, "--redis-url", rs.URL)
	modes := map[string]map[string]string{
		"remote": {"OAUTHD_ENDPOINT": p.URL, "OAUTHD_ADMIN_KEY": key},
		"direct": {"OAUTHD_REDIS_URL": rs.URL, "OAUTHD_JWT_SEALING_KEY": sealing},
	}
	pub, cert, priv := writePEM(t)
	for name, env := range modes {
		t.Run(name, func(t *testing.T) {
			cli := cliOK(t, env)
			var a adminapi.Application
			if err := json.Unmarshal([]byte(cli("apps", "create", "--json", "--name", "keys-"+name, "--scopes", "sms",
				"--auth-method", "private_key_jwt", "--public-key-file", pub)), &a); err != nil {
				t.Fatal(err)
			}
			if a.ClientSecret != "" || len(a.Secrets) != 0 || a.TokenEndpointAuthMethod != "private_key_jwt" || !strings.Contains(string(a.JWKS), `"kid"`) {
				t.Fatalf("create private_key_jwt: %+v", a)
			}
			if out := cli("apps", "list", "--search", "keys-"+name); !regexp.MustCompile(`true\s+private_key_jwt`).MatchString(out) {
				t.Fatalf("list shows no method:\n%s", out)
			}
			out := cli("apps", "get", a.ClientID)
			if !regexp.MustCompile(`token_endpoint_auth_method\s+private_key_jwt`).MatchString(out) ||
				!regexp.MustCompile(`key \S{43}\s+kty EC, alg ES256, thumbprint \S{43}`).MatchString(out) {
				t.Fatalf("get:\n%s", out)
			}
			out = cli("apps", "update", a.ClientID, "--auth-method", "tls_client_auth", "--tls-subject-dn", "CN=billing,O=Example")
			if !regexp.MustCompile(`tls_client_auth_subject_dn\s+CN=billing`).MatchString(out) || strings.Contains(out, "kty") {
				t.Fatalf("update to tls_client_auth:\n%s", out)
			}
			out = cli("apps", "update", a.ClientID, "--auth-method", "self_signed_tls_client_auth", "--public-key-file", cert)
			if !strings.Contains(out, "certificate CN=billing,O=Example") {
				t.Fatalf("update to self_signed_tls_client_auth:\n%s", out)
			}
			var wi adminapi.Application
			json.Unmarshal([]byte(cli("apps", "update", a.ClientID, "--json", "--auth-method", "private_key_jwt",
				"--trusted-issuer", "https://kubernetes.default.svc.cluster.local", "--trusted-subject", "system:serviceaccount:sms:billing",
				"--trusted-audience", "https://auth.example.com")), &wi)
			if wi.WorkloadIdentity == nil || wi.WorkloadIdentity.Subject != "system:serviceaccount:sms:billing" || len(wi.JWKS) != 0 {
				t.Fatalf("update to workload identity: %+v", wi)
			}
			jwk := `{"kty":"EC","crv":"P-256","kid":"k-1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`
			if out := cli("apps", "update", a.ClientID, "--jwk", jwk); !strings.Contains(out, "key k-1") || strings.Contains(out, "workload_identity") {
				t.Fatalf("update --jwk (the method kept):\n%s", out)
			}
			out = cli("apps", "update", a.ClientID, "--auth-method", "client_secret_basic")
			if !regexp.MustCompile(`client_secret\s+\S+`).MatchString(out) || !strings.Contains(out, "shown only now") {
				t.Fatalf("back to a secret:\n%s", out)
			}
			var h adminapi.Application
			json.Unmarshal([]byte(cli("apps", "create", "--json", "--name", "hmac-"+name, "--scopes", "sms", "--auth-method", "client_secret_jwt")), &h)
			if h.ClientSecret == "" || h.TokenEndpointAuthMethod != "client_secret_jwt" {
				t.Fatalf("create client_secret_jwt: %+v", h)
			}
			if _, err := runCLI(t, env, "apps", "create", "--name", "x", "--scopes", "sms", "--auth-method", "private_key_jwt", "--public-key-file", priv); err == nil ||
				!strings.Contains(err.Error(), "private key") {
				t.Fatalf("a private key file: %v", err)
			}
			if _, err := runCLI(t, env, "apps", "create", "--name", "x", "--scopes", "sms", "--auth-method", "tls_client_auth"); err == nil ||
				!strings.Contains(err.Error(), "tls_client_auth_subject_dn") {
				t.Fatalf("tls_client_auth without a subject: %v", err)
			}
		})
	}
}

// An export carries each application's method, keys and a
// client_secret_jwt application's sealed secret; imported into another
// Redis of a deployment with the same sealing key, every application is
// as it was. A key-only application needs no --reset-secrets.
func TestExportImportClientAuthRoundTrip(t *testing.T) {
	t.Parallel()
	sealing := newSealingKey(t)
	from, to := startScannedRedis(t, redistest.Mini), startScannedRedis(t, redistest.Mini)
	src := map[string]string{"OAUTHD_REDIS_URL": from.URL, "OAUTHD_JWT_SEALING_KEY": sealing}
	dst := map[string]string{"OAUTHD_REDIS_URL": to.URL, "OAUTHD_JWT_SEALING_KEY": sealing}
	pub, cert, _ := writePEM(t)
	var ids []string
	for _, args := range [][]string{
		{"--auth-method", "private_key_jwt", "--public-key-file", pub},
		{"--auth-method", "self_signed_tls_client_auth", "--public-key-file", cert},
		{"--auth-method", "tls_client_auth", "--tls-san-uri", "spiffe://example.org/ns/sms/sa/billing"},
		{"--auth-method", "private_key_jwt", "--trusted-issuer", "https://token.actions.githubusercontent.com",
			"--trusted-subject", "repo:example/billing:ref:refs/heads/main", "--trusted-audience", "https://auth.example.com"},
		{"--auth-method", "private_key_jwt", "--jwks-uri", "https://billing.example.com/jwks.json"},
		{"--auth-method", "client_secret_jwt"},
		{},
	} {
		var a adminapi.Application
		mustJSON(t, cliOK(t, src)(append([]string{"apps", "create", "--json", "--name", "a", "--scopes", "sms"}, args...)...), &a)
		ids = append(ids, a.ClientID)
	}
	file := filepath.Join(t.TempDir(), "apps.json")
	cliOK(t, src)("apps", "export", "--output", file)
	b, _ := os.ReadFile(file)
	if !strings.Contains(string(b), `"sealed"`) || !strings.Contains(string(b), `"token_endpoint_auth_method": "tls_client_auth"`) {
		t.Fatalf("the export lacks the sealed secret or the methods:\n%s", b)
	}
	cliOK(t, dst)("apps", "import", "--file", file)
	for _, id := range ids {
		was, is := cliOK(t, src)("apps", "get", "--json", id), cliOK(t, dst)("apps", "get", "--json", id)
		if a, b := comparable(t, was), comparable(t, is); a != b {
			t.Errorf("%s was\n%s\nis\n%s", id, a, b)
		}
	}
	// One application with its keys and no secret, under its old client ID.
	pemPub, _, _ := writePEM(t)
	var moved adminapi.Application
	mustJSON(t, cliOK(t, dst)("apps", "import", "moved-daemon", "--json", "--name", "moved", "--scopes", "sms",
		"--auth-method", "private_key_jwt", "--public-key-file", pemPub), &[]importResult{})
	mustJSON(t, cliOK(t, dst)("apps", "get", "--json", "moved-daemon"), &moved)
	if moved.TokenEndpointAuthMethod != "private_key_jwt" || len(moved.Secrets) != 0 || len(moved.JWKS) == 0 {
		t.Fatalf("import of one key-only application: %+v", moved)
	}
	if _, err := runCLI(t, dst, "apps", "import", "moved-2", "--name", "m", "--scopes", "sms"); err == nil || !strings.Contains(err.Error(), "--secret-file") {
		t.Fatalf("import of a secret application without a secret: %v", err)
	}
	// Without secrets, only the secret applications need new ones.
	cliOK(t, src)("apps", "export", "--output", file, "--without-secrets")
	if _, err := runCLI(t, map[string]string{"OAUTHD_REDIS_URL": startScannedRedis(t, redistest.Mini).URL, "OAUTHD_JWT_SEALING_KEY": sealing},
		"apps", "import", "--file", file); err == nil || !strings.Contains(err.Error(), "2 of 7 applications") {
		t.Fatalf("import without secrets: %v", err)
	}
}

// 'oauthd keys reseal' moves the client_secret_jwt secrets with the
// signing keys: afterwards each sealed copy opens with the new key, to
// the secret the application was created with, and with the old no more.
func TestResealMovesClientSecrets(t *testing.T) {
	t.Parallel()
	rs := startScannedRedis(t, redistest.Mini)
	old := newSealingKey(t)
	env := map[string]string{"OAUTHD_REDIS_URL": rs.URL, "OAUTHD_JWT_SEALING_KEY": old}
	var h adminapi.Application
	mustJSON(t, cliOK(t, env)("apps", "create", "--json", "--name", "hmac", "--scopes", "sms", "--auth-method", "client_secret_jwt"), &h)
	file := filepath.Join(t.TempDir(), "sealing.key")
	out := cliOK(t, env)("keys", "reseal", "--to-key-file", file, "--generate")
	if !strings.Contains(out, "and 1 client_secret_jwt secret(s)") {
		t.Fatalf("keys reseal:\n%s", out)
	}
	raw, _ := os.ReadFile(file)
	leaks.register("JWT sealing key", strings.TrimSpace(string(raw)))
	newKey, err := parseSealingKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	var f migrationFile
	mustJSON(t, cliOK(t, map[string]string{"OAUTHD_REDIS_URL": rs.URL, "OAUTHD_JWT_SEALING_KEY_FILE": file})("apps", "export"), &f)
	sealed := f.Applications[0].SecretDigests[0].Sealed
	ctx := context.Background()
	if plain, err := signing.OpenSecret(ctx, signing.SealWith(newKey), sealed); err != nil || string(plain) != h.ClientSecret {
		t.Fatalf("the resealed secret does not open with the new key to the secret: %v", err)
	}
	oldKey, _ := parseSealingKey([]byte(old))
	if _, err := signing.OpenSecret(ctx, signing.SealWith(oldKey), sealed); err == nil {
		t.Fatal("the resealed secret still opens with the old key")
	}
}
