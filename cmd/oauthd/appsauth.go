package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/spf13/pflag"

	"github.com/oauthd/oauthd/server/admin/adminapi"
	"github.com/oauthd/oauthd/server/apps"
)

// authFlags are the flags of an application's client authentication
// (issue 18), for create and update: the method and its material, in
// whichever form an operator holds it.
type authFlags struct {
	method, jwksFile, jwksURI                      string
	jwk, publicKeyFiles                            []string
	subjectDN, sanDNS, sanURI, sanIP, sanEmail     string
	trustedIssuer, trustedSubject, trustedAudience string
	trustedJWKSURI                                 string
	names                                          []string // the flags' names, to tell whether any was given
}

func (a *authFlags) add(f *pflag.FlagSet) {
	str := func(p *string, name, usage string) {
		f.StringVar(p, name, "", usage)
		a.names = append(a.names, name)
	}
	arr := func(p *[]string, name, usage string) {
		f.StringArrayVar(p, name, nil, usage)
		a.names = append(a.names, name)
	}
	str(&a.method, "auth-method", "how it authenticates: client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, tls_client_auth or self_signed_tls_client_auth (default: a shared secret by basic or post)")
	str(&a.jwksFile, "jwks-file", "a JWK Set file (JSON) of its public keys, for private_key_jwt (or, with x5c, self_signed_tls_client_auth)")
	arr(&a.jwk, "jwk", "a public key as a JWK (JSON); repeatable")
	arr(&a.publicKeyFiles, "public-key-file", "a PEM file of public keys (PUBLIC KEY) or certificates (CERTIFICATE, kept as x5c); repeatable")
	str(&a.jwksURI, "jwks-uri", "the https URL where it publishes its JWK Set")
	str(&a.subjectDN, "tls-subject-dn", "tls_client_auth: the client certificate's subject DN (RFC 4514), e.g. CN=billing,O=Example")
	str(&a.sanDNS, "tls-san-dns", "tls_client_auth: a DNS name in the certificate's SAN")
	str(&a.sanURI, "tls-san-uri", "tls_client_auth: a URI in the certificate's SAN (e.g. a SPIFFE ID)")
	str(&a.sanIP, "tls-san-ip", "tls_client_auth: an IP address in the certificate's SAN")
	str(&a.sanEmail, "tls-san-email", "tls_client_auth: an email address in the certificate's SAN")
	str(&a.trustedIssuer, "trusted-issuer", "workload identity (private_key_jwt): the https issuer whose tokens it presents (a Kubernetes service-account issuer, a CI's OIDC issuer)")
	str(&a.trustedSubject, "trusted-subject", "workload identity: the sub those tokens must carry, e.g. system:serviceaccount:sms:billing")
	str(&a.trustedAudience, "trusted-audience", "workload identity: the aud those tokens must name")
	str(&a.trustedJWKSURI, "trusted-jwks-uri", "workload identity: the issuer's JWK Set, when OIDC discovery does not find it")
}

// given reports whether any authentication flag was.
func (a *authFlags) given(f *pflag.FlagSet) bool {
	for _, n := range a.names {
		if f.Changed(n) {
			return true
		}
	}
	return false
}

// clientAuth is what the flags say, as the admin API takes it; the keys
// of --jwks-file, --jwk and --public-key-file are gathered in one JWK Set.
func (a *authFlags) clientAuth() (adminapi.ClientAuth, error) {
	out := adminapi.ClientAuth{
		TokenEndpointAuthMethod: a.method, JWKSURI: a.jwksURI,
		TLSClientAuthSubjectDN: a.subjectDN, TLSClientAuthSANDNS: a.sanDNS, TLSClientAuthSANURI: a.sanURI,
		TLSClientAuthSANIP: a.sanIP, TLSClientAuthSANEmail: a.sanEmail,
	}
	if a.trustedIssuer != "" || a.trustedSubject != "" || a.trustedAudience != "" || a.trustedJWKSURI != "" {
		out.WorkloadIdentity = &adminapi.WorkloadIdentity{Issuer: a.trustedIssuer, Subject: a.trustedSubject,
			Audience: a.trustedAudience, JWKSURI: a.trustedJWKSURI}
	}
	var keys []json.RawMessage
	if a.jwksFile != "" {
		b, err := os.ReadFile(a.jwksFile)
		if err != nil {
			return out, fmt.Errorf("--jwks-file: %w", err)
		}
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(b, &set); err != nil || set.Keys == nil {
			return out, fmt.Errorf(`--jwks-file %s: not a JWK Set ({"keys": [...]}); for one key use --jwk, for PEM --public-key-file`, a.jwksFile)
		}
		keys = append(keys, set.Keys...)
	}
	for _, j := range a.jwk {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON([]byte(j)); err != nil {
			return out, fmt.Errorf("--jwk %.40q: not a JWK: %w", j, err)
		}
		if !k.IsPublic() {
			return out, errors.New("--jwk holds a private key: give its public part only (oauthd never needs the private key)")
		}
		keys = append(keys, json.RawMessage(j))
	}
	for _, file := range a.publicKeyFiles {
		list, err := pemKeys(file)
		if err != nil {
			return out, err
		}
		for _, k := range list {
			b, err := k.MarshalJSON()
			if err != nil {
				return out, fmt.Errorf("--public-key-file %s: %w", file, err)
			}
			keys = append(keys, b)
		}
	}
	if len(keys) > 0 {
		b, err := json.Marshal(map[string]any{"keys": keys})
		if err != nil {
			return out, err
		}
		out.JWKS = b
	}
	return out, nil
}

// pemKeys reads every public key and certificate of a PEM file as JWKs: a
// certificate's key with the certificate as x5c (what
// self_signed_tls_client_auth matches), each with its RFC 7638
// thumbprint as kid unless the key says otherwise.
func pemKeys(file string) ([]jose.JSONWebKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--public-key-file: %w", err)
	}
	var out []jose.JSONWebKey
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		var k jose.JSONWebKey
		switch block.Type {
		case "PUBLIC KEY":
			pub, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("--public-key-file %s: %w", file, err)
			}
			k.Key = pub
		case "RSA PUBLIC KEY":
			pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("--public-key-file %s: %w", file, err)
			}
			k.Key = pub
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("--public-key-file %s: %w", file, err)
			}
			k.Key, k.Certificates = cert.PublicKey, []*x509.Certificate{cert}
		default:
			if strings.Contains(block.Type, "PRIVATE KEY") {
				return nil, fmt.Errorf("--public-key-file %s holds a private key: give its public part (openssl pkey -in KEY -pubout) or its certificate; oauthd never needs the private key", file)
			}
			return nil, fmt.Errorf("--public-key-file %s: a PEM %q block: give PUBLIC KEY or CERTIFICATE blocks", file, block.Type)
		}
		k.Use, k.Algorithm = "sig", defaultAlg(k.Key)
		tp, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("--public-key-file %s: %w", file, err)
		}
		k.KeyID = base64.RawURLEncoding.EncodeToString(tp)
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--public-key-file %s: no PEM block found (-----BEGIN PUBLIC KEY----- or -----BEGIN CERTIFICATE-----)", file)
	}
	return out, nil
}

// defaultAlg is the one algorithm a key can sign with, or "" for RSA
// keys, which sign with RS256 or PS256 alike.
func defaultAlg(pub any) string {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return "EdDSA"
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return "ES256"
		}
	}
	return ""
}

// authRows are an application's authentication as 'apps get' prints it:
// the method, then its keys (kid, kty, alg, thumbprint), URL, certificate
// subject or trusted issuer.
func authRows(a adminapi.Application) [][2]string {
	method := a.TokenEndpointAuthMethod
	if method == "" {
		method = "client_secret_basic or client_secret_post (a shared secret)"
	}
	rows := [][2]string{{"token_endpoint_auth_method", method}}
	for _, k := range apps.Keys(a.JWKS) {
		v := fmt.Sprintf("kty %s, alg %s, thumbprint %s", k.KeyType, orAny(k.Algorithm), k.Thumbprint)
		if k.Certificate != "" {
			v += ", certificate " + k.Certificate
		}
		rows = append(rows, [2]string{"key " + orAny(k.KeyID), v})
	}
	for _, r := range [][2]string{
		{"jwks_uri", a.JWKSURI}, {"tls_client_auth_subject_dn", a.TLSClientAuthSubjectDN},
		{"tls_client_auth_san_dns", a.TLSClientAuthSANDNS}, {"tls_client_auth_san_uri", a.TLSClientAuthSANURI},
		{"tls_client_auth_san_ip", a.TLSClientAuthSANIP}, {"tls_client_auth_san_email", a.TLSClientAuthSANEmail},
	} {
		if r[1] != "" {
			rows = append(rows, r)
		}
	}
	if w := a.WorkloadIdentity; w != nil {
		v := fmt.Sprintf("issuer %s, subject %s, audience %s", w.Issuer, w.Subject, w.Audience)
		if w.JWKSURI != "" {
			v += ", jwks_uri " + w.JWKSURI
		}
		rows = append(rows, [2]string{"workload_identity", v})
	}
	return rows
}

func orAny(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
