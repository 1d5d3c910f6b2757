package introspect

import (
	"context"
	"net/netip"
	"strings"
	"time"
)

// Response is the introspection response of RFC 7662 §2.2, as oauthd sends
// it. An inactive token is answered with Active false and nothing else,
// except InactiveReason when the operator enabled it.
//
// A Response handed out by Client or FromContext may be shared with other
// requests presenting the same token (it comes from the cache): treat it as
// read-only.
type Response struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	// Exp is absent (zero) for a token that never expires.
	Exp int64  `json:"exp,omitempty"`
	Iat int64  `json:"iat,omitempty"`
	Sub string `json:"sub,omitempty"`
	Iss string `json:"iss,omitempty"`
	Jti string `json:"jti,omitempty"`
	// Owner is an oauthd extension: the account the token's application
	// belongs to (say, whom an SMS API bills), absent when it has none.
	Owner string `json:"owner,omitempty"`
	// Aud names the resource servers the token is for (RFC 7662 §2.2,
	// RFC 9068 aud); absent: any.
	Aud []string `json:"aud,omitempty"`
	// InactiveReason is an oauthd extension: "expired" or "revoked", sent
	// only for inactive tokens and only when the operator opted in.
	InactiveReason string `json:"inactive_reason,omitempty"`
	// Cnf is the key or certificate the token is bound to, if any: the
	// middleware then accepts it only from a client proving possession.
	Cnf Confirmation `json:"cnf,omitzero"`

	// allow is a locally validated JWT's ip_allowlist claim: the answer
	// is cached for the token alone, and the caller's address checked
	// against it on every use.
	allow []netip.Prefix
}

// Confirmation is the cnf member (RFC 7800 §3.1) of a sender-constrained
// token's introspection answer or JWT claims.
type Confirmation struct {
	// JKT is the base64url SHA-256 JWK thumbprint (RFC 7638) of the key
	// a DPoP-bound token is bound to (RFC 9449 §6).
	JKT string `json:"jkt,omitempty"`
	// X5tS256 is the base64url SHA-256 of the DER client certificate a
	// certificate-bound token is bound to (RFC 8705 §3.1).
	X5tS256 string `json:"x5t#S256,omitempty"`
}

// DPoPBound reports whether the token must be presented with a DPoP proof:
// it names a key (cnf.jkt), or its token_type says DPoP (RFC 9449 §6.2),
// in which case an answer without a key binds it to no key and it is
// refused either way.
func (r *Response) DPoPBound() bool {
	return r.Cnf.JKT != "" || strings.EqualFold(r.TokenType, "DPoP")
}

// ClientIPParam is the introspection request's extension parameter
// carrying the address the token was presented from.
const ClientIPParam = "client_ip"

// Reasons oauthd may give in InactiveReason.
const (
	ReasonExpired = "expired"
	ReasonRevoked = "revoked"
)

// Scopes returns the granted scopes. RFC 7662 §2.2 makes scope a
// space-separated list (the syntax of RFC 6749 §3.3).
func (r *Response) Scopes() []string { return strings.Fields(r.Scope) }

// HasScope reports whether scope s was granted. It walks the list in place
// rather than calling Scopes, because the middleware runs it on every
// request.
func (r *Response) HasScope(s string) bool {
	if s == "" {
		return false
	}
	rest := r.Scope
	for rest != "" {
		var f string
		f, rest, _ = strings.Cut(rest, " ")
		if f == s {
			return true
		}
	}
	return false
}

// ExpiresAt is Exp as a time, or the zero time for a token that never
// expires.
func (r *Response) ExpiresAt() time.Time {
	if r.Exp == 0 {
		return time.Time{}
	}
	return time.Unix(r.Exp, 0)
}

type ctxKey struct{}

// NewContext returns ctx carrying r. The middleware uses it; handler tests
// can use it to fake an authenticated request without oauthd.
func NewContext(ctx context.Context, r *Response) context.Context {
	return context.WithValue(ctx, ctxKey{}, r)
}

// FromContext returns the introspection answer the middleware stored for an
// accepted request.
func FromContext(ctx context.Context) (*Response, bool) {
	r, ok := ctx.Value(ctxKey{}).(*Response)
	return r, ok && r != nil
}
