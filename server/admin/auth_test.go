package admin

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthd/oauthd/server/admin/adminapi"
	"github.com/oauthd/oauthd/server/signing"
)

func testJWK(t testing.TB, kid string) map[string]any {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"})
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// The admin API speaks RFC 7591 / RFC 8705 client metadata: an
// application made for private_key_jwt gets no client_secret, shows its
// jwks as a JWK Set object on GET, and a bad setting is a 400 naming the
// field; a PATCH back to a secret method answers the new secret, once.
func TestAdminClientAuthFields(t *testing.T) {
	e := newAdminEnv(t)
	jwks := map[string]any{"keys": []any{testJWK(t, "k1")}}
	code, app := e.call(adminKey, "POST", "/applications", map[string]any{
		"name": "billing", "scopes": []string{"sms"}, "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks})
	if code != 201 {
		t.Fatalf("create: %d %v", code, app)
	}
	if _, ok := app["client_secret"]; ok || len(app["secrets"].([]any)) != 0 {
		t.Fatalf("a key-only application got a secret: %v", app)
	}
	id := app["client_id"].(string)
	code, got := e.call(adminKey, "GET", "/applications/"+id, nil)
	keys, _ := got["jwks"].(map[string]any)["keys"].([]any)
	if code != 200 || got["token_endpoint_auth_method"] != "private_key_jwt" || len(keys) != 1 || keys[0].(map[string]any)["kid"] != "k1" {
		t.Fatalf("get: %d %v", code, got)
	}
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"token_endpoint_auth_method": "tls_client_auth"}, "tls_client_auth_subject_dn"},
		{map[string]any{"token_endpoint_auth_method": "none"}, "token_endpoint_auth_method"},
		{map[string]any{"jwks_uri": "http://billing.example/jwks"}, "jwks_uri"},
		{map[string]any{"token_endpoint_auth_method": "client_secret_basic", "jwks": jwks}, "jwks"},
		{map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://billing.example/jwks"}, "jwks_uri"},
		{map[string]any{"token_endpoint_auth_method": "private_key_jwt", "workload_identity": map[string]any{"issuer": "https://k8s.example", "subject": "system:serviceaccount:sms:billing"}}, "workload_identity.audience"},
		{map[string]any{"workload_identity": "https://k8s.example"}, "workload_identity"},
	} {
		code, got := e.call(adminKey, "PATCH", "/applications/"+id, tc.body)
		if code != 400 || got["field"] != tc.field || got["error_description"] == "" {
			t.Errorf("PATCH %v: %d %v, want 400 on %s", tc.body, code, got, tc.field)
		}
	}
	code, got = e.call(adminKey, "PATCH", "/applications/"+id, map[string]any{
		"token_endpoint_auth_method": "private_key_jwt",
		"workload_identity":          map[string]any{"issuer": "https://k8s.example", "subject": "system:serviceaccount:sms:billing", "audience": "https://oauthd.test"}})
	if code != 200 || got["jwks"] != nil || got["workload_identity"].(map[string]any)["subject"] != "system:serviceaccount:sms:billing" {
		t.Fatalf("to workload identity: %d %v", code, got)
	}
	if code, got := e.call(adminKey, "POST", "/applications/"+id+"/secrets", nil); code != 409 {
		t.Fatalf("reset-secret of a key-only application: %d %v", code, got)
	}
	w := e.recorded(adminKey, "PATCH", "/applications/"+id, map[string]any{"token_endpoint_auth_method": "client_secret_basic"})
	var back adminapi.Application
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &back) != nil || back.ClientSecret == "" || len(back.Secrets) != 1 || back.WorkloadIdentity != nil {
		t.Fatalf("back to a secret: %d %s", w.Code, w.Body)
	}
	if !strings.Contains(w.Header().Get("Cache-Control"), "no-store") {
		t.Error("the answer carrying a secret may be cached")
	}
	// A patch of other fields leaves the authentication as it is, and
	// shows no secret.
	code, got = e.call(adminKey, "PATCH", "/applications/"+id, map[string]any{"description": "x"})
	if code != 200 || got["client_secret"] != nil || got["token_endpoint_auth_method"] != "client_secret_basic" {
		t.Fatalf("plain patch: %d %v", code, got)
	}
}

// An export carries the method, the keys and a client_secret_jwt
// application's sealed secret; the import on another deployment with the
// same sealing key takes them back whole.
func TestExportImportClientAuth(t *testing.T) {
	from, to := newAdminEnv(t), newAdminEnv(t)
	jwks := map[string]any{"keys": []any{testJWK(t, "k1"), testJWK(t, "k2")}}
	for _, body := range []map[string]any{
		{"name": "keys", "scopes": []string{"sms"}, "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks},
		{"name": "mtls", "scopes": []string{"sms"}, "token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": "CN=billing,O=Example"},
		{"name": "hmac", "scopes": []string{"sms"}, "token_endpoint_auth_method": "client_secret_jwt"},
		{"name": "pod", "scopes": []string{"sms"}, "token_endpoint_auth_method": "private_key_jwt", "workload_identity": map[string]any{
			"issuer": "https://k8s.example", "jwks_uri": "https://k8s.example/openid/v1/jwks", "subject": "system:serviceaccount:sms:billing", "audience": "https://oauthd.test"}},
	} {
		if code, got := from.call(adminKey, "POST", "/applications", body); code != 201 {
			t.Fatalf("create %v: %d %v", body["name"], code, got)
		}
	}
	var page adminapi.ApplicationExport
	w := from.recorded(adminKey, "GET", "/export", nil)
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &page) != nil || len(page.Applications) != 4 {
		t.Fatalf("export: %d %s", w.Code, w.Body)
	}
	for _, a := range page.Applications {
		if code, got := to.call(adminKey, "PUT", "/applications/"+a.ClientID, a.ImportApplicationRequest); code != 201 {
			t.Fatalf("import %s: %d %v", a.Name, code, got)
		}
		orig, _, _ := from.apps.Get(context.Background(), a.ClientID)
		moved, _, _ := to.apps.Get(context.Background(), a.ClientID)
		if orig.Auth.Method == "" || !reflect.DeepEqual(orig.Auth, moved.Auth) {
			t.Errorf("%s: auth %+v became %+v", a.Name, orig.Auth, moved.Auth)
		}
		if len(orig.Secrets) != len(moved.Secrets) {
			t.Fatalf("%s: %d secrets became %d", a.Name, len(orig.Secrets), len(moved.Secrets))
		}
		for i := range orig.Secrets {
			if orig.Secrets[i].Digest != moved.Secrets[i].Digest || !bytes.Equal(orig.Secrets[i].Sealed, moved.Secrets[i].Sealed) {
				t.Errorf("%s: secret %d changed", a.Name, i)
			}
		}
		if a.Name == "hmac" {
			plain, err := signing.OpenSecret(context.Background(), signing.SealWith(testSealingKey), moved.Secrets[0].Sealed)
			if err != nil || !moved.VerifySecret(string(plain), to.clk.now()) {
				t.Errorf("the imported sealed secret does not open to the secret: %v", err)
			}
		}
	}
}
