package server

import (
	"context"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store"
)

// issueFrom gets a token for app through the token endpoint from addr.
func (e *testEnv) issueFrom(app testApp, addr string) (int, string) {
	e.t.Helper()
	r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
	r.Header.Set("Authorization", basic(app.ClientID, app.Secret))
	r.RemoteAddr = addr + ":40000"
	w := e.do(r)
	if w.Code != 200 {
		return w.Code, ""
	}
	return 200, decode[map[string]any](e.t, w.Body)["access_token"].(string)
}

func (e *testEnv) active(rs testApp, tok, from string) bool {
	e.t.Helper()
	form := url.Values{"token": {tok}}
	if from != "" {
		form.Set("client_ip", from)
	}
	code, body := e.introspect(rs, form)
	if code != 200 {
		e.t.Fatalf("introspect: %d %s", code, body)
	}
	return strings.Contains(body, `"active":true`)
}

// The IP allowlist holds where a token is used, not only where it is
// issued: a token issued to 127.0.0.2 and stolen is refused from
// 127.0.0.3, and a changed allowlist reaches live tokens and API keys.
func TestAllowlistAtUse(t *testing.T) {
	env := newTestServer(t)
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	app := env.createApp(apps.NewApplication{Scopes: []string{"sms"}, IPAllowlist: []string{"127.0.0.2"}})
	code, tok := env.issueFrom(app, "127.0.0.2")
	if code != 200 {
		t.Fatalf("token from an allowed address: %d", code)
	}
	if code, _ := env.issueFrom(app, "127.0.0.3"); code != 401 {
		t.Fatalf("token from another address: %d", code)
	}
	_, key, err := env.apps.CreateAPIKey(context.Background(), app.ClientID, apps.NewAPIKey{Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	for _, cred := range []struct{ name, value string }{{"token", tok}, {"API key", key}} {
		tests := []struct {
			from string
			want bool
		}{
			{"127.0.0.2", true},
			{"::ffff:127.0.0.2", true},
			{"127.0.0.3", false},
			{"", false}, // no address: inactive by default
		}
		for _, tt := range tests {
			if got := env.active(rs, cred.value, tt.from); got != tt.want {
				t.Errorf("%s presented from %q: active %v, want %v", cred.name, tt.from, got, tt.want)
			}
		}
	}
	env.update(app.ClientID, func(a *store.Application) {
		a.IPAllowlist = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	if env.active(rs, tok, "127.0.0.2") || env.active(rs, key, "127.0.0.2") {
		t.Error("a token or key still works from 127.0.0.2 after the allowlist became 10.0.0.0/8")
	}
	if !env.active(rs, tok, "10.1.2.3") || !env.active(rs, key, "10.1.2.3") {
		t.Error("a token or key is refused from inside the new allowlist")
	}
	if code, body := env.introspect(rs, url.Values{"token": {tok}, "client_ip": {"10.1.2.3:80"}}); code != 400 || !strings.Contains(body, "client_ip") {
		t.Errorf("malformed client_ip: %d %s", code, body)
	}

	// The setting for resource servers that send no address.
	lenient := newTestServer(t, func(c *Config) { c.AllowUnknownClientIP = true })
	rs2 := lenient.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	app2 := lenient.createApp(apps.NewApplication{Scopes: []string{"sms"}, IPAllowlist: []string{"127.0.0.2"}})
	_, tok2 := lenient.issueFrom(app2, "127.0.0.2")
	if !lenient.active(rs2, tok2, "") || lenient.active(rs2, tok2, "127.0.0.3") {
		t.Error("with AllowUnknownClientIP a token without address must be active and one from outside still inactive")
	}
}

// Forwarded headers count only from a trusted proxy.
func TestTrustedProxies(t *testing.T) {
	for _, trusted := range []bool{false, true} {
		env := newTestServer(t, func(c *Config) {
			if trusted {
				c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
			}
		})
		app := env.createApp(apps.NewApplication{Scopes: []string{"sms"}, IPAllowlist: []string{"198.51.100.1"}})
		for _, h := range []string{"X-Forwarded-For", "Forwarded"} {
			r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
			r.Header.Set("Authorization", basic(app.ClientID, app.Secret))
			r.RemoteAddr = "10.0.0.2:5000"
			v := "198.51.100.1"
			if h == "Forwarded" {
				v = "for=198.51.100.1"
			}
			r.Header.Set(h, v)
			w := env.do(r)
			if want := map[bool]int{false: 401, true: 200}[trusted]; w.Code != want {
				t.Errorf("trusted=%v %s: %d, want %d", trusted, h, w.Code, want)
			}
		}
	}
}

// Shortening an application's token lifetime reaches tokens already
// issued: a token issued under "never" expires a day after its issue once
// the lifetime is a day, and introspection's exp says so.
func TestLifetimeChangeReachesLiveTokens(t *testing.T) {
	clk := &clock{}
	env := newTestServer(t, func(c *Config) { c.Now = clk.now })
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	app := env.createApp(apps.NewApplication{Scopes: []string{"sms"}, TokenLifetime: "never"})
	tok := env.issue(app, "")
	_, body := env.introspect(rs, url.Values{"token": {tok}})
	got := decode[map[string]any](t, strings.NewReader(body))
	if got["active"] != true || got["exp"] != nil {
		t.Fatalf("never token: %s", body)
	}
	env.update(app.ClientID, func(a *store.Application) { a.TokenLifetime = 24 * time.Hour })
	_, body = env.introspect(rs, url.Values{"token": {tok}})
	got = decode[map[string]any](t, strings.NewReader(body))
	iat, _ := got["iat"].(float64)
	exp, _ := got["exp"].(float64)
	if got["active"] != true || exp-iat != 86400 {
		t.Fatalf("after the lifetime became 24h: %s (want exp = iat + 86400)", body)
	}
	clk.advance(24*time.Hour + time.Second)
	if env.active(rs, tok, "") {
		t.Fatal("a token issued under never is still active a day after the lifetime became 24h")
	}
	// A longer lifetime never extends a token past its own expiry.
	short := env.createApp(apps.NewApplication{Scopes: []string{"sms"}, TokenLifetime: "1h"})
	tok = env.issue(short, "")
	env.update(short.ClientID, func(a *store.Application) { a.TokenLifetime = 0 })
	clk.advance(time.Hour + time.Second)
	if env.active(rs, tok, "") {
		t.Fatal("a 1h token outlived its own expiry when the lifetime became never")
	}
}

// Introspection names the token's owner (an RFC 7662 extension member),
// so a resource server knows whose account to bill.
func TestIntrospectOwner(t *testing.T) {
	env := newTestServer(t)
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	owned := env.createApp(apps.NewApplication{Scopes: []string{"sms"}, Owner: "acct_42"})
	plain := env.createApp(apps.NewApplication{Scopes: []string{"sms"}})
	_, body := env.introspect(rs, url.Values{"token": {env.issue(owned, "")}})
	if !strings.Contains(body, `"owner":"acct_42"`) {
		t.Fatalf("owned token: %s", body)
	}
	_, body = env.introspect(rs, url.Values{"token": {env.issue(plain, "")}})
	if strings.Contains(body, `"owner"`) {
		t.Fatalf("token of an application without owner: %s", body)
	}
}
