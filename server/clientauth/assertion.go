package clientauth

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/oauthd/oauthd/store"
)

// parseAlgorithms are the algorithms ParseAssertion lets through: every
// one a method may accept. VerifyAssertion then holds each method to its
// own list. "none" is in neither.
var parseAlgorithms = func() []jose.SignatureAlgorithm {
	var algs []jose.SignatureAlgorithm
	for _, a := range slices.Concat(SigningAlgorithms, SecretAlgorithms) {
		if a == algEd25519 {
			continue // go-jose 4.1 does not know it: parseEd25519
		}
		algs = append(algs, jose.SignatureAlgorithm(a))
	}
	return algs
}()

// Assertion is a client assertion (RFC 7523 §2.2) as sent, parsed but,
// until VerifyAssertion returns nil, not verified.
type Assertion struct {
	Raw       string
	Issuer    string
	Subject   string
	ID        string
	Algorithm string
	KeyID     string
	Audience  []string
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
	// Workload is set by VerifyAssertion when the assertion is an
	// external issuer's token (workload identity). Such a token is reused
	// by its holder until it expires (a kubelet refreshes a projected
	// service-account token at 80% of its life), and may carry no jti:
	// the caller must not refuse it as a replay.
	Workload bool

	jws *jose.JSONWebSignature
	// ed is the signed input and signature of an assertion whose alg is
	// "Ed25519" (jws nil): go-jose 4.1 does not parse that name.
	ed *edSigned
	// parsed is the assertion as ParseAssertion read it, so that
	// VerifyAssertion checks what was signed, not fields a caller edited,
	// without parsing it again.
	parsed *Assertion
}

// claims are the registered claims a client assertion carries.
type claims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	ID        string           `json:"jti"`
	Expiry    *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
}

// ParseAssertion parses a client assertion without verifying it, so the
// caller learns which application it claims to be. It refuses one over
// MaxAssertionBytes, one not in the JWS compact serialization, one whose
// alg is not in SigningAlgorithms or SecretAlgorithms ("none" included),
// and one whose claims are not JSON of the right types.
func ParseAssertion(raw string) (*Assertion, error) {
	if raw == "" {
		return nil, refuse("client_assertion is empty")
	}
	if len(raw) > MaxAssertionBytes {
		return nil, refuse("client_assertion is %d bytes, over the limit of %d", len(raw), MaxAssertionBytes)
	}
	if headerAlg(raw) == algEd25519 {
		return parseEd25519(raw)
	}
	jws, err := jose.ParseSignedCompact(raw, parseAlgorithms)
	if err != nil {
		var alg *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &alg) {
			return nil, refuse("client_assertion alg %q is not allowed (allowed: %v for keys, %v for client_secret_jwt)",
				truncate(string(alg.Got), 32), SigningAlgorithms, SecretAlgorithms)
		}
		return nil, refuse("client_assertion is not a signed JWT in compact serialization")
	}
	if len(jws.Signatures) != 1 {
		return nil, refuse("client_assertion must carry exactly one signature")
	}
	h := jws.Signatures[0].Header
	return newAssertion(raw, jws.UnsafePayloadWithoutVerification(), h.Algorithm, h.KeyID, jws, nil)
}

// newAssertion is ParseAssertion's result from the parts it read.
func newAssertion(raw string, payload []byte, alg, kid string, jws *jose.JSONWebSignature, ed *edSigned) (*Assertion, error) {
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, refuse("client_assertion claims are not a JSON object of registered claims")
	}
	a := &Assertion{
		Raw:       raw,
		Issuer:    c.Issuer,
		Subject:   c.Subject,
		ID:        c.ID,
		Algorithm: alg,
		KeyID:     kid,
		Audience:  []string(c.Audience),
		jws:       jws,
		ed:        ed,
	}
	a.IssuedAt, a.NotBefore, a.Expiry = timeOf(c.IssuedAt), timeOf(c.NotBefore), timeOf(c.Expiry)
	snap := *a
	snap.Audience = slices.Clone(a.Audience)
	a.parsed = &snap
	return a, nil
}

// pristine is a as parsed: a copy of what ParseAssertion read when Raw is
// unchanged, else Raw parsed again.
func (a *Assertion) pristine() (*Assertion, error) {
	if a.parsed == nil || a.parsed.Raw != a.Raw {
		return ParseAssertion(a.Raw)
	}
	p := *a.parsed
	p.Audience = slices.Clone(p.Audience)
	p.parsed = a.parsed
	return &p, nil
}

func timeOf(d *jwt.NumericDate) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time()
}

// ClientID is the application the assertion authenticates: the client_id
// form parameter when sent (RFC 7521 §4.2 lets a client send it; the
// application's rules then hold iss and sub to it), else iss, which must
// equal sub (RFC 7523 §3). An external issuer's token (workload identity)
// has an iss and sub that name no application: the form's client_id is
// required for it.
func (a *Assertion) ClientID(formClientID string) (string, error) {
	if formClientID != "" {
		return formClientID, nil
	}
	if a.Issuer == "" || a.Subject == "" {
		return "", refuse("client_assertion has no iss or sub, and no client_id was sent")
	}
	if a.Issuer != a.Subject {
		return "", refuse("client_assertion iss and sub differ (a workload identity token?): send client_id with it")
	}
	return a.Issuer, nil
}

// VerifyAssertion verifies that a authenticates app: the method is
// private_key_jwt or client_secret_jwt; the alg is one the method allows;
// iss and sub name the application (or, for workload identity, the
// trusted issuer and subject); aud names this server (or the trusted
// audience); exp is present, not past, and not further than MaxLifetime
// from iat; nbf and iat are not in the future; jti is present (not for
// workload identity); the signature verifies with one of the application's
// keys (inline JWKS, jwks_uri, the trusted issuer's keys) or active
// secrets. Every refusal is an *Error.
//
// The claims are checked before the signature, so an assertion that could
// never pass costs no key fetch. On success *a is replaced by the
// verified claims (a.Workload set for an external issuer's token).
//
// It does NOT check that the jti is new: the caller stores a.ID until
// a.Expiry, across replicas, and refuses a repeat (RFC 7523 §3, item 7).
func (v *Verifier) VerifyAssertion(ctx context.Context, app *store.Application, a *Assertion) error {
	if app == nil || a == nil {
		return refuse("no application or no assertion")
	}
	// Work from what was signed, not fields a caller may have changed.
	p, err := a.pristine()
	if err != nil {
		return err
	}
	method := app.Auth.Method
	switch method {
	case store.AuthPrivateKeyJWT:
		if !slices.Contains(SigningAlgorithms, p.Algorithm) {
			return refuse("alg %s not allowed for private_key_jwt (allowed: %v)", p.Algorithm, SigningAlgorithms)
		}
	case store.AuthSecretJWT:
		if !slices.Contains(SecretAlgorithms, p.Algorithm) {
			return refuse("alg %s not allowed for client_secret_jwt (allowed: %v)", p.Algorithm, SecretAlgorithms)
		}
	default:
		return refuse("application %s authenticates with %s, not a client assertion", app.ClientID, methodName(method))
	}
	workload := method == store.AuthPrivateKeyJWT && app.Auth.TrustedIssuer != ""
	if err := v.checkClaims(app, p, workload); err != nil {
		return err
	}
	switch {
	case method == store.AuthSecretJWT:
		err = v.verifyHMAC(ctx, app, p)
	case workload:
		src := app.Auth.TrustedJWKSURI
		kind := sourceJWKS
		if src == "" {
			src, kind = app.Auth.TrustedIssuer, sourceIssuer
		}
		err = v.verifyRemote(ctx, p, source{kind: kind, url: src})
	case app.Auth.JWKSURI != "":
		err = v.verifyRemote(ctx, p, source{kind: sourceJWKS, url: app.Auth.JWKSURI})
	default:
		var ks *keySet
		if ks, err = v.inlineKeys(app.Auth.JWKS); err == nil {
			err = asError(verifyWith(p, ks))
		}
	}
	if err != nil {
		return err
	}
	p.Workload = workload
	*a = *p
	return nil
}

func methodName(m string) string {
	if m == "" {
		return "a client secret"
	}
	return m
}

// checkClaims checks iss, sub, aud, the times and jti (RFC 7523 §3).
func (v *Verifier) checkClaims(app *store.Application, a *Assertion, workload bool) error {
	if workload {
		if app.Auth.TrustedSubject == "" || app.Auth.TrustedAudience == "" {
			return refuse("application %s trusts an issuer but has no trusted subject or audience registered", app.ClientID)
		}
		if a.Issuer != app.Auth.TrustedIssuer {
			return refuse("assertion iss %q is not the application's trusted issuer", truncate(a.Issuer, 128))
		}
		if a.Subject != app.Auth.TrustedSubject {
			return refuse("assertion sub %q is not the application's trusted subject", truncate(a.Subject, 128))
		}
		if !slices.Contains(a.Audience, app.Auth.TrustedAudience) {
			return refuse("assertion aud does not name the application's trusted audience")
		}
	} else {
		if a.Issuer != app.ClientID {
			return refuse("assertion iss %q is not the client_id %s", truncate(a.Issuer, 128), app.ClientID)
		}
		if a.Subject != app.ClientID {
			return refuse("assertion sub %q is not the client_id %s", truncate(a.Subject, 128), app.ClientID)
		}
		if !v.namesServer(a.Audience) {
			return refuse("assertion aud does not name this server (want the issuer %s or a token endpoint URL)", v.cfg.Issuer)
		}
	}
	now := v.cfg.Now()
	if a.Expiry.IsZero() {
		return refuse("assertion has no exp")
	}
	if !now.Before(a.Expiry.Add(Leeway)) {
		return refuse("assertion expired at %s", a.Expiry.UTC().Format(time.RFC3339))
	}
	if !a.NotBefore.IsZero() && a.NotBefore.After(now.Add(Leeway)) {
		return refuse("assertion nbf %s is in the future", a.NotBefore.UTC().Format(time.RFC3339))
	}
	if !a.IssuedAt.IsZero() && a.IssuedAt.After(now.Add(Leeway)) {
		return refuse("assertion iat %s is in the future", a.IssuedAt.UTC().Format(time.RFC3339))
	}
	maxLife, from := v.cfg.MaxLifetime, now
	if workload {
		maxLife = v.cfg.MaxExternalLifetime
	}
	if !a.IssuedAt.IsZero() {
		from = a.IssuedAt
	}
	if life := a.Expiry.Sub(from); life > maxLife {
		return refuse("assertion lifetime %s (exp - iat, or exp - now without iat) is over the limit of %s", life.Round(time.Second), maxLife)
	}
	if !workload {
		if a.ID == "" {
			return refuse("assertion has no jti")
		}
		if len(a.ID) > MaxJTILength {
			return refuse("assertion jti is %d characters, over the limit of %d", len(a.ID), MaxJTILength)
		}
	}
	return nil
}

// namesServer reports whether aud names this server: its issuer or one of
// its token endpoint URLs, exactly (RFC 7523 §3, item 3).
func (v *Verifier) namesServer(aud []string) bool {
	for _, s := range aud {
		if s == "" {
			continue
		}
		if s == v.cfg.Issuer || slices.Contains(v.cfg.TokenEndpoints, s) {
			return true
		}
	}
	return false
}

// truncate bounds a client-chosen string quoted in a Reason.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
