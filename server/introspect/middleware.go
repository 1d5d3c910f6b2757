package introspect

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/oauthd/oauthd/scopes"
)

// Require returns middleware that lets a request through only with an
// active token granting every one of the required scopes, and stores the introspection
// answer in the request's context (see FromContext).
// required lists the scopes the route needs.
//
// The token is taken from the Authorization header alone (RFC 6750 §2.1):
// tokens in query strings end up in logs and are ignored. When the request
// has no Authorization header, an X-API-Key header is introspected the same
// way. Refusals follow RFC 6750 §3: 401 without a token or with an inactive
// one, 403 when a scope is missing. When oauthd cannot decide, the answer
// is 503 with Retry-After: the request is never let through.
//
// A sender-constrained token is accepted only from its holder: a
// DPoP-bound one as "Authorization: DPoP" with a proof of its key in the
// DPoP header (RFC 9449 §7, refused as a bearer token), a certificate-bound
// one from a client that presented its certificate (RFC 8705 §3). See
// checkDPoP for the proof's checks and the answers.
//
// Require panics if a scope is not an RFC 6749 §3.3 scope-token, such as
// "sms groups": that is a wiring mistake (write Require("sms", "groups")),
// and it would otherwise refuse every request.
func (c *Client) Require(required ...string) func(http.Handler) http.Handler {
	g := c.Gate(required...)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ctx, ok := g.Check(w, r); ok {
				next.ServeHTTP(w, r.WithContext(ctx))
			}
		})
	}
}

// Gate is Require's check without the http.Handler plumbing, for adapters
// to other frameworks (introspectecho uses it): it costs a request nothing
// beyond the check itself. It is safe for concurrent use.
type Gate struct {
	c        *Client
	required []string
	rs       *replies
}

// Gate returns the check Require performs for the required scopes. It
// panics as Require does.
func (c *Client) Gate(required ...string) *Gate {
	for _, s := range required {
		if !scopes.ValidToken(s) {
			panic(fmt.Sprintf("introspect: Require(%q): a scope must be one non-empty token without spaces, quotes or backslashes; pass several scopes as separate arguments", s))
		}
	}
	required = slices.Clone(required)
	return &Gate{c: c, required: required, rs: newReplies(c.realm, required, c.dpopAlgs, c.requireDPoP)}
}

// Check validates r's credential as Require describes. When the request may
// go on it returns r's context carrying the introspection answer (see
// FromContext) and true; otherwise it has written the refusal to w and
// returns false.
func (g *Gate) Check(w http.ResponseWriter, r *http.Request) (context.Context, bool) {
	rs := g.rs
	token, dpop, found := credential(r)
	switch found {
	case noCredential:
		if r.URL.Query().Has("access_token") {
			rs.inQuery.write(w)
		} else {
			rs.noToken.write(w)
		}
		return nil, false
	case twoCredentials:
		rs.twoTokens.write(w)
		return nil, false
	}
	if dpop {
		return g.checkDPoP(w, r, token)
	}
	if g.c.requireDPoP {
		rs.noToken.write(w)
		return nil, false
	}
	resp, ok := g.introspect(w, r, token, &rs.bearer)
	if !ok {
		return nil, false
	}
	var ref refusal
	switch {
	case resp.DPoPBound():
		// RFC 9449 §7.2: a DPoP-bound token presented as a bearer token
		// is refused, or DPoP would protect nothing from a thief.
		ref = refBoundAsBearer
	case resp.Cnf.X5tS256 != "" && !g.c.certMatches(r, resp.Cnf.X5tS256):
		ref = refCertMismatch
	case !g.hasScopes(resp):
		ref = refInsufficient
	default:
		return NewContext(r.Context(), resp), true
	}
	rs.bearer[ref].write(w)
	return nil, false
}

// introspect returns the answer about token when it is active; otherwise
// it has written the refusal, from set (the replies of the request's
// scheme).
func (g *Gate) introspect(w http.ResponseWriter, r *http.Request, token string, set *[numRefusals]reply) (*Response, bool) {
	var from netip.Addr
	if !g.c.omitAddr {
		from = g.c.proxies.ClientAddr(r)
	}
	resp, err := g.c.IntrospectFrom(r.Context(), token, from)
	if err != nil {
		g.c.logUnavailable(r, err)
		g.rs.unavailable.write(w)
		return nil, false
	}
	if resp.Active {
		return resp, true
	}
	switch resp.InactiveReason {
	case ReasonExpired:
		set[refExpired].write(w)
	case ReasonRevoked:
		set[refRevoked].write(w)
	default:
		set[refInvalid].write(w)
	}
	return nil, false
}

func (g *Gate) hasScopes(resp *Response) bool {
	for _, s := range g.required {
		if !resp.HasScope(s) {
			return false
		}
	}
	return true
}

// What credential found.
const (
	noCredential = iota
	oneCredential
	// twoCredentials: the request repeats the Authorization header (or
	// the API key's), which RFC 6750 §3.1 answers with invalid_request.
	// Taking either one would let a proxy and this server disagree on
	// which credential the request carried.
	twoCredentials
)

// credential returns the token a request presents, if any, and whether
// it comes with the DPoP scheme.
//
// The header map is read by its canonical keys directly: Header.Values
// canonicalises the key on every call, a scan that was a twentieth of the
// cache hit's time.
func credential(r *http.Request) (token string, dpop bool, found int) {
	if h := r.Header["Authorization"]; len(h) > 0 {
		if len(h) > 1 {
			return "", false, twoCredentials
		}
		// RFC 6750 §2.1: "Bearer" 1*SP b64token, and RFC 9449 §7.1:
		// "DPoP" 1*SP token68; schemes are case-insensitive (RFC 9110
		// §11.1). Any other scheme presents no token.
		scheme, token, _ := strings.Cut(h[0], " ")
		switch {
		case strings.EqualFold(scheme, "Bearer"):
		case strings.EqualFold(scheme, "DPoP"):
			dpop = true
		default:
			return "", false, noCredential
		}
		token = strings.TrimLeft(token, " ")
		return token, dpop, presence(token)
	}
	// An API key is only looked at without an Authorization header, so a
	// request never carries two credentials that could disagree.
	keys := r.Header["X-Api-Key"]
	switch len(keys) {
	case 0:
		return "", false, noCredential
	case 1:
		return keys[0], false, presence(keys[0])
	}
	return "", false, twoCredentials
}

func presence(token string) int {
	if token == "" {
		return noCredential
	}
	return oneCredential
}

func (c *Client) logUnavailable(r *http.Request, err error) {
	ctx := r.Context()
	if ctx.Err() != nil {
		return // the caller hung up: not oauthd's problem
	}
	log := c.log
	if log == nil {
		log = slog.Default()
	}
	log.LogAttrs(ctx, slog.LevelWarn, "introspect: cannot validate a token; answering 503",
		slog.String("error", err.Error()))
}

// refusal names one of the middleware's answers to a token it does not
// accept; the zero value is none.
type refusal uint8

const (
	refNone refusal = iota
	refInvalid
	refExpired
	refRevoked
	refInsufficient
	refBoundAsBearer
	refNotBound
	refKeyMismatch
	refCertMismatch
	refNoProof
	refTwoProofs
	refProofMalformed
	refProofType
	refProofAlg
	refProofKey
	refProofClaims
	refProofMethod
	refProofURI
	refProofTime
	refProofATH
	refProofSignature
	refProofReplayed
	refUseNonce
	numRefusals
)

// refusals are the error codes (RFC 6750 §3.1, RFC 9449 §7.1 and §9) and
// descriptions. Token problems are invalid_token, the proof's are
// invalid_dpop_proof. A proof of another key than the token's is a token
// problem, as RFC 9449 §7.1's example has it ("Invalid DPoP key
// binding"), and so is a certificate-bound token without its certificate
// (RFC 8705 §3).
var refusals = [numRefusals]struct{ code, desc string }{
	refInvalid:        {"invalid_token", "invalid token"},
	refExpired:        {"invalid_token", "token expired"},
	refRevoked:        {"invalid_token", "token revoked"},
	refInsufficient:   {"insufficient_scope", "scope required: "},
	refBoundAsBearer:  {"invalid_token", "the token is DPoP-bound: present it with Authorization: DPoP and a DPoP proof"},
	refNotBound:       {"invalid_token", "the token is not DPoP-bound: present it with Authorization: Bearer"},
	refKeyMismatch:    {"invalid_token", "invalid DPoP key binding: the proof is not signed with the key the token is bound to"},
	refCertMismatch:   {"invalid_token", "the token is bound to a client certificate this request did not present"},
	refNoProof:        {"invalid_dpop_proof", "a DPoP proof is required in the DPoP header"},
	refTwoProofs:      {"invalid_dpop_proof", "send one DPoP proof in one DPoP header"},
	refProofMalformed: {"invalid_dpop_proof", "the DPoP proof is not a well-formed JWS"},
	refProofType:      {"invalid_dpop_proof", "the DPoP proof's typ is not dpop+jwt"},
	refProofAlg:       {"invalid_dpop_proof", "the DPoP proof's alg is not one of algs"},
	refProofKey:       {"invalid_dpop_proof", "the DPoP proof's jwk is missing, holds private parts, or does not suit its alg"},
	refProofClaims:    {"invalid_dpop_proof", "the DPoP proof lacks jti, htm, htu or iat"},
	refProofMethod:    {"invalid_dpop_proof", "the DPoP proof's htm is not this request's method"},
	refProofURI:       {"invalid_dpop_proof", "the DPoP proof's htu is not this request's URI"},
	refProofTime:      {"invalid_dpop_proof", "the DPoP proof's iat is too far from the current time"},
	refProofATH:       {"invalid_dpop_proof", "the DPoP proof's ath is not the hash of this access token"},
	refProofSignature: {"invalid_dpop_proof", "the DPoP proof's signature does not verify"},
	refProofReplayed:  {"invalid_dpop_proof", "the DPoP proof was used before: make a new one for each request"},
	refUseNonce:       {"use_dpop_nonce", "a nonce is required in the DPoP proof: use this answer's DPoP-Nonce"},
}

// replies are the middleware's refusals, rendered once per Require call
// since they depend only on the configuration and the scopes: for each
// refusal, its answer to a bearer request and to a DPoP one.
type replies struct {
	noToken, twoTokens, unavailable reply
	// inQuery is noToken for a request that carries its token in the URL
	// (access_token, RFC 6750 §2.3), which the middleware does not read:
	// URLs end up in access logs and proxies' caches.
	inQuery      reply
	bearer, dpop [numRefusals]reply
}

type reply struct {
	status     int
	challenges []string // WWW-Authenticate, one field line each
	retryAfter bool
	body       []byte
}

// newReplies renders the refusals. Every 401 names each scheme a client
// could use (RFC 9110 §11.6.1): the one the request used first, with the
// error, then the other, bare, unless RequireDPoP leaves DPoP alone. A
// DPoP challenge names the accepted algorithms (algs, RFC 9449 §7.1).
func newReplies(realm string, scopes []string, algs []string, requireDPoP bool) *replies {
	needed := strings.Join(scopes, " ")
	algsParam := ", algs=" + quote(strings.Join(algs, " "))
	bareBearer := "Bearer realm=" + quote(realm)
	bareDPoP := "DPoP realm=" + quote(realm) + algsParam
	rs := &replies{
		twoTokens: newReply(http.StatusBadRequest, "Bearer", realm, "invalid_request", "send one Authorization header (or one X-API-Key), not several", ""),
		unavailable: reply{
			status:     http.StatusServiceUnavailable,
			retryAfter: true,
			body:       mustJSON(errorBody{Error: "temporarily_unavailable", Description: "the authorization server cannot validate the token right now; retry shortly"}),
		},
	}
	// RFC 6750 §3.1: a request without credentials SHOULD NOT get an
	// error code, in the challenge or the body: nothing went wrong yet,
	// the client has not tried. The body only says what to send.
	if requireDPoP {
		rs.noToken = reply{status: http.StatusUnauthorized, challenges: []string{bareDPoP},
			body: mustJSON(errorBody{Description: "a DPoP-bound access token is required: Authorization: DPoP <token>, with a DPoP proof"})}
	} else {
		rs.noToken = reply{status: http.StatusUnauthorized, challenges: []string{bareBearer, bareDPoP},
			body: mustJSON(errorBody{Description: "a bearer token is required in the Authorization header"})}
	}
	rs.inQuery = rs.noToken
	rs.inQuery.body = mustJSON(errorBody{Description: "send the access token in the Authorization header, not as access_token in the URL, " +
		"which ends up in logs (RFC 6750 §2.3 is not accepted here)"})
	for ref := refInvalid; ref < numRefusals; ref++ {
		status, code, desc, scope := http.StatusUnauthorized, refusals[ref].code, refusals[ref].desc, ""
		if ref == refInsufficient {
			status, desc, scope = http.StatusForbidden, desc+needed, needed
		}
		b := newReply(status, "Bearer", realm, code, desc, scope)
		d := newReply(status, "DPoP", realm, code, desc, scope)
		d.challenges[0] += algsParam
		if status == http.StatusUnauthorized {
			b.challenges = append(b.challenges, bareDPoP)
			if !requireDPoP {
				d.challenges = append(d.challenges, bareBearer)
			}
		}
		rs.bearer[ref], rs.dpop[ref] = b, d
	}
	return rs
}

// newReply renders an RFC 6750 §3 refusal in scheme's challenge: the
// challenge and the JSON body carry the same code, description and scope.
func newReply(status int, scheme, realm, code, desc, scope string) reply {
	ch := scheme + " realm=" + quote(realm) + ", error=" + quote(code)
	if scope != "" {
		ch += ", scope=" + quote(scope)
	}
	ch += ", error_description=" + quote(desc)
	return reply{
		status:     status,
		challenges: []string{ch},
		body:       mustJSON(errorBody{Error: code, Description: desc, Scope: scope}),
	}
}

type errorBody struct {
	Error       string `json:"error,omitempty"`
	Description string `json:"error_description"`
	Scope       string `json:"scope,omitempty"`
}

func mustJSON(v errorBody) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings only: cannot happen
	}
	return b
}

// quote is an RFC 9110 §5.6.4 quoted-string.
func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

func (p *reply) write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	for i, ch := range p.challenges {
		if i == 0 {
			h.Set("WWW-Authenticate", ch)
		} else {
			h.Add("WWW-Authenticate", ch)
		}
	}
	if p.retryAfter {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(p.status)
	_, _ = w.Write(p.body)
}
