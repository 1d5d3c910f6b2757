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
	return &Gate{c: c, required: required, rs: newReplies(c.realm, required)}
}

// Check validates r's credential as Require describes. When the request may
// go on it returns r's context carrying the introspection answer (see
// FromContext) and true; otherwise it has written the refusal to w and
// returns false.
func (g *Gate) Check(w http.ResponseWriter, r *http.Request) (context.Context, bool) {
	rs := g.rs
	token, found := credential(r)
	switch found {
	case noCredential:
		rs.noToken.write(w)
		return nil, false
	case twoCredentials:
		rs.twoTokens.write(w)
		return nil, false
	}
	var from netip.Addr
	if !g.c.omitAddr {
		from = g.c.proxies.ClientAddr(r)
	}
	resp, err := g.c.IntrospectFrom(r.Context(), token, from)
	if err != nil {
		g.c.logUnavailable(r, err)
		rs.unavailable.write(w)
		return nil, false
	}
	if !resp.Active {
		switch resp.InactiveReason {
		case ReasonExpired:
			rs.expired.write(w)
		case ReasonRevoked:
			rs.revoked.write(w)
		default:
			rs.invalid.write(w)
		}
		return nil, false
	}
	for _, s := range g.required {
		if !resp.HasScope(s) {
			rs.insufficient.write(w)
			return nil, false
		}
	}
	return NewContext(r.Context(), resp), true
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

// credential returns the token a request presents, if any.
func credential(r *http.Request) (string, int) {
	if h := r.Header.Values("Authorization"); len(h) > 0 {
		if len(h) > 1 {
			return "", twoCredentials
		}
		// RFC 6750 §2.1: "Bearer" 1*SP b64token; the scheme is
		// case-insensitive (RFC 9110 §11.1). Any other scheme presents no
		// bearer token.
		scheme, token, _ := strings.Cut(h[0], " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", noCredential
		}
		token = strings.TrimLeft(token, " ")
		return token, presence(token)
	}
	// An API key is only looked at without an Authorization header, so a
	// request never carries two credentials that could disagree.
	keys := r.Header.Values("X-Api-Key")
	switch len(keys) {
	case 0:
		return "", noCredential
	case 1:
		return keys[0], presence(keys[0])
	}
	return "", twoCredentials
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

// replies are the middleware's refusals, rendered once per Require call
// since they depend only on the realm and the scopes.
type replies struct {
	noToken, twoTokens, invalid, expired, revoked, insufficient, unavailable reply
}

type reply struct {
	status     int
	challenge  string // WWW-Authenticate
	retryAfter bool
	body       []byte
}

func newReplies(realm string, scopes []string) *replies {
	needed := strings.Join(scopes, " ")
	invalid := func(desc string) reply {
		return newReply(http.StatusUnauthorized, realm, "invalid_token", desc, "")
	}
	return &replies{
		// RFC 6750 §3.1: a request without credentials SHOULD NOT get an
		// error code, in the challenge or the body: nothing went wrong
		// yet, the client has not tried. The body only says what to send.
		noToken: reply{
			status:    http.StatusUnauthorized,
			challenge: "Bearer realm=" + quote(realm),
			body:      mustJSON(errorBody{Description: "a bearer token is required in the Authorization header"}),
		},
		twoTokens:    newReply(http.StatusBadRequest, realm, "invalid_request", "send one Authorization header (or one X-API-Key), not several", ""),
		invalid:      invalid("invalid token"),
		expired:      invalid("token expired"),
		revoked:      invalid("token revoked"),
		insufficient: newReply(http.StatusForbidden, realm, "insufficient_scope", "scope required: "+needed, needed),
		unavailable: reply{
			status:     http.StatusServiceUnavailable,
			retryAfter: true,
			body:       mustJSON(errorBody{Error: "temporarily_unavailable", Description: "the authorization server cannot validate the token right now; retry shortly"}),
		},
	}
}

// newReply renders an RFC 6750 §3 refusal: the challenge and the JSON body
// carry the same code, description and scope.
func newReply(status int, realm, code, desc, scope string) reply {
	ch := "Bearer realm=" + quote(realm) + ", error=" + quote(code)
	if scope != "" {
		ch += ", scope=" + quote(scope)
	}
	ch += ", error_description=" + quote(desc)
	return reply{
		status:    status,
		challenge: ch,
		body:      mustJSON(errorBody{Error: code, Description: desc, Scope: scope}),
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
	if p.challenge != "" {
		h.Set("WWW-Authenticate", p.challenge)
	}
	if p.retryAfter {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(p.status)
	_, _ = w.Write(p.body)
}
