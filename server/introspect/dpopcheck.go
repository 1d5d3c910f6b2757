package introspect

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oauthd/oauthd/server/dpop"
)

// DefaultDPoPWindow is the default Config.DPoPWindow: a proof is accepted
// when its iat is at most this far from the resource server's clock, in
// the past (the proof's age, network time included) or in the future (the
// client's clock ahead). One minute covers ordinary skew and a slow
// request; each accepted proof is remembered as long (ReplayCache).
const DefaultDPoPWindow = 60 * time.Second

// The DPoP headers' canonical keys (net/http's spelling), used as is:
// Header.Get would canonicalize "DPoP" anew, at a cost, on every request.
const (
	dpopHeader  = "Dpop"
	nonceHeader = "Dpop-Nonce"
)

// replaySlack keeps a proof in the replay cache a little past its window,
// so that replicas whose clocks trail the one that recorded it do not
// accept it again once Redis has let it go.
const replaySlack = 5 * time.Second

func (c *Client) configureDPoP(cfg *Config) error {
	c.requireDPoP = cfg.RequireDPoP
	c.dpopAlgs = dpopAlgorithms
	if len(cfg.DPoPAlgorithms) > 0 {
		c.dpopAlgs = nil
		for _, a := range cfg.DPoPAlgorithms {
			if !slices.Contains(dpopAlgorithms, a) {
				return fmt.Errorf("introspect: config: DPoPAlgorithms: %q is not one of %s", a, strings.Join(dpopAlgorithms, ", "))
			}
			if !slices.Contains(c.dpopAlgs, a) {
				c.dpopAlgs = append(c.dpopAlgs, a)
			}
		}
	}
	if cfg.DPoPWindow < 0 || cfg.DPoPNonceLifetime < 0 {
		return errors.New("introspect: config: DPoPWindow and DPoPNonceLifetime must not be negative")
	}
	c.dpopWindow = orDefault(cfg.DPoPWindow, DefaultDPoPWindow)
	c.replay = cfg.DPoPReplay
	if c.replay == nil {
		m := NewMemoryReplayCache(0)
		m.now = c.now // the clock the proofs' iat are checked with
		c.replay = m
	}
	c.proofs = dpop.NewParser(c.dpopAlgs, proofHeadCacheSize)
	if cfg.DPoPNonce {
		if len(cfg.DPoPNonceKey) > 0 && len(cfg.DPoPNonceKey) < 32 {
			return errors.New("introspect: config: DPoPNonceKey must be at least 32 bytes (head -c32 /dev/urandom)")
		}
		c.nonces = newNonces(slices.Clone(cfg.DPoPNonceKey), orDefault(cfg.DPoPNonceLifetime, DefaultDPoPNonceLifetime))
	}
	if cfg.PublicURL != "" {
		o, ok := parsePublicURL(cfg.PublicURL)
		if !ok {
			return fmt.Errorf("introspect: config: PublicURL %q must be an absolute http or https URL without user, query or fragment", cfg.PublicURL)
		}
		c.public, c.hasPublic = o, true
	}
	if h := cfg.ClientCertHeader; h != "" {
		if strings.ContainsAny(h, " :\t\r\n") {
			return fmt.Errorf("introspect: config: ClientCertHeader %q is not a header name", h)
		}
		if len(cfg.TrustedProxies) == 0 {
			return errors.New("introspect: config: ClientCertHeader needs TrustedProxies: the header is believed only from them")
		}
		c.certHeader = http.CanonicalHeaderKey(h)
	}
	return nil
}

// checkDPoP is Check for a request presenting its token with the DPoP
// scheme (RFC 9449 §7.1). In order, cheapest first:
//
//   - the proof (RFC 9449 §4.3): one DPoP header, a JWS of typ dpop+jwt,
//     an accepted alg, a public jwk suiting it, jti, htm, htu and iat;
//     htm this request's method, htu its URI (htu.go), iat within
//     DPoPWindow, ath the hash of the token; then its signature; then,
//     with DPoPNonce, its nonce (else 401 use_dpop_nonce). A failure is
//     401 invalid_dpop_proof.
//   - the token: active, DPoP-bound, to the proof's key (its thumbprint
//     is cnf.jkt), certificate-bound only to the connection's
//     certificate, with the route's scopes. Failures are 401
//     invalid_token, and 403 insufficient_scope.
//   - the proof's jti, in the replay cache, last, so that only a proof
//     that carried a request through is remembered: a replay is 401
//     invalid_dpop_proof, and an unreachable cache 503.
//
// The introspection answer is cached for the token (never for a proof),
// and the proof is checked against it anew on every request: one proof's
// key never borrows another's answer.
func (g *Gate) checkDPoP(w http.ResponseWriter, r *http.Request, token string) (context.Context, bool) {
	c := g.c
	set := &g.rs.dpop
	now := c.now()
	if c.nonces != nil {
		w.Header()[nonceHeader] = []string{c.nonces.current(now)}
	}
	p, ref := c.checkProof(r, token, now)
	if ref != refNone {
		set[ref].write(w)
		return nil, false
	}
	resp, ok := g.introspect(w, r, token, set)
	if !ok {
		return nil, false
	}
	switch {
	case !resp.DPoPBound():
		ref = refNotBound
	case !p.BoundTo(resp.Cnf.JKT):
		ref = refKeyMismatch
	case resp.Cnf.X5tS256 != "" && !c.certMatches(r, resp.Cnf.X5tS256):
		ref = refCertMismatch
	case !g.hasScopes(resp):
		ref = refInsufficient
	}
	if ref != refNone {
		set[ref].write(w)
		return nil, false
	}
	until := time.Unix(0, int64(p.Claims.IAT*1e9)).Add(c.dpopWindow + replaySlack)
	seen, err := c.replay.Seen(r.Context(), replayKey(&p), until)
	if err != nil {
		c.logUnavailable(r, fmt.Errorf("the DPoP replay cache cannot say whether this proof was used before: %w", err))
		g.rs.unavailable.write(w)
		return nil, false
	}
	if seen {
		set[refProofReplayed].write(w)
		return nil, false
	}
	return NewContext(r.Context(), resp), true
}

// checkProof runs the proof's checks that need no introspection answer.
func (c *Client) checkProof(r *http.Request, token string, now time.Time) (proof, refusal) {
	vals := r.Header[dpopHeader]
	switch {
	case len(vals) == 0:
		return proof{}, refNoProof
	case len(vals) > 1 || strings.IndexByte(vals[0], ',') >= 0:
		// A proxy may fold two header lines into one, comma-separated.
		return proof{}, refTwoProofs
	}
	p, ref := c.parseProof(vals[0])
	if ref != refNone {
		return p, ref
	}
	cl := &p.Claims
	if cl.HTM != r.Method {
		return p, refProofMethod
	}
	o := c.public
	if !c.hasPublic {
		o = requestOrigin(r)
	}
	if path := r.URL.EscapedPath(); !htuMatches(cl.HTU, o, path) {
		c.logHTU(r, cl.HTU, o, path)
		return p, refProofURI
	}
	if skew := cl.IAT - float64(now.UnixNano())/1e9; math.IsNaN(skew) || math.Abs(skew) > c.dpopWindow.Seconds() {
		return p, refProofTime
	}
	var ath [43]byte
	if cl.ATH != string(dpop.AccessTokenHash(&ath, token)) {
		return p, refProofATH
	}
	if !p.Verify() {
		return p, refProofSignature
	}
	if c.nonces != nil && !c.nonces.valid(cl.Nonce, now) {
		return p, refUseNonce
	}
	return p, refNone
}

// replayKey names the proof in the replay cache: its key, its URI and its
// jti (RFC 9449 §11.1: jti values are remembered per target URI), hashed
// so that every key has one short length whatever the client sent.
func replayKey(p *proof) string {
	var buf [1024]byte
	b := append(append(append(append(buf[:0], p.JKT[:]...), p.Claims.HTU...), 0), p.Claims.JTI...)
	sum := sha256.Sum256(b)
	var key [5 + 43]byte
	copy(key[:], "dpop:")
	base64.RawURLEncoding.Encode(key[5:], sum[:])
	return string(key[:])
}

// logHTU says at debug level what a refused htu was compared with: the
// usual cause is a PublicURL that is not what clients use.
func (c *Client) logHTU(r *http.Request, htu string, o origin, path string) {
	log := c.log
	if log == nil {
		log = slog.Default()
	}
	if !log.Enabled(r.Context(), slog.LevelDebug) {
		return
	}
	log.LogAttrs(r.Context(), slog.LevelDebug, "introspect: DPoP proof refused: its htu is not this request's URI; check PublicURL",
		slog.String("htu", htu), slog.String("expected", o.scheme+"://"+o.host+o.prefix+path))
}
