package introspect

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewValidatesConfig(t *testing.T) {
	base := Config{Issuer: "https://auth.example.com", ClientID: "id", ClientSecret: "secret"}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string // "" for success
	}{
		{"issuer", func(*Config) {}, ""},
		{"issuer with path", func(c *Config) { c.Issuer = "https://example.com/oauthd" }, ""},
		{"endpoint", func(c *Config) { c.Issuer, c.Endpoint = "", "http://oauthd:8080/oauth/introspect" }, ""},
		{"neither", func(c *Config) { c.Issuer = "" }, "set Issuer"},
		{"both", func(c *Config) { c.Endpoint = "https://auth.example.com/oauth/introspect" }, "not both"},
		{"issuer not http", func(c *Config) { c.Issuer = "ftp://auth.example.com" }, "absolute http or https URL"},
		{"issuer relative", func(c *Config) { c.Issuer = "/auth" }, "absolute http or https URL"},
		{"issuer with query", func(c *Config) { c.Issuer = "https://auth.example.com?x=1" }, "no query or fragment"},
		{"issuer with fragment", func(c *Config) { c.Issuer = "https://auth.example.com#x" }, "no query or fragment"},
		{"endpoint relative", func(c *Config) { c.Issuer, c.Endpoint = "", "oauth/introspect" }, "absolute http or https URL"},
		{"no client id", func(c *Config) { c.ClientID = "" }, "ClientID and ClientSecret are required"},
		{"no client secret", func(c *Config) { c.ClientSecret = "" }, "ClientID and ClientSecret are required"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "Timeout"},
		{"negative cache size", func(c *Config) { c.CacheSize = -1 }, "CacheSize"},
		{"realm with newline", func(c *Config) { c.Realm = "a\r\nX-Evil: 1" }, "printable ASCII"},
		{"negative TTLs disable caching", func(c *Config) { c.CacheTTL, c.InactiveCacheTTL = -1, -1 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.edit(&cfg)
			_, err := New(cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New: error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDiscovery(t *testing.T) {
	tests := []struct {
		name          string
		edit          func(*fakeOAuthd, *Config)
		wantErr       string // "" for success
		wantMetadata  int64  // metadata requests after two lookups
		wantIntrospec int64
	}{
		{
			name:          "endpoint discovered once and remembered",
			edit:          func(*fakeOAuthd, *Config) {},
			wantMetadata:  1,
			wantIntrospec: 2,
		},
		{
			name:          "explicit endpoint skips discovery",
			edit:          func(f *fakeOAuthd, c *Config) { c.Issuer, c.Endpoint = "", f.srv.URL+"/oauth/introspect" },
			wantMetadata:  0,
			wantIntrospec: 2,
		},
		{
			name:         "issuer mismatch",
			edit:         func(f *fakeOAuthd, _ *Config) { f.setMetadata("http://impostor.test", 0) },
			wantErr:      `names issuer "http://impostor.test", but Issuer is`,
			wantMetadata: 2, // a failure is not remembered
		},
		{
			name:         "trailing slash is a different issuer",
			edit:         func(f *fakeOAuthd, c *Config) { c.Issuer = f.srv.URL + "/" },
			wantErr:      "they must be identical",
			wantMetadata: 2,
		},
		{
			name:         "no metadata",
			edit:         func(f *fakeOAuthd, _ *Config) { f.setMetadata(f.srv.URL, http.StatusNotFound) },
			wantErr:      "answered 404 Not Found: check that Issuer is oauthd's base URL",
			wantMetadata: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.set("tok-a", activeAnswer("sms", 0))
			f.set("tok-b", activeAnswer("sms", 0))
			cfg := f.config()
			tt.edit(f, &cfg)
			c := newClient(t, cfg)
			for _, token := range []string{"tok-a", "tok-b"} {
				r, err := c.Introspect(t.Context(), token)
				if tt.wantErr != "" {
					if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("Introspect(%s): error %v, want ErrUnavailable containing %q", token, err, tt.wantErr)
					}
					continue
				}
				if err != nil || !r.Active {
					t.Fatalf("Introspect(%s) = %+v, %v; want active", token, r, err)
				}
			}
			if got := f.metadataHits.Load(); got != tt.wantMetadata {
				t.Errorf("metadata requests = %d, want %d", got, tt.wantMetadata)
			}
			if got := f.introspections.Load(); got != tt.wantIntrospec {
				t.Errorf("introspection requests = %d, want %d", got, tt.wantIntrospec)
			}
		})
	}
}

func TestDiscoveryRetriedAfterFailure(t *testing.T) {
	f := newFake(t)
	f.set("tok", activeAnswer("sms", 0))
	f.setMetadata(f.srv.URL, http.StatusBadGateway)
	c := newClient(t, f.config())

	if _, err := c.Introspect(t.Context(), "tok"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("first Introspect: error %v, want ErrUnavailable", err)
	}
	f.setMetadata(f.srv.URL, 0)
	for i := range 2 {
		if r, err := c.Introspect(t.Context(), "tok"); err != nil || !r.Active {
			t.Fatalf("Introspect #%d = %+v, %v; want active", i+2, r, err)
		}
	}
	if got := f.metadataHits.Load(); got != 2 {
		t.Errorf("metadata requests = %d, want 2 (one failure, one success, then remembered)", got)
	}
}

func TestIntrospectRequestAndAnswers(t *testing.T) {
	tests := []struct {
		name  string
		token string
		ans   answer
		want  Response
	}{
		{
			name:  "active",
			token: "oat_app1_" + strings.Repeat("A", 43),
			ans:   activeAnswer("sms groups", 1700000000),
			want: Response{Active: true, Scope: "sms groups", ClientID: "app1", TokenType: "Bearer",
				Exp: 1700000000, Iat: 1699990000, Sub: "app1", Iss: "http://oauthd.test", Jti: "jti-1"},
		},
		{
			name:  "active without exp never expires",
			token: "never",
			ans:   activeAnswer("sms", 0),
			want: Response{Active: true, Scope: "sms", ClientID: "app1", TokenType: "Bearer",
				Iat: 1699990000, Sub: "app1", Iss: "http://oauthd.test", Jti: "jti-1"},
		},
		{name: "inactive", token: "dead", ans: inactiveAnswer(""), want: Response{}},
		{name: "expired", token: "old", ans: inactiveAnswer("expired"), want: Response{InactiveReason: ReasonExpired}},
		{name: "revoked", token: "gone", ans: inactiveAnswer("revoked"), want: Response{InactiveReason: ReasonRevoked}},
		{
			// RFC 7662 §2.2: nothing else about an inactive token counts.
			name:  "inactive with stray members",
			token: "odd",
			ans:   answer{http.StatusOK, `{"active":false,"scope":"admin","client_id":"x"}`},
			want:  Response{},
		},
		{
			name:  "token needing form-encoding",
			token: "a+b&c=d%e",
			ans:   activeAnswer("sms", 0),
			want: Response{Active: true, Scope: "sms", ClientID: "app1", TokenType: "Bearer",
				Iat: 1699990000, Sub: "app1", Iss: "http://oauthd.test", Jti: "jti-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.set(tt.token, tt.ans)
			c := newClient(t, f.config())
			got, err := c.Introspect(t.Context(), tt.token)
			if err != nil {
				t.Fatalf("Introspect: %v", err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Introspect = %+v\nwant        %+v", *got, tt.want)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("rs%3A1+id:ocs_s%2Bcr%25t%3A%26%3D"))
			if f.lastAuth != wantAuth {
				t.Errorf("Authorization = %q, want %q", f.lastAuth, wantAuth)
			}
			if f.lastType != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type = %q", f.lastType)
			}
			if got := f.lastForm.Get("token"); got != tt.token {
				t.Errorf("form token = %q, want %q", got, tt.token)
			}
			if got := f.lastForm.Get("token_type_hint"); got != "access_token" {
				t.Errorf("form token_type_hint = %q, want access_token", got)
			}
		})
	}
}

func TestMalformedTokensAreNotSent(t *testing.T) {
	tests := []struct {
		name     string
		token    string
		wantSent bool
	}{
		{"empty", "", false},
		{"too long", strings.Repeat("a", MaxTokenLen+1), false},
		{"longest allowed", strings.Repeat("a", MaxTokenLen), true},
		{"space", "abc def", false},
		{"control character", "abc\x00", false},
		{"newline", "abc\ndef", false},
		{"non-ASCII", "tök", false},
		{"DEL", "abc\x7f", false},
		{"visible ASCII", "!~\"\\{}", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			c := newClient(t, f.config())
			r, err := c.Introspect(t.Context(), tt.token)
			if err != nil || r.Active {
				t.Fatalf("Introspect = %+v, %v; want inactive", r, err)
			}
			if sent := f.introspections.Load() == 1; sent != tt.wantSent {
				t.Errorf("sent to oauthd: %v, want %v", sent, tt.wantSent)
			}
		})
	}
}

func TestCannotDecide(t *testing.T) {
	tests := []struct {
		name    string
		ans     answer
		edit    func(*Config)
		wantErr string
	}{
		{"wrong credentials", answer{}, func(c *Config) { c.ClientSecret = "wrong" },
			"oauthd rejected this resource server's credentials (401 invalid_client): check the client_id and client_secret (oauthd says: client authentication failed)"},
		{"not allowed to introspect", answer{http.StatusForbidden, `{"error":"insufficient_scope","error_description":"needs tokens:introspect"}`}, nil,
			"(403 insufficient_scope): an operator must grant its application the tokens:introspect scope (oauthd says: needs tokens:introspect)"},
		{"store down", answer{http.StatusServiceUnavailable, `{"error":"temporarily_unavailable"}`}, nil,
			"oauthd is temporarily unavailable (503 temporarily_unavailable)"},
		{"server error", answer{http.StatusInternalServerError, `{"error":"server_error"}`}, nil, "answered 500 Internal Server Error (server_error)"},
		{"bad gateway page", answer{http.StatusBadGateway, `<html>`}, nil, "answered 502 Bad Gateway (no error code)"},
		{"HTML with 200", answer{http.StatusOK, `<html>login</html>`}, nil, "answered 200 with a body that is not RFC 7662 JSON"},
		{"no active member", answer{http.StatusOK, `{"scope":"sms"}`}, nil, `without the required "active" member`},
		{"null", answer{http.StatusOK, `null`}, nil, `without the required "active" member`},
		{"active as string", answer{http.StatusOK, `{"active":"true"}`}, nil, "not RFC 7662 JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.set("tok", tt.ans)
			cfg := f.config()
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			c := newClient(t, cfg)
			r, err := c.Introspect(t.Context(), "tok")
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Introspect = %+v, %v; want ErrUnavailable containing %q", r, err, tt.wantErr)
			}
		})
	}
}

func TestCannotReach(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices the client hanging up only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)

	tests := []struct {
		name      string
		cfg       Config
		wantErr   string
		wantCause error
	}{
		{"closed server", Config{Endpoint: closed.URL + "/oauth/introspect"}, "cannot reach oauthd", nil},
		{"closed server at discovery", Config{Issuer: closed.URL}, "cannot fetch oauthd's metadata", nil},
		{"timeout", Config{Endpoint: hang.URL, Timeout: 50 * time.Millisecond}, "cannot reach oauthd", context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.ClientID, cfg.ClientSecret = "id", "secret"
			c := newClient(t, cfg)
			_, err := c.Introspect(t.Context(), "tok")
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Introspect: error %v, want ErrUnavailable containing %q", err, tt.wantErr)
			}
			if tt.wantCause != nil && !errors.Is(err, tt.wantCause) {
				t.Errorf("Introspect: error %v does not wrap %v", err, tt.wantCause)
			}
		})
	}
}

func TestCacheLifetime(t *testing.T) {
	t0 := newClock().Now()
	type step struct {
		advance      time.Duration
		wantRequests int64 // after this step's lookup
	}
	tests := []struct {
		name  string
		ans   answer
		edit  func(*Config)
		steps []step
	}{
		{
			name:  "active, CacheTTL shorter than exp",
			ans:   activeAnswer("sms", t0.Add(time.Hour).Unix()),
			steps: []step{{0, 1}, {0, 1}, {DefaultCacheTTL - time.Millisecond, 1}, {time.Millisecond, 2}, {time.Second, 2}},
		},
		{
			name:  "active, never expires: CacheTTL",
			ans:   activeAnswer("sms", 0),
			edit:  func(c *Config) { c.CacheTTL = time.Minute },
			steps: []step{{0, 1}, {time.Minute - time.Millisecond, 1}, {time.Millisecond, 2}},
		},
		{
			name:  "active, exp sooner than CacheTTL",
			ans:   activeAnswer("sms", t0.Add(2*time.Second).Unix()),
			steps: []step{{0, 1}, {2*time.Second - time.Millisecond, 1}, {time.Millisecond, 2}},
		},
		{
			// oauthd says active but its exp is already past here (clock
			// skew): believe it, but do not cache it.
			name:  "active, exp already past",
			ans:   activeAnswer("sms", t0.Add(-time.Second).Unix()),
			steps: []step{{0, 1}, {0, 2}},
		},
		{
			name:  "inactive: InactiveCacheTTL",
			ans:   inactiveAnswer(""),
			steps: []step{{0, 1}, {DefaultInactiveCacheTTL - time.Millisecond, 1}, {time.Millisecond, 2}},
		},
		{
			name:  "inactive, longer InactiveCacheTTL",
			ans:   inactiveAnswer("revoked"),
			edit:  func(c *Config) { c.InactiveCacheTTL = 30 * time.Second },
			steps: []step{{0, 1}, {29 * time.Second, 1}, {time.Second, 2}},
		},
		{
			name:  "negative CacheTTL disables caching",
			ans:   activeAnswer("sms", 0),
			edit:  func(c *Config) { c.CacheTTL = -1 },
			steps: []step{{0, 1}, {0, 2}},
		},
		{
			name:  "negative InactiveCacheTTL disables caching",
			ans:   inactiveAnswer(""),
			edit:  func(c *Config) { c.InactiveCacheTTL = -1 },
			steps: []step{{0, 1}, {0, 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.set("tok", tt.ans)
			clk := newClock()
			cfg := f.config()
			cfg.Now = clk.Now
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			c := newClient(t, cfg)
			for i, s := range tt.steps {
				clk.Advance(s.advance)
				if _, err := c.Introspect(t.Context(), "tok"); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got := f.introspections.Load(); got != s.wantRequests {
					t.Fatalf("step %d (at +%v): %d requests, want %d", i, clk.Now().Sub(t0), got, s.wantRequests)
				}
			}
		})
	}
}

func TestCacheIsBounded(t *testing.T) {
	f := newFake(t)
	c := newClient(t, func() Config { cfg := f.config(); cfg.CacheSize = 2; cfg.Now = newClock().Now; return cfg }())
	for i, token := range []string{"a", "b", "c", "a", "c"} {
		if _, err := c.Introspect(t.Context(), token); err != nil {
			t.Fatal(err)
		}
		// "a" is evicted by "c"; "c" is still there.
		want := []int64{1, 2, 3, 4, 4}[i]
		if got := f.introspections.Load(); got != want {
			t.Fatalf("after %q: %d requests, want %d", token, got, want)
		}
	}
	if n := c.cache.Len(); n != 2 {
		t.Errorf("cache holds %d entries, want 2", n)
	}
}

func TestCacheKeyIsDigest(t *testing.T) {
	f := newFake(t)
	f.set("oat_secret", activeAnswer("sms", 0))
	c := newClient(t, f.config())
	if _, err := c.Introspect(t.Context(), "oat_secret"); err != nil {
		t.Fatal(err)
	}
	for _, k := range c.cache.Keys() {
		if strings.Contains(string(k[:]), "oat_secret") {
			t.Fatalf("cache key holds the token")
		}
	}
}

func TestErrorsAreNotCached(t *testing.T) {
	f := newFake(t)
	f.set("tok", answer{http.StatusInternalServerError, `{"error":"server_error"}`})
	c := newClient(t, func() Config { cfg := f.config(); cfg.Now = newClock().Now; return cfg }())
	steps := []struct {
		fix          bool
		wantErr      bool
		wantRequests int64
	}{
		{false, true, 1},
		{false, true, 2},
		{true, false, 3},
		{false, false, 3},
	}
	for i, s := range steps {
		if s.fix {
			f.set("tok", activeAnswer("sms", 0))
		}
		_, err := c.Introspect(t.Context(), "tok")
		if (err != nil) != s.wantErr {
			t.Fatalf("step %d: error %v, want error: %v", i, err, s.wantErr)
		}
		if got := f.introspections.Load(); got != s.wantRequests {
			t.Fatalf("step %d: %d requests, want %d", i, got, s.wantRequests)
		}
	}
}

// TestConcurrentLookupsShareOneRequest holds the fake's answer until every
// caller has joined the lookup (testHookWait tells when), so the callers
// are provably concurrent; and the first caller, whose context the lookup
// started from, gives up first without failing the others.
func TestConcurrentLookupsShareOneRequest(t *testing.T) {
	const n = 32
	f := newFake(t)
	f.set("tok", activeAnswer("sms", 0))
	gate := make(chan struct{})
	f.hold(gate)
	c := newClient(t, func() Config { cfg := f.config(); cfg.Now = newClock().Now; return cfg }())
	waiting := make(chan struct{}, n)
	c.testHookWait = func() { waiting <- struct{}{} }
	awaitWaiting := func(k int) {
		t.Helper()
		timeout := time.After(10 * time.Second) // a deadlock guard, not synchronisation
		for range k {
			select {
			case <-waiting:
			case <-timeout:
				t.Fatal("callers did not join the lookup")
			}
		}
	}

	leaderCtx, cancelLeader := context.WithCancel(t.Context())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := c.Introspect(leaderCtx, "tok")
		leaderErr <- err
	}()
	awaitWaiting(1)

	var wg sync.WaitGroup
	results := make([]*Response, n-1)
	errs := make([]error, n-1)
	for i := range n - 1 {
		wg.Go(func() { results[i], errs[i] = c.Introspect(t.Context(), "tok") })
	}
	awaitWaiting(n - 1)

	cancelLeader()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("leader: error %v, want ErrUnavailable wrapping context.Canceled", err)
	}
	close(gate)
	wg.Wait()

	for i := range n - 1 {
		if errs[i] != nil || !results[i].Active {
			t.Errorf("caller %d: %+v, %v; want active", i, results[i], errs[i])
		}
	}
	if got := f.introspections.Load(); got != 1 {
		t.Errorf("%d introspection requests for %d concurrent callers, want 1", got, n)
	}
}
