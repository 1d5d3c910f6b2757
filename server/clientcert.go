package server

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"

	"github.com/labstack/echo/v4"
)

// clientCertificate is the certificate the client presented on the TLS
// connection (the leaf), nil when none. A certificate forwarded by a
// trusted proxy in a header (issue 18's tls.client_cert_header) plugs in
// here: it is the one place the token endpoint asks.
func clientCertificate(c echo.Context) *x509.Certificate {
	if st := c.Request().TLS; st != nil && len(st.PeerCertificates) > 0 {
		return st.PeerCertificates[0]
	}
	return nil
}

// certThumbprint is RFC 8705 §3.1's x5t#S256: base64url SHA-256 of the
// certificate's DER.
func certThumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
