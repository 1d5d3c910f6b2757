package clientauth

import (
	"context"
	"crypto/elliptic"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

const (
	k8sSubject  = "system:serviceaccount:sms:billing"
	k8sAudience = "oauthd"
)

// k8sClaims are the claims of a Kubernetes projected service-account
// token for audience oauthd: an hour long, no jti before Kubernetes 1.29.
func k8sClaims(iss string) map[string]any {
	return map[string]any{
		"iss": iss,
		"sub": k8sSubject,
		"aud": []string{k8sAudience},
		"iat": testNow.Add(-10 * time.Minute).Unix(),
		"nbf": testNow.Add(-10 * time.Minute).Unix(),
		"exp": testNow.Add(50 * time.Minute).Unix(),
		"kubernetes.io": map[string]any{
			"namespace":      "sms",
			"serviceaccount": map[string]any{"name": "billing", "uid": "6f1c"},
		},
	}
}

func workloadApp(iss, jwksURI string) *store.Application {
	return &store.Application{ClientID: testClient, Auth: store.ClientAuth{
		Method:          store.AuthPrivateKeyJWT,
		TrustedIssuer:   iss,
		TrustedJWKSURI:  jwksURI,
		TrustedSubject:  k8sSubject,
		TrustedAudience: k8sAudience,
	}}
}

// Workload identity: the application trusts an external issuer's tokens
// (found by OIDC discovery or at a JWKS URL) carrying its subject and
// audience; nothing else of the issuer's passes.
func TestWorkloadIdentity(t *testing.T) {
	sa := signer{key: rsaKey(t, 2048), alg: "RS256", kid: "sa-key"}
	spiffe := signer{key: ecKey(t, elliptic.P256()), alg: "ES256", kid: "svid"}
	ks := newKeyServer(t, jwks(t, sa, spiffe))
	const k8sIssuer = "https://kubernetes.default.svc.cluster.local"
	discovered := workloadApp(ks.URL, "")
	direct := workloadApp(k8sIssuer, ks.URL+"/jwks")
	base := k8sClaims(ks.URL)
	tests := []struct {
		name   string
		app    *store.Application
		s      signer
		claims map[string]any
		want   string
	}{
		{"by discovery", discovered, sa, base, ""},
		{"by jwks_uri, Kubernetes issuer", direct, sa, k8sClaims(k8sIssuer), ""},
		{"a SPIFFE JWT-SVID (ES256, aud a string)", discovered, spiffe, with(base, "aud", k8sAudience, "jti", "svid-1"), ""},
		{"another subject", discovered, sa, with(base, "sub", "system:serviceaccount:sms:admin"), "not the application's trusted subject"},
		{"another audience", discovered, sa, with(base, "aud", []string{"https://kubernetes.default.svc"}), "trusted audience"},
		{"oauthd's issuer as audience", discovered, sa, with(base, "aud", testIssuer), "trusted audience"},
		{"another issuer", discovered, sa, with(base, "iss", "https://evil.example"), "not the application's trusted issuer"},
		{"client_id as iss", discovered, sa, with(base, "iss", testClient, "sub", testClient, "aud", testIssuer), "trusted issuer"},
		{"expired", discovered, sa, with(base, "exp", testNow.Add(-time.Minute).Unix()), "expired"},
		{"longer than MaxExternalLifetime", discovered, sa, with(base, "exp", testNow.Add(48*time.Hour).Unix()), "lifetime"},
		{"no exp", discovered, sa, with(base, "exp", nil), "no exp"},
		{"a key the issuer does not publish", discovered, signer{key: rsaKey(t, 3072), alg: "RS256", kid: "sa-key"}, base, "does not verify"},
		{"HS256", discovered, signer{key: []byte("0123456789abcdef0123456789abcdef"), alg: "HS256"}, base, "alg HS256 not allowed"},
	}
	noAudience := workloadApp(ks.URL, "")
	noAudience.Auth.TrustedAudience = ""
	tests = append(tests, struct {
		name   string
		app    *store.Application
		s      signer
		claims map[string]any
		want   string
	}{"no trusted audience registered", noAudience, sa, with(base, "aud", ""), "no trusted subject or audience"})
	v := remoteVerifier(t, ks, &clock{now: testNow}, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := sign(t, tt.s, tt.claims)
			a, err := ParseAssertion(raw)
			if err != nil {
				t.Fatal(err)
			}
			if id, err := a.ClientID(testClient); err != nil || id != testClient {
				t.Fatalf("ClientID = %q, %v", id, err)
			}
			err = v.VerifyAssertion(context.Background(), tt.app, a)
			wantRefusal(t, err, tt.want, raw)
			if tt.want == "" && !a.Workload {
				t.Error("a verified workload token is not marked Workload")
			}
		})
	}
}

// The discovery document must name the issuer asked for (OIDC Discovery
// §4.3), and its jwks_uri be https.
func TestWorkloadIdentityDiscovery(t *testing.T) {
	sa := signer{key: edKey(t), alg: "EdDSA"}
	ks := newKeyServer(t, jwks(t, sa))
	ks.set(func(ks *keyServer) { ks.issuer = "https://impostor.example" })
	v := remoteVerifier(t, ks, &clock{now: testNow}, nil)
	_, err := verify(v, workloadApp(ks.URL, ""), sign(t, sa, k8sClaims(ks.URL)))
	wantRefusal(t, err, `names issuer "https://impostor.example"`)
	var e *Error
	if !asErr(err, &e) || !e.Temporary {
		t.Errorf("discovery failure is not Temporary: %v", err)
	}
}

func asErr(err error, e **Error) bool {
	x, ok := err.(*Error)
	*e = x
	return ok
}
