package server

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/codes"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/server/web"
	"github.com/oauthd/oauthd/store"
)

// TokenIssuer stores issued tokens.
type TokenIssuer interface {
	IssueToken(ctx context.Context, r store.TokenRequest, check func(*store.Application) (store.Grant, error)) (store.Issued, error)
}

// tokenRequest is a token request as handleToken read it, and what its
// check (IssueToken's) learned once the application was known.
type tokenRequest struct {
	s      *Server
	c      echo.Context
	cred   *credentials
	now    time.Time // when the secret must be active
	form   url.Values
	scopes []string // requested, parsed
	// ttl is the lifetime the client asked for (ttlParam), 0 for its
	// application's.
	ttl time.Duration
	// fail is the request's own first error (the grant type, the scope's
	// syntax, too many resources), answered only once the client has
	// authenticated, where it falls among the checks: before the scopes
	// are checked or, when late (too many resources), after the quota.
	fail error
	late bool

	// app is the application check was given (it may be the store's
	// cache's: read only), nil until then.
	app *store.Application
	// bind is the key or certificate the token is to be bound to.
	bind binding
}

func (s *Server) newTokenRequest(c echo.Context, cr *credentials, form url.Values) *tokenRequest {
	r := &tokenRequest{s: s, c: c, cred: cr, now: s.cfg.Now(), form: form}
	scope, err := scopes.Parse(form.Get("scope"))
	ttl, ttlErr := parseTTL(form)
	switch gt := form.Get("grant_type"); {
	case gt == "":
		r.fail = errInvalidRequest("grant_type is required: send grant_type=client_credentials")
	case !s.grants.allows(gt):
		r.fail = errUnsupportedGrantType(gt)
	case err != nil:
		r.fail = errInvalidScope("%v", err)
	case ttlErr != nil:
		r.fail = ttlErr
	case len(form["resource"]) > maxResources:
		// audiences says so, after the quota
		r.fail, r.late = errInvalidTarget("at most %d resource parameters", maxResources), true
	}
	r.scopes, r.ttl = scope, ttl
	return r
}

// ttlParam is the token request's extension parameter (oauthd's, after
// SMSGate's) asking for a token that lives shorter than its application's
// tokens: a whole number of seconds. A longer one is capped to the
// application's lifetime (expires_in says what was granted), as RFC 6749
// §3.3 lets a server grant less scope than asked and say so.
const ttlParam = "ttl"

// maxTTL is the longest ttl a request may name: ten years, the longest
// finite token lifetime (apps.ParseLifetime).
const maxTTL = 10 * 365 * 24 * time.Hour

// parseTTL reads the ttl parameter: 0 when absent, else a whole number of
// seconds from 1 to maxTTL, or invalid_request.
func parseTTL(form url.Values) (time.Duration, error) {
	v, ok := form[ttlParam]
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseInt(v[0], 10, 64)
	if err != nil || n < 1 || n > int64(maxTTL/time.Second) || strings.TrimLeft(v[0], "0123456789") != "" {
		return 0, errInvalidRequest("%s must be a whole number of seconds from 1 to %d (ten years): the token's lifetime, at most its application's", ttlParam, int64(maxTTL/time.Second))
	}
	return time.Duration(n) * time.Second, nil
}

// check is everything a token request is checked for once its
// application is known, in the order the answers take precedence: the
// client's authentication first (it reveals nothing to a caller without
// the secret), then the grant type, the scopes, the quota, the audiences.
// It returns what is granted. IssueToken calls it once, with the
// application as it was read, before or after writing the record (store
// redis writes first when the application was not cached: an error here
// then deletes the record again).
func (r *tokenRequest) check(app *store.Application) (store.Grant, error) {
	r.app = app
	secretID, err := checkClient(r.c, app, r.cred, r.now)
	switch {
	case err != nil:
		return store.Grant{}, err
	case r.fail != nil && !r.late:
		return store.Grant{}, r.fail
	}
	if err := r.s.senderPolicy(r.c, app, r.bind); err != nil {
		return store.Grant{}, err
	}
	if r.s.fapi(app) {
		// handleToken capped the lifetime asked for, on the application
		// as it read it: one that became FAPI since gets no longer token.
		if life := app.LifetimeFor(r.ttl); life == 0 || life > r.s.fapiLifetime(0) {
			return store.Grant{}, errInvalidRequest("this application's profile changed while the token was issued: ask again")
		}
	}
	// The catalogue in force decides what the held scopes (forms such as
	// sms:* included) grant; the store's script checked the literal ones
	// on a miss, and IssueToken rewrites the record when they differ.
	granted, err := r.s.grantScopes(r.c.Request().Context(), app.Scopes, r.scopes)
	if err != nil {
		return store.Grant{}, err
	}
	if err := r.s.takeQuota(r.c, app, issueQuota); err != nil {
		return store.Grant{}, err
	}
	aud, err := audiences(app, r.form["resource"])
	if err != nil {
		return store.Grant{}, err
	}
	if app.TokenFormat == store.TokenJWT && r.s.cfg.Signer == nil {
		return store.Grant{}, errJWTUnconfigured
	}
	return store.Grant{Scopes: granted, Audiences: aud, SecretID: secretID, Confirmation: r.bind.cnf}, nil
}

// answerOnly answers a request that fails (tokenRequest.fail) the way
// check orders its answers: it reads the application and checks, and
// stores nothing.
func (s *Server) answerOnly(ctx context.Context, id string, r *tokenRequest) error {
	app, err := s.store.GetApplication(ctx, id)
	if err != nil {
		return err
	}
	if _, err = r.check(&app); err == nil {
		return errors.New("token request with an error of its own passed the checks")
	}
	return err
}

// issueError answers a token request IssueToken (or answerOnly) refused.
// A refusal check made goes through authError, which counts the
// authentication failures among them.
func (s *Server) issueError(c echo.Context, r *tokenRequest, err error) error {
	var locked *store.LockedError
	switch {
	case errors.Is(err, store.ErrNotFound) && r.app == nil:
		return s.authError(c, nil, errInvalidClient(reasonUnknownClient))
	case errors.Is(err, store.ErrNotFound):
		return web.WriteError(c, errInvalidClient("application deleted while the token was issued"))
	case errors.As(err, &locked):
		return web.WriteError(c, errLockedOut(locked.For))
	case errors.Is(err, store.ErrAuthMethod):
		err = errInvalidClient("application's authentication method changed while the token was issued")
	case errors.Is(err, store.ErrAlreadyExists):
		err = replayError(err)
	case errors.Is(err, store.ErrProofReplayed):
		// The client authenticated: not an authentication failure.
		return web.WriteError(c, errProofReplayed)
	}
	return s.authError(c, r.app, err)
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
