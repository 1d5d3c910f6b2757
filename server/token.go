package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/server/web"
	"github.com/oauthd/oauthd/store"
)

// maxFormBytes bounds a token, introspection or revocation request body.
// A legitimate one is a few hundred bytes.
const maxFormBytes = 16 << 10

// AppReader loads applications for client authentication.
type AppReader interface {
	GetApplication(ctx context.Context, id string) (store.Application, error)
}

// tokenResponse is RFC 6749 §5.1's successful answer. ExpiresIn is left
// out for a token that never expires: "expires_in": 0 would tell a client
// the token is already dead.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in,omitempty"`
	Scope       string `json:"scope,omitempty"`
}

// handleToken is POST /oauth/token for the client_credentials grant
// (RFC 6749 §4.4). The order of checks matters: the request's shape first
// (it reveals nothing), then the client's credentials, and only then grant
// and scope errors, so an unauthenticated caller learns nothing about an
// application (tokenRequest.check). Reading the application, checking and
// writing the record are one Redis round trip (IssueToken); the token is
// put together once the store has chosen the bucket its record is filed in.
func (s *Server) handleToken(c echo.Context) error {
	form, err := readForm(c)
	if err != nil {
		return web.WriteError(c, err)
	}
	cr, err := s.clientCredentials(c, form)
	if err != nil {
		return s.authError(c, nil, err)
	}
	ctx := c.Request().Context()
	id := cr.id
	var known *store.Application // read before the token when the client authenticates with a key
	if !cr.secretOnly() {
		// A key method: the application (cached) is read and the
		// assertion or certificate verified first; the store is then
		// told the client authenticated, and checks the method is still
		// the application's (store.TokenRequest.AuthMethod).
		app, err := s.store.GetApplication(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return s.authError(c, nil, errInvalidClient(reasonUnknownClient))
		case err != nil:
			return web.WriteError(c, err)
		}
		if err := s.verifyKey(c, &app, &cr, true); err != nil {
			return s.authError(c, &app, err)
		}
		known = &app
	}
	r := s.newTokenRequest(c, &cr, form)
	if known != nil && s.fapi(known) {
		// Capped before the store computes the lifetime (in its script,
		// on a miss): a FAPI application authenticates with a key, so is
		// always read here first; check refuses what slipped past.
		r.ttl = s.fapiLifetime(r.ttl)
	}
	if r.bind, err = s.readBinding(c); err != nil {
		return web.WriteError(c, err)
	}
	if cr.assertion != nil {
		r.bind.assertionAlg = cr.assertion.Algorithm
	}
	if r.fail != nil {
		if cr.jti != "" {
			// No token will be written to take the jti with: take it now,
			// or a captured assertion could be replayed to learn the
			// grant and scope answers only its client may see.
			if err := s.store.UseAssertion(ctx, id, cr.jti, cr.jtiUntil); err != nil {
				return s.authError(c, nil, replayError(err))
			}
		}
		return s.issueError(c, r, s.answerOnly(ctx, id, r))
	}
	pending := credential.NewPending(id)
	var secret store.Digest
	if cr.secretOnly() {
		secret = cr.digest()
	}
	issued, err := s.store.IssueToken(ctx, store.TokenRequest{
		ClientID: id, Secret: secret, AuthMethod: cr.verified, JTI: cr.jti, JTIUntil: cr.jtiUntil,
		ProofID: r.bind.proofID, ProofUntil: r.bind.proofUntil, Confirmation: r.bind.cnf,
		AuthAt: r.now, Scopes: r.scopes, Resources: form["resource"],
		// The wall clock, as go-oauth2's manager read it when it ran token
		// issue, not cfg.Now, which authentication and introspection use.
		Digest: pending.Digest, IssuedAt: time.Now(), Lifetime: r.ttl, From: s.lockAddr(c),
	}, r.check)
	if err != nil {
		return s.issueError(c, r, err)
	}
	app, scope := r.app, scopes.Format(issued.Token.Scopes)
	var life time.Duration // the record's: the application's, or the shorter ttl asked for
	if !issued.Token.ExpiresAt.IsZero() {
		life = issued.Token.ExpiresAt.Sub(issued.Token.IssuedAt)
	}
	token := pending.Token(issued.Ref.Bucket)
	if app.TokenFormat == store.TokenJWT {
		// Signed once the record is written, with the bucket the store
		// chose in its jti; its record is filed as an opaque token's is, so
		// revocation, revoke-all, disabling and deletion reach it. Should
		// signing fail, the record names no token anyone holds.
		now := issued.Token.IssuedAt
		if token, err = s.sign(ctx, signing.Claims{
			Issuer: s.cfg.Issuer, IssuedAt: now.Unix(), Expiry: now.Add(life).Unix(),
			ID: issued.Token.ID, ClientID: app.ClientID, Subject: app.ClientID,
			Scope: scope, Audience: issued.Token.Audiences, IPAllowlist: allowlistClaim(app.IPAllowlist),
			Cnf: cnfClaim(issued.Token.Confirmation),
		}); err != nil {
			return web.WriteError(c, err)
		}
	}
	web.Log(c).Add(slog.String("event", "token issued"), slog.String("jti", issued.Token.ID))
	web.NoStore(c.Response().Header())
	return web.WriteJSON(c, http.StatusOK, tokenResponse{
		AccessToken: token,
		TokenType:   tokenType(issued.Token.Confirmation),
		ExpiresIn:   int64(life.Seconds()),
		Scope:       scope,
	})
}

// readForm checks and parses an application/x-www-form-urlencoded body.
// Only the body counts (RFC 6749 §3.2); the URL query is ignored, and a
// parameter repeated in the body is an error (§3.1, §3.2).
func readForm(c echo.Context) (url.Values, error) {
	r := c.Request()
	if !isFormContentType(r.Header.Get(echo.HeaderContentType)) {
		return nil, errInvalidRequest("Content-Type must be application/x-www-form-urlencoded")
	}
	// Read, then parse: r.ParseForm returns both kinds of failure alike,
	// and a read failure's text names socket addresses.
	body, err := readBody(c.Response(), r)
	if err != nil {
		return nil, web.BodyReadError(err, "16 KiB")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errInvalidRequest("malformed form body: %v", truncate(err.Error(), 80))
	}
	r.PostForm, r.Form = form, form // the body is read: FormValue, if anything calls it, sees it and only it
	for _, k := range formParams {
		if len(r.PostForm[k]) > 1 {
			return nil, errInvalidRequest("parameter %s is repeated: send it once", k)
		}
	}
	if r.URL.RawQuery != "" && r.PostForm.Get("grant_type") == "" && r.URL.Query().Has("grant_type") {
		return nil, errInvalidRequest("parameters belong in the form-encoded request body, not the URL")
	}
	return r.PostForm, nil
}

// readBody reads a request body of at most maxFormBytes. One whose length
// is announced is read into a buffer of that length: io.ReadAll would
// start at 512 bytes, for bodies of a few dozen.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, maxFormBytes)
	n := r.ContentLength
	if n <= 0 || n > maxFormBytes {
		// Chunked, or too large (MaxBytesReader says so), or none said.
		return io.ReadAll(body)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(body, b); err != nil {
		return nil, err // the body stopped short of its length
	}
	return b, nil
}

// formParams are the parameters the token, introspection and revocation
// endpoints read, each of which must come once (RFC 6749 §3.2): read
// first-wins, a repeated client_ip let whoever put an allowed address
// first decide where a token is used. resource is not here, as RFC 8707 §2
// lets it repeat; unknown parameters are not either, as RFC 6749 §3.2
// says to ignore them. TestFormParamsListed keeps this list complete.
var formParams = []string{"grant_type", "scope", "client_id", "client_secret", "client_assertion", "client_assertion_type",
	"token", "token_type_hint", clientIPParam, ttlParam}

// isFormContentType reports whether a Content-Type header names
// application/x-www-form-urlencoded, with or without parameters (a charset,
// say). It is mime.ParseMediaType's answer for this one type, without the
// parameter map it allocates on every request.
func isFormContentType(v string) bool {
	mt, params, _ := strings.Cut(v, ";")
	if !strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
		return false
	}
	if params == "" {
		return true
	}
	_, _, err := mime.ParseMediaType(v) // rare: validate the parameters too
	return err == nil
}

// Auditor records security events, aggregated (see server/apps).
type Auditor interface {
	Security(ctx context.Context, e store.SecurityEvent)
}

func (s *Server) security(c echo.Context, e store.SecurityEvent) {
	if s.cfg.Audit == nil {
		return
	}
	e.Addr = web.Addr(c)
	s.cfg.Audit.Security(c.Request().Context(), e)
}

// authError answers a failed client authentication: it counts the failure
// against the caller's address (and the client_id it named), records it
// in the audit log, and answers 429 once the caller is locked out. app is
// the application the client_id named (nil or empty when none). When
// Redis cannot count the failure the answer is 503: authentication fails
// closed.
func (s *Server) authError(c echo.Context, app *store.Application, err error) error {
	var e *web.Error
	if !errors.As(err, &e) || e.Code != "invalid_client" {
		return web.WriteError(c, err)
	}
	id := web.Log(c).ClientID()
	known := e.Reason != reasonUnknownClient && id != ""
	if !known {
		id = "" // an invented id must not key anything
	}
	s.security(c, store.SecurityEvent{Kind: "client.auth_failed", ClientID: web.Log(c).ClientID(), Known: known, Reason: e.Reason})
	addr := web.Addr(c)
	allowlisted := known && app != nil && app.InAllowlist(addr)
	lo, lerr := s.cfg.Limits.ClientFailed(c.Request().Context(), id, addr, allowlisted)
	if lerr != nil {
		return web.WriteError(c, lerr)
	}
	if lo.New {
		s.security(c, store.SecurityEvent{Kind: "client.locked_out", ClientID: id, Known: known, Reason: lo.Scope, For: lo.For})
		web.LogAttrs(c, slog.String("lockout", lo.Scope))
	}
	if lo.For > 0 {
		return web.WriteError(c, errLockedOut(lo.For))
	}
	return web.WriteError(c, err)
}

// reasonUnknownClient is errInvalidClient's reason for a client_id that
// names no application.
const reasonUnknownClient = "unknown client"

// maxResources bounds the RFC 8707 resource parameters of a token request.
const maxResources = 10

// audiences is the aud a token gets: the application's audiences, or those
// of them the request names with RFC 8707 resource parameters. A resource
// the application does not name is invalid_target (RFC 8707 §2).
func audiences(app *store.Application, resources []string) ([]string, error) {
	if len(resources) == 0 {
		return app.Audiences, nil
	}
	if len(resources) > maxResources {
		return nil, errInvalidTarget("at most %d resource parameters", maxResources)
	}
	var out []string
	for _, r := range resources {
		if !slices.Contains(app.Audiences, r) {
			if len(app.Audiences) == 0 {
				return nil, errInvalidTarget("resource %q: this application names no resource servers; an operator sets its audiences", truncate(r, 80))
			}
			return nil, errInvalidTarget("resource %q is not one of this application's audiences (%s)", truncate(r, 80), strings.Join(app.Audiences, " "))
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}
