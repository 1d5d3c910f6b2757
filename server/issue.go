package server

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"go.opentelemetry.io/otel/codes"

	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/server/web"
	"github.com/oauthd/oauthd/store"
)

// TokenWriter stores issued tokens.
type TokenWriter interface {
	CreateToken(ctx context.Context, ref store.TokenRef, t store.Token) error
}

// grant is an issued access token.
type grant struct {
	token    string
	jti      string
	lifetime time.Duration // 0: it never expires
}

// issueToken makes an access token for an application handleToken has
// authenticated and whose request, scopes (granted, scope as the response
// and a JWT write them) and audiences it has checked, and stores its
// record. from is where the request came from: its lock-out is checked
// with the write.
func (s *Server) issueToken(ctx context.Context, app *store.Application, secretID string, granted []string, scope string, from netip.Addr, aud []string) (grant, error) {
	jwt := app.TokenFormat == store.TokenJWT
	if jwt && s.cfg.Signer == nil {
		return grant{}, errJWTUnconfigured
	}
	// The wall clock, as go-oauth2's manager read it when it ran token
	// issue, not cfg.Now, which authentication and introspection use.
	now := time.Now()
	life := max(app.TokenLifetime, 0)
	bucket := store.NeverBucket(app.Generation)
	if life > 0 {
		bucket = store.ExpiryBucket(now.Add(life), life)
	}
	var raw, jti string
	var ref store.TokenRef
	if jwt {
		// A JWT's record is filed under a random reference, the same way
		// an opaque token's is: its jti names the record, so revocation,
		// revoke-all, disabling and deletion reach it as they reach any
		// token.
		ref = credential.NewJWTRef(app.ClientID, bucket)
		jti = ref.JTI()
		var err error
		raw, err = s.sign(ctx, signing.Claims{
			Issuer: s.cfg.Issuer, IssuedAt: now.Unix(), Expiry: now.Add(life).Unix(),
			ID: jti, ClientID: app.ClientID, Subject: app.ClientID,
			Scope: scope, Audience: aud, IPAllowlist: allowlistClaim(app.IPAllowlist),
		})
		if err != nil {
			return grant{}, err
		}
	} else {
		raw, ref = credential.NewToken(app.ClientID, bucket)
		jti = ref.JTI()
	}
	t := store.Token{
		ID:            jti,
		ClientID:      app.ClientID,
		Scopes:        granted,
		IssuedAt:      now,
		Generation:    app.Generation,
		SecretID:      secretID,
		RequestedFrom: from,
		Allowlisted:   app.InAllowlist(from),
		Audiences:     aud,
	}
	if life > 0 {
		t.ExpiresAt = now.Add(life)
	}
	err := s.store.CreateToken(ctx, ref, t)
	var locked *store.LockedError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return grant{}, errInvalidClient("application deleted while the token was issued")
	case errors.As(err, &locked):
		return grant{}, errLockedOut(locked.For)
	case err != nil:
		return grant{}, err
	}
	return grant{token: raw, jti: jti, lifetime: life}, nil
}

// allowlistClaim is a JWT's ip_allowlist: the application's allowlist as
// CIDRs (a single address as /32 or /128), nil when it has none.
func allowlistClaim(list []netip.Prefix) []string {
	if len(list) == 0 {
		return nil
	}
	out := make([]string, len(list))
	for i, p := range list {
		out[i] = p.String()
	}
	return out
}

// sign signs a JWT access token, in a span of its own when tracing: the
// signature is the costliest step of issuing one.
func (s *Server) sign(ctx context.Context, c signing.Claims) (string, error) {
	_, span := web.StartSpan(ctx, s.tracer, "jwt.sign")
	defer span.End()
	raw, err := s.cfg.Signer.Sign(c)
	if err != nil {
		span.SetStatus(codes.Error, "signing failed")
	}
	return raw, err
}
