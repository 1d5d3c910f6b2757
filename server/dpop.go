package server

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/clientip"
	"github.com/oauthd/oauthd/server/dpop"
	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/server/web"
	"github.com/oauthd/oauthd/store"
)

// Sender-constrained tokens at the token endpoint (issue 19): DPoP (RFC
// 9449) and certificate binding (RFC 8705 §3), and the per-application
// policy that asks for them (dpop_bound_access_tokens, the FAPI 2.0
// profile).

// BindingConfig configures sender-constrained tokens.
type BindingConfig struct {
	// DPoPMaxAge is how old a proof's iat may be, DPoPLeeway how far in
	// the future; 0 means dpop.DefaultMaxAge and dpop.DefaultLeeway.
	DPoPMaxAge, DPoPLeeway time.Duration
	// DPoPAlgorithms are the proof algorithms accepted; nil means
	// dpop.Algorithms.
	DPoPAlgorithms []string
	// RequireNonce makes every DPoP proof carry a server nonce (RFC 9449
	// §8): one without is answered use_dpop_nonce with a DPoP-Nonce.
	RequireNonce bool
	// NonceKey keys the stateless nonces; every replica must have the
	// same (cmd derives it from the sealing key). Empty: a random key of
	// this process, fit for one replica only.
	NonceKey []byte
	// NoncePeriod is a nonce window; 0 means dpop.DefaultNoncePeriod.
	NoncePeriod time.Duration
	// TokenURLs are further URLs of the token endpoint a proof's htu may
	// name, beside Issuer + "/oauth/token": the mTLS alias.
	TokenURLs []string
	// TLS says the listener serves TLS and asks for client certificates,
	// so tokens can be certificate-bound (metadata
	// tls_client_certificate_bound_access_tokens).
	TLS bool
	// FAPIDefault holds applications whose Profile is "" to the FAPI 2.0
	// profile.
	FAPIDefault bool
	// FAPIMaxLifetime caps the lifetime of a FAPI application's access
	// tokens; 0 means DefaultFAPIMaxLifetime.
	FAPIMaxLifetime time.Duration
}

// DefaultFAPIMaxLifetime is BindingConfig.FAPIMaxLifetime's default: 10
// minutes, the FAPI working group's figure for the lifetime of access
// tokens (openid/fapi pull request 166, after RFC 6819 §3.1.2's short-lived
// tokens). FAPI 2.0 asks for sender-constrained tokens and names no number
// of its own, so it is a setting (fapi.max_token_lifetime).
const DefaultFAPIMaxLifetime = 10 * time.Minute

// binder checks the binding a token request asks for.
type binder struct {
	cfg      BindingConfig
	verifier *dpop.Verifier
	nonces   *dpop.Nonces
	urls     []string
	proxies  *clientip.Proxies
}

func newBinder(cfg Config) (*binder, error) {
	bc := cfg.Binding
	b := &binder{cfg: bc, proxies: clientip.NewProxies(cfg.TrustedProxies)}
	b.verifier = dpop.New(dpop.Config{Algorithms: bc.DPoPAlgorithms, MaxAge: bc.DPoPMaxAge, Leeway: bc.DPoPLeeway, Now: cfg.Now})
	key := bc.NonceKey
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("server: DPoP nonce key: %w", err)
		}
	}
	b.nonces = dpop.NewNonces(key, bc.NoncePeriod, cfg.Now)
	// cmd checks the issuer; a test server without one accepts no proof.
	if n, err := dpop.NormalizeURL(cfg.Issuer + "/oauth/token"); err == nil {
		b.urls = append(b.urls, n)
	}
	urls := bc.TokenURLs
	if cfg.MTLSBaseURL != "" {
		urls = append(urls, cfg.MTLSBaseURL+TokenPath)
	}
	for _, u := range urls {
		n, err := dpop.NormalizeURL(u)
		if err != nil {
			return nil, fmt.Errorf("server: token endpoint URL %q: %v", u, err)
		}
		b.urls = append(b.urls, n)
	}
	return b, nil
}

// binding is what a token request's token is to be bound to.
type binding struct {
	cnf store.Confirmation
	// alg is the DPoP proof's algorithm, "" without one.
	alg string
	// age is how old the proof was when it arrived.
	age time.Duration
	// assertionAlg is the alg of the client assertion the client
	// authenticated with (issue 18), "" for none: the FAPI profile limits
	// it as it limits proofs'.
	assertionAlg string
	// proofID names the proof for its single use (its key's thumbprint
	// and its jti), taken with the token's write until proofUntil
	// (store.TokenRequest.ProofID): "" without a proof.
	proofID    string
	proofUntil time.Time
}

// errProofReplayed answers a proof whose jti was used already
// (store.ErrProofReplayed).
var errProofReplayed = errInvalidDPoPProof("this DPoP proof (its jti) was used already: make a new proof for each request")

func errInvalidDPoPProof(format string, args ...any) *web.Error {
	return &web.Error{Code: "invalid_dpop_proof", Description: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

// readBinding checks the request's DPoP proof, if any, and its client
// certificate (RFC 9449 §4.3, §5; RFC 8705 §3). A proof is checked before
// the client is authenticated: it reveals nothing about any application.
// Its jti is not spent here but with the token's write, in the same Redis
// round trip (binding.proofID): a request that issues nothing leaves it
// unspent, which gives a replay of it nothing a fresh proof would not,
// as the client must authenticate either way and any token is bound to
// the proof's key.
func (s *Server) readBinding(c echo.Context) (binding, error) {
	b, r := s.bind, c.Request()
	var out binding
	cert, err := s.clientCertificate(c)
	if err != nil {
		return out, err
	}
	if cert != nil {
		out.cnf.X5TS256 = certThumbprint(cert)
		// Hashes of public material: safe in the request's log line,
		// which then says what the token is bound to.
		web.LogAttrs(c, slog.String("cnf_x5t_s256", out.cnf.X5TS256))
	}
	if b.cfg.RequireNonce {
		// A fresh nonce with every answer, as §8.2 allows: the client
		// keeps the latest.
		c.Response().Header().Set("DPoP-Nonce", b.nonces.Current())
	}
	proofs := r.Header.Values("DPoP")
	switch {
	case len(proofs) == 0:
		return out, nil
	case len(proofs) > 1:
		return out, errInvalidDPoPProof("send one DPoP header (RFC 9449 §4.3)")
	}
	p, err := b.verifier.Verify(proofs[0], r.Method, b.urls)
	if err != nil {
		var e *dpop.Error
		if errors.As(err, &e) {
			return out, errInvalidDPoPProof("%s", e.Reason)
		}
		return out, err
	}
	if b.cfg.RequireNonce && !b.nonces.Valid(p.Nonce) {
		return out, &web.Error{Code: "use_dpop_nonce", Status: http.StatusBadRequest,
			Description: "the DPoP proof must carry the server's nonce: repeat the request with a proof whose nonce is the DPoP-Nonce header of this answer"}
	}
	// Remembered until the proof would be too old anyway, per key (and
	// per client, by the store): one key cannot spend another's jti.
	out.proofID, out.proofUntil = p.JKT+" "+p.ID, p.IssuedAt.Add(b.verifier.Window())
	out.cnf.JKT, out.alg, out.age = p.JKT, p.Algorithm, s.cfg.Now().Sub(p.IssuedAt)
	web.LogAttrs(c, slog.String("cnf_jkt", p.JKT))
	return out, nil
}

// fapiMaxProofAge is how old a FAPI application's DPoP proof may be,
// whatever dpop.max_age says (FAPI 2.0 Security Profile §5.3.2.1 asks for
// short-lived proofs; 60 seconds is its figure for iat windows).
const fapiMaxProofAge = 60 * time.Second

// fapi reports whether app is held to the FAPI 2.0 profile.
func (s *Server) fapi(app *store.Application) bool {
	return app.Profile == store.ProfileFAPI2 || app.Profile == "" && s.bind.cfg.FAPIDefault
}

// fapiLifetime is the lifetime to ask for (store.TokenRequest.Lifetime)
// for a FAPI application's token asked to live ttl (0: its application's
// lifetime): at most the cap, which store.Application.LifetimeFor then
// lowers to the application's own when that is shorter, so expires_in
// says what was granted.
func (s *Server) fapiLifetime(ttl time.Duration) time.Duration {
	limit := s.bind.cfg.FAPIMaxLifetime
	if limit <= 0 {
		limit = DefaultFAPIMaxLifetime
	}
	if ttl <= 0 || ttl > limit {
		return limit
	}
	return ttl
}

// senderPolicy is what app's settings ask of the binding, checked once
// the client has authenticated.
func (s *Server) senderPolicy(c echo.Context, app *store.Application, b binding) error {
	if app.DPoPBound && b.cnf.JKT == "" {
		return errInvalidDPoPProof("this application's tokens must be DPoP-bound (dpop_bound_access_tokens): send a DPoP proof with the request")
	}
	if !s.fapi(app) {
		return nil
	}
	r := c.Request()
	switch m := app.Auth.Method; {
	case m != store.AuthPrivateKeyJWT && m != store.AuthTLS && m != store.AuthSelfSignedTLS:
		return &web.Error{Code: "invalid_client", Status: http.StatusUnauthorized, Challenge: basicChallenge,
			Reason:      "FAPI 2.0 application authenticated with a shared secret",
			Description: "this application follows the FAPI 2.0 profile, which refuses shared secrets: authenticate with private_key_jwt, tls_client_auth or self_signed_tls_client_auth"}
	case r.TLS == nil && !s.bind.proxies.TrustsPeer(r):
		return errInvalidRequest("this application follows the FAPI 2.0 profile: request tokens over TLS")
	case !b.cnf.Bound():
		return errInvalidRequest("this application follows the FAPI 2.0 profile, whose tokens are sender-constrained: send a DPoP proof or use a TLS client certificate")
	case b.assertionAlg != "" && !slices.Contains(dpop.FAPIAlgorithms, b.assertionAlg):
		return &web.Error{Code: "invalid_client", Status: http.StatusUnauthorized, Challenge: basicChallenge,
			Reason:      "FAPI 2.0 application's client assertion signed " + b.assertionAlg,
			Description: "this application follows the FAPI 2.0 profile: sign client assertions with PS256, ES256 or EdDSA"}
	case b.alg != "" && !slices.Contains(dpop.FAPIAlgorithms, b.alg):
		return errInvalidDPoPProof("this application follows the FAPI 2.0 profile: sign DPoP proofs with PS256, ES256 or EdDSA")
	case b.alg != "" && b.age > fapiMaxProofAge:
		return errInvalidDPoPProof("this application follows the FAPI 2.0 profile: DPoP proofs may be at most %s old", fapiMaxProofAge)
	}
	return nil
}

// tokenType is the token_type of a token bound to cnf: DPoP for a key
// binding (RFC 9449 §5); a certificate-bound token stays Bearer (RFC 8705
// §3).
func tokenType(cnf store.Confirmation) string {
	if cnf.JKT != "" {
		return "DPoP"
	}
	return "Bearer"
}

// cnfClaim is a JWT's cnf claim for cnf, nil for a bearer token.
func cnfClaim(cnf store.Confirmation) *signing.Confirmation {
	if !cnf.Bound() {
		return nil
	}
	return &signing.Confirmation{JKT: cnf.JKT, X5TS256: cnf.X5TS256}
}

// cnfAnswer is introspection's cnf for cnf, nil for a bearer token.
func cnfAnswer(cnf store.Confirmation) *confirmation {
	if !cnf.Bound() {
		return nil
	}
	return &confirmation{JKT: cnf.JKT, X5tS256: cnf.X5TS256}
}
