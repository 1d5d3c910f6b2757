package server

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/server/web"
	"github.com/oauthd/oauthd/store"
)

func errNotPermitted(scope, what string) *web.Error {
	return &web.Error{
		Code:        "insufficient_scope",
		Description: "this application may not " + what + ": an operator must grant it the " + scope + " scope",
		Status:      http.StatusForbidden,
		Reason:      "caller lacks " + scope,
	}
}

// introspection is the answer of RFC 7662 §2.2, as oauthd sends it. The
// resource-server package decodes it into its own introspection:
// TestIntrospectionWireContract holds the two to the same fields, so the
// OAuth endpoints need not import their client.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	// Exp is absent for a token that never expires.
	Exp int64  `json:"exp,omitempty"`
	Iat int64  `json:"iat,omitempty"`
	Sub string `json:"sub,omitempty"`
	Iss string `json:"iss,omitempty"`
	Jti string `json:"jti,omitempty"`
	// Owner (an oauthd extension) is the account the token's application
	// belongs to.
	Owner string   `json:"owner,omitempty"`
	Aud   []string `json:"aud,omitempty"`
	// InactiveReason (an oauthd extension, opt-in) is "expired" or
	// "revoked", for inactive tokens only.
	InactiveReason string `json:"inactive_reason,omitempty"`
	// Cnf is the key or certificate a sender-constrained token is bound
	// to (RFC 9449 §6, RFC 8705 §3.1).
	Cnf *confirmation `json:"cnf,omitempty"`
}

// confirmation is a token's binding: a DPoP key's thumbprint or a client
// certificate's hash.
type confirmation struct {
	JKT     string `json:"jkt,omitempty"`
	X5tS256 string `json:"x5t#S256,omitempty"`
}

// clientIPParam is the introspection request's extension parameter
// carrying the address the token was presented from.
const clientIPParam = "client_ip"

// handleIntrospect is POST /oauth/introspect (RFC 7662). The caller is a
// resource server authenticating with its own client credentials; its
// application must hold tokens:introspect. The caller's application, the
// token, the token's application and its revocation tombstone are all read
// in one pipelined Redis round trip.
func (s *Server) handleIntrospect(c echo.Context) error {
	ctx := c.Request().Context()
	form, err := readForm(c)
	if err != nil {
		return web.WriteError(c, err)
	}
	cr, err := s.clientCredentials(c, form)
	if err != nil {
		return s.authError(c, nil, err)
	}
	id := cr.id
	ref, wellFormed := s.TokenRef(ctx, form.Get("token"))
	var lookup store.TokenLookup
	if wellFormed {
		lookup, err = s.store.LookupTokenFor(ctx, ref, store.Caller{ClientID: id, Addr: s.lockAddr(c)})
	} else {
		// Nothing to look up but the caller (and its lock-out).
		var app store.Application
		app, err = s.store.GetApplication(ctx, id)
		if err == nil {
			lookup.Also = &app
			if s.limited {
				addr := web.Addr(c)
				lookup.AlsoLocked, err = s.cfg.Limits.ClientLocked(ctx, id, addr, app.InAllowlist(addr))
			}
		} else if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
	}
	if err != nil {
		return web.WriteError(c, err)
	}
	caller := lookup.Also
	if _, err := s.authenticate(c, caller, &cr); err != nil {
		return s.authError(c, caller, err)
	}
	if lookup.AlsoLocked > 0 {
		return web.WriteError(c, errLockedOut(lookup.AlsoLocked))
	}
	if !slices.Contains(caller.Scopes, scopes.Introspect) {
		return web.WriteError(c, errNotPermitted(scopes.Introspect, "introspect tokens"))
	}
	if !form.Has("token") {
		return web.WriteError(c, errInvalidRequest("token is required (RFC 7662 §2.1)"))
	}
	if err := s.takeQuota(c, caller, introspectQuota); err != nil {
		return web.WriteError(c, err)
	}
	// token_type_hint needs no handling: oauthd has one kind of token, and
	// RFC 7662 §2.1 says an unknown hint must not fail the request.

	web.NoStore(c.Response().Header())
	log := web.Log(c)
	if !wellFormed {
		log.Add(slog.Bool("active", false), slog.String("inactive_reason", "malformed"))
		return s.writeInactive(c, credential.ReasonUnknown)
	}
	cat, err := s.cfg.Catalogue.Catalogue(ctx)
	if err != nil {
		return web.WriteError(c, err)
	}
	use := credential.Use{Now: s.cfg.Now(), AllowUnknownAddr: s.cfg.AllowUnknownClientIP, Catalogue: cat}
	if raw := form.Get(clientIPParam); raw != "" {
		a, err := netip.ParseAddr(raw)
		if err != nil || a.Zone() != "" {
			return web.WriteError(c, errInvalidRequest("%s must be an IP address, the one the token was presented from", clientIPParam))
		}
		use.Addr = a.Unmap()
	}
	v := credential.State(lookup, use)
	log.Add(slog.String("token_client_id", ref.ClientID))
	if lookup.Token != nil {
		log.Add(slog.String("jti", lookup.Token.ID))
	}
	if v.Reason != "" {
		log.Add(slog.Bool("active", false), slog.String("inactive_reason", v.Reason))
		return s.writeInactive(c, v.Reason)
	}
	log.Add(slog.Bool("active", true))
	t := lookup.Token
	out := introspection{
		Active:    true,
		Scope:     scopes.Format(v.Scopes),
		ClientID:  t.ClientID,
		TokenType: tokenType(t.Confirmation),
		Iat:       t.IssuedAt.Unix(),
		Sub:       t.ClientID,
		Iss:       s.cfg.Issuer,
		Jti:       t.ID,
		Owner:     lookup.App.Owner,
		Aud:       t.Audiences,
		Cnf:       cnfAnswer(t.Confirmation),
	}
	if !v.Expires.IsZero() {
		out.Exp = v.Expires.Unix()
	}
	return writeIntrospection(c, &out)
}

// writeInactive answers {"active":false}, with the reason only when the
// operator enabled it and it is one a resource server can act on.
func (s *Server) writeInactive(c echo.Context, reason string) error {
	var out introspection
	if s.cfg.InactiveReason && (reason == credential.ReasonExpired || reason == credential.ReasonRevoked) {
		out.InactiveReason = reason
	}
	return writeIntrospection(c, &out)
}
