package oauthclient

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
)

// DPoP makes DPoP proofs (RFC 9449 §4) with one key. Client makes one of
// its DPoPKey; it is exported for programs that build their requests
// themselves. It is safe for concurrent use.
type DPoP struct {
	signer jose.Signer
	jkt    string
	now    func() time.Time
}

// NewDPoP returns a proof maker for key: *ecdsa.PrivateKey on P-256
// (ES256, the cheapest for a resource server to verify), ed25519 (EdDSA),
// *rsa.PrivateKey of at least 2048 bits (RS256), or any crypto.Signer
// holding one of these, such as a key in an HSM.
func NewDPoP(key crypto.Signer) (*DPoP, error) {
	alg, err := algorithm(key)
	if err != nil {
		return nil, fmt.Errorf("oauthclient: DPoP key: %w", err)
	}
	opaque := cryptosigner.Opaque(key)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: opaque},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		return nil, fmt.Errorf("oauthclient: DPoP key: %w", err)
	}
	sum, err := opaque.Public().Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("oauthclient: DPoP key: %w", err)
	}
	return &DPoP{signer: s, jkt: base64.RawURLEncoding.EncodeToString(sum), now: time.Now}, nil
}

// Thumbprint is the key's RFC 7638 SHA-256 thumbprint, base64url: the
// cnf.jkt of the tokens bound to it.
func (d *DPoP) Thumbprint() string { return d.jkt }

// proofClaims are a proof's claims (RFC 9449 §4.2).
type proofClaims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	ATH   string `json:"ath,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

// Proof makes a proof for a request: method, its URI (the query and
// fragment are left out of htu), the access token it presents (empty
// for a token request: no ath) and the server's latest nonce, if any.
func (d *DPoP) Proof(method, uri, accessToken, nonce string) (string, error) {
	htu, err := targetURI(uri)
	if err != nil {
		return "", err
	}
	c := proofClaims{JTI: randomID(), HTM: method, HTU: htu, IAT: d.now().Unix(), Nonce: nonce}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c.ATH = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return sign(d.signer, c)
}

// targetURI is htu: scheme, host and path of uri, without query and
// fragment (RFC 9449 §4.2), the scheme and host lower-cased and a default
// port dropped, as RFC 3986 §6.2.3 normalizes them.
func targetURI(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("oauthclient: %q is not an absolute http or https URL", uri)
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if p := u.Port(); scheme == "https" && p == "443" || scheme == "http" && p == "80" {
		host = strings.TrimSuffix(host, ":"+p)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}

// algorithm is the JWS algorithm for key.
func algorithm(key crypto.Signer) (jose.SignatureAlgorithm, error) {
	if key == nil {
		return "", errors.New("no key")
	}
	switch pub := key.Public().(type) {
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return "", errors.New("an ECDSA key must be on P-256 (ES256)")
		}
		return jose.ES256, nil
	case ed25519.PublicKey:
		return jose.EdDSA, nil
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return "", errors.New("an RSA key must have at least 2048 bits")
		}
		return jose.RS256, nil
	}
	return "", fmt.Errorf("a %T key is not one of ECDSA P-256, Ed25519 or RSA", key.Public())
}

// randomID is a jti: 128 random bits, base64url.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
