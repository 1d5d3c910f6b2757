package signing

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/oauthd/oauthd/store"
)

// Type is the JWT access token's typ header (RFC 9068 §2.1).
const Type = "at+jwt"

// Claims are an access token's claims (RFC 9068 §2.2): no more, so
// tokens stay small.
type Claims struct {
	Issuer   string       `json:"iss"`
	Expiry   int64        `json:"exp"`
	IssuedAt int64        `json:"iat"`
	ID       string       `json:"jti"`
	ClientID string       `json:"client_id"`
	Subject  string       `json:"sub"`
	Scope    string       `json:"scope,omitempty"`
	Audience jwt.Audience `json:"aud,omitempty"`
	// IPAllowlist is the application's IP allowlist (CIDRs) when it has
	// one, so a resource server validating the token itself holds it to
	// the addresses oauthd would (the resource-server package does).
	IPAllowlist []string `json:"ip_allowlist,omitempty"`
	// Cnf binds a sender-constrained token to a DPoP key or a client
	// certificate (RFC 9449 §6.1, RFC 8705 §3.1).
	Cnf *Confirmation `json:"cnf,omitempty"`
}

// Confirmation is a JWT's cnf claim (RFC 7800 §3.1).
type Confirmation struct {
	JKT     string `json:"jkt,omitempty"`
	X5TS256 string `json:"x5t#S256,omitempty"`
}

// ErrNoKey is a ring with no key that may sign yet: its store has not
// been reached. It is a store outage to the caller (503, retry).
var ErrNoKey = fmt.Errorf("%w: the JWT signing keys are not loaded yet", store.ErrUnavailable)

// Sign makes a compact JWT of c with the current key, unless that key
// retires before c's exp: then with the next key, which is published
// already (see signerFor).
func (r *Ring) Sign(c Claims) (string, error) {
	k, ok := r.signerFor(time.Unix(c.Expiry, 0))
	if !ok {
		return "", ErrNoKey
	}
	opts := (&jose.SignerOptions{}).WithType(Type).WithHeader("kid", k.ID)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Alg), Key: k.Private}, opts)
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return jwt.Signed(s).Claims(c).Serialize()
}

// Verify checks a JWT's signature against the published keys and its typ
// header, and returns its claims. Expiry and the rest are the caller's:
// introspection decides them with the token's record. A kid the ring does
// not know reloads it (reloadForUnknown), waited for as long as ctx allows.
func (r *Ring) Verify(ctx context.Context, token string) (Claims, error) {
	t, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256, jose.RS256})
	if err != nil || len(t.Headers) != 1 {
		return Claims{}, fmt.Errorf("signing: not a compact JWS: %w", err)
	}
	h := t.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != Type {
		return Claims{}, fmt.Errorf("signing: typ %q, want %s", typ, Type)
	}
	k, ok := r.byID(h.KeyID)
	if !ok {
		r.reloadForUnknown(ctx)
		k, ok = r.byID(h.KeyID)
	}
	if !ok && ctx.Err() != nil {
		return Claims{}, fmt.Errorf("signing: unknown key %q, reload not awaited: %w", h.KeyID, ctx.Err())
	}
	if !ok || string(k.Alg) != h.Algorithm {
		return Claims{}, fmt.Errorf("signing: unknown key %q", h.KeyID)
	}
	var c Claims
	if err := t.Claims(k.Private.Public(), &c); err != nil {
		return Claims{}, fmt.Errorf("signing: %w", err)
	}
	return c, nil
}

// JWKS is the published keys as a JSON Web Key Set (RFC 7517). A ring
// that publishes none has not loaded its keys (its store has not been
// reached, or they do not open): that is ErrNoKey, not an empty set, which
// verifiers would cache and refuse every token with meanwhile.
func (r *Ring) JWKS() ([]byte, error) {
	var set jose.JSONWebKeySet
	for _, k := range r.Published() {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Private.Public(), KeyID: k.ID, Algorithm: k.Alg, Use: "sig"})
	}
	if set.Keys == nil {
		return nil, ErrNoKey
	}
	return json.Marshal(set)
}
