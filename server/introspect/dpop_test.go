package introspect

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	rsURL    = "https://sms.example/v1/sms"
	allAlgs  = `algs="ES256 EdDSA Ed25519 RS256 PS256"`
	bareDPoP = `DPoP realm="test", ` + allAlgs
)

func boundAnswer(scope string, cnf Confirmation) answer {
	typ := "Bearer"
	if cnf.JKT != "" {
		typ = "DPoP"
	}
	b, _ := json.Marshal(Response{
		Active: true, Scope: scope, ClientID: "app1", TokenType: typ,
		Iat: 1699990000, Sub: "app1", Iss: "http://oauthd.test", Jti: "jti-b", Cnf: cnf,
	})
	return answer{http.StatusOK, string(b)}
}

// dpopSetup is a fake oauthd on which "tok" is bound to a new key of alg
// (scope sms), and the config of a client of it on a test clock, for
// https://sms.example, with realm "test".
func dpopSetup(t *testing.T, alg string) (*clock, *proofKey, *fakeOAuthd, Config) {
	t.Helper()
	clk := newClock()
	key := newProofKey(t, alg)
	f := newFake(t)
	f.set("tok", boundAnswer("sms", Confirmation{JKT: key.jkt(t)}))
	cfg := f.config()
	cfg.Realm, cfg.Now, cfg.PublicURL = "test", clk.Now, "https://sms.example"
	return clk, key, f, cfg
}

// dpopChallenge is the challenge of a refused DPoP request.
func dpopChallenge(code, desc string) string {
	return `DPoP realm="test", error="` + code + `", error_description="` + desc + `", ` + allAlgs
}

func bearerChallenge(code, desc string) string {
	return `Bearer realm="test", error="` + code + `", error_description="` + desc + `"`
}

// dpopRequest is a request to rsURL presenting token with the given
// scheme, and each proof in a DPoP header of its own.
func dpopRequest(method, scheme, token string, proofs ...string) *http.Request {
	r := httptest.NewRequest(method, rsURL+"?page=2", nil)
	if token != "" {
		r.Header.Set("Authorization", scheme+" "+token)
	}
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	return r
}

// The refusals of RFC 9449 §4.3 and §7, each with its error code and
// challenge. Every case presents the token bound to key's thumbprint
// unless it says otherwise.
func TestDPoP(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	key := newProofKey(t, algES256)
	thief := newProofKey(t, algES256)
	f := newFake(t)
	const bound, unbound, other = "tok-bound", "tok-plain", "tok-other"
	f.set(bound, boundAnswer("sms groups", Confirmation{JKT: key.jkt(t)}))
	f.set(other, boundAnswer("sms groups", Confirmation{JKT: key.jkt(t)}))
	f.set(unbound, activeAnswer("sms groups", 0))
	f.set("tok-narrow", boundAnswer("sms", Confirmation{JKT: key.jkt(t)}))
	f.set("tok-dead", inactiveAnswer("revoked"))
	f.set("tok-typ-only", answer{200, `{"active":true,"scope":"sms groups","client_id":"app1","token_type":"DPoP"}`})

	good := func(edit func(h, c map[string]any)) string {
		return key.proofFor(t, "GET", rsURL, bound, now, edit)
	}
	set := func(k string, v any) func(h, c map[string]any) { return func(_, c map[string]any) { c[k] = v } }
	setHeader := func(k string, v any) func(h, c map[string]any) { return func(h, _ map[string]any) { h[k] = v } }
	del := func(k string) func(h, c map[string]any) { return func(_, c map[string]any) { delete(c, k) } }
	withPrivate := func(h, _ map[string]any) {
		jwk := map[string]any{}
		for k, v := range key.jwk {
			jwk[k] = v
		}
		jwk["d"] = "AAAA"
		h["jwk"] = jwk
	}
	tampered := func(p string) string {
		i := strings.LastIndexByte(p, '.')
		sig := []byte(p[i+1:])
		if sig[5] == 'A' {
			sig[5] = 'B'
		} else {
			sig[5] = 'A'
		}
		return p[:i+1] + string(sig)
	}
	// An unsigned or HMAC'd proof: the headers a forger would write.
	unsigned := func(alg string) string {
		h, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": alg, "jwk": key.jwk})
		sum := sha256.Sum256([]byte(bound))
		c, _ := json.Marshal(map[string]any{"jti": randomID(), "htm": "GET", "htu": rsURL, "iat": now.Unix(), "ath": b64u(sum[:])})
		return b64u(h) + "." + b64u(c) + "." + map[string]string{"none": "", "HS256": b64u(make([]byte, 32))}[alg]
	}
	// A proof whose jwk is an RSA key of 8192 bits (this package took up
	// to 8192 before it shared the token endpoint's parser, which stops
	// at 4096: no token is ever bound to a larger key), with a signature
	// of that size: refused for its key, before its signature is checked.
	hugeRSA := func() string {
		n := make([]byte, 8192/8)
		rand.Read(n)
		n[0] |= 0x80
		n[len(n)-1] |= 1
		h, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "RS256", "jwk": map[string]any{"kty": "RSA", "n": b64u(n), "e": "AQAB"}})
		sum := sha256.Sum256([]byte(bound))
		c, _ := json.Marshal(map[string]any{"jti": randomID(), "htm": "GET", "htu": rsURL, "iat": now.Unix(), "ath": b64u(sum[:])})
		return b64u(h) + "." + b64u(c) + "." + b64u(make([]byte, len(n)))
	}
	const (
		proofErr = "invalid_dpop_proof"
		tokenErr = "invalid_token"
	)
	tests := []struct {
		name   string
		req    *http.Request
		status int
		// The challenges, in order; nil for none.
		challenges []string
	}{
		{name: "bound token with its proof", req: dpopRequest("GET", "DPoP", bound, good(nil)), status: 200},
		{name: "scheme is case-insensitive", req: dpopRequest("GET", "dpop", bound, good(nil)), status: 200},
		{name: "htu spelled otherwise", req: dpopRequest("GET", "DPoP", bound, good(set("htu", "HTTPS://SMS.Example:443/v1/%73ms"))), status: 200},
		{name: "htu with the query", req: dpopRequest("GET", "DPoP", bound, good(set("htu", rsURL+"?page=2#x"))), status: 200},
		{name: "iat at the window's edge", req: dpopRequest("GET", "DPoP", bound, good(set("iat", now.Add(-DefaultDPoPWindow).Unix()))), status: 200},
		{name: "client clock ahead", req: dpopRequest("GET", "DPoP", bound, good(set("iat", now.Add(30*time.Second).Unix()))), status: 200},

		{name: "stolen DPoP token sent as Bearer", req: dpopRequest("GET", "Bearer", bound), status: 401,
			challenges: []string{bearerChallenge(tokenErr, refusals[refBoundAsBearer].desc), bareDPoP}},
		{name: "stolen DPoP token sent as Bearer, with a proof", req: dpopRequest("GET", "Bearer", bound, thief.proofFor(t, "GET", rsURL, bound, now, nil)), status: 401,
			challenges: []string{bearerChallenge(tokenErr, refusals[refBoundAsBearer].desc), bareDPoP}},
		{name: "token_type DPoP without a key, as Bearer", req: dpopRequest("GET", "Bearer", "tok-typ-only"), status: 401,
			challenges: []string{bearerChallenge(tokenErr, refusals[refBoundAsBearer].desc), bareDPoP}},
		{name: "proof of another key", req: dpopRequest("GET", "DPoP", bound, thief.proofFor(t, "GET", rsURL, bound, now, nil)), status: 401,
			challenges: []string{dpopChallenge(tokenErr, refusals[refKeyMismatch].desc), `Bearer realm="test"`}},
		{name: "token_type DPoP without a key", req: dpopRequest("GET", "DPoP", "tok-typ-only", key.proofFor(t, "GET", rsURL, "tok-typ-only", now, nil)), status: 401,
			challenges: []string{dpopChallenge(tokenErr, refusals[refKeyMismatch].desc), `Bearer realm="test"`}},
		{name: "DPoP scheme, token not bound", req: dpopRequest("GET", "DPoP", unbound, key.proofFor(t, "GET", rsURL, unbound, now, nil)), status: 401,
			challenges: []string{dpopChallenge(tokenErr, refusals[refNotBound].desc), `Bearer realm="test"`}},
		{name: "DPoP scheme, token revoked", req: dpopRequest("GET", "DPoP", "tok-dead", key.proofFor(t, "GET", rsURL, "tok-dead", now, nil)), status: 401,
			challenges: []string{dpopChallenge(tokenErr, "token revoked"), `Bearer realm="test"`}},
		{name: "DPoP scheme, scope missing", req: dpopRequest("GET", "DPoP", "tok-narrow", key.proofFor(t, "GET", rsURL, "tok-narrow", now, nil)), status: 403,
			challenges: []string{`DPoP realm="test", error="insufficient_scope", scope="sms groups", error_description="scope required: sms groups", ` + allAlgs}},

		{name: "no proof", req: dpopRequest("GET", "DPoP", bound), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refNoProof].desc), `Bearer realm="test"`}},
		{name: "two proofs", req: dpopRequest("GET", "DPoP", bound, good(nil), good(nil)), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refTwoProofs].desc), `Bearer realm="test"`}},
		{name: "two proofs folded", req: dpopRequest("GET", "DPoP", bound, good(nil)+","+good(nil)), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refTwoProofs].desc), `Bearer realm="test"`}},
		{name: "not a JWS", req: dpopRequest("GET", "DPoP", bound, "eyJ.x"), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofMalformed].desc), `Bearer realm="test"`}},
		{name: "wrong htu host", req: dpopRequest("GET", "DPoP", bound, good(set("htu", "https://voice.example/v1/sms"))), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofURI].desc), `Bearer realm="test"`}},
		{name: "wrong htu path", req: dpopRequest("GET", "DPoP", bound, good(set("htu", "https://sms.example/v1/groups"))), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofURI].desc), `Bearer realm="test"`}},
		{name: "wrong htu scheme", req: dpopRequest("GET", "DPoP", bound, good(set("htu", "http://sms.example/v1/sms"))), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofURI].desc), `Bearer realm="test"`}},
		{name: "wrong htm", req: dpopRequest("POST", "DPoP", bound, good(nil)), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofMethod].desc), `Bearer realm="test"`}},
		{name: "stale iat", req: dpopRequest("GET", "DPoP", bound, good(set("iat", now.Add(-DefaultDPoPWindow-time.Second).Unix()))), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofTime].desc), `Bearer realm="test"`}},
		{name: "iat in the future", req: dpopRequest("GET", "DPoP", bound, good(set("iat", now.Add(DefaultDPoPWindow+time.Second).Unix()))), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofTime].desc), `Bearer realm="test"`}},
		{name: "missing ath", req: dpopRequest("GET", "DPoP", bound, good(del("ath"))), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofATH].desc), `Bearer realm="test"`}},
		{name: "ath of another token", req: dpopRequest("GET", "DPoP", bound, key.proofFor(t, "GET", rsURL, other, now, nil)), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofATH].desc), `Bearer realm="test"`}},
		{name: "missing jti", req: dpopRequest("GET", "DPoP", bound, good(del("jti"))), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofClaims].desc), `Bearer realm="test"`}},
		{name: "missing iat", req: dpopRequest("GET", "DPoP", bound, good(del("iat"))), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofClaims].desc), `Bearer realm="test"`}},
		{name: "alg none", req: dpopRequest("GET", "DPoP", bound, unsigned("none")), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofAlg].desc), `Bearer realm="test"`}},
		{name: "alg HS256", req: dpopRequest("GET", "DPoP", bound, unsigned("HS256")), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofAlg].desc), `Bearer realm="test"`}},
		{name: "ALG spelled in capitals", req: dpopRequest("GET", "DPoP", bound, good(func(h, _ map[string]any) { h["ALG"] = h["alg"]; delete(h, "alg") })), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofAlg].desc), `Bearer realm="test"`}},
		{name: "alg not the key's", req: dpopRequest("GET", "DPoP", bound, good(setHeader("alg", "EdDSA"))), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofKey].desc), `Bearer realm="test"`}},
		{name: "jwk with a private key", req: dpopRequest("GET", "DPoP", bound, good(withPrivate)), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofKey].desc), `Bearer realm="test"`}},
		{name: "no jwk", req: dpopRequest("GET", "DPoP", bound, good(func(h, _ map[string]any) { delete(h, "jwk") })), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofKey].desc), `Bearer realm="test"`}},
		{name: "RSA key over 4096 bits", req: dpopRequest("GET", "DPoP", bound, hugeRSA()), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofKey].desc), `Bearer realm="test"`}},
		{name: "typ JWT", req: dpopRequest("GET", "DPoP", bound, good(setHeader("typ", "JWT"))), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofType].desc), `Bearer realm="test"`}},
		{name: "critical extension", req: dpopRequest("GET", "DPoP", bound, good(setHeader("crit", []string{"exp"}))), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofMalformed].desc), `Bearer realm="test"`}},
		{name: "bad signature", req: dpopRequest("GET", "DPoP", bound, tampered(good(nil))), status: 401,
			challenges: []string{dpopChallenge(proofErr, refusals[refProofSignature].desc), `Bearer realm="test"`}},
		{name: "no token", req: dpopRequest("GET", "DPoP", ""), status: 401,
			challenges: []string{`Bearer realm="test"`, bareDPoP}},
		{name: "plain bearer token still works", req: dpopRequest("GET", "Bearer", unbound), status: 200},
	}
	cfg := f.config()
	cfg.Realm = "test"
	cfg.Now = clk.Now
	cfg.PublicURL = "https://SMS.example:443/"
	c := newClient(t, cfg)
	h := c.Require("sms", "groups")(okHandler())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, tt.req)
			checkAnswer(t, rec, tt.status, tt.challenges)
		})
	}
}

// checkAnswer asserts a middleware answer's status, challenges and, for
// a refusal, that its body carries the first challenge's error code.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder, status int, challenges []string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s; WWW-Authenticate %q", rec.Code, status, rec.Body, rec.Header().Values("WWW-Authenticate"))
	}
	if got := rec.Header().Values("WWW-Authenticate"); !slices.Equal(got, challenges) {
		t.Fatalf("WWW-Authenticate\n got %q\nwant %q", got, challenges)
	}
	if status == http.StatusOK || len(challenges) == 0 {
		return
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	if code := body["error"]; code != "" && !strings.Contains(challenges[0], `error="`+code+`"`) {
		t.Fatalf("body's error %q is not the challenge's %q", code, challenges[0])
	}
}

// Every algorithm is accepted, and DPoPAlgorithms narrows them: the
// challenge then names only those.
func TestDPoPAlgorithms(t *testing.T) {
	clk := newClock()
	f := newFake(t)
	cfg := f.config()
	cfg.Realm, cfg.Now, cfg.PublicURL = "test", clk.Now, "https://sms.example"
	all := newClient(t, cfg)
	cfg.DPoPAlgorithms = []string{"ES256"}
	narrow := newClient(t, cfg)
	for _, alg := range dpopAlgorithms {
		t.Run(alg, func(t *testing.T) {
			k := newProofKey(t, alg)
			tok := "tok-" + alg
			f.set(tok, boundAnswer("sms", Confirmation{JKT: k.jkt(t)}))
			rec := httptest.NewRecorder()
			all.Require("sms")(okHandler()).ServeHTTP(rec, dpopRequest("GET", "DPoP", tok, k.proofFor(t, "GET", rsURL, tok, clk.Now(), nil)))
			checkAnswer(t, rec, 200, nil)
			rec = httptest.NewRecorder()
			narrow.Require("sms")(okHandler()).ServeHTTP(rec, dpopRequest("GET", "DPoP", tok, k.proofFor(t, "GET", rsURL, tok, clk.Now(), nil)))
			if alg == algES256 {
				checkAnswer(t, rec, 200, nil)
				return
			}
			checkAnswer(t, rec, 401, []string{
				`DPoP realm="test", error="invalid_dpop_proof", error_description="` + refusals[refProofAlg].desc + `", algs="ES256"`,
				`Bearer realm="test"`})
		})
	}
	if _, err := New(Config{Endpoint: "http://x", ClientID: "a", ClientSecret: "b", DPoPAlgorithms: []string{"HS256"}}); err == nil {
		t.Fatal("DPoPAlgorithms HS256 accepted")
	}
}

// A proof is accepted once, and a token's cached answer does not make a
// proof of another key acceptable: the binding is in the answer, the proof
// is checked on every request.
func TestDPoPReplayAndCache(t *testing.T) {
	clk, key, f, cfg := dpopSetup(t, algEdDSA)
	thief := newProofKey(t, algEdDSA)
	cfg.CacheTTL = time.Hour
	h := newClient(t, cfg).Require("sms")(okHandler())
	serve := func(r *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	proof := key.proofFor(t, "GET", rsURL, "tok", clk.Now(), nil)
	checkAnswer(t, serve(dpopRequest("GET", "DPoP", "tok", proof)), 200, nil)
	checkAnswer(t, serve(dpopRequest("GET", "DPoP", "tok", proof)), 401,
		[]string{dpopChallenge("invalid_dpop_proof", refusals[refProofReplayed].desc), `Bearer realm="test"`})
	// The answer is cached now; the thief's proof still fails.
	checkAnswer(t, serve(dpopRequest("GET", "DPoP", "tok", thief.proofFor(t, "GET", rsURL, "tok", clk.Now(), nil))), 401,
		[]string{dpopChallenge("invalid_token", refusals[refKeyMismatch].desc), `Bearer realm="test"`})
	checkAnswer(t, serve(dpopRequest("GET", "DPoP", "tok", key.proofFor(t, "GET", rsURL, "tok", clk.Now(), nil))), 200, nil)
	if n := f.introspections.Load(); n != 1 {
		t.Fatalf("%d introspections, want 1: the answer is cached for the token", n)
	}
	// A refused proof is not remembered: only one that carried a request.
	other := key.proofFor(t, "GET", rsURL, "tok", clk.Now(), nil)
	checkAnswer(t, serve(dpopRequest("POST", "DPoP", "tok", other)), 401,
		[]string{dpopChallenge("invalid_dpop_proof", refusals[refProofMethod].desc), `Bearer realm="test"`})
	checkAnswer(t, serve(dpopRequest("GET", "DPoP", "tok", other)), 200, nil)
}

type failingReplay struct{}

func (failingReplay) Seen(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("redis: connection refused")
}

// A replay cache that cannot answer refuses the request (503): a proof
// is never accepted without knowing it is fresh.
func TestDPoPReplayCacheDown(t *testing.T) {
	clk, key, _, cfg := dpopSetup(t, algES256)
	cfg.DPoPReplay, cfg.Logger = failingReplay{}, slog.New(slog.DiscardHandler)
	rec := httptest.NewRecorder()
	newClient(t, cfg).Require("sms")(okHandler()).ServeHTTP(rec, dpopRequest("GET", "DPoP", "tok", key.proofFor(t, "GET", rsURL, "tok", clk.Now(), nil)))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("status %d, want 503 with Retry-After", rec.Code)
	}
}

// RequireDPoP: only DPoP-bound tokens, and only DPoP in the challenges.
func TestRequireDPoP(t *testing.T) {
	clk, key, f, cfg := dpopSetup(t, algES256)
	f.set("plain", activeAnswer("sms", 0))
	cfg.RequireDPoP = true
	h := newClient(t, cfg).Require("sms")(okHandler())
	for _, tt := range []struct {
		name       string
		req        *http.Request
		status     int
		challenges []string
	}{
		{"no token", dpopRequest("GET", "DPoP", ""), 401, []string{bareDPoP}},
		{"bearer token", dpopRequest("GET", "Bearer", "plain"), 401, []string{bareDPoP}},
		{"unbound token with DPoP", dpopRequest("GET", "DPoP", "plain", key.proofFor(t, "GET", rsURL, "plain", clk.Now(), nil)), 401,
			[]string{dpopChallenge("invalid_token", refusals[refNotBound].desc)}},
		{"bound token", dpopRequest("GET", "DPoP", "tok", key.proofFor(t, "GET", rsURL, "tok", clk.Now(), nil)), 200, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, tt.req)
			checkAnswer(t, rec, tt.status, tt.challenges)
		})
	}
	if n := f.introspections.Load(); n != 2 {
		t.Fatalf("%d introspections, want 2: a bearer token is refused unasked", n)
	}
}

// The nonce flow of RFC 9449 §9: a proof without the current nonce is
// answered use_dpop_nonce with DPoP-Nonce; every answer carries the
// nonce to use next; a nonce lives one to two lifetimes; replicas sharing
// the key accept each other's nonces.
func TestDPoPNonce(t *testing.T) {
	clk, key, _, cfg := dpopSetup(t, algES256)
	cfg.DPoPNonce, cfg.DPoPNonceKey, cfg.DPoPNonceLifetime = true, []byte(strings.Repeat("k", 32)), time.Minute
	a := newClient(t, cfg).Require("sms")(okHandler())
	b := newClient(t, cfg).Require("sms")(okHandler())
	cfg.DPoPNonceKey = []byte(strings.Repeat("x", 32))
	stranger := newClient(t, cfg).Require("sms")(okHandler())
	useNonce := []string{dpopChallenge("use_dpop_nonce", refusals[refUseNonce].desc), `Bearer realm="test"`}
	send := func(h http.Handler, nonce string) *httptest.ResponseRecorder {
		t.Helper()
		proof := key.proofFor(t, "GET", rsURL, "tok", clk.Now(), func(_, c map[string]any) {
			if nonce != "" {
				c["nonce"] = nonce
			}
		})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, dpopRequest("GET", "DPoP", "tok", proof))
		return rec
	}

	rec := send(a, "")
	checkAnswer(t, rec, 401, useNonce)
	nonce := rec.Header().Get("DPoP-Nonce")
	if len(nonce) < 16 || strings.ContainsAny(nonce, "\" \\") {
		t.Fatalf("DPoP-Nonce %q: want an NQCHAR string", nonce)
	}
	rec = send(a, nonce)
	checkAnswer(t, rec, 200, nil)
	if got := rec.Header().Get("DPoP-Nonce"); got != nonce {
		t.Fatalf("a success carries DPoP-Nonce %q, want the current %q", got, nonce)
	}
	checkAnswer(t, send(b, nonce), 200, nil) // a replica with the key
	checkAnswer(t, send(stranger, nonce), 401, useNonce)
	checkAnswer(t, send(a, "made-up-nonce"), 401, useNonce)

	clk.Advance(time.Minute) // the next window: the old nonce still works...
	rec = send(a, nonce)
	checkAnswer(t, rec, 200, nil)
	next := rec.Header().Get("DPoP-Nonce")
	if next == nonce {
		t.Fatal("the nonce did not rotate")
	}
	clk.Advance(time.Minute) // ...but not two windows on
	checkAnswer(t, send(a, nonce), 401, useNonce)
	checkAnswer(t, send(a, next), 200, nil)
}
