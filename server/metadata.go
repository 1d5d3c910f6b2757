package server

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/web"
)

// metadata is the RFC 8414 authorization server metadata document.
type metadata struct {
	Issuer                                    string   `json:"issuer"`
	TokenEndpoint                             string   `json:"token_endpoint"`
	IntrospectionEndpoint                     string   `json:"introspection_endpoint"`
	RevocationEndpoint                        string   `json:"revocation_endpoint"`
	GrantTypesSupported                       []string `json:"grant_types_supported"`
	ResponseTypesSupported                    []string `json:"response_types_supported"`
	TokenEndpointAuthMethodsSupported         []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	// The algorithms of client assertions (client_secret_jwt,
	// private_key_jwt) at each endpoint.
	TokenEndpointAuthSigningAlgValuesSupported         []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionEndpointAuthSigningAlgValuesSupported []string `json:"introspection_endpoint_auth_signing_alg_values_supported"`
	RevocationEndpointAuthSigningAlgValuesSupported    []string `json:"revocation_endpoint_auth_signing_alg_values_supported"`
	// TLSClientCertificateBoundAccessTokens (RFC 8705 §3.3): a client
	// certificate binds the token, wherever certificates reach oauthd.
	TLSClientCertificateBoundAccessTokens bool `json:"tls_client_certificate_bound_access_tokens"`
	// MTLSEndpointAliases (RFC 8705 §5) are the endpoints served with
	// mutual TLS elsewhere (client_auth.mtls_base_url).
	MTLSEndpointAliases  *mtlsAliases `json:"mtls_endpoint_aliases,omitempty"`
	ScopesSupported      []string     `json:"scopes_supported"`
	ServiceDocumentation string       `json:"service_documentation,omitempty"`
	// JWKSURI publishes the keys of JWT access tokens, when the server
	// signs any.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// RevocationFeedEndpoint is an oauthd extension (RFC 8414 §2 allows
	// them): the Server-Sent Events feed of revocations (docs/api.md).
	RevocationFeedEndpoint string `json:"revocation_feed_endpoint,omitempty"`
	// DPoPSigningAlgValuesSupported (RFC 9449 §5.1): the DPoP proof
	// algorithms the token endpoint takes.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
}

// mtlsAliases are the endpoints at client_auth.mtls_base_url.
type mtlsAliases struct {
	TokenEndpoint          string `json:"token_endpoint"`
	IntrospectionEndpoint  string `json:"introspection_endpoint"`
	RevocationEndpoint     string `json:"revocation_endpoint"`
	RevocationFeedEndpoint string `json:"revocation_feed_endpoint,omitempty"`
}

// metadataDoc is a rendered metadata document and the catalogue it lists:
// Server.metadata holds the last one rendered.
type metadataDoc struct {
	cat  *scopes.Catalogue
	body []byte
}

// metadataDocument renders the document for the catalogue in force: it
// changes only with the configuration and the catalogue.
func (s *Server) metadataDocument(cat *scopes.Catalogue) []byte {
	auth, algs := s.authMethodsSupported(), s.authAlgsSupported()
	var aliases *mtlsAliases
	if base := s.cfg.MTLSBaseURL; base != "" {
		aliases = &mtlsAliases{TokenEndpoint: base + TokenPath, IntrospectionEndpoint: base + IntrospectPath, RevocationEndpoint: base + RevokePath}
		if s.cfg.Feed != nil {
			aliases.RevocationFeedEndpoint = base + FeedPath
		}
	}
	var jwks string
	if s.cfg.Signer != nil {
		jwks = s.cfg.Issuer + JWKSPath
	}
	feed := ""
	if s.cfg.Feed != nil {
		feed = s.cfg.Issuer + FeedPath
	}
	dpopAlgs := s.bind.verifier.Algorithms()
	b, _ := json.Marshal(metadata{ // strings only: cannot fail
		JWKSURI:               jwks,
		Issuer:                s.cfg.Issuer,
		TokenEndpoint:         s.cfg.Issuer + TokenPath,
		IntrospectionEndpoint: s.cfg.Issuer + IntrospectPath,
		RevocationEndpoint:    s.cfg.Issuer + RevokePath,
		GrantTypesSupported:   s.grants.supported(),
		// RFC 8414 makes this field required; oauthd has no authorization
		// endpoint, so it supports no response type.
		ResponseTypesSupported:                             []string{},
		TokenEndpointAuthMethodsSupported:                  auth,
		IntrospectionEndpointAuthMethodsSupported:          auth,
		RevocationEndpointAuthMethodsSupported:             auth,
		TokenEndpointAuthSigningAlgValuesSupported:         algs,
		IntrospectionEndpointAuthSigningAlgValuesSupported: algs,
		RevocationEndpointAuthSigningAlgValuesSupported:    algs,
		MTLSEndpointAliases:                                aliases,
		ScopesSupported:                                    cat.Names(),
		ServiceDocumentation:                               s.cfg.ServiceDocumentation,
		RevocationFeedEndpoint:                             feed,
		DPoPSigningAlgValuesSupported:                      dpopAlgs,
		TLSClientCertificateBoundAccessTokens:              s.cfg.MTLS || s.bind.cfg.TLS,
	})
	return b
}

// handleMetadata is GET /.well-known/oauth-authorization-server (RFC 8414).
// The document is rendered again only when the catalogue changed (on any
// replica, or through the CLI); while the store cannot be read, the last
// one rendered is served.
func (s *Server) handleMetadata(c echo.Context) error {
	doc := s.metadata.Load()
	cat, err := s.cfg.Catalogue.Catalogue(c.Request().Context())
	switch {
	case err != nil && doc == nil:
		return web.WriteError(c, err)
	case err == nil && (doc == nil || doc.cat != cat):
		doc = &metadataDoc{cat: cat, body: s.metadataDocument(cat)}
		s.metadata.Store(doc)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/json", doc.body)
}
