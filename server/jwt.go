package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"

	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/server/web"
	"github.com/oauthd/oauthd/store"
)

// Signer signs and verifies JWT access tokens (server/signing's Ring).
type Signer interface {
	Sign(signing.Claims) (string, error)
	Verify(ctx context.Context, token string) (signing.Claims, error)
	JWKS() ([]byte, error)
}

// JWKSPath is where the public signing keys are published (RFC 8414's
// jwks_uri).
const JWKSPath = "/.well-known/jwks.json"

var errJWTUnconfigured = &web.Error{
	Code:        "server_error",
	Description: "this application is set to get JWT access tokens, but the server has no JWT sealing key configured; an operator must set jwt.sealing_key_file or jwt.sealing_key (OAUTHD_JWT_SEALING_KEY)",
	Status:      http.StatusInternalServerError,
	Reason:      "jwt application without a configured signer",
}

// looksLikeJWT tells a compact JWS from oauthd's opaque tokens, which
// never hold a '.'.
func looksLikeJWT(token string) bool {
	return strings.HasPrefix(token, "eyJ") && strings.Count(token, ".") == 2
}

// TokenRef returns the reference of the record behind a presented token:
// an opaque token or API key by its shape, a JWT access token by the jti
// it carries once its signature and issuer check out; a JWT is then
// decided exactly as an opaque token is. Introspection, revocation and
// the admin API (admin.Config.TokenRef) all read tokens through it. ctx
// bounds the wait for a key reload that a JWT of an unknown kid causes.
func (s *Server) TokenRef(ctx context.Context, token string) (store.TokenRef, bool) {
	if ref, ok := credential.Parse(token); ok {
		return ref, true
	}
	if !looksLikeJWT(token) || s.cfg.Signer == nil || len(token) > 4096 {
		return store.TokenRef{}, false
	}
	c, err := s.verify(ctx, token)
	if err != nil || c.Issuer != s.cfg.Issuer {
		return store.TokenRef{}, false
	}
	ref, ok := store.ParseJTI(c.ID)
	if !ok || ref.ClientID != c.ClientID {
		return store.TokenRef{}, false
	}
	return ref, true
}

// verify checks a JWT's signature, in a span of its own when tracing (a
// key reload it causes shows as Redis commands below it). A token that
// fails is the caller's error, not the span's: the span says only
// whether it verified.
func (s *Server) verify(ctx context.Context, token string) (signing.Claims, error) {
	ctx, span := web.StartSpan(ctx, s.tracer, "jwt.verify")
	defer span.End()
	c, err := s.cfg.Signer.Verify(ctx, token)
	if span.IsRecording() { // spares the attribute's allocation when off
		span.SetAttributes(attribute.Bool("jwt.verified", err == nil))
	}
	return c, err
}

// handleJWKS is GET /.well-known/jwks.json: the keys that sign and will
// sign. Verifiers may cache it five minutes; a key is published at least
// that long before it signs (jwt.publish_delay). Until the ring has loaded
// its keys the set is unknown: a 503 nobody caches (web.WriteError), never
// an empty set cached for five minutes.
func (s *Server) handleJWKS(c echo.Context) error {
	if s.cfg.Signer == nil {
		return web.WriteError(c, &web.Error{Code: "not_found", Description: "this server issues no JWT access tokens", Status: http.StatusNotFound})
	}
	b, err := s.cfg.Signer.JWKS()
	if err != nil {
		return web.WriteError(c, err)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/jwk-set+json", b)
}
