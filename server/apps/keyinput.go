package apps

import (
	"bytes"
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
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// ParseKeys reads public keys as an operator pastes or points at them: a
// JWK Set, one JWK, or PEM blocks (PUBLIC KEY, RSA PUBLIC KEY,
// CERTIFICATE), and returns a JWK Set (JSON) for ClientAuth.JWKS, which
// the service then validates. Empty text is no keys (nil).
func ParseKeys(text []byte) ([]byte, error) {
	text = bytes.TrimSpace(text)
	switch {
	case len(text) == 0:
		return nil, nil
	case text[0] == '{':
		var probe struct {
			Keys json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(text, &probe); err != nil {
			return nil, Invalid(fieldJWKS, "not JSON: "+err.Error())
		}
		if probe.Keys != nil {
			return text, nil // a JWK Set
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(text); err != nil {
			return nil, Invalid(fieldJWKS, "neither a JWK Set ({\"keys\": [...]}) nor a JWK: "+err.Error())
		}
		if !k.IsPublic() {
			return nil, Invalid(fieldJWKS, "a private key: give its public part only (oauthd never needs the private key)")
		}
		return json.Marshal(map[string][]json.RawMessage{"keys": {text}})
	}
	keys, err := PEMKeys(text)
	if err != nil {
		return nil, Invalid(fieldJWKS, err.Error())
	}
	return json.Marshal(jose.JSONWebKeySet{Keys: keys})
}

// PEMKeys reads every public key and certificate of PEM text as JWKs: a
// certificate's key with the certificate as x5c (what
// self_signed_tls_client_auth matches), each with its RFC 7638 thumbprint
// as kid and, where the key allows only one, its alg. A private key is
// refused: it has no business leaving the client.
func PEMKeys(b []byte) ([]jose.JSONWebKey, error) {
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
				return nil, err
			}
			k.Key = pub
		case "RSA PUBLIC KEY":
			pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, err
			}
			k.Key = pub
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, err
			}
			k.Key, k.Certificates = cert.PublicKey, []*x509.Certificate{cert}
		default:
			if strings.Contains(block.Type, "PRIVATE KEY") {
				return nil, errors.New("a private key: give its public part (openssl pkey -in KEY -pubout) or its certificate; oauthd never needs the private key")
			}
			return nil, fmt.Errorf("a PEM %q block: give PUBLIC KEY or CERTIFICATE blocks", block.Type)
		}
		k.Use, k.Algorithm = "sig", onlyAlg(k.Key)
		tp, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, err
		}
		k.KeyID = base64.RawURLEncoding.EncodeToString(tp)
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM block found (-----BEGIN PUBLIC KEY----- or -----BEGIN CERTIFICATE-----)")
	}
	return out, nil
}

// onlyAlg is the one algorithm a key can sign with, or "" for RSA keys,
// which sign with RS256 or PS256 alike.
func onlyAlg(pub any) string {
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
