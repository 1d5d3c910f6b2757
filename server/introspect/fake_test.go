package introspect

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Credentials the fake oauthd expects. They hold characters that RFC 6749
// §2.3.1 form-encoding changes, so a client skipping it fails.
const (
	fakeClientID     = "rs:1 id"
	fakeClientSecret = "ocs_s+cr%t:&="
)

// answer is what the fake's introspection endpoint says about one token.
type answer struct {
	status int
	body   string
}

func activeAnswer(scope string, exp int64) answer {
	b, _ := json.Marshal(Response{
		Active: true, Scope: scope, ClientID: "app1", TokenType: "Bearer",
		Exp: exp, Iat: 1699990000, Sub: "app1", Iss: "http://oauthd.test", Jti: "jti-1",
	})
	return answer{http.StatusOK, string(b)}
}

func inactiveAnswer(reason string) answer {
	if reason == "" {
		return answer{http.StatusOK, `{"active":false}`}
	}
	return answer{http.StatusOK, `{"active":false,"inactive_reason":"` + reason + `"}`}
}

// fakeOAuthd serves RFC 8414 metadata and RFC 7662 introspection with
// answers set per token, and counts the requests it gets.
type fakeOAuthd struct {
	srv *httptest.Server

	mu         sync.Mutex
	issuer     string // the issuer the metadata names; default srv.URL
	metaStatus int    // the metadata's status; default 200
	answers    map[string]answer
	gate       chan struct{} // if set, introspection waits until it closes
	lastAuth   string
	lastType   string
	lastForm   url.Values
	lastTrace  string // the traceparent header

	metadataHits   atomic.Int64
	introspections atomic.Int64
}

func newFake(t *testing.T) *fakeOAuthd {
	t.Helper()
	f := &fakeOAuthd{answers: map[string]answer{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", f.metadata)
	mux.HandleFunc("POST /oauth/introspect", f.introspect)
	f.srv = httptest.NewServer(mux)
	f.issuer = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOAuthd) config() Config {
	return Config{Issuer: f.srv.URL, ClientID: fakeClientID, ClientSecret: fakeClientSecret}
}

func (f *fakeOAuthd) set(token string, a answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[token] = a
}

// setMetadata changes what the metadata endpoint answers: the issuer it
// names, and its status (0 for 200).
func (f *fakeOAuthd) setMetadata(issuer string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issuer, f.metaStatus = issuer, status
}

// hold makes introspection wait until gate is closed.
func (f *fakeOAuthd) hold(gate chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gate = gate
}

func (f *fakeOAuthd) metadata(w http.ResponseWriter, r *http.Request) {
	f.metadataHits.Add(1)
	f.mu.Lock()
	issuer, status := f.issuer, f.metaStatus
	f.mu.Unlock()
	if status != 0 && status != http.StatusOK {
		http.Error(w, "down", status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":"%[2]s/oauth/token","introspection_endpoint":"%[2]s/oauth/introspect","revocation_endpoint":"%[2]s/oauth/revoke"}`,
		issuer, f.srv.URL)
}

func (f *fakeOAuthd) introspect(w http.ResponseWriter, r *http.Request) {
	f.introspections.Add(1)
	_ = r.ParseForm()
	f.mu.Lock()
	f.lastAuth, f.lastType, f.lastForm = r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.PostForm
	f.lastTrace = r.Header.Get("traceparent")
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if !f.authenticated(r) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
		return
	}
	f.mu.Lock()
	a, ok := f.answers[r.PostForm.Get("token")]
	f.mu.Unlock()
	if !ok {
		a = inactiveAnswer("")
	}
	w.WriteHeader(a.status)
	fmt.Fprint(w, a.body)
}

// authenticated decodes client_secret_basic the way RFC 6749 §2.3.1 says
// (and oauthd does): Basic, then form-decoding of each half.
func (f *fakeOAuthd) authenticated(r *http.Request) bool {
	enc, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Basic ")
	if !ok {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return false
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return false
	}
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	return err1 == nil && err2 == nil && id == fakeClientID && secret == fakeClientSecret
}

// clock is a settable Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1700000000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}
