package oauthclient

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// fakeServer is an authorization server's token endpoint (/token) and a
// resource server (/api) that check what the package sends as RFC 7523
// and RFC 9449 say, with go-jose: an implementation independent of the
// package's own use of it (parsing, not signing). Each problem is a test
// failure, and the request is refused as a server would refuse it.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server
	now func() time.Time

	// quiet: refusals are expected, not test failures.
	quiet bool

	clientID  string
	clientKey crypto.PublicKey // private_key_jwt; nil: the secret
	kid       string           // the kid the assertion must name, if any
	secret    string

	mu           sync.Mutex
	asNonce      string // the token endpoint requires it when set
	rsNonce      string // the resource server requires it when set
	ignoreDPoP   bool   // the token endpoint issues Bearer tokens only
	expiresIn    int64
	jtis         map[string]bool   // assertion and proof jtis seen
	bound        map[string]string // token → jkt
	tokenCalls   int
	apiCalls     int
	lastScheme   string
	lastBody     string
	lastScope    string
	lastAudience []string
}

func newFakeServer(t *testing.T, clientID string) *fakeServer {
	f := &fakeServer{t: t, clientID: clientID, now: time.Now, expiresIn: 3600, jtis: map[string]bool{}, bound: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("/api", f.api)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) tokenURL() string { return f.srv.URL + "/token" }

func (f *fakeServer) fail(w http.ResponseWriter, status int, code, format string, args ...any) {
	if !f.quiet {
		f.t.Errorf("fake server: "+format, args...)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q}`, code)
}

// once records a jti, reporting whether it is new.
func (f *fakeServer) once(jti string) bool {
	if jti == "" || f.jtis[jti] {
		return false
	}
	f.jtis[jti] = true
	return true
}

func (f *fakeServer) token(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenCalls++
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		f.fail(w, 400, "invalid_request", "Content-Type %q", ct)
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		f.fail(w, 400, "invalid_request", "form %v (%v)", r.PostForm, err)
		return
	}
	f.lastScope = r.PostForm.Get("scope")
	if !f.authenticate(w, r) {
		return
	}
	jkt := ""
	if proofs := r.Header.Values("DPoP"); len(proofs) > 0 {
		var ok bool
		if jkt, ok = f.checkProof(w, proofs, "POST", f.tokenURL(), "", f.asNonce, 400); !ok {
			return
		}
	}
	tok := "tok-" + randomID()
	typ := "Bearer"
	if jkt != "" && !f.ignoreDPoP {
		typ = "DPoP"
		f.bound[tok] = jkt
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": typ, "expires_in": f.expiresIn, "scope": f.lastScope})
}

// authenticate checks the client: a private_key_jwt assertion (RFC 7523
// §3) or client_secret_basic (RFC 6749 §2.3.1), never both.
func (f *fakeServer) authenticate(w http.ResponseWriter, r *http.Request) bool {
	if f.clientKey == nil {
		enc, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Basic ")
		raw, err := base64.StdEncoding.DecodeString(enc)
		id, secret, _ := strings.Cut(string(raw), ":")
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		if !ok || err != nil || id != f.clientID || secret != f.secret || r.PostForm.Has("client_assertion") {
			f.fail(w, 401, "invalid_client", "client_secret_basic: %q", r.Header.Get("Authorization"))
			return false
		}
		return true
	}
	if r.Header.Get("Authorization") != "" {
		f.fail(w, 400, "invalid_request", "an Authorization header beside the assertion")
		return false
	}
	if typ := r.PostForm.Get("client_assertion_type"); typ != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		f.fail(w, 401, "invalid_client", "client_assertion_type %q", typ)
		return false
	}
	a, err := jwt.ParseSigned(r.PostForm.Get("client_assertion"), []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256})
	if err != nil {
		f.fail(w, 401, "invalid_client", "client_assertion: %v", err)
		return false
	}
	if kid := a.Headers[0].KeyID; kid != f.kid {
		f.fail(w, 401, "invalid_client", "assertion kid %q, want %q", kid, f.kid)
		return false
	}
	var c jwt.Claims
	if err := a.Claims(f.clientKey, &c); err != nil {
		f.fail(w, 401, "invalid_client", "assertion signature: %v", err)
		return false
	}
	f.lastAudience = c.Audience
	err = c.ValidateWithLeeway(jwt.Expected{Issuer: f.clientID, Subject: f.clientID, AnyAudience: jwt.Audience{f.tokenURL()}, Time: f.now()}, 0)
	if err != nil || c.IssuedAt == nil || c.Expiry == nil || c.Expiry.Time().Sub(c.IssuedAt.Time()) > time.Minute || !f.once(c.ID) {
		f.fail(w, 401, "invalid_client", "assertion claims %+v: %v", c, err)
		return false
	}
	return true
}

// checkProof checks a DPoP proof as RFC 9449 §4.3 says, and returns the
// thumbprint of its key. A missing or wrong nonce is answered as §8 (the
// token endpoint, 400) or §9 (a resource server, 401) say, without a
// test failure: that is the flow.
func (f *fakeServer) checkProof(w http.ResponseWriter, proofs []string, htm, htu, token, nonce string, nonceStatus int) (string, bool) {
	if len(proofs) != 1 {
		f.fail(w, 400, "invalid_dpop_proof", "%d DPoP headers", len(proofs))
		return "", false
	}
	jws, err := jose.ParseSigned(proofs[0], []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256, jose.PS256})
	if err != nil {
		f.fail(w, 400, "invalid_dpop_proof", "proof: %v", err)
		return "", false
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders["typ"].(string); typ != "dpop+jwt" || h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() {
		f.fail(w, 400, "invalid_dpop_proof", "proof header: typ %q, jwk %v", typ, h.JSONWebKey)
		return "", false
	}
	payload, err := jws.Verify(h.JSONWebKey)
	if err != nil {
		f.fail(w, 400, "invalid_dpop_proof", "proof signature: %v", err)
		return "", false
	}
	var c struct {
		JTI, HTM, HTU, ATH, Nonce string
		IAT                       int64
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		f.fail(w, 400, "invalid_dpop_proof", "proof claims: %v", err)
		return "", false
	}
	wantATH := ""
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		wantATH = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if age := f.now().Unix() - c.IAT; c.HTM != htm || c.HTU != htu || c.ATH != wantATH || age < -5 || age > 60 || !f.once(c.JTI) {
		f.fail(w, 400, "invalid_dpop_proof", "proof claims %+v: want htm %s, htu %s, ath %q, a recent iat and a new jti", c, htm, htu, wantATH)
		return "", false
	}
	if nonce != "" && c.Nonce != nonce {
		w.Header().Set("DPoP-Nonce", nonce)
		w.Header().Set("Content-Type", "application/json")
		if nonceStatus == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", error_description="nonce required", algs="ES256"`)
		}
		w.WriteHeader(nonceStatus)
		fmt.Fprint(w, `{"error":"use_dpop_nonce"}`)
		return "", false
	}
	sum, err := h.JSONWebKey.Thumbprint(crypto.SHA256)
	if err != nil {
		f.fail(w, 400, "invalid_dpop_proof", "thumbprint: %v", err)
		return "", false
	}
	return base64.RawURLEncoding.EncodeToString(sum), true
}

// api is a resource server: a DPoP-bound token needs the DPoP scheme and
// a proof of its key; any other token the Bearer scheme. It answers 200
// with the body it read.
func (f *fakeServer) api(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apiCalls++
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	f.lastScheme = scheme
	jkt, bound := f.bound[token]
	switch {
	case scheme == "DPoP" && bound:
		got, ok := f.checkProof(w, r.Header.Values("DPoP"), r.Method, "http://"+r.Host+r.URL.Path, token, f.rsNonce, http.StatusUnauthorized)
		if !ok {
			return
		}
		if got != jkt {
			f.fail(w, 401, "invalid_token", "proof of key %s for a token bound to %s", got, jkt)
			return
		}
	case scheme == "Bearer" && !bound && strings.HasPrefix(token, "tok-"):
	default:
		f.fail(w, 401, "invalid_token", "Authorization %q (bound: %v)", r.Header.Get("Authorization"), bound)
		return
	}
	b, _ := io.ReadAll(r.Body)
	f.lastBody = string(b)
	w.Write(b)
}
