package clientauth

import (
	"crypto/elliptic"
	"encoding/json"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oauthd/oauthd/store"
)

func TestValidateJWKS(t *testing.T) {
	ed := signer{key: edKey(t), alg: "EdDSA", kid: "ed"}
	ec := signer{key: ecKey(t, elliptic.P256()), alg: "ES256", kid: "ec"}
	rs := signer{key: rsaKey(t, 2048), alg: "RS256", kid: "rs"}
	cert := selfSigned(t, "CN=svc", nil)
	withCert := jose.JSONWebKey{Key: cert.key.Public(), KeyID: "c", Certificates: []*x509Cert{cert.cert}}
	// jwk marshals one key with changes to its members.
	jwk := func(k jose.JSONWebKey, kv ...string) string {
		var m map[string]any
		if err := json.Unmarshal(must(json.Marshal(k)), &m); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return string(must(json.Marshal(m)))
	}
	set := func(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }
	private := string(must(json.Marshal(jose.JSONWebKey{Key: ed.key, KeyID: "p"})))
	symmetric := string(must(json.Marshal(jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "s"})))
	many := make([]string, MaxJWKSKeys+1)
	for i := range many {
		many[i] = jwk(signer{key: edKey(t), alg: "EdDSA"}.publicJWK())
	}

	tests := []struct {
		name   string
		raw    string
		method string
		want   string
	}{
		{"Ed25519, P-256 and RSA", set(jwk(ed.publicJWK()), jwk(ec.publicJWK()), jwk(rs.publicJWK())), store.AuthPrivateKeyJWT, ""},
		{"alg and use set", set(jwk(rs.publicJWK(), "alg", "PS256", "use", "sig")), store.AuthPrivateKeyJWT, ""},
		{"x5c for self-signed mTLS", set(jwk(withCert)), store.AuthSelfSignedTLS, ""},
		{"self-signed mTLS without x5c", set(jwk(ed.publicJWK())), store.AuthSelfSignedTLS, "x5c"},
		{"for a secret method", set(jwk(ed.publicJWK())), store.AuthSecretBasic, "not client_secret_basic"},
		{"for legacy secrets", set(jwk(ed.publicJWK())), "", "not a client secret"},
		{"not JSON", "nope", store.AuthPrivateKeyJWT, "not a JWK Set"},
		{"a single JWK, not a set", jwk(ed.publicJWK()), store.AuthPrivateKeyJWT, "no \"keys\""},
		{"no key", set(), store.AuthPrivateKeyJWT, "no key"},
		{"too many keys", set(many...), store.AuthPrivateKeyJWT, "over the limit"},
		{"too large", set(jwk(ed.publicJWK())) + strings.Repeat(" ", MaxJWKSBytes), store.AuthPrivateKeyJWT, "over the limit"},
		{"a private key", set(private), store.AuthPrivateKeyJWT, "private or symmetric"},
		{"a symmetric key", set(symmetric), store.AuthPrivateKeyJWT, "private or symmetric"},
		{"RSA 1024", set(jwk(signer{key: rsaKey(t, 1024)}.publicJWK())), store.AuthPrivateKeyJWT, "1024 bits"},
		{"EC P-384", set(jwk(signer{key: ecKey(t, elliptic.P384())}.publicJWK())), store.AuthPrivateKeyJWT, "P-384"},
		{"unknown kty", set(`{"kty":"XYZ","kid":"x"}`), store.AuthPrivateKeyJWT, "unsupported key type"},
		{"alg none", set(jwk(ed.publicJWK(), "alg", "none")), store.AuthPrivateKeyJWT, `alg "none" is not supported`},
		{"alg HS256", set(jwk(ed.publicJWK(), "alg", "HS256")), store.AuthPrivateKeyJWT, `alg "HS256" is not supported`},
		{"alg unfit for the key", set(jwk(ed.publicJWK(), "alg", "RS256")), store.AuthPrivateKeyJWT, "does not fit"},
		{"use enc", set(jwk(ed.publicJWK(), "use", "enc")), store.AuthPrivateKeyJWT, `use "enc"`},
		{"kid twice", set(jwk(ed.publicJWK()), jwk(jose.JSONWebKey{Key: ec.publicJWK().Key, KeyID: "ed"})), store.AuthPrivateKeyJWT, "used twice"},
		{"x5c of another key", set(jwk(jose.JSONWebKey{Key: ed.publicJWK().Key, Certificates: []*x509Cert{cert.cert}})), store.AuthPrivateKeyJWT, "do not match"},
		{"x5c not a certificate", set(jwk(ed.publicJWK(), "x5c", "bm9wZQ")), store.AuthPrivateKeyJWT, "invalid JWK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ValidateJWKS([]byte(tt.raw), tt.method)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// What it returns is compact and validates again.
			if strings.ContainsAny(string(out), "\n ") {
				t.Errorf("output not compact: %s", out)
			}
			if _, err := ValidateJWKS(out, tt.method); err != nil {
				t.Errorf("output does not validate again: %v", err)
			}
		})
	}
}

func TestValidateJWKSURI(t *testing.T) {
	tests := []struct {
		uri  string
		want string
	}{
		{"https://client.example.com/jwks.json", ""},
		{"https://client.example.com:8443/.well-known/jwks?v=2", ""},
		{"http://client.example.com/jwks.json", "https"},
		{"file:///etc/passwd", "https"},
		{"//client.example.com/jwks", "https"},
		{"https:///jwks", "no host"},
		{"https://user:pass@client.example.com/jwks", "userinfo"},
		{"https://client.example.com/jwks#frag", "fragment"},
		{"https://client.example.com/" + strings.Repeat("a", 2048), "longer"},
		{"https://cl ient.example.com/", "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			err := ValidateJWKSURI(tt.uri)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestValidateSubjectDN(t *testing.T) {
	tests := []struct {
		dn, want, err string
	}{
		{"CN=billing,O=Example Corp,C=DE", "CN=billing,O=Example Corp,C=DE", ""},
		{"cn=billing, o=Example Corp, c=DE", "CN=billing,O=Example Corp,C=DE", ""},
		{"commonName=billing,organizationName=Example Corp", "CN=billing,O=Example Corp", ""},
		{"2.5.4.3=billing,2.5.4.10=Example Corp", "CN=billing,O=Example Corp", ""},
		{"OID.2.5.4.3=billing", "CN=billing", ""},
		{"CN=a\\,b\\+c\\;d\\\"e\\\\f\\<g\\>h\\=i", `CN=a\,b\+c\;d\"e\\f\<g\>h\=i`, ""},
		{`CN=\ lead and trail\ `, `CN=\ lead and trail\ `, ""},
		{`CN=\#hash`, `CN=\#hash`, ""},
		{`CN=caf\C3\A9`, "CN=café", ""},
		{"CN=café", "CN=café", ""},
		{"CN=#0c0462696c6c", "CN=bill", ""},    // UTF8String "bill"
		{"CN=#13026269", "CN=bi", ""},          // PrintableString "bi"
		{"CN=#020105", "CN=#020105", ""},       // INTEGER 5 stays BER
		{"CN=a+OU=b,O=x", "OU=b+CN=a,O=x", ""}, // sorted by OID
		{"DC=example,DC=com,UID=svc", "DC=example,DC=com,UID=svc", ""},
		{"emailAddress=svc@example.com,CN=x", "EMAILADDRESS=svc@example.com,CN=x", ""},
		{"1.3.6.1.4.1.99999.1=v", "1.3.6.1.4.1.99999.1=v", ""},
		{"", "", "empty"},
		{"   ", "", "empty"},
		{"billing", "", `has no "="`},
		{"=billing", "", "no type"},
		{"XX=billing", "", "unknown attribute type"},
		{"1.=x", "", "unknown attribute type"},
		{"CN=a\\", "", "lone"},
		{"CN=a\\zz", "", "bad escape"},
		{"CN=a;O=b", "", "must be escaped"},
		{"CN=#zz", "", "bad #hex"},
		{"CN=#0c04", "", "not one DER element"},
		{"CN=" + strings.Repeat("a", 1024), "", "longer than 1024"},
		{"CN=\xff", "", "not UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.dn, func(t *testing.T) {
			got, err := ValidateSubjectDN(tt.dn)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("normalised %q, want %q", got, tt.want)
			}
			// The normalised form is a fixed point.
			if again, err := ValidateSubjectDN(got); err != nil || again != got {
				t.Errorf("normalising %q again gives %q, %v", got, again, err)
			}
		})
	}
}
