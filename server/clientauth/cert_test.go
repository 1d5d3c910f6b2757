package clientauth

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oauthd/oauthd/store"
)

type x509Cert = x509.Certificate

// issued is a certificate and its private key.
type issued struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// template is a client certificate valid around testNow.
func template(cn string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    testNow.Add(-time.Hour),
		NotAfter:     testNow.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

// create signs tmpl with parent (self-signed when parent is nil).
func create(t testing.TB, tmpl *x509.Certificate, parent *issued) issued {
	t.Helper()
	key := ecKey(t, elliptic.P256())
	p, pkey := tmpl, crypto.Signer(key)
	if parent != nil {
		p, pkey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p, key.Public(), pkey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return issued{c, key}
}

func newCA(t testing.TB, cn string, parent *issued) issued {
	tmpl := template(cn)
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign
	tmpl.ExtKeyUsage = nil
	tmpl.NotAfter = testNow.Add(365 * 24 * time.Hour)
	return create(t, tmpl, parent)
}

// selfSigned is a self-signed client certificate; change edits it first.
func selfSigned(t testing.TB, cn string, change func(*x509.Certificate)) issued {
	tmpl := template(cn)
	if change != nil {
		change(tmpl)
	}
	return create(t, tmpl, nil)
}

func pool(cs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cs {
		p.AddCert(c)
	}
	return p
}

// tls_client_auth (RFC 8705 §2.1): the chain verifies against the client
// CA for client authentication, and the leaf carries exactly the one
// registered subject.
func TestVerifyCertificateTLSClientAuth(t *testing.T) {
	root := newCA(t, "Client Root", nil)
	inter := newCA(t, "Client Issuing", &root)
	strange := newCA(t, "Someone Else", nil)
	leaf := func(change func(*x509.Certificate), by issued) []*x509.Certificate {
		tmpl := template("billing")
		tmpl.Subject.Organization = []string{"Example Corp"}
		tmpl.Subject.Country = []string{"DE"}
		tmpl.DNSNames = []string{"billing.example.com"}
		tmpl.URIs = []*url.URL{must(url.Parse("spiffe://example.com/ns/sms/sa/billing"))}
		tmpl.IPAddresses = []net.IP{net.ParseIP("192.0.2.7"), net.ParseIP("2001:db8::7")}
		tmpl.EmailAddresses = []string{"billing@Example.com"}
		if change != nil {
			change(tmpl)
		}
		c := create(t, tmpl, &by)
		return []*x509.Certificate{c.cert, by.cert}
	}
	good := leaf(nil, inter)
	multi := leaf(func(c *x509.Certificate) {
		c.RawSubject = must(asn1.Marshal(pkix.RDNSequence{
			{{Type: asn1.ObjectIdentifier{2, 5, 4, 6}, Value: "DE"}},
			{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "billing"}, {Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "sms"}},
		}))
	}, inter)
	dn := func(s string) store.ClientAuth { return store.ClientAuth{Method: store.AuthTLS, SubjectDN: s} }
	tests := []struct {
		name  string
		auth  store.ClientAuth
		chain []*x509.Certificate
		cas   *x509.CertPool
		want  string
	}{
		{"subject DN", dn("CN=billing,O=Example Corp,C=DE"), good, pool(root.cert), ""},
		{"subject DN written loosely", dn("cn=billing, o=Example Corp, c=DE"), good, pool(root.cert), ""},
		{"subject DN of another", dn("CN=billing2,O=Example Corp,C=DE"), good, pool(root.cert), "registered subject DN"},
		{"subject DN, value case differs", dn("CN=Billing,O=Example Corp,C=DE"), good, pool(root.cert), "registered subject DN"},
		{"subject DN, an RDN missing", dn("CN=billing,O=Example Corp"), good, pool(root.cert), "registered subject DN"},
		{"subject DN, RDN order differs", dn("C=DE,O=Example Corp,CN=billing"), good, pool(root.cert), "registered subject DN"},
		{"multi-valued RDN in any order", dn("OU=sms+CN=billing,C=DE"), multi, pool(root.cert), ""},
		{"multi-valued RDN is not two RDNs", dn("OU=sms,CN=billing,C=DE"), multi, pool(root.cert), "registered subject DN"},
		{"DNS SAN, case ignored", store.ClientAuth{Method: store.AuthTLS, SANDNS: "Billing.Example.COM"}, good, pool(root.cert), ""},
		{"DNS SAN of another", store.ClientAuth{Method: store.AuthTLS, SANDNS: "evil.example.com"}, good, pool(root.cert), "DNS SAN"},
		{"URI SAN", store.ClientAuth{Method: store.AuthTLS, SANURI: "spiffe://example.com/ns/sms/sa/billing"}, good, pool(root.cert), ""},
		{"URI SAN prefix", store.ClientAuth{Method: store.AuthTLS, SANURI: "spiffe://example.com/ns/sms"}, good, pool(root.cert), "URI SAN"},
		{"IP SAN v4", store.ClientAuth{Method: store.AuthTLS, SANIP: "192.0.2.7"}, good, pool(root.cert), ""},
		{"IP SAN v6 another spelling", store.ClientAuth{Method: store.AuthTLS, SANIP: "2001:db8:0::7"}, good, pool(root.cert), ""},
		{"IP SAN of another", store.ClientAuth{Method: store.AuthTLS, SANIP: "192.0.2.8"}, good, pool(root.cert), "IP SAN"},
		{"email SAN, domain case ignored", store.ClientAuth{Method: store.AuthTLS, SANEmail: "billing@example.COM"}, good, pool(root.cert), ""},
		{"email SAN, local part case kept", store.ClientAuth{Method: store.AuthTLS, SANEmail: "Billing@example.com"}, good, pool(root.cert), "email SAN"},
		{"nothing registered", store.ClientAuth{Method: store.AuthTLS}, good, pool(root.cert), "not exactly one"},
		{"two registered", store.ClientAuth{Method: store.AuthTLS, SANDNS: "billing.example.com", SANIP: "192.0.2.7"}, good, pool(root.cert), "not exactly one"},
		{"issued by another CA", dn("CN=billing,O=Example Corp,C=DE"), leaf(nil, strange), pool(root.cert), "does not verify against the client CA"},
		{"intermediate missing", dn("CN=billing,O=Example Corp,C=DE"), good[:1], pool(root.cert), "does not verify against the client CA"},
		{"server-auth only", dn("CN=billing,O=Example Corp,C=DE"), leaf(func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		}, inter), pool(root.cert), "does not verify against the client CA"},
		{"expired", dn("CN=billing,O=Example Corp,C=DE"), leaf(func(c *x509.Certificate) {
			c.NotAfter = testNow.Add(-time.Minute)
		}, inter), pool(root.cert), "does not verify against the client CA"},
		{"self-signed leaf", dn("CN=billing"), []*x509.Certificate{selfSigned(t, "billing", nil).cert}, pool(root.cert), "does not verify against the client CA"},
		{"no client CA configured", dn("CN=billing,O=Example Corp,C=DE"), good, nil, "no client CA configured"},
		{"no certificate", dn("CN=billing,O=Example Corp,C=DE"), nil, pool(root.cert), "no client certificate"},
		{"a secret application", store.ClientAuth{}, good, pool(root.cert), "not a client certificate"},
		{"a key application", store.ClientAuth{Method: store.AuthPrivateKeyJWT}, good, pool(root.cert), "not a client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, func(c *Config) { c.ClientCAs = tt.cas })
			app := &store.Application{ClientID: testClient, Auth: tt.auth}
			wantRefusal(t, v.VerifyCertificate(context.Background(), app, tt.chain), tt.want)
		})
	}
}

// self_signed_tls_client_auth (RFC 8705 §2.2): the leaf is one of the
// certificates registered in x5c, within its validity period.
func TestVerifyCertificateSelfSigned(t *testing.T) {
	a := selfSigned(t, "billing", nil)
	b := selfSigned(t, "billing", nil) // same subject, another key
	expired := selfSigned(t, "billing", func(c *x509.Certificate) { c.NotAfter = testNow.Add(-time.Second) })
	future := selfSigned(t, "billing", func(c *x509.Certificate) { c.NotBefore = testNow.Add(time.Hour) })
	reg := func(cs ...issued) []byte {
		var set jose.JSONWebKeySet
		for _, c := range cs {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: c.key.Public(), Certificates: []*x509.Certificate{c.cert}})
		}
		return must(json.Marshal(set))
	}
	plain := must(json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: a.key.Public()}}}))
	tests := []struct {
		name string
		jwks []byte
		leaf issued
		want string
	}{
		{"registered", reg(a), a, ""},
		{"one of two registered (rotation)", reg(b, a), a, ""},
		{"same subject, another certificate", reg(a), b, "not registered in the application's jwks"},
		{"the key without its certificate", plain, a, "not registered"},
		{"expired", reg(expired), expired, "outside its validity period"},
		{"not yet valid", reg(future), future, "outside its validity period"},
		{"nothing registered", nil, a, "no registered keys"},
	}
	v := newVerifier(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &store.Application{ClientID: testClient, Auth: store.ClientAuth{Method: store.AuthSelfSignedTLS, JWKS: tt.jwks}}
			wantRefusal(t, v.VerifyCertificate(context.Background(), app, []*x509.Certificate{tt.leaf.cert}), tt.want)
		})
	}
}

func TestThumbprint(t *testing.T) {
	c := selfSigned(t, "x", nil)
	k := jose.JSONWebKey{Key: c.key.Public(), Certificates: []*x509.Certificate{c.cert}}
	// go-jose writes x5t#S256 the same way when it marshals the JWK.
	var m map[string]any
	k.CertificateThumbprintSHA256 = must(base64Decode(Thumbprint(c.cert)))
	if err := json.Unmarshal(must(json.Marshal(k)), &m); err != nil {
		t.Fatal(err)
	}
	if m["x5t#S256"] != Thumbprint(c.cert) || len(Thumbprint(c.cert)) != 43 {
		t.Errorf("Thumbprint = %s, JWK x5t#S256 = %v", Thumbprint(c.cert), m["x5t#S256"])
	}
	var back jose.JSONWebKey
	if err := back.UnmarshalJSON(must(json.Marshal(k))); err != nil {
		t.Fatalf("go-jose refuses the thumbprint as x5t#S256: %v", err)
	}
}

func base64Decode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// self_signed_tls_client_auth with a jwks_uri: a certificate the client
// adds to its published set is found by one early fetch.
func TestVerifyCertificateSelfSignedJWKSURI(t *testing.T) {
	a := selfSigned(t, "billing", nil)
	b := selfSigned(t, "billing", nil)
	set := func(cs ...issued) []byte {
		var s jose.JSONWebKeySet
		for _, c := range cs {
			s.Keys = append(s.Keys, jose.JSONWebKey{Key: c.key.Public(), Certificates: []*x509.Certificate{c.cert}})
		}
		return must(json.Marshal(s))
	}
	ks := newKeyServer(t, set(a))
	clk := &clock{now: testNow}
	v := remoteVerifier(t, ks, clk, nil)
	app := &store.Application{ClientID: testClient, Auth: store.ClientAuth{Method: store.AuthSelfSignedTLS, JWKSURI: ks.URL + "/jwks"}}
	check := func(c issued, want string, hits int64) {
		t.Helper()
		wantRefusal(t, v.VerifyCertificate(context.Background(), app, []*x509.Certificate{c.cert}), want)
		if n := ks.hits.Load(); n != hits {
			t.Fatalf("%d fetches, want %d", n, hits)
		}
	}
	check(a, "", 1)
	clk.Advance(RefetchInterval)
	check(b, "not registered in the application's jwks_uri", 2)
	check(b, "not registered", 2) // no fetch per unknown certificate
	ks.set(func(ks *keyServer) { ks.jwks = set(a, b) })
	clk.Advance(RefetchInterval)
	check(b, "", 3)
}
