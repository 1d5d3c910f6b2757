package oauthclient

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func testKey(t *testing.T, kind string) crypto.Signer {
	t.Helper()
	switch kind {
	case "ES256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	case "EdDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	case "RS256":
		rsaOnce.Do(func() {
			var err error
			if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				panic(err)
			}
		})
		return rsaKey
	}
	t.Fatalf("no %s key", kind)
	return nil
}

// The token request and the requests to a resource server, for each key
// type, with and without DPoP, with and without nonces, as a fake server
// checking them by the RFCs sees them.
func TestTokenAndTransport(t *testing.T) {
	tests := []struct {
		name       string
		auth       string // key type for private_key_jwt; "" for a secret
		dpop       string // DPoP key type; "" for none
		asNonce    bool
		rsNonce    bool
		ignoreDPoP bool
		wantScheme string
		wantCalls  [2]int // token requests, resource requests
	}{
		{name: "private_key_jwt ES256", auth: "ES256", wantScheme: "Bearer", wantCalls: [2]int{1, 2}},
		{name: "private_key_jwt EdDSA", auth: "EdDSA", wantScheme: "Bearer", wantCalls: [2]int{1, 2}},
		{name: "private_key_jwt RS256", auth: "RS256", wantScheme: "Bearer", wantCalls: [2]int{1, 2}},
		{name: "client secret", wantScheme: "Bearer", wantCalls: [2]int{1, 2}},
		{name: "DPoP ES256", auth: "ES256", dpop: "ES256", wantScheme: "DPoP", wantCalls: [2]int{1, 2}},
		{name: "DPoP EdDSA", auth: "EdDSA", dpop: "EdDSA", wantScheme: "DPoP", wantCalls: [2]int{1, 2}},
		{name: "DPoP RS256", auth: "ES256", dpop: "RS256", wantScheme: "DPoP", wantCalls: [2]int{1, 2}},
		{name: "DPoP with a client secret", dpop: "ES256", wantScheme: "DPoP", wantCalls: [2]int{1, 2}},
		{name: "token endpoint nonce", auth: "ES256", dpop: "ES256", asNonce: true, wantScheme: "DPoP", wantCalls: [2]int{2, 2}},
		{name: "resource server nonce", auth: "ES256", dpop: "ES256", rsNonce: true, wantScheme: "DPoP", wantCalls: [2]int{1, 3}},
		{name: "both nonces", auth: "EdDSA", dpop: "ES256", asNonce: true, rsNonce: true, wantScheme: "DPoP", wantCalls: [2]int{2, 3}},
		{name: "server without DPoP", auth: "ES256", dpop: "ES256", ignoreDPoP: true, wantScheme: "Bearer", wantCalls: [2]int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t, "daemon 1")
			cfg := Config{TokenURL: f.tokenURL(), ClientID: "daemon 1", Scopes: []string{"sms", "reports"}}
			if tt.auth != "" {
				cfg.Key = testKey(t, tt.auth)
				cfg.KeyID = "k1"
				f.clientKey, f.kid = cfg.Key.Public(), "k1"
			} else {
				cfg.ClientSecret = "s3cr+t:%"
				f.secret = cfg.ClientSecret
			}
			if tt.dpop != "" {
				cfg.DPoPKey = testKey(t, tt.dpop)
			}
			if tt.asNonce {
				f.asNonce = "as-nonce-1"
			}
			if tt.rsNonce {
				f.rsNonce = "rs-nonce-1"
			}
			f.ignoreDPoP = tt.ignoreDPoP
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			hc := c.HTTPClient()
			// A POST whose body must arrive whole, retry included, then a GET.
			res, err := hc.Post(f.srv.URL+"/api?x=1", "text/plain", strings.NewReader("hello"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || string(b) != "hello" {
				t.Fatalf("POST: %d %q", res.StatusCode, b)
			}
			res, err = hc.Get(f.srv.URL + "/api")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("GET: %d", res.StatusCode)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.lastScheme != tt.wantScheme {
				t.Errorf("scheme %q, want %q", f.lastScheme, tt.wantScheme)
			}
			if got := [2]int{f.tokenCalls, f.apiCalls}; got != tt.wantCalls {
				t.Errorf("token and resource requests %v, want %v", got, tt.wantCalls)
			}
			if f.lastScope != "sms reports" {
				t.Errorf("scope %q", f.lastScope)
			}
		})
	}
}

// The nonce a resource server hands out on a success is used on the next
// request, which then needs no retry.
func TestTransportKeepsNonce(t *testing.T) {
	f := newFakeServer(t, "d")
	f.rsNonce = "n1"
	c, err := New(Config{TokenURL: f.tokenURL(), ClientID: "d", ClientSecret: "s", DPoPKey: testKey(t, "ES256")})
	if err != nil {
		t.Fatal(err)
	}
	f.secret = "s"
	hc := c.HTTPClient()
	for range 3 {
		res, err := hc.Get(f.srv.URL + "/api")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if f.apiCalls != 4 {
		t.Fatalf("%d requests for 3 calls, want 4: one retry for the first nonce only", f.apiCalls)
	}
}

// A body that cannot be sent again is not retried: the 401 reaches the
// caller.
func TestTransportNoRetryWithoutGetBody(t *testing.T) {
	f := newFakeServer(t, "d")
	f.secret, f.rsNonce = "s", "n1"
	c, err := New(Config{TokenURL: f.tokenURL(), ClientID: "d", ClientSecret: "s", DPoPKey: testKey(t, "ES256")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", f.srv.URL+"/api", io.NopCloser(strings.NewReader("x")))
	res, err := c.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 || res.Header.Get("DPoP-Nonce") != "n1" {
		t.Fatalf("%d, nonce %q: want the 401 with the nonce", res.StatusCode, res.Header.Get("DPoP-Nonce"))
	}
}

// Tokens are cached until shortly before they expire; concurrent callers
// share one request; Forget drops the token.
func TestTokenCache(t *testing.T) {
	f := newFakeServer(t, "d")
	f.secret, f.expiresIn = "s", 60
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c, err := New(Config{TokenURL: f.tokenURL(), ClientID: "d", ClientSecret: "s", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	toks := make([]*oauth2.Token, 8)
	for i := range toks {
		wg.Go(func() {
			tok, err := c.TokenSource(context.Background()).Token()
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok
		})
	}
	wg.Wait()
	if f.tokenCalls != 1 || toks[0].AccessToken != toks[7].AccessToken {
		t.Fatalf("%d token requests for 8 concurrent callers, want 1", f.tokenCalls)
	}
	if toks[0].Extra("scope") != "" || toks[0].Type() != "Bearer" {
		t.Errorf("token %+v", toks[0])
	}
	for _, step := range []struct {
		advance time.Duration
		forget  bool
		calls   int
		why     string
	}{
		{45 * time.Second, false, 1, "renewed 15s before expiry; want the cached token"},
		{6 * time.Second, false, 2, "not renewed 9s before expiry"},
		{0, true, 3, "Forget kept the token"},
	} {
		mu.Lock()
		now = now.Add(step.advance)
		mu.Unlock()
		if step.forget {
			c.Forget()
		}
		if _, err := c.Token(context.Background()); err != nil || f.tokenCalls != step.calls {
			t.Fatalf("%s (%d token requests, %v)", step.why, f.tokenCalls, err)
		}
	}
}

// The token endpoint's refusals come back as *oauth2.RetrieveError with
// the RFC 6749 §5.2 code; the transport passes them on without sending
// the request.
func TestTokenErrors(t *testing.T) {
	f := newFakeServer(t, "d")
	f.secret = "right"
	c, err := New(Config{TokenURL: f.tokenURL(), ClientID: "d", ClientSecret: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	f.quiet = true // the wrong secret is the point
	_, err = c.Token(context.Background())
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Fatalf("error %v, want a RetrieveError invalid_client", err)
	}
	if _, err := c.HTTPClient().Get(f.srv.URL + "/api"); !errors.As(err, &re) {
		t.Fatalf("transport error %v", err)
	}
	if f.apiCalls != 0 {
		t.Fatal("the request went out without a token")
	}
}

func TestConfigErrors(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ok := testKey(t, "ES256")
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{ClientID: "d", ClientSecret: "s"}, "TokenURL"},
		{Config{TokenURL: "https://a/token", ClientSecret: "s"}, "ClientID"},
		{Config{TokenURL: "https://a/token", ClientID: "d"}, "Key"},
		{Config{TokenURL: "https://a/token", ClientID: "d", ClientSecret: "s", Key: ok}, "not both"},
		{Config{TokenURL: "https://a/token", ClientID: "d", Key: small}, "2048"},
		{Config{TokenURL: "https://a/token", ClientID: "d", Key: p384}, "P-256"},
		{Config{TokenURL: "https://a/token", ClientID: "d", Key: ok, DPoPKey: small}, "2048"},
	} {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error about %s", tt.cfg, err, tt.want)
		}
	}
}

func TestTargetURI(t *testing.T) {
	for in, want := range map[string]string{
		"https://API.Example.com:443/v1/sms?x=1#f": "https://api.example.com/v1/sms",
		"http://localhost:80":                      "http://localhost/",
		"http://localhost:8081/a%2Fb":              "http://localhost:8081/a%2Fb",
		"https://[::1]:8443/x":                     "https://[::1]:8443/x",
	} {
		if got, err := targetURI(in); err != nil || got != want {
			t.Errorf("targetURI(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := targetURI("/relative"); err == nil {
		t.Error("a relative URL was taken")
	}
}
