package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// withActions adds resource:action scopes to env's catalogue, the way an
// operator does through the admin API.
func (e *testEnv) withActions(names ...string) {
	e.t.Helper()
	ctx := apps.WithActor(context.Background(), apps.Actor{Name: "admin-key:test"})
	for _, n := range names {
		if _, _, err := e.apps.SetScope(ctx, n, ""); err != nil {
			e.t.Fatal(err)
		}
	}
}

// An application holding forms gets tokens carrying the catalogued scopes
// they stand for, asked for or not, and so does introspection: resource
// servers, which check concrete scopes, need no form logic.
func TestTokenScopesExpanded(t *testing.T) {
	bothCaches(t, testTokenScopesExpanded)
}

// testTokenScopesExpanded runs with the application cache off (the token
// script reads the application and grants what it holds literally;
// IssueToken then writes what the catalogue grants) and on.
func testTokenScopesExpanded(t *testing.T, cached bool) {
	env := newTestServer(t)
	if cached {
		env.cacheApps()
	}
	env.withActions("sms:send", "sms:read", "viber:send")
	group := env.createApp(apps.NewApplication{Scopes: []string{"sms:* reports"}})
	all := env.createApp(apps.NewApplication{Scopes: []string{scopes.All, scopes.Introspect}})
	cat, err := env.apps.Catalogue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	everyUnreserved := strings.Join(slices.DeleteFunc(cat.Names(), scopes.Reserved), " ")

	tests := []struct {
		app        testApp
		ask, scope string // scope "" when refused
	}{
		{group, "", "sms:send sms:read reports"},
		{group, "sms:*", "sms:send sms:read"},
		{group, "sms:send", "sms:send"},
		{group, "reports sms:read", "reports sms:read"},
		{group, "viber:send", ""},
		{group, "all:any", ""},
		{group, "sms", ""},
		{all, "", everyUnreserved + " " + scopes.Introspect},
		{all, "all:any", everyUnreserved},
		{all, "viber:send sms:*", "viber:send sms:send sms:read"},
		{all, scopes.Admin, ""},
	}
	for _, tt := range tests {
		form := url.Values{}
		if tt.ask != "" {
			form.Set("scope", tt.ask)
		}
		code, body := env.tokenWith(tt.app, form)
		switch {
		case tt.scope == "" && (code != http.StatusBadRequest || body["error"] != "invalid_scope"):
			t.Errorf("%v asking %q: %d %v; want invalid_scope", tt.app.Scopes, tt.ask, code, body)
		case tt.scope != "" && (code != http.StatusOK || body["scope"] != tt.scope):
			t.Errorf("%v asking %q: %d scope %v; want %q", tt.app.Scopes, tt.ask, code, body["scope"], tt.scope)
		}
	}

	tok := env.issue(group, "")
	_, body := env.introspect(all, url.Values{"token": {tok}})
	if got := decode[map[string]any](t, strings.NewReader(body))["scope"]; got != "sms:send sms:read reports" {
		t.Fatalf("introspected scope %v", got)
	}
	// A scope deleted from the catalogue is granted no more, even to a
	// token of an application that holds it through a form.
	ctx := apps.WithActor(context.Background(), apps.Actor{Name: "admin-key:test"})
	if _, err := env.apps.DeleteScope(ctx, "sms:read", false); err != nil {
		t.Fatal(err)
	}
	_, body = env.introspect(all, url.Values{"token": {tok}})
	if got := decode[map[string]any](t, strings.NewReader(body))["scope"]; got != "sms:send reports" {
		t.Fatalf("introspected scope after sms:read was deleted: %v", got)
	}
	if _, body := env.tokenWith(group, url.Values{}); body["scope"] != "sms:send reports" {
		t.Fatalf("a new token after sms:read was deleted: %v", body["scope"])
	}
}

// A JWT carries the catalogued scopes too: resource servers check it
// without asking oauthd, so without knowing any form.
func TestJWTScopesExpanded(t *testing.T) {
	env, _ := newJWTServer(t)
	env.withActions("sms:send", "sms:read")
	app := env.createApp(apps.NewApplication{Scopes: []string{"sms:*"}, TokenLifetime: "1h", TokenFormat: "jwt"})
	code, body := env.tokenWith(app, url.Values{})
	tok, _ := body["access_token"].(string)
	if code != http.StatusOK || strings.Count(tok, ".") != 2 {
		t.Fatalf("token: %d %v", code, body)
	}
	if got := jwtPart(t, tok, 1)["scope"]; got != "sms:send sms:read" || body["scope"] != got {
		t.Fatalf("JWT scope claim %v, answer's scope %v; want sms:send sms:read", got, body["scope"])
	}
}

// The metadata's scopes_supported is the catalogue in Redis: a scope added
// through another replica (or the CLI) shows on this one within moments,
// with no restart.
func TestMetadataFollowsTheCatalogue(t *testing.T) {
	rs := redistest.Start(t, redistest.Mini)
	a, _ := newReplica(t, rs)
	_, other := newReplica(t, rs)
	supported := func() string {
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, getRequest("/.well-known/oauth-authorization-server"))
		m := decode[map[string]any](t, w.Body)
		var out []string
		for _, s := range m["scopes_supported"].([]any) {
			out = append(out, s.(string))
		}
		return " " + strings.Join(out, " ") + " "
	}
	if s := supported(); !strings.Contains(s, " viber ") || strings.Contains(s, " messages:send ") {
		t.Fatalf("scopes_supported before the change: %s", s)
	}
	ctx := apps.WithActor(context.Background(), apps.Actor{Name: "cli"})
	if _, _, err := other.SetScope(ctx, "messages:send", "Send any message"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.DeleteScope(ctx, "viber", false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s := supported(); strings.Contains(s, " viber ") || !strings.Contains(s, " messages:send "); s = supported() {
		if time.Now().After(deadline) {
			t.Fatalf("scopes_supported 5s after the other replica's change: %s", s)
		}
		time.Sleep(time.Millisecond)
	}
}

// newReplica is one replica on rs, as serve runs it: its store follows
// invalidations, so applications and the catalogue come from its caches.
func newReplica(t *testing.T, rs *redistest.Server) (*Server, *apps.Service) {
	t.Helper()
	rdb, err := redis.NewClient(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	st := redis.New(rdb, redis.Options{Prefix: "test"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); st.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(5 * time.Second); !st.CacheStats().Up; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the cache did not come up within 5s")
		}
	}
	svc := apps.New(st, scopes.Default(), apps.Options{})
	srv, err := New(Config{Issuer: "http://oauthd.test", Catalogue: svc}, st)
	if err != nil {
		t.Fatal(err)
	}
	return srv, svc
}

// The scope check of every token request reads the catalogue from memory
// and, for an application holding no form, allocates nothing: no Redis
// read, no expansion.
func TestGrantScopesFromMemory(t *testing.T) {
	srv, _ := newReplica(t, redistest.Start(t, redistest.Mini))
	ctx := context.Background()
	held, requested := []string{"sms", "groups"}, []string{"groups"}
	if _, err := srv.grantScopes(ctx, held, nil); err != nil { // seeds and caches
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		srv.grantScopes(ctx, held, nil)
		srv.grantScopes(ctx, held, requested)
	}); allocs != 0 {
		t.Fatalf("%v allocations per scope check", allocs)
	}
}
