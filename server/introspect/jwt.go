package introspect

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// jwtType is RFC 9068's typ for JWT access tokens.
const jwtType = "at+jwt"

// looksLikeJWT tells a compact JWS from oauthd's opaque tokens, which
// never hold a '.'.
func looksLikeJWT(token string) bool {
	return strings.HasPrefix(token, "eyJ") && strings.Count(token, ".") == 2
}

// jwksCache holds oauthd's published keys.
type jwksCache struct {
	uri    atomic.Pointer[string] // from the metadata's jwks_uri
	leeway time.Duration
	floor  time.Duration

	mu      sync.Mutex
	keys    jose.JSONWebKeySet
	fetched time.Time // last fetch attempt
}

// accessClaims are RFC 9068 §2.2's claims, and oauthd's ip_allowlist.
type accessClaims struct {
	Issuer    string           `json:"iss"`
	Expiry    *jwt.NumericDate `json:"exp"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	ID        string           `json:"jti"`
	ClientID  string           `json:"client_id"`
	Subject   string           `json:"sub"`
	Scope     string           `json:"scope"`
	Audience  jwt.Audience     `json:"aud"`
	// IPAllowlist is the token's application's IP allowlist when it has
	// one (CIDRs): the addresses this token may be presented from.
	IPAllowlist []string `json:"ip_allowlist"`
	// Cnf binds a sender-constrained token to a key (RFC 9449 §6.1) or
	// a certificate (RFC 8705 §3.1).
	Cnf Confirmation `json:"cnf"`
}

// validateJWT checks a JWT access token here (Config.LocalJWT). A token
// that fails any check is inactive; only oauthd's keys being unreachable
// is an error (the request is then refused with 503, never let through).
// A token of a key this client does not know yet (a rotation it has not
// seen, within the refresh floor) is not refused but introspected: oauthd
// knows its own keys, so a rotation never refuses a valid token.
//
// With the revocation feed followed (Config.FollowFeed), a JWT is decided
// here only while the feed is live and only if it was issued after the
// last event about its application (or the last reset): an older one may
// be the one revoked, disabled or narrowed, so oauthd decides it. The
// second result reports a local decision (which the caller caches);
// oauthd's answers are cached under remote, the cache key of the token
// and the caller's address, which the caller has just looked up.
func (c *Client) validateJWT(ctx context.Context, token string, from netip.Addr, remote [sha256.Size]byte) (*Response, bool, error) {
	t, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256, jose.RS256})
	if err != nil || len(t.Headers) != 1 {
		return &Response{}, true, nil
	}
	h := t.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, jwtType) && !strings.EqualFold(typ, "application/"+jwtType) {
		return &Response{}, true, nil // RFC 9068 §4: reject other types
	}
	key, err := c.jwksKey(ctx, h.KeyID)
	if err != nil {
		return nil, false, err
	}
	if key == nil {
		r, err := c.join(ctx, remote, token, from)
		return r, false, err
	}
	if key.Algorithm != h.Algorithm {
		return &Response{}, true, nil
	}
	var cl accessClaims
	if c.testHookVerify != nil {
		c.testHookVerify()
	}
	span := c.startSpan(ctx, "jwt.verify")
	err = t.Claims(key.Key, &cl)
	span.End()
	if err != nil {
		return &Response{}, true, nil
	}
	issuer := c.issuer
	if issuer == "" {
		return &Response{}, true, nil // an endpoint-only client has no issuer to check against
	}
	now := c.now()
	leeway := c.jwks.leeway
	if cl.Issuer != issuer || cl.Expiry == nil || !now.Before(cl.Expiry.Time().Add(leeway)) ||
		(cl.IssuedAt != nil && cl.IssuedAt.Time().After(now.Add(leeway))) ||
		(cl.NotBefore != nil && cl.NotBefore.Time().After(now.Add(leeway))) || cl.ClientID == "" || cl.ID == "" {
		return &Response{}, true, nil
	}
	allow, ok := parseAllowlist(cl.IPAllowlist)
	if !ok {
		return &Response{}, true, nil
	}
	if cl.IssuedAt == nil || cl.Expiry.Time().Sub(cl.IssuedAt.Time()) > c.jwtMaxLife {
		// Longer-lived than this server trusts a signature alone for
		// (or of unknown age): oauthd decides, from its own record of
		// the token, which a token made with a stolen key does not have.
		r, err := c.join(ctx, remote, token, from)
		return r, false, err
	}
	if c.follow {
		issued := time.Unix(iat(cl.IssuedAt), 0)
		if !c.live.Load() || !issued.After(c.jwtMarks.since(cl.ClientID).Add(markSkew)) {
			r, err := c.join(ctx, remote, token, from)
			return r, false, err
		}
	}
	typ := "Bearer"
	if cl.Cnf.JKT != "" {
		typ = "DPoP"
	}
	return &Response{
		Active: true, Scope: cl.Scope, ClientID: cl.ClientID, TokenType: typ,
		Exp: cl.Expiry.Time().Unix(), Iat: iat(cl.IssuedAt), Sub: cl.Subject, Iss: cl.Issuer, Jti: cl.ID,
		Aud: []string(cl.Audience), Cnf: cl.Cnf, allow: allow,
	}, true, nil
}

// maxAllowlist bounds the ip_allowlist claim as oauthd bounds allowlists.
const maxAllowlist = 64

// parseAllowlist reads the ip_allowlist claim; false for one oauthd would
// never write.
func parseAllowlist(list []string) ([]netip.Prefix, bool) {
	if len(list) == 0 {
		return nil, true
	}
	if len(list) > maxAllowlist {
		return nil, false
	}
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, false
		}
		out = append(out, p)
	}
	return out, true
}

// allowedFrom holds a locally validated JWT to its application's IP
// allowlist, as oauthd holds every token at introspection: from outside
// it (or from an unknown address) the token is inactive.
func allowedFrom(r *Response, from netip.Addr) *Response {
	if len(r.allow) == 0 || !r.Active {
		return r
	}
	from = from.Unmap()
	for _, p := range r.allow {
		if p.Contains(from) {
			return r
		}
	}
	return &Response{}
}

// markSkew covers iat's whole seconds and the clocks of oauthd and this
// server disagreeing a little: a JWT issued this close to a mark is
// decided by oauthd.
const markSkew = 2 * time.Second

// jwtMarks remembers, per application, when the feed last named it, and
// when it was last reset: JWTs issued before are decided by oauthd.
type jwtMarks struct {
	mu  sync.Mutex
	by  map[string]time.Time
	all time.Time
}

// maxJWTMarks bounds the table: past it, it is folded into one mark for
// every application (which only sends more JWTs to oauthd for a while).
const maxJWTMarks = 100_000

func (m *jwtMarks) mark(clientID string, at time.Time) {
	if clientID == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.by == nil {
		m.by = map[string]time.Time{}
	}
	if len(m.by) >= maxJWTMarks {
		clear(m.by)
		m.all = at
		return
	}
	m.by[clientID] = at
}

func (m *jwtMarks) markAll(at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.by)
	m.all = at
}

func (m *jwtMarks) since(clientID string) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.by[clientID]; ok && t.After(m.all) {
		return t
	}
	return m.all
}

func iat(d *jwt.NumericDate) int64 {
	if d == nil {
		return 0
	}
	return d.Time().Unix()
}

// jwksKey returns the published key kid, fetching the JWKS when it is not
// known yet or kid is new (a rotation), at most once per floor. nil: no
// such key.
func (c *Client) jwksKey(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	j := &c.jwks
	j.mu.Lock()
	defer j.mu.Unlock()
	if k := j.keys.Key(kid); len(k) == 1 {
		return &k[0], nil
	}
	if !j.fetched.IsZero() && c.now().Sub(j.fetched) < j.floor {
		return nil, nil
	}
	j.fetched = c.now()
	uri := j.uri.Load()
	if uri == nil {
		// The JWKS is named in the metadata: discover it first.
		if _, err := c.introspectionEndpoint(ctx); err != nil {
			return nil, err
		}
		if uri = j.uri.Load(); uri == nil {
			return nil, unavailable(nil, "oauthd's metadata names no jwks_uri: it signs no JWT access tokens, so LocalJWT cannot check this one")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *uri, nil)
	if err != nil {
		return nil, unavailable(err, "cannot build the JWKS request: %v", err)
	}
	req, span := c.traceRequest(req, "introspect.jwks")
	defer span.End()
	res, err := c.http.Do(req)
	answered(span, res, err)
	if err != nil {
		return nil, unavailable(err, "cannot fetch oauthd's JWKS: %v", err)
	}
	defer drainClose(res.Body)
	if res.StatusCode != http.StatusOK {
		return nil, unavailable(nil, "oauthd's JWKS at %s answered %s", *uri, res.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&set); err != nil {
		return nil, unavailable(err, "oauthd's JWKS at %s is not a JSON Web Key Set: %v", *uri, err)
	}
	j.keys = set
	if k := j.keys.Key(kid); len(k) == 1 {
		return &k[0], nil
	}
	return nil, nil
}
