package clientauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"net"
	"net/url"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oauthd/oauthd/store"
)

// Thumbprint is a certificate's SHA-256 thumbprint as JOSE and RFC 8705
// §3.1 write it (x5t#S256): base64url, unpadded, of the DER.
func Thumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// VerifyCertificate verifies that the client certificate chain (leaf
// first, as TLS presents it) authenticates app (RFC 8705 §2):
//
//   - tls_client_auth: the chain verifies against Config.ClientCAs for
//     client authentication, and the leaf carries the one subject the
//     application registered: its subject DN (compared as normalised RFC
//     4514 strings), or a DNS, URI, IP or email SAN.
//   - self_signed_tls_client_auth: the leaf is within its validity period
//     and is, byte for byte, a certificate registered in x5c of the
//     application's JWKS (inline or at its jwks_uri). No chain is built:
//     the registration is the trust.
//
// Every refusal is an *Error.
func (v *Verifier) VerifyCertificate(ctx context.Context, app *store.Application, chain []*x509.Certificate) error {
	if app == nil {
		return refuse("no application")
	}
	if len(chain) == 0 || chain[0] == nil {
		return refuse("no client certificate was presented")
	}
	switch app.Auth.Method {
	case store.AuthTLS:
		return v.verifyPKI(app, chain)
	case store.AuthSelfSignedTLS:
		return v.verifySelfSigned(ctx, app, chain[0])
	}
	return refuse("application %s authenticates with %s, not a client certificate", app.ClientID, methodName(app.Auth.Method))
}

func (v *Verifier) verifyPKI(app *store.Application, chain []*x509.Certificate) error {
	if v.cfg.ClientCAs == nil {
		return refuse("tls_client_auth is not available: no client CA configured (tls.client_ca_file)")
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		if c != nil {
			inter.AddCert(c)
		}
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         v.cfg.ClientCAs,
		Intermediates: inter,
		CurrentTime:   v.cfg.Now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return refuse("client certificate (x5t#S256 %s) does not verify against the client CA: %v", Thumbprint(leaf), err)
	}
	a := app.Auth
	set := 0
	for _, s := range []string{a.SubjectDN, a.SANDNS, a.SANURI, a.SANIP, a.SANEmail} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return refuse("application %s has %d certificate subjects registered, not exactly one (RFC 8705 §2.1.2)", app.ClientID, set)
	}
	var ok bool
	var what string
	switch {
	case a.SubjectDN != "":
		what = "subject DN"
		want, err := ValidateSubjectDN(a.SubjectDN)
		if err != nil {
			return refuse("application %s has an invalid subject DN registered: %v", app.ClientID, err)
		}
		ok = certSubject(leaf) == want
	case a.SANDNS != "":
		what = "DNS SAN"
		want := strings.TrimSuffix(a.SANDNS, ".")
		ok = slices.ContainsFunc(leaf.DNSNames, func(n string) bool { return strings.EqualFold(strings.TrimSuffix(n, "."), want) })
	case a.SANURI != "":
		what = "URI SAN"
		ok = slices.ContainsFunc(leaf.URIs, func(u *url.URL) bool { return u.String() == a.SANURI })
	case a.SANIP != "":
		what = "IP SAN"
		want := net.ParseIP(a.SANIP)
		ok = want != nil && slices.ContainsFunc(leaf.IPAddresses, want.Equal)
	case a.SANEmail != "":
		what = "email SAN"
		ok = slices.ContainsFunc(leaf.EmailAddresses, func(e string) bool { return sameEmail(e, a.SANEmail) })
	}
	if !ok {
		return refuse("client certificate (x5t#S256 %s) does not carry the application's registered %s", Thumbprint(leaf), what)
	}
	return nil
}

// sameEmail compares addresses: the local part exactly (RFC 5321 §2.4
// leaves its case to the receiving host), the domain ignoring case.
func sameEmail(a, b string) bool {
	al, ad, ok1 := strings.Cut(a, "@")
	bl, bd, ok2 := strings.Cut(b, "@")
	return ok1 && ok2 && al == bl && strings.EqualFold(ad, bd)
}

func (v *Verifier) verifySelfSigned(ctx context.Context, app *store.Application, leaf *x509.Certificate) error {
	now := v.cfg.Now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return refuse("client certificate (x5t#S256 %s) is outside its validity period", Thumbprint(leaf))
	}
	registered := func(ks *keySet) bool {
		return slices.ContainsFunc(ks.keys, func(k jose.JSONWebKey) bool {
			return len(k.Certificates) > 0 && bytes.Equal(k.Certificates[0].Raw, leaf.Raw)
		})
	}
	if app.Auth.JWKSURI != "" {
		src := source{kind: sourceJWKS, url: app.Auth.JWKSURI}
		ks, err := v.remote.get(ctx, src, false)
		if err != nil {
			return err
		}
		if !registered(ks) {
			// A new certificate: fetch again, at most once per
			// RefetchInterval.
			if ks, err = v.remote.get(ctx, src, true); err != nil || !registered(ks) {
				return refuse("client certificate (x5t#S256 %s) is not registered in the application's jwks_uri", Thumbprint(leaf))
			}
		}
		return nil
	}
	ks, err := v.inlineKeys(app.Auth.JWKS)
	if err != nil {
		return err
	}
	if !registered(ks) {
		return refuse("client certificate (x5t#S256 %s) is not registered in the application's jwks (x5c)", Thumbprint(leaf))
	}
	return nil
}
