package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/admin/adminapi"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/store"
)

// routeLog records the admin route each request of a client matched.
type routeLog struct {
	next   http.RoundTripper
	routes []Route
	mu     sync.Mutex
	hit    map[Route]bool
}

func (l *routeLog) RoundTrip(r *http.Request) (*http.Response, error) {
	path := strings.TrimPrefix(r.URL.EscapedPath(), Prefix)
	l.mu.Lock()
	for _, rt := range l.routes {
		if rt.Method == r.Method && matches(rt.Path, path) {
			l.hit[rt] = true
		}
	}
	l.mu.Unlock()
	return l.next.RoundTrip(r)
}

// matches reports whether path fits an OpenAPI-style route pattern.
func matches(pattern, path string) bool {
	ps, segs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(segs) {
		return false
	}
	for i, p := range ps {
		if !strings.HasPrefix(p, "{") && p != segs[i] {
			return false
		}
	}
	return true
}

// newClientEnv is the admin API on a service with signing keys, and a
// client of it through the in-process transport whose routes are logged.
func newClientEnv(t *testing.T) (*adminEnv, *adminapi.Client, *routeLog) {
	t.Helper()
	env := newAdminEnv(t)
	ring, err := signing.NewRing(env.store, signing.SealWith(make([]byte, 32)), signing.EdDSA, nil)
	if err != nil || ring.Ensure(context.Background()) != nil {
		t.Fatal(err)
	}
	env.apps = apps.New(env.store, scopes.Default(), apps.Options{Keys: ring, Now: env.clk.now})
	env.admin = New(Config{KeyDigests: []store.Digest{store.Sum(adminKey)}, Now: env.clk.now}, env.apps, env.store)
	log := &routeLog{next: adminapi.InProcess(env.admin.Handler()), routes: env.admin.Routes(), hit: map[Route]bool{}}
	return env, adminapi.NewClient("http://oauthd.test", adminKey, &http.Client{Transport: log}), log
}

// Every route has a client method, and each round-trips: what one
// returns is what the next is given, as a script would chain them.
func TestClientRoundTrips(t *testing.T) {
	env, c, log := newClientEnv(t)
	ctx := context.Background()
	var app adminapi.Application
	var reset adminapi.SecretReset
	var key adminapi.APIKey
	var rotated adminapi.SigningKey
	steps := []struct {
		name string
		call func() error
		ok   func() bool
	}{
		{"create", func() (err error) {
			app, err = c.CreateApplication(ctx, adminapi.NewApplicationRequest{Name: "billing", Scopes: []string{"sms"}, Metadata: map[string]string{"env": "prod"}})
			return err
		}, func() bool {
			return strings.HasPrefix(app.ClientSecret, "ocs_") && app.TokenLifetime == "24h" && app.Metadata["env"] == "prod" && len(app.Secrets) == 1
		}},
		{"get", func() (err error) { app, err = c.GetApplication(ctx, app.ClientID); return err },
			func() bool { return app.Name == "billing" && app.ClientSecret == "" && app.TokenFormat == "opaque" }},
		{"list", func() error {
			l, err := c.ListApplications(ctx, adminapi.ApplicationFilter{Name: "bill"}, 10, "")
			if err == nil && (len(l.Applications) != 1 || l.Applications[0].ClientID != app.ClientID) {
				return errors.New("the listing lacks it")
			}
			return err
		}, nil},
		{"update", func() (err error) {
			name, enabled := "invoices", false
			app, err = c.UpdateApplication(ctx, app.ClientID, adminapi.ApplicationPatchRequest{Name: &name, Enabled: &enabled})
			return err
		}, func() bool { return app.Name == "invoices" && !app.Enabled && len(app.Secrets) == 1 }},
		{"reset secret", func() (err error) {
			reset, err = c.ResetSecret(ctx, app.ClientID, adminapi.SecretResetRequest{GracePeriod: "1h"})
			return err
		}, func() bool { return strings.HasPrefix(reset.ClientSecret, "ocs_") && len(reset.Secrets) == 2 }},
		{"delete secret", func() error { return c.DeleteSecret(ctx, app.ClientID, app.Secrets[0].ID) }, nil},
		{"create API key", func() (err error) {
			key, err = c.CreateAPIKey(ctx, app.ClientID, adminapi.NewAPIKeyRequest{Name: "cron", ExpiresIn: "30d"})
			return err
		}, func() bool {
			return strings.HasPrefix(key.Key, "oak_") && key.Kind == "api_key" && key.ExpiresAt != nil
		}},
		{"list tokens", func() error {
			l, err := c.ListTokens(ctx, app.ClientID, 10)
			if err == nil && (len(l.Tokens) != 1 || l.Tokens[0].JTI != key.JTI || l.More) {
				return errors.New("the listing lacks the key")
			}
			return err
		}, nil},
		{"revoke token", func() error { return c.RevokeToken(ctx, key.JTI) }, nil},
		{"revoke tokens", func() error { return c.RevokeTokens(ctx, app.ClientID) }, nil},
		{"import", func() error {
			in := adminapi.ImportApplicationRequest{ClientSecret: "V4kq-Xz9mT_bL2.pWn7cR~e5Hs-hydra",
				NewApplicationRequest: adminapi.NewApplicationRequest{Name: "from hydra", Scopes: []string{"groups"}}}
			got, err := c.ImportApplication(ctx, "hydra-1", in)
			if err == nil && (got.ClientID != "hydra-1" || got.ClientSecret != "") {
				return errors.New("imported " + got.ClientID)
			}
			return err
		}, nil},
		{"export", func() error {
			l, err := c.ExportApplications(ctx, 10, "", true)
			i := slices.IndexFunc(l.Applications, func(a adminapi.ExportedApplication) bool { return a.ClientID == "hydra-1" })
			if err == nil && (i < 0 || len(l.Applications[i].SecretDigests) != 1 || l.Applications[i].ClientSecret != "") {
				return fmt.Errorf("exported %+v", l.Applications)
			}
			return err
		}, nil},
		{"events", func() error {
			l, err := c.ListEvents(ctx, adminapi.EventFilter{ClientID: app.ClientID}, 50, "")
			var kinds []string
			for _, e := range l.Events {
				kinds = append(kinds, e.Kind)
			}
			for _, k := range []string{"application.created", "application.updated", "secret.reset", "secret.deleted", "api_key.created", "token.revoked", "tokens.revoked"} {
				if err == nil && !slices.Contains(kinds, k) {
					return errors.New("no " + k + " event in " + strings.Join(kinds, " "))
				}
			}
			return err
		}, nil},
		{"security events", func() error {
			// The client sends the log: a kind of the other log is refused.
			_, err := c.ListEvents(ctx, adminapi.EventFilter{Log: adminapi.LogSecurity, Kind: "secret.reset"}, 50, "")
			if e := (*adminapi.Error)(nil); !errors.As(err, &e) || e.Field != "kind" {
				return fmt.Errorf("security events of an admin kind: %v, want 400 on kind", err)
			}
			_, err = c.ListEvents(ctx, adminapi.EventFilter{Log: adminapi.LogSecurity, ClientID: app.ClientID}, 50, "")
			return err
		}, nil},
		{"rotate signing key", func() (err error) { rotated, err = c.RotateSigningKey(ctx); return err },
			func() bool {
				return rotated.KID != "" && rotated.Alg == "EdDSA" && rotated.SignsFrom.After(rotated.CreatedAt)
			}},
		{"signing keys", func() error {
			l, err := c.SigningKeys(ctx)
			if err == nil && (len(l.Keys) != 2 || !slices.ContainsFunc(l.Keys, func(k adminapi.SigningKey) bool { return k.KID == rotated.KID })) {
				return errors.New("the rotated key is not listed")
			}
			return err
		}, nil},
		{"set scope", func() error {
			sc, created, err := c.PutScope(ctx, "messages:send", adminapi.ScopeRequest{Description: "Send any message"})
			if err == nil && (!created || sc.Description != "Send any message") {
				return fmt.Errorf("put a new scope: %+v, created %v", sc, created)
			}
			if _, created, err = c.PutScope(ctx, "messages:send", adminapi.ScopeRequest{Description: "Send"}); err == nil && created {
				return errors.New("describing a scope created it")
			}
			return err
		}, nil},
		{"list scopes", func() error {
			l, err := c.ListScopes(ctx)
			if err == nil && (!slices.Contains(l.Scopes, adminapi.Scope{Name: "messages:send", Description: "Send"}) || !slices.Equal(l.Forms, []string{"messages:*", "all:any"})) {
				return fmt.Errorf("the catalogue: %+v", l)
			}
			return err
		}, nil},
		{"delete a held scope", func() error {
			scopes := []string{"sms", "messages:send"}
			if _, err := c.UpdateApplication(ctx, app.ClientID, adminapi.ApplicationPatchRequest{Scopes: &scopes}); err != nil {
				return err
			}
			err := c.DeleteScope(ctx, "messages:send", false)
			if e := (*adminapi.Error)(nil); !errors.As(err, &e) || e.Status != http.StatusConflict || e.Detail == nil ||
				!slices.Equal(e.Detail.Holders, []string{app.ClientID}) || e.Detail.HoldersTotal != 1 {
				return fmt.Errorf("deleting a held scope: %v, want 409 naming its holder", err)
			}
			return c.DeleteScope(ctx, "messages:send", true)
		}, nil},
		{"delete", func() error { return c.DeleteApplication(ctx, app.ClientID) }, nil},
	}
	for _, s := range steps {
		if err := s.call(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if s.ok != nil && !s.ok() {
			t.Fatalf("%s: got %+v", s.name, app)
		}
	}
	for _, r := range env.admin.Routes() {
		if !log.hit[r] {
			t.Errorf("no client method calls %s %s", r.Method, r.Path)
		}
	}
}

// Error answers come back as *adminapi.Error with the status, code,
// description and field the server sent, over a real listener as in
// process.
func TestClientErrors(t *testing.T) {
	env, inProcess, _ := newClientEnv(t)
	srv := httptest.NewServer(env.admin.Handler())
	t.Cleanup(srv.Close)
	ctx := context.Background()
	app := env.createApp(apps.NewApplication{})
	for name, c := range map[string]*adminapi.Client{"in process": inProcess, "listener": adminapi.NewClient(srv.URL+"/", adminKey, srv.Client())} {
		tests := []struct {
			name   string
			call   func() error
			status int
			code   string
			field  string
			desc   string
		}{
			{"invalid", func() error {
				_, err := c.CreateApplication(ctx, adminapi.NewApplicationRequest{Name: "x", Scopes: []string{"nope"}})
				return err
			}, 400, "invalid_request", "scopes", "scopes: "},
			{"limit", func() error {
				_, err := c.ListEvents(ctx, adminapi.EventFilter{}, 0, "")
				return err
			}, 400, "invalid_request", "limit", "limit: a whole number"},
			{"not found", func() error { _, err := c.GetApplication(ctx, "nosuch"); return err }, 404, "not_found", "", `application "nosuch": not found`},
			{"exists", func() error {
				_, err := c.ImportApplication(ctx, app.ClientID, adminapi.ImportApplicationRequest{ClientSecret: "h7GkP2qZxW9mB4vT1nR8sLc3YdJ6fQ0a",
					NewApplicationRequest: adminapi.NewApplicationRequest{Name: "again", Scopes: []string{"sms"}}})
				return err
			}, 409, "conflict", "", "already exists"},
			{"unauthorized", func() error {
				_, err := adminapi.NewClient(srv.URL, "oadm_wrong", srv.Client()).GetApplication(ctx, app.ClientID)
				return err
			}, 401, "unauthorized", "", "unknown credential"},
		}
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				var e *adminapi.Error
				if err := tt.call(); !errors.As(err, &e) {
					t.Fatalf("error %v (%T), want an *adminapi.Error", err, err)
				}
				if e.Status != tt.status || e.Code != tt.code || e.Field != tt.field || !strings.Contains(e.Description, tt.desc) {
					t.Errorf("error %+v, want %d %s field %q, description with %q", e, tt.status, tt.code, tt.field, tt.desc)
				}
			})
		}
	}
	// An answer that is not the API's (a proxy's page) is a plain error
	// that says what came back.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	t.Cleanup(proxy.Close)
	var e *adminapi.Error
	if _, err := adminapi.NewClient(proxy.URL, adminKey, nil).SigningKeys(ctx); err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), "502") {
		t.Errorf("a proxy's 502: %v", err)
	}
}

// A named key acts under its name: the CLI's direct mode records its
// changes as actor "cli".
func TestNamedKey(t *testing.T) {
	env := newAdminEnv(t)
	const cliKey = "oadm_in-process"
	h := New(Config{NamedKeys: map[store.Digest]string{store.Sum(cliKey): "cli"}}, env.apps, env.store).Handler()
	c := adminapi.NewClient("http://in-process", cliKey, &http.Client{Transport: adminapi.InProcess(h)})
	ctx := context.Background()
	app, err := c.CreateApplication(ctx, adminapi.NewApplicationRequest{Name: "n", Scopes: []string{"sms"}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.ListEvents(ctx, adminapi.EventFilter{ClientID: app.ClientID}, 1, "")
	if err != nil || len(l.Events) != 1 || l.Events[0].Actor != "cli" || l.Events[0].IP != "" {
		t.Fatalf("events %+v, %v; want one by actor cli, without an address", l.Events, err)
	}
	if _, err := adminapi.NewClient("http://in-process", adminKey, &http.Client{Transport: adminapi.InProcess(h)}).GetApplication(ctx, app.ClientID); err == nil {
		t.Error("a handler with only a named key accepted another key")
	}
}
