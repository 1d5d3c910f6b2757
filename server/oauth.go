package server

// This is the only file that imports go-oauth2/oauth2. The library drives
// token issue (grant-type checks, the token model, generator and store
// plumbing); oauthd authenticates the client itself beforehand, because the
// library's defaults do not meet RFC 6749 (see ../shared/STYLE.md):
// ClientBasicHandler does not form-decode credentials (§2.3.1), scope and
// grant errors would be shown before the secret is checked, and a wrapped
// error turns into a 500. So the request reaches the library with the
// application already authenticated and carried in the context; the
// adapters below read it from there and never touch Redis for the client.

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/manage"
	oserver "github.com/go-oauth2/oauth2/v4/server"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/server/web"
	"github.com/oauthd/oauthd/store"
)

// TokenWriter stores issued tokens.
type TokenWriter interface {
	CreateToken(ctx context.Context, ref store.TokenRef, t store.Token) error
}

// issue is the per-request state shared by the adapters: the authenticated
// application, the granted scopes, and the token reference the generator
// made (so the token is hashed once). It is also the context the library
// runs in, so carrying it costs one allocation, not a context.WithValue
// and a copy of the request.
type issue struct {
	context.Context
	app      *store.Application
	secretID string
	scopes   []string
	ref      store.TokenRef
	jti      string
	from     netip.Addr // where the request came from: its lock-out is checked with the write
	aud      []string   // the audiences it is for
	jwt      *jwtIssue  // set for an application issuing JWTs
}

// jwtIssue is what the generator needs to sign a JWT access token.
type jwtIssue struct {
	signer Signer
	issuer string
}

type issueKey struct{}

func (is *issue) Value(key any) any {
	if key == (issueKey{}) {
		return is
	}
	return is.Context.Value(key)
}

func issueFrom(ctx context.Context) (*issue, bool) {
	is, ok := ctx.Value(issueKey{}).(*issue)
	return is, ok
}

// oauthIssuer wraps the library's server, configured for client credentials
// only.
type oauthIssuer struct {
	srv *oserver.Server
	jwt *jwtIssue // nil when no signer is configured
}

func newOAuthIssuer(tokens TokenWriter, jwt *jwtIssue) *oauthIssuer {
	m := manage.NewManager()
	// Lifetimes are per application; 0 here makes "never" the fallback the
	// library uses when an application's lifetime is 0.
	m.SetClientTokenCfg(&manage.Config{AccessTokenExp: 0, IsGenerateRefresh: false})
	m.MapClientStorage(clientStore{})
	m.MapTokenStorage(tokenStore{w: tokens})
	m.MapAccessGenerate(generator{})

	cfg := oserver.NewConfig()
	cfg.AllowedGrantTypes = []oauth2.GrantType{oauth2.ClientCredentials}
	cfg.AllowedResponseTypes = nil
	return &oauthIssuer{srv: oserver.NewServer(cfg, m), jwt: jwt}
}

// grant is an issued access token.
type grant struct {
	token    string
	jti      string
	lifetime time.Duration
	scopes   []string
}

// Issue runs the library's client-credentials flow (grant-type policy,
// token model, generator, storage) for an application that handleToken has
// already authenticated and whose request and scopes it has checked. The
// library's ValidationTokenRequest is not used: it would only re-read the
// form for what handleToken has validated already.
func (o *oauthIssuer) Issue(r *http.Request, app *store.Application, secretID string, granted []string, scopeParam string, from netip.Addr, aud []string) (grant, error) {
	is := &issue{Context: r.Context(), app: app, secretID: secretID, scopes: granted, from: from, aud: aud}
	if app.TokenFormat == store.TokenJWT {
		if o.jwt == nil {
			return grant{}, errJWTUnconfigured
		}
		is.jwt = o.jwt
	}
	tgr := &oauth2.TokenGenerateRequest{
		ClientID:       app.ClientID,
		Scope:          scopeParam,
		AccessTokenExp: app.TokenLifetime,
		Request:        r,
	}
	ti, err := o.srv.GetAccessToken(is, oauth2.ClientCredentials, tgr)
	if err != nil {
		return grant{}, libError(err)
	}
	return grant{token: ti.GetAccess(), jti: is.jti, lifetime: ti.GetAccessExpiresIn(), scopes: granted}, nil
}

// libError maps the library's sentinel errors to ours; anything else (our
// own errors, passed through by the adapters) is returned unchanged.
func libError(err error) error {
	switch {
	case errors.Is(err, oerrors.ErrInvalidClient):
		return errInvalidClient("rejected by the oauth2 library")
	case errors.Is(err, oerrors.ErrUnsupportedGrantType), errors.Is(err, oerrors.ErrUnauthorizedClient):
		return errUnsupportedGrantType("")
	case errors.Is(err, oerrors.ErrInvalidScope):
		return errInvalidScope("the requested scope is invalid")
	case errors.Is(err, oerrors.ErrInvalidRequest):
		return errInvalidRequest("malformed token request")
	}
	return err
}

// clientStore serves the application authenticated earlier in the request.
type clientStore struct{}

func (clientStore) GetByID(ctx context.Context, id string) (oauth2.ClientInfo, error) {
	is, ok := issueFrom(ctx)
	if !ok || is.app.ClientID != id {
		return nil, oerrors.ErrInvalidClient
	}
	return clientInfo{is.app}, nil
}

type clientInfo struct{ app *store.Application }

func (c clientInfo) GetID() string     { return c.app.ClientID }
func (c clientInfo) GetSecret() string { return "" }
func (c clientInfo) GetDomain() string { return "" }
func (c clientInfo) IsPublic() bool    { return false }
func (c clientInfo) GetUserID() string { return "" }

// VerifyPassword: the secret was verified (in constant time, against the
// stored digests) before the library was called; clientInfo exists only
// for an authenticated application.
func (c clientInfo) VerifyPassword(string) bool { return true }

// generator makes the opaque token and remembers its reference.
type generator struct{}

func (generator) Token(ctx context.Context, data *oauth2.GenerateBasic, _ bool) (string, string, error) {
	is, ok := issueFrom(ctx)
	if !ok {
		return "", "", web.ErrInternal
	}
	bucket := store.NeverBucket(is.app.Generation)
	if life := data.TokenInfo.GetAccessExpiresIn(); life > 0 {
		bucket = store.ExpiryBucket(data.CreateAt.Add(life), life)
	}
	if is.jwt != nil {
		// A JWT's record is filed under a random reference, the same way
		// an opaque token's is: its jti names the record, so revocation,
		// revoke-all, disabling and deletion reach it as they reach any
		// token.
		ref := credential.NewJWTRef(data.Client.GetID(), bucket)
		is.ref, is.jti = ref, ref.JTI()
		life := data.TokenInfo.GetAccessExpiresIn()
		raw, err := is.jwt.signer.Sign(signing.Claims{
			Issuer: is.jwt.issuer, IssuedAt: data.CreateAt.Unix(), Expiry: data.CreateAt.Add(life).Unix(),
			ID: is.jti, ClientID: is.app.ClientID, Subject: is.app.ClientID,
			Scope: scopes.Format(is.scopes), Audience: is.aud,
		})
		if err != nil {
			return "", "", err
		}
		return raw, "", nil
	}
	raw, ref := credential.NewToken(data.Client.GetID(), bucket)
	is.ref = ref
	is.jti = ref.JTI()
	return raw, "", nil
}

// tokenStore writes the token record; oauthd reads tokens elsewhere, so the
// library's read and remove methods are never called.
type tokenStore struct{ w TokenWriter }

func (s tokenStore) Create(ctx context.Context, info oauth2.TokenInfo) error {
	is, ok := issueFrom(ctx)
	if !ok {
		return web.ErrInternal
	}
	t := store.Token{
		ID:            is.jti,
		ClientID:      is.app.ClientID,
		Scopes:        is.scopes,
		IssuedAt:      info.GetAccessCreateAt(),
		Generation:    is.app.Generation,
		SecretID:      is.secretID,
		RequestedFrom: is.from,
		Audiences:     is.aud,
	}
	if d := info.GetAccessExpiresIn(); d > 0 {
		t.ExpiresAt = t.IssuedAt.Add(d)
	}
	err := s.w.CreateToken(ctx, is.ref, t)
	var locked *store.LockedError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errInvalidClient("application deleted while the token was issued")
	case errors.As(err, &locked):
		return errLockedOut(locked.For)
	}
	return err
}

var errUnused = errors.New("oauthd does not read tokens through the oauth2 library")

func (tokenStore) RemoveByCode(context.Context, string) error    { return errUnused }
func (tokenStore) RemoveByAccess(context.Context, string) error  { return errUnused }
func (tokenStore) RemoveByRefresh(context.Context, string) error { return errUnused }
func (tokenStore) GetByCode(context.Context, string) (oauth2.TokenInfo, error) {
	return nil, errUnused
}
func (tokenStore) GetByAccess(context.Context, string) (oauth2.TokenInfo, error) {
	return nil, errUnused
}
func (tokenStore) GetByRefresh(context.Context, string) (oauth2.TokenInfo, error) {
	return nil, errUnused
}
