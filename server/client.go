package server

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/clientauth"
	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/server/web"
	"github.com/oauthd/oauthd/store"
)

// Client authentication (RFC 6749 §2.3, RFC 7521/7523 §2.2, RFC 8705):
// every endpoint that authenticates a client (token, introspection,
// revocation, the revocation feed) reads the credentials with
// clientCredentials and checks them against the application with
// Server.authenticate (or, at the token endpoint, tokenRequest.check).

// jwtBearer is the client_assertion_type of a JWT client assertion
// (RFC 7523 §2.2).
const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// How a request authenticated its client (credentials.via).
const (
	viaBasic       = store.AuthSecretBasic
	viaPost        = store.AuthSecretPost
	viaAssertion   = "client_assertion"
	viaCertificate = "tls_client_certificate"
)

// credentials are a request's client credentials as read from it, before
// any application is known.
type credentials struct {
	id  string
	via string // viaBasic, viaPost, viaAssertion, viaCertificate
	// secret is sent with viaBasic and viaPost; sum is its digest once
	// digest has computed it.
	secret string
	sum    store.Digest
	hashed bool
	// assertion is viaAssertion's, parsed, not yet verified.
	assertion *clientauth.Assertion
	// chain is the client's TLS certificate chain, leaf first, when it
	// sent one (viaCertificate uses it).
	chain []*x509.Certificate
	// verified is set once the assertion or certificate verified against
	// the application, and the assertion's jti was taken (or left to the
	// token's write: jti): the key methods' authentication is done before
	// the store is asked for a token.
	verified string // the application's method it verified as
	// jti, when set, is the verified assertion's jti, still to be taken
	// until jtiUntil: the token endpoint takes it with the token's write
	// (store.TokenRequest.JTI), one round trip for both.
	jti      string
	jtiUntil time.Time
}

// secretOnly reports whether the credentials are a shared secret sent as
// it is (client_secret_basic, client_secret_post).
func (cr *credentials) secretOnly() bool { return cr.via == viaBasic || cr.via == viaPost }

// digest is the secret's SHA-256, computed once a request: the token
// endpoint sends it to the store's script and checks it against the
// application the script returns.
func (cr *credentials) digest() store.Digest {
	if !cr.hashed {
		cr.sum, cr.hashed = store.Sum(cr.secret), true
	}
	return cr.sum
}

// readClientCredentials reads the client's credentials from HTTP Basic
// (client_secret_basic), the body's client_secret (client_secret_post),
// the body's client_assertion (client_secret_jwt, private_key_jwt,
// workload identity) or, with none of these, a TLS client certificate
// and the body's client_id (tls_client_auth, self_signed_tls_client_auth).
// More than one of the first three at once is invalid_request (RFC 6749
// §2.3: a client must not use more than one method per request); a
// certificate alongside one of them is ignored, as a client may hold one
// for its connections alone. Basic credentials are form-decoded after the
// split (RFC 6749 §2.3.1): Go's x/oauth2 and others encode them.
func readClientCredentials(r *http.Request, form url.Values, chain []*x509.Certificate) (credentials, error) {
	hdr := r.Header.Values(echo.HeaderAuthorization)
	if len(hdr) > 1 {
		return credentials{}, errInvalidRequest("send one Authorization header")
	}
	assertion := form.Has("client_assertion") || form.Has("client_assertion_type")
	methods := 0
	for _, used := range []bool{len(hdr) == 1, form.Has("client_secret"), assertion} {
		if used {
			methods++
		}
	}
	if methods > 1 {
		return credentials{}, errInvalidRequest("use one client authentication method: HTTP Basic, client_secret in the body, or a client_assertion, not several")
	}
	cr := credentials{chain: chain}
	switch {
	case len(hdr) == 1:
		cr.via = viaBasic
		scheme, payload, _ := strings.Cut(strings.TrimSpace(hdr[0]), " ")
		if !strings.EqualFold(scheme, "Basic") {
			return credentials{}, errInvalidClient("Authorization scheme is not Basic")
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
		if err != nil {
			if raw, err = base64.RawStdEncoding.DecodeString(strings.TrimSpace(payload)); err != nil {
				return credentials{}, errInvalidClient("malformed Basic credentials (base64)")
			}
		}
		encID, encSecret, ok := strings.Cut(string(raw), ":")
		if !ok {
			return credentials{}, errInvalidClient("malformed Basic credentials (no colon)")
		}
		if cr.id, err = url.QueryUnescape(encID); err != nil {
			return credentials{}, errInvalidClient("malformed Basic credentials (client_id encoding)")
		}
		if cr.secret, err = url.QueryUnescape(encSecret); err != nil {
			return credentials{}, errInvalidClient("malformed Basic credentials (secret encoding)")
		}
		if bodyID := form.Get("client_id"); bodyID != "" && bodyID != cr.id {
			return credentials{}, errInvalidRequest("client_id in the body differs from the one in the Authorization header")
		}
	case assertion:
		cr.via = viaAssertion
		typ, raw := form.Get("client_assertion_type"), form.Get("client_assertion")
		switch {
		case !form.Has("client_assertion_type"):
			return credentials{}, errInvalidRequest("client_assertion_type is required with client_assertion: send %s", jwtBearer)
		case !form.Has("client_assertion"):
			return credentials{}, errInvalidRequest("client_assertion is required with client_assertion_type")
		case typ != jwtBearer:
			return credentials{}, errInvalidClient("unsupported client_assertion_type")
		}
		a, err := clientauth.ParseAssertion(raw)
		if err != nil {
			return credentials{}, errInvalidClient(clientauthReason(reasonAssertion, err))
		}
		if cr.id, err = a.ClientID(form.Get("client_id")); err != nil {
			return credentials{}, errInvalidClient(clientauthReason(reasonAssertion, err))
		}
		cr.assertion = a
		return cr, nil
	case form.Has("client_secret"):
		cr.via = viaPost
		cr.id, cr.secret = form.Get("client_id"), form.Get("client_secret")
	case len(chain) > 0:
		cr.via, cr.id = viaCertificate, form.Get("client_id")
		if cr.id == "" {
			return credentials{}, errInvalidClient("client certificate without client_id (RFC 8705 §2 requires it)")
		}
		return cr, nil
	default:
		if form.Get("client_id") == "" {
			return credentials{}, errInvalidClient("no client credentials")
		}
		return credentials{}, errInvalidClient("client_id without client_secret, client_assertion or client certificate")
	}
	if cr.id == "" || cr.secret == "" {
		return credentials{}, errInvalidClient("client_id or client_secret empty")
	}
	return cr, nil
}

// The kinds of a refusal from server/clientauth, which start its log
// reason ("client assertion refused: assertion expired at ..."): the
// reason quotes what the client sent (claims, a kid, a thumbprint), so the
// metrics count it by its kind alone (authFailureLabel).
const (
	reasonAssertion   = "client assertion refused"
	reasonCertificate = "client certificate refused"
	reasonKeysDown    = "client keys unavailable"
)

// keyRefusals are those kinds.
var keyRefusals = []string{reasonAssertion, reasonCertificate, reasonKeysDown}

// authFailureLabel is a failure's reason as the metrics count it: the
// server's own reasons as they are, a refused key or certificate by its
// kind, so no client can mint label values.
func authFailureLabel(reason string) string {
	if kind, _, ok := strings.Cut(reason, ": "); ok && slices.Contains(keyRefusals, kind) {
		return kind
	}
	return reason
}

// clientauthReason is the log reason of a refusal from server/clientauth.
func clientauthReason(kind string, err error) string {
	var e *clientauth.Error
	if errors.As(err, &e) {
		if e.Temporary {
			kind = reasonKeysDown
		}
		return kind + ": " + e.Reason
	}
	return kind + ": " + err.Error()
}

// clientCredentials extracts and sanity-checks the caller's credentials,
// adding the client_id to the request's log line. form holds the body's
// parameters (for the feed, a GET, the URL's client_id and client
// assertion).
func (s *Server) clientCredentials(c echo.Context, form url.Values) (credentials, error) {
	chain, err := s.clientChain(c)
	if err != nil {
		return credentials{}, err
	}
	cr, err := readClientCredentials(c.Request(), form, chain)
	if err != nil {
		return credentials{}, err
	}
	if !credential.ValidClientID(cr.id) || len(cr.secret) > credential.MaxSecret {
		return credentials{}, errInvalidClient("malformed client_id or secret")
	}
	web.Log(c).SetClientID(cr.id)
	if cr.via != viaBasic && cr.via != viaPost {
		web.LogAttrs(c, slog.String("client_auth", cr.via))
	}
	return cr, nil
}

// methodAllows reports why app does not accept credentials presented via
// via, "" when it does. A shared secret for an application that has none
// to send that way is refused as a wrong secret is: the caller learns
// nothing about the application from the answer.
func methodAllows(app *store.Application, via string) string {
	m := app.Auth.Method
	switch via {
	case viaBasic, viaPost:
		if m == "" || m == via {
			return ""
		}
		if m == store.AuthSecretBasic || m == store.AuthSecretPost {
			return "secret sent with " + via + ", the application uses " + m
		}
		return "secret for an application that authenticates with " + m
	case viaAssertion:
		if m == store.AuthPrivateKeyJWT || m == store.AuthSecretJWT {
			return ""
		}
	case viaCertificate:
		if m == store.AuthTLS || m == store.AuthSelfSignedTLS {
			return ""
		}
	}
	if m == "" {
		m = "a client secret"
	}
	return via + " for an application that authenticates with " + m
}

// checkClient verifies a loaded application against the presented
// credentials and the connection's address, and returns the id of the
// secret that matched (none for a key method). app nil means the client
// is unknown. A key method's assertion or certificate must have been
// verified already (Server.verifyKey), against this application's method.
func checkClient(c echo.Context, app *store.Application, cr *credentials, now time.Time) (string, error) {
	if app == nil {
		return "", errInvalidClient(reasonUnknownClient)
	}
	if why := methodAllows(app, cr.via); why != "" {
		return "", errInvalidClient(why)
	}
	var secretID string
	if cr.secretOnly() {
		var ok bool
		if secretID, ok = app.MatchDigest(cr.digest(), now); !ok {
			return "", errInvalidClient("wrong secret")
		}
	} else if cr.verified == "" || cr.verified != app.Auth.Method {
		return "", errInvalidClient("application's authentication method changed while the request was checked")
	}
	switch {
	case !app.Enabled:
		return "", errInvalidClient("application disabled")
	case !app.Allows(web.Addr(c)):
		return "", errInvalidClient("address not in the application's allowlist")
	}
	return secretID, nil
}

// ClientVerifier verifies client assertions and certificates
// (server/clientauth.Verifier).
type ClientVerifier interface {
	VerifyAssertion(ctx context.Context, app *store.Application, a *clientauth.Assertion) error
	VerifyCertificate(ctx context.Context, app *store.Application, chain []*x509.Certificate) error
}

// AssertionStore takes a client assertion's jti, once across every
// replica (store.Assertions).
type AssertionStore interface {
	UseAssertion(ctx context.Context, clientID, jti string, until time.Time) error
}

// verifyKey authenticates key credentials (an assertion, a certificate)
// against app: the method first, the cheap checks (enabled, allowlist)
// before the signature (which may fetch a jwks_uri), and the assertion's
// jti is taken last, so only a verified assertion uses one up; with
// laterJTI it is left in cr for the token's write to take. Shared secrets
// are left to checkClient (or the store's script).
func (s *Server) verifyKey(c echo.Context, app *store.Application, cr *credentials, laterJTI bool) error {
	if cr.secretOnly() || cr.verified != "" {
		return nil
	}
	if why := methodAllows(app, cr.via); why != "" {
		return errInvalidClient(why)
	}
	switch {
	case !app.Enabled:
		return errInvalidClient("application disabled")
	case !app.Allows(web.Addr(c)):
		return errInvalidClient("address not in the application's allowlist")
	}
	ctx := c.Request().Context()
	if cr.via == viaCertificate {
		if err := s.verifier.VerifyCertificate(ctx, app, cr.chain); err != nil {
			return keyError(reasonCertificate, err)
		}
		cr.verified = app.Auth.Method
		return nil
	}
	a := cr.assertion
	if err := s.verifier.VerifyAssertion(ctx, app, a); err != nil {
		return keyError(reasonAssertion, err)
	}
	// An external issuer's token (workload identity) is reused by its
	// holder until it expires, and may carry no jti: it is not single use
	// (clientauth.Assertion.Workload).
	switch {
	case a.Workload:
	case laterJTI:
		cr.jti, cr.jtiUntil = a.ID, a.Expiry.Add(clientauth.Leeway)
	default:
		if err := s.store.UseAssertion(ctx, app.ClientID, a.ID, a.Expiry.Add(clientauth.Leeway)); err != nil {
			return replayError(err)
		}
	}
	cr.verified = app.Auth.Method
	return nil
}

// reasonReplay is the log reason of a client assertion used before.
const reasonReplay = "client assertion replayed: its jti was used before"

// replayError is the answer to a jti the store says was taken before
// (store.ErrAlreadyExists): invalid_client; other errors pass.
func replayError(err error) error {
	if errors.Is(err, store.ErrAlreadyExists) {
		return errInvalidClient(reasonReplay)
	}
	return err
}

// keyError is the answer to a refused assertion or certificate: an
// invalid_client whose reason (the log's) says why; anything else (no
// *clientauth.Error) is the server's failure.
func keyError(kind string, err error) error {
	var e *clientauth.Error
	if !errors.As(err, &e) {
		return err
	}
	ic := errInvalidClient(clientauthReason(kind, err))
	if e.Temporary {
		ic.Description = "client authentication failed: the client's keys could not be fetched; try again later"
	}
	return ic
}

// authenticate checks cr against app (nil: unknown client) completely:
// the method, the secret or the key (its jti taken), enabled, the
// allowlist. It returns the secret that matched, if any.
func (s *Server) authenticate(c echo.Context, app *store.Application, cr *credentials) (string, error) {
	if app != nil {
		if err := s.verifyKey(c, app, cr, false); err != nil {
			return "", err
		}
	}
	return checkClient(c, app, cr, s.cfg.Now())
}

// authenticateClient returns the application whose credentials the request
// carries. Every failure is the same invalid_client answer; the log line
// says which check failed.
func (s *Server) authenticateClient(c echo.Context, form url.Values) (store.Application, error) {
	cr, err := s.clientCredentials(c, form)
	if err != nil {
		return store.Application{}, err
	}
	app, err := s.store.GetApplication(c.Request().Context(), cr.id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Application{}, errInvalidClient(reasonUnknownClient)
	case err != nil:
		return store.Application{}, err
	}
	_, err = s.authenticate(c, &app, &cr)
	return app, err
}

// maxChain bounds the certificates a client-certificate header may carry.
const maxChain = 8

// clientChain is the client's TLS certificate chain: from the header a
// TLS-terminating proxy sets (Config.ClientCertHeader), believed only
// when the connection comes from a trusted proxy, else from oauthd's own
// TLS connection (which asks for a certificate and requires none). nil
// when there is none. The certificate is not verified here: that is the
// application's method's business (clientauth.VerifyCertificate).
func (s *Server) clientChain(c echo.Context) ([]*x509.Certificate, error) {
	r := c.Request()
	if h := s.cfg.ClientCertHeader; h != "" {
		values := r.Header.Values(h)
		switch trusted := s.proxies.TrustsPeer(r); {
		case trusted && len(values) > 1:
			return nil, errInvalidRequest("more than one %s header", h)
		case trusted && (len(values) == 0 || values[0] == ""):
			// The proxy got no certificate. A TLS connection from the
			// proxy itself carries the proxy's own certificate, never
			// the client's.
			return nil, nil
		case trusted:
			return parseCertHeader(values[0])
		case len(values) > 0 && s.certHeaderIgnored.CompareAndSwap(false, true):
			s.cfg.Logger.Warn("client certificate header from a peer that is not a trusted proxy ignored (logged once); set http.trusted_proxies to the proxy's address",
				"header", h, "peer", r.RemoteAddr)
		}
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates, nil
	}
	return nil, nil
}

// parseCertHeader reads a URL-escaped PEM chain, as nginx's
// $ssl_client_escaped_cert carries it. A header that does not parse is
// the proxy's configuration's fault, or an attack: invalid_client.
func parseCertHeader(v string) ([]*x509.Certificate, error) {
	raw, err := url.QueryUnescape(v)
	if err != nil {
		// Some proxies escape with %20 for spaces and leave '+' alone.
		if raw, err = url.PathUnescape(v); err != nil {
			return nil, errInvalidClient("client certificate header is not URL-escaped PEM")
		}
	}
	rest := []byte(raw)
	var chain []*x509.Certificate
	for len(chain) < maxChain {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, errInvalidClient("client certificate header holds a certificate that does not parse")
		}
		chain = append(chain, cert)
	}
	if len(chain) == 0 {
		return nil, errInvalidClient("client certificate header holds no PEM certificate")
	}
	return chain, nil
}

// feedForm is the revocation feed's client authentication parameters: a
// GET has no body, so a client assertion (and the client_id of the mTLS
// methods) comes in the URL query. Each may come once; nothing else in the
// query is read.
func feedForm(c echo.Context) (url.Values, error) {
	q := c.Request().URL.Query()
	form := url.Values{}
	for _, k := range []string{"client_id", "client_assertion_type", "client_assertion"} {
		switch v := q[k]; {
		case len(v) > 1:
			return nil, errInvalidRequest("parameter %s is repeated: send it once", k)
		case len(v) == 1:
			form[k] = v
		}
	}
	if q.Has("client_secret") {
		return nil, errInvalidRequest("client_secret does not belong in a URL: use HTTP Basic")
	}
	return form, nil
}

// authMethodsSupported lists the client authentication methods the
// metadata names: the secret methods and private_key_jwt always;
// client_secret_jwt when a sealing key can open its secrets; the mTLS
// methods when a client certificate can reach oauthd (Config.MTLS),
// tls_client_auth only with a client CA to verify it.
func (s *Server) authMethodsSupported() []string {
	out := []string{store.AuthSecretBasic, store.AuthSecretPost}
	if s.cfg.ClientAuth.Unseal != nil {
		out = append(out, store.AuthSecretJWT)
	}
	out = append(out, store.AuthPrivateKeyJWT)
	if s.cfg.MTLS && s.cfg.ClientAuth.ClientCAs != nil {
		out = append(out, store.AuthTLS)
	}
	if s.cfg.MTLS {
		out = append(out, store.AuthSelfSignedTLS)
	}
	return out
}

// authAlgsSupported lists the algorithms of client assertions.
func (s *Server) authAlgsSupported() []string {
	out := slices.Clone(clientauth.SigningAlgorithms)
	if s.cfg.ClientAuth.Unseal != nil {
		out = append(out, clientauth.SecretAlgorithms...)
	}
	return out
}
