package introspect

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
)

// Certificate-bound access tokens (RFC 8705 §3): a token whose answer
// carries cnf["x5t#S256"] is accepted only from a client that presented
// that certificate in the TLS handshake. The certificate's chain is the
// TLS server's business (its ClientCAs, or none: RFC 8705 §2.2 binds
// self-signed certificates too); here only its SHA-256 is compared.
//
// Behind a proxy that terminates TLS, the proxy forwards the certificate
// in a header (Config.ClientCertHeader), believed only when the request
// comes from one of Config.TrustedProxies: the clientip rule, so the
// caller's address and its certificate are taken from the same hops.

// clientCertDigest returns the SHA-256 of the DER certificate r's client
// presented, and false when it presented none.
func (c *Client) clientCertDigest(r *http.Request) ([sha256.Size]byte, bool) {
	if c.certHeader != "" && c.proxies.TrustsPeer(r) {
		vals := r.Header.Values(c.certHeader)
		if len(vals) != 1 {
			return [sha256.Size]byte{}, false
		}
		der, ok := parseCertHeader(vals[0])
		if !ok {
			return [sha256.Size]byte{}, false
		}
		return sha256.Sum256(der), true
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return [sha256.Size]byte{}, false
	}
	return sha256.Sum256(r.TLS.PeerCertificates[0].Raw), true
}

// parseCertHeader reads a forwarded certificate: RFC 9440's Client-Cert
// (a Structured Field byte sequence, ":" base64 of the DER ":"), or a
// URL-encoded PEM certificate (nginx's $ssl_client_escaped_cert).
func parseCertHeader(v string) ([]byte, bool) {
	v = strings.TrimSpace(v)
	if inner, ok := strings.CutPrefix(v, ":"); ok {
		inner, ok = strings.CutSuffix(inner, ":")
		if !ok {
			return nil, false
		}
		der, err := base64.StdEncoding.DecodeString(inner)
		return der, err == nil && len(der) > 0
	}
	text, err := url.PathUnescape(v) // not QueryUnescape: a "+" of the base64 stays one
	if err != nil {
		return nil, false
	}
	block, _ := pem.Decode([]byte(text))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, false
	}
	return block.Bytes, true
}

// certMatches reports whether r's client certificate is the one x5t
// (base64url SHA-256, RFC 8705 §3.1) names.
func (c *Client) certMatches(r *http.Request, x5t string) bool {
	sum, ok := c.clientCertDigest(r)
	if !ok {
		return false
	}
	var enc [43]byte
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	return string(enc[:]) == x5t
}
