package server

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
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

// Issue 17, item 5, replayed: client_ip given twice in an introspection
// request was read first-wins, so a caller who could put one in front of
// the resource server's (client_ip=<an allowed address>&client_ip=<the
// real one>) made a stolen token active from anywhere. Every repeated
// parameter on the token, introspection and revocation endpoints is now
// 400 invalid_request naming it; only resource may repeat (RFC 8707 §2).
func TestRepeatedParametersRefused(t *testing.T) {
	env := newTestServer(t)
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	app := env.createApp(apps.NewApplication{Scopes: []string{"sms"}, IPAllowlist: []string{"127.0.0.2"},
		Audiences: []string{"https://sms.example", "https://voice.example"}})
	_, tok := env.issueFrom(app, "127.0.0.2")

	code, body := env.introspect(rs, url.Values{"token": {tok}, "client_ip": {"127.0.0.2", "127.0.0.3"}})
	if code != 400 || !strings.Contains(body, `"invalid_request"`) || !strings.Contains(body, "client_ip") {
		t.Fatalf("introspection with client_ip=127.0.0.2&client_ip=127.0.0.3: %d %s, want 400 invalid_request naming client_ip", code, body)
	}

	send := func(path string, form url.Values, cred testApp) (int, string) {
		r := formRequest(path, form)
		r.Header.Set("Authorization", basic(cred.ClientID, cred.Secret))
		r.RemoteAddr = "127.0.0.2:40000"
		w := env.do(r)
		return w.Code, w.Body.String()
	}
	tests := []struct {
		path, param string
		form        url.Values
		cred        testApp
	}{
		{"/oauth/introspect", "token", url.Values{"token": {tok, "x"}}, rs},
		{"/oauth/introspect", "token_type_hint", url.Values{"token": {tok}, "token_type_hint": {"access_token", "refresh_token"}}, rs},
		{"/oauth/revoke", "token", url.Values{"token": {"x", tok}}, app},
		{"/oauth/token", "grant_type", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, app},
		{"/oauth/token", "client_id", url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ClientID, app.ClientID}}, app},
	}
	for _, tt := range tests {
		if code, body := send(tt.path, tt.form, tt.cred); code != 400 || !strings.Contains(body, `"invalid_request"`) || !strings.Contains(body, tt.param) {
			t.Errorf("%s with %s repeated: %d %s, want 400 invalid_request naming it", tt.path, tt.param, code, body)
		}
	}
	if env.active(rs, tok, "127.0.0.3") {
		t.Error("the token is active from 127.0.0.3")
	}
	// RFC 8707 §2 lets resource repeat; RFC 6749 §3.2 says to ignore a
	// parameter the server does not know, repeated or not.
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {"https://sms.example", "https://voice.example"}, "unknown": {"a", "b"}}
	if code, body := send("/oauth/token", form, app); code != 200 {
		t.Errorf("resource and an unknown parameter given twice: %d %s", code, body)
	}
}

// TestFormParamsListed: every parameter the endpoints read from a form
// (form.Get, form.Has, form[...], here or in any file of the package) is
// in formParams, whose repeats readForm refuses, or is resource. A
// parameter read and not listed is how client_ip came to be read
// first-wins.
func TestFormParamsListed(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	var read []ast.Expr
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for i, id := range n.Names {
					if i < len(n.Values) {
						if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[id.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && isForm(sel.X) && (sel.Sel.Name == "Get" || sel.Sel.Name == "Has") && len(n.Args) == 1 {
					read = append(read, n.Args[0])
				}
			case *ast.IndexExpr:
				if isForm(n.X) {
					read = append(read, n.Index)
				}
			}
			return true
		})
	}
	if len(read) < 5 {
		t.Fatalf("found only %d form reads: the scan is broken", len(read))
	}
	for _, e := range read {
		var param string
		switch e := e.(type) {
		case *ast.BasicLit:
			param, _ = strconv.Unquote(e.Value)
		case *ast.Ident:
			param = consts[e.Name]
		}
		if param == "" {
			if id, ok := e.(*ast.Ident); ok && id.Name == "k" {
				continue // readForm's own loop over formParams
			}
			t.Errorf("%s: a form parameter this test cannot name", fset.Position(e.Pos()))
			continue
		}
		if param != "resource" && !slices.Contains(formParams, param) {
			t.Errorf("%s reads %q, which formParams lacks: a repeat of it would be read first-wins", fset.Position(e.Pos()), param)
		}
	}
}

// isForm: the expression is a variable named form, or r.PostForm.
func isForm(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name == "form"
	case *ast.SelectorExpr:
		return e.Sel.Name == "PostForm"
	}
	return false
}
