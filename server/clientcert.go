package server

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"

	"github.com/labstack/echo/v4"
)

// clientCertificate is the certificate the client presented (the leaf),
// nil when none: on oauthd's own TLS connection, or forwarded by a trusted
// proxy (clientChain, Config.ClientCertHeader).
func (s *Server) clientCertificate(c echo.Context) (*x509.Certificate, error) {
	chain, err := s.clientChain(c)
	if err != nil || len(chain) == 0 {
		return nil, err
	}
	return chain[0], nil
}

// certThumbprint is RFC 8705 §3.1's x5t#S256: base64url SHA-256 of the
// certificate's DER.
func certThumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
