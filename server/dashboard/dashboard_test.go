package dashboard_test

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/dashboard"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis/redistest"
	"golang.org/x/oauth2/clientcredentials"
)

// Every answer, page, asset or error, carries the CSP and the other
// protective headers; pages are never cached.
func TestHeadersOnEveryPage(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	app, _ := env.createApp(apps.NewApplication{Name: "headers"})
	anon := env.browser()
	b := env.signedIn()
	pages := []struct {
		b      *browser
		path   string
		status int
		page   bool
	}{
		{anon, "/dashboard/signin", 200, true},
		{anon, "/dashboard/applications", 303, true},
		{anon, "/dashboard/nope", 404, true},
		{b, "/dashboard/applications", 200, true},
		{b, "/dashboard/applications?search=head", 200, true},
		{b, "/dashboard/applications/new", 200, true},
		{b, "/dashboard/applications/" + app.ClientID, 200, true},
		{b, "/dashboard/applications/no-such-app", 404, true},
		{b, "/dashboard/events", 200, true},
		{b, "/dashboard/events?client_id=" + app.ClientID, 200, true},
		{b, "/dashboard/scopes", 200, true},
		{b, "/dashboard/scopes?edit=sms", 200, true},
		{b, "/dashboard/assets/dashboard.css", 200, false},
		{b, "/dashboard/assets/dashboard.js", 200, false},
	}
	for _, p := range pages {
		a := p.b.get(p.path)
		if a.status != p.status {
			t.Errorf("GET %s = %d, want %d", p.path, a.status, p.status)
		}
		h := a.header
		want := map[string]string{
			"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "no-referrer",
			"X-Content-Type-Options":  "nosniff",
		}
		if p.page {
			want["Cache-Control"] = "no-store"
		}
		for k, v := range want {
			if got := h.Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", p.path, k, got, v)
			}
		}
		if p.page && p.status != 303 {
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("GET %s: Content-Type %q, want HTML", p.path, ct)
			}
			// No inline script or style: the CSP would block it anyway.
			for _, bad := range []string{"<script>", "style=", "<style", "onclick", "onload", "javascript:"} {
				if strings.Contains(a.body, bad) {
					t.Errorf("GET %s: page holds %q", p.path, bad)
				}
			}
		}
	}
}

// A state-changing request without the session's CSRF token is refused
// with 403, not redirected, and changes nothing; so is a sign-in without
// its double-submit token or marked cross-site.
func TestCSRFRefused(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	app, _ := env.createApp(apps.NewApplication{Name: "victim"})
	b := env.signedIn()
	for _, csrf := range []string{"", "wrong-token-wrong-token-wrong-token-wrong"} {
		for _, path := range []string{
			"/dashboard/applications/" + app.ClientID + "/delete",
			"/dashboard/applications/" + app.ClientID + "/tokens/revoke-all",
			"/dashboard/applications",
			"/dashboard/signout",
		} {
			a := b.post(path, url.Values{"csrf": {csrf}, "confirm": {"yes"}, "name": {"x"}, "scopes": {"sms"}})
			if a.status != http.StatusForbidden || !strings.Contains(a.body, "security token") {
				t.Errorf("POST %s with csrf %q = %d, want 403 with an explanation", path, csrf, a.status)
			}
		}
	}
	if _, _, err := env.apps.Get(context.Background(), app.ClientID); err != nil {
		t.Fatalf("the application was changed by a refused request: %v", err)
	}
	// Still signed in: the refused sign-out did nothing.
	if a := b.get("/dashboard/applications"); a.status != 200 {
		t.Fatalf("after refused posts: %d", a.status)
	}
	// Without a session a POST is refused too, never redirected.
	if a := env.browser().post("/dashboard/applications/"+app.ClientID+"/delete", url.Values{"confirm": {"yes"}}); a.status != http.StatusForbidden {
		t.Errorf("POST without a session = %d, want 403", a.status)
	}
	// Sign-in: the pre-session token must match its cookie.
	anon := env.browser()
	anon.get("/dashboard/signin")
	if a := anon.post("/dashboard/signin", url.Values{"csrf": {"forged"}, "admin_key": {env.key}}); a.status != http.StatusForbidden {
		t.Errorf("sign-in with a forged token = %d, want 403", a.status)
	}
	fresh := env.browser()
	if a := fresh.post("/dashboard/signin", url.Values{"csrf": {"x"}, "admin_key": {env.key}}); a.status != http.StatusForbidden {
		t.Errorf("sign-in without the sign-in cookie = %d, want 403", a.status)
	}
	anon.get("/dashboard/signin")
	if a := anon.postWith("/dashboard/signin", url.Values{"admin_key": {env.key}}, "Sec-Fetch-Site", "cross-site"); a.status != http.StatusForbidden {
		t.Errorf("cross-site sign-in = %d, want 403", a.status)
	}
}

// A session ends after the idle timeout (the Redis TTL) and after the
// absolute lifetime however busy; the cookie itself is HttpOnly,
// SameSite=Strict, scoped to the dashboard and expiring.
func TestSessionExpiry(t *testing.T) {
	env := newTestEnv(t, redistest.Mini, func(c *dashboard.Config) {
		c.SessionIdle, c.SessionMax = 10*time.Minute, time.Hour
	})
	b := env.browser()
	b.get("/dashboard/signin")
	a := b.post("/dashboard/signin", url.Values{"admin_key": {env.key}})
	ck := a.header.Get("Set-Cookie")
	for _, want := range []string{"oauthd_session=", "Path=/dashboard/", "HttpOnly", "SameSite=Strict", "Max-Age=3600"} {
		if !strings.Contains(strings.Join(a.header.Values("Set-Cookie"), "\n"), want) {
			t.Errorf("session cookie %q lacks %q", ck, want)
		}
	}
	if strings.Contains(strings.Join(a.header.Values("Set-Cookie"), "\n"), "Secure") {
		t.Error("cookie marked Secure on plain HTTP without SecureCookies")
	}
	// Idle: 9 minutes apart is fine, 11 minutes of silence is not.
	for i := 0; i < 3; i++ {
		env.redis.Mini.FastForward(9 * time.Minute)
		env.clock.add(9 * time.Minute)
		if a := b.get("/dashboard/applications"); a.status != 200 {
			t.Fatalf("after %d×9m of use: %d, want 200", i+1, a.status)
		}
	}
	env.redis.Mini.FastForward(11 * time.Minute)
	if a := b.get("/dashboard/applications"); a.status != http.StatusSeeOther || a.header.Get("Location") != "/dashboard/signin" {
		t.Fatalf("after 11m idle: %d %s, want a redirect to sign in", a.status, a.header.Get("Location"))
	}
	// Absolute: used every 9 minutes, it still ends after an hour.
	b.signIn(url.Values{"admin_key": {env.key}})
	for used := time.Duration(0); used < time.Hour-9*time.Minute; used += 9 * time.Minute {
		env.redis.Mini.FastForward(9 * time.Minute)
		env.clock.add(9 * time.Minute)
		if a := b.get("/dashboard/applications"); a.status != 200 {
			t.Fatalf("at %v: %d, want 200", used, a.status)
		}
	}
	env.redis.Mini.FastForward(9 * time.Minute)
	env.clock.add(9 * time.Minute)
	if a := b.get("/dashboard/applications"); a.status != http.StatusSeeOther {
		t.Fatalf("past the absolute lifetime: %d, want a redirect to sign in", a.status)
	}
}

func TestSecureCookies(t *testing.T) {
	env := newTestEnv(t, redistest.Mini, func(c *dashboard.Config) { c.SecureCookies = true })
	b := env.browser()
	a := b.get("/dashboard/signin")
	if ck := a.header.Get("Set-Cookie"); !strings.Contains(ck, "Secure") {
		t.Errorf("Set-Cookie %q: want Secure with SecureCookies", ck)
	}
}

// A wrong key gets the sign-in page again with a message that does not
// say which part was wrong; so does a wrong client secret.
func TestWrongCredentials(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	portal, _ := env.createApp(apps.NewApplication{Name: "portal", Owner: "acct_1", Scopes: []string{scopes.Admin, "sms"}})
	b := env.browser()
	b.get("/dashboard/signin")
	a := b.post("/dashboard/signin", url.Values{"method": {"key"}, "admin_key": {"oadm_wrong"}})
	if a.status != http.StatusUnauthorized || !strings.Contains(a.body, "Sign-in failed") {
		t.Fatalf("wrong key: %d, want 401 with a message\n%s", a.status, a.body)
	}
	a = b.post("/dashboard/signin", url.Values{"method": {"client"}, "client_id": {portal.ClientID}, "client_secret": {"wrong"}})
	if a.status != http.StatusUnauthorized || !strings.Contains(a.body, "Sign-in failed") || !strings.Contains(a.body, portal.ClientID) {
		t.Fatalf("wrong secret: %d, want 401, the message and the client ID kept in the form", a.status)
	}
	unknown := b.post("/dashboard/signin", url.Values{"method": {"client"}, "client_id": {"nobody"}, "client_secret": {"wrong"}})
	msg := regexp.MustCompile(`<p class="error"[^>]*>([^<]*)</p>`)
	if m1, m2 := msg.FindStringSubmatch(a.body), msg.FindStringSubmatch(unknown.body); m1 == nil || m2 == nil || m1[1] != m2[1] {
		t.Errorf("wrong secret and unknown client give different messages: %q / %q", m1, m2)
	}
}

// fakeGuard blocks an address after three failures.
type fakeGuard struct {
	mu    sync.Mutex
	fails map[string]int
}

func (g *fakeGuard) Blocked(_ context.Context, ip string) (time.Duration, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fails[ip] >= 3 {
		return 42 * time.Second, nil
	}
	return 0, nil
}

func (g *fakeGuard) Failed(_ context.Context, ip string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fails[ip]++
	return nil
}

// Repeated failures are slowed: once the Guard blocks the address the
// answer is 429 with Retry-After and a page saying how long to wait, even
// for the right key.
func TestGuardSlowsFailures(t *testing.T) {
	g := &fakeGuard{fails: map[string]int{}}
	env := newTestEnv(t, redistest.Mini, func(c *dashboard.Config) { c.Guard = g })
	b := env.browser()
	b.get("/dashboard/signin")
	for i := 0; i < 3; i++ {
		if a := b.post("/dashboard/signin", url.Values{"admin_key": {"oadm_wrong"}}); a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, a.status)
		}
	}
	if g.fails["127.0.0.1"] != 3 {
		t.Fatalf("guard counted %v, want 3 failures from 127.0.0.1", g.fails)
	}
	a := b.post("/dashboard/signin", url.Values{"admin_key": {env.key}})
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "42" || !strings.Contains(a.body, "Wait 42 seconds") {
		t.Fatalf("blocked: %d Retry-After %q, want 429 after 42s with a page saying so\n%s", a.status, a.header.Get("Retry-After"), a.body)
	}
}

// An application signed in with the applications scope administers only
// its own owner's applications, as through the admin API: others are a
// 403 page naming the rule, and it cannot grant reserved scopes.
func TestDelegatedSignIn(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	portal, secret := env.createApp(apps.NewApplication{Name: "portal", Owner: "acct_1", Scopes: []string{scopes.Admin, "sms"}})
	mine, _ := env.createApp(apps.NewApplication{Name: "mine", Owner: "acct_1"})
	theirs, _ := env.createApp(apps.NewApplication{Name: "theirs", Owner: "acct_2"})
	b := env.browser()
	b.signIn(url.Values{"method": {"client"}, "client_id": {portal.ClientID}, "client_secret": {secret}})
	// A delegate lands on its list: the overview covers every owner.
	if a := b.get("/dashboard/"); a.status != http.StatusSeeOther || a.header.Get("Location") != "/dashboard/applications" {
		t.Errorf("a delegate's landing: %d %s, want the list", a.status, a.header.Get("Location"))
	}
	if a := b.get("/dashboard/overview"); a.status != http.StatusForbidden {
		t.Errorf("a delegate's overview: %d, want 403", a.status)
	}
	list := b.get("/dashboard/applications")
	mustContain(t, "delegated list", list.body, mine.ClientID, "client:"+portal.ClientID)
	if strings.Contains(list.body, `href="/dashboard/overview"`) {
		t.Error("a delegate is offered the overview")
	}
	if strings.Contains(list.body, theirs.ClientID) || strings.Contains(list.body, `id="f-owner"`) {
		t.Error("a delegate sees another owner's application or the owner filter")
	}
	a := b.get("/dashboard/applications/" + theirs.ClientID)
	if a.status != http.StatusForbidden || !strings.Contains(a.body, "<code>owner</code>") || !strings.Contains(a.body, "another owner") {
		t.Fatalf("another owner's page: %d, want 403 naming the owner rule\n%s", a.status, a.body)
	}
	if a := b.get("/dashboard/applications/" + mine.ClientID); a.status != 200 {
		t.Fatalf("own owner's page: %d", a.status)
	}
	// The audit log: one own application at a time.
	if a := b.get("/dashboard/events"); a.status != 200 || !strings.Contains(a.body, "one application at a time") {
		t.Errorf("delegate's events page without an application: %d", a.status)
	}
	if a := b.get("/dashboard/events?client_id=" + mine.ClientID); a.status != 200 || !strings.Contains(a.body, "application.created") {
		t.Errorf("delegate's events of its own application: %d", a.status)
	}
	if a := b.get("/dashboard/events?client_id=" + theirs.ClientID); a.status != http.StatusForbidden || !strings.Contains(a.body, "another owner") {
		t.Errorf("delegate's events of another owner's application: %d, want 403", a.status)
	}
	a = b.post("/dashboard/applications", url.Values{"name": {"sneaky"}, "scopes": {scopes.Introspect}, "token_lifetime": {"24h"}})
	if a.status != http.StatusForbidden || !strings.Contains(a.body, `id="scopes-error"`) || !strings.Contains(a.body, "reserved") {
		t.Fatalf("granting a reserved scope: %d, want 403 next to the scopes field", a.status)
	}
	a = b.post("/dashboard/applications/"+theirs.ClientID+"/delete", url.Values{"confirm": {"yes"}})
	if a.status != http.StatusForbidden {
		t.Fatalf("deleting another owner's application: %d, want 403", a.status)
	}
	if _, _, err := env.apps.Get(context.Background(), theirs.ClientID); err != nil {
		t.Fatal("another owner's application was deleted")
	}
	// Losing the applications scope ends the session at the next request.
	only := []string{"sms"}
	if _, err := env.apps.Update(apps.WithActor(context.Background(), apps.Actor{Name: "test"}), portal.ClientID, apps.ApplicationPatch{Scopes: &only}); err != nil {
		t.Fatal(err)
	}
	if a := b.get("/dashboard/applications"); a.status != http.StatusSeeOther {
		t.Fatalf("after losing the applications scope: %d, want a redirect to sign in", a.status)
	}
}

// Errors from the service appear next to the field they concern, and
// what was typed is kept.
func TestFormErrorsByField(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	b := env.signedIn()
	b.get("/dashboard/applications/new")
	a := b.post("/dashboard/applications", url.Values{"name": {"ok"}, "description": {"kept text"}, "scopes": {"sms"}, "token_lifetime": {"24h"}, "ip_allowlist": {"10.0.0.0/8\nnot-an-ip"}})
	if a.status != http.StatusBadRequest || !strings.Contains(a.body, `<p class="field-error" id="allowlist-error" aria-live="polite">&#34;not-an-ip&#34; is not an IP address or CIDR</p>`) || !strings.Contains(a.body, "kept text") {
		t.Fatalf("bad allowlist: %d\n%s", a.status, a.body)
	}
	a = b.post("/dashboard/applications", url.Values{"scopes": {"sms"}, "token_lifetime": {"custom"}, "token_lifetime_custom": {"forever"}})
	if a.status != http.StatusBadRequest || !strings.Contains(a.body, `id="name-error"`) {
		t.Fatalf("no name: %d, want the error by the name field", a.status)
	}
	a = b.post("/dashboard/applications", url.Values{"name": {"x"}, "scopes": {"sms"}, "token_lifetime": {"custom"}, "token_lifetime_custom": {"forever"}})
	if a.status != http.StatusBadRequest || !strings.Contains(a.body, `id="lifetime-error"`) {
		t.Fatalf("bad lifetime: %d, want the error by the lifetime field", a.status)
	}
	a = b.post("/dashboard/applications", url.Values{"name": {"x"}, "scopes": {"sms"}, "metadata": {"no equals sign"}})
	if a.status != http.StatusBadRequest || !strings.Contains(a.body, `id="metadata-error"`) {
		t.Fatalf("bad metadata: %d, want the error by the metadata field", a.status)
	}
	// A good one shows the secret once, and the curl command.
	a = b.post("/dashboard/applications", url.Values{"name": {"good"}, "scopes": {"sms"}, "token_lifetime": {"168h"}, "metadata": {"env=prod"}, "owner": {"acct_9"}})
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d\n%s", a.status, a.body)
	}
	mustContain(t, "created page", a.body, "will not be shown again", "grant_type=client_credentials "+env.url+"/oauth/token", `id="client-secret"`)
	res, err := env.apps.List(context.Background(), apps.ListQuery{Search: "good", Limit: 10})
	list := res.Apps
	if err != nil || len(list) != 1 || list[0].TokenLifetime != 168*time.Hour || list[0].Metadata["env"] != "prod" || list[0].Owner != "acct_9" {
		t.Fatalf("created %+v, %v", list, err)
	}
}

// Destructive actions first show a confirmation naming the application;
// only the confirmed post acts.
func TestConfirmation(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	app, _ := env.createApp(apps.NewApplication{Name: "precious"})
	b := env.signedIn()
	b.get("/dashboard/applications/" + app.ClientID)
	a := b.post("/dashboard/applications/"+app.ClientID+"/delete", nil)
	if a.status != 200 || !strings.Contains(a.body, "Delete precious?") || !strings.Contains(a.body, `name="confirm" value="yes"`) {
		t.Fatalf("unconfirmed delete: %d, want a confirmation page naming the application\n%s", a.status, a.body)
	}
	if _, _, err := env.apps.Get(context.Background(), app.ClientID); err != nil {
		t.Fatal("deleted without confirmation")
	}
	a = b.post("/dashboard/applications/"+app.ClientID+"/delete", url.Values{"confirm": {"yes"}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("confirmed delete: %d", a.status)
	}
	if _, _, err := env.apps.Get(context.Background(), app.ClientID); err == nil {
		t.Fatal("not deleted after confirmation")
	}
}

// Sign-out deletes the session in Redis: another replica on the same
// Redis, which honoured it a moment ago, no longer does.
func TestSignOutEndsSessionOnEveryReplica(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	other := env.replica()
	b := env.signedIn()
	b2 := &browser{t: t, c: b.c, base: other}
	// The cookie jar keys cookies by host, not port: both replicas see it.
	if a := b2.get("/dashboard/applications"); a.status != 200 {
		t.Fatalf("other replica before sign-out: %d, want 200", a.status)
	}
	b.get("/dashboard/applications")
	if a := b.post("/dashboard/signout", nil); a.status != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", a.status)
	}
	// Replay the old cookie on the other replica: it must be dead.
	if a := b2.get("/dashboard/applications"); a.status != http.StatusSeeOther {
		t.Fatalf("other replica after sign-out: %d, want a redirect to sign in", a.status)
	}
}

// With Redis down the pages say so with a 503, not a blank page.
func TestStoreUnavailable(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	b := env.signedIn()
	env.redis.Stop()
	a := b.get("/dashboard/applications")
	if a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, "Store unavailable") || a.header.Get("Retry-After") == "" {
		t.Fatalf("store down: %d\n%s", a.status, a.body)
	}
}

// The token format and the audiences are set in the form like every other
// field; a JWT application that would never expire is refused next to the
// format.
func TestFormTokenFormatAndAudiences(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	b := env.signedIn()
	b.get("/dashboard/applications/new")
	a := b.post("/dashboard/applications", url.Values{"name": {"j"}, "scopes": {"sms"}, "token_lifetime": {"never"}, "token_format": {"jwt"}})
	if a.status != http.StatusBadRequest || !strings.Contains(a.body, `id="format-error"`) {
		t.Fatalf("a never-expiring jwt application: %d, want the error by the format", a.status)
	}
	a = b.post("/dashboard/applications", url.Values{"name": {"jwt app"}, "scopes": {"sms"}, "token_lifetime": {"24h"}, "token_format": {"jwt"},
		"audiences": {"https://sms.example\nhttps://voice.example"}})
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d\n%s", a.status, a.body)
	}
	res, err := env.apps.List(context.Background(), apps.ListQuery{Search: "jwt app", Limit: 10})
	list := res.Apps
	if err != nil || len(list) != 1 || list[0].TokenFormat != "jwt" || len(list[0].Audiences) != 2 {
		t.Fatalf("created %+v, %v", list, err)
	}
	page := b.get("/dashboard/applications/" + list[0].ClientID)
	mustContain(t, "application page", page.body, `id="fmt-jwt" name="token_format" value="jwt" checked`, "https://voice.example")
}

// Issue 17, item 5, replayed: enabled=maybe (anything but "true") disabled
// an application. A form's booleans take only the values the form sends;
// anything else, missing or repeated is 400 with a message naming the
// field, and nothing changes.
func TestStrictBooleans(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	app, b := env.appPage("steady")
	path := "/dashboard/applications/" + app.ClientID + "/enabled"
	for _, form := range []url.Values{
		{"enabled": {"maybe"}, "confirm": {"yes"}}, // the attack
		{"enabled": {"maybe"}},
		{"enabled": {"FALSE"}, "confirm": {"yes"}},
		{"confirm": {"yes"}},
		{"enabled": {"false", "true"}, "confirm": {"yes"}},
		{"enabled": {"false"}, "confirm": {"maybe"}},
		{"enabled": {"false"}, "confirm": {"yes", "no"}},
	} {
		a := b.post(path, form)
		if a.status != http.StatusBadRequest || !strings.Contains(a.body, "which sends") {
			t.Errorf("POST %s %v = %d, want 400 saying what the form sends", path, form, a.status)
		}
		if !env.enabled(app.ClientID) {
			t.Fatalf("POST %s %v disabled the application", path, form)
		}
	}
	if a := b.post(path, url.Values{"enabled": {"false"}}); a.status != 200 || !strings.Contains(a.body, "Disable steady?") {
		t.Fatalf("enabled=false: %d, want the confirmation", a.status)
	}
	for _, v := range []string{"false", "true"} {
		if a := b.post(path, url.Values{"enabled": {v}, "confirm": {"yes"}}); a.status != http.StatusSeeOther {
			t.Fatalf("enabled=%s confirmed: %d", v, a.status)
		}
	}
}

// Issue 17, item 5, replayed: a post carrying the session's CSRF token but
// sent from Origin: https://evil.example was accepted (only sign-in looked
// at Sec-Fetch-Site). Every dashboard post now refuses, with 403 and a
// log line, what the browser marks as from elsewhere: Sec-Fetch-Site
// other than same-origin, or, from a browser that sends no Sec-Fetch-Site,
// an Origin other than the dashboard's own. A request with neither header
// (an old browser, curl) still rests on the CSRF token.
func TestCrossOriginPostsRefused(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	app, b := env.appPage("victim")
	disable := "/dashboard/applications/" + app.ClientID + "/enabled"
	for _, h := range [][]string{
		{"Origin", "https://evil.example"}, // the attack
		{"Origin", "null"},
		{"Origin", "https://" + strings.TrimPrefix(env.url, "http://")}, // another scheme
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Sec-Fetch-Site", "none"},
		{"Sec-Fetch-Site", "cross-site", "Origin", env.url},
	} {
		a := b.postWith(disable, url.Values{"enabled": {"false"}, "confirm": {"yes"}}, h...)
		if a.status != http.StatusForbidden || !strings.Contains(a.body, "another site") {
			t.Errorf("POST with %v and a valid CSRF token = %d, want 403 saying why", h, a.status)
		}
	}
	if !env.enabled(app.ClientID) {
		t.Fatal("a cross-origin post disabled the application")
	}
	// Sign-in and sign-out are posts too.
	anon := env.browser()
	anon.get("/dashboard/signin")
	if a := anon.postWith("/dashboard/signin", url.Values{"admin_key": {env.key}}, "Origin", "https://evil.example"); a.status != http.StatusForbidden {
		t.Errorf("sign-in from Origin https://evil.example = %d, want 403", a.status)
	}
	if a := b.postWith("/dashboard/signout", nil, "Origin", "https://evil.example"); a.status != http.StatusForbidden {
		t.Errorf("sign-out from Origin https://evil.example = %d, want 403", a.status)
	}
	// What the dashboard's own pages send passes, and so does a post
	// without either header.
	for _, h := range [][]string{
		{"Origin", env.url, "Sec-Fetch-Site", "same-origin"},
		{"Origin", env.url},
		{"Sec-Fetch-Site", "same-origin"},
		{},
	} {
		if a := b.postWith(disable, url.Values{"enabled": {"true"}}, h...); a.status != http.StatusSeeOther {
			t.Errorf("same-origin post with %v = %d, want 303", h, a.status)
		}
	}
}

// The events page shows the changes by default and the security events on
// a tab of their own: security events from 60 sources, newer than the
// change, leave it on the first page of 50 (issue 17, item 5: the merged
// listing had shown none).
func TestEventsTabs(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	app, _ := env.createApp(apps.NewApplication{Name: "precious"})
	for i := range 60 {
		env.apps.Security(context.Background(), store.SecurityEvent{Kind: "client.auth_failed", Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), Reason: "unknown client"})
	}
	b := env.signedIn()
	a := b.get("/dashboard/events")
	if a.status != 200 || !strings.Contains(a.body, app.ClientID) || strings.Contains(a.body, "client.auth_failed</code>") {
		t.Fatalf("events page: %d, want the change and no security event\n%s", a.status, a.body)
	}
	mustContain(t, "the events page", a.body, `aria-current="page">Changes</a>`, `href="/dashboard/events?log=security"`)
	a = b.get("/dashboard/events?log=security")
	if a.status != 200 || strings.Count(a.body, "client.auth_failed</code>") != 50 || strings.Contains(a.body, "application.created</code>") {
		t.Fatalf("security tab: %d, want a page of 50 failures and no change", a.status)
	}
	mustContain(t, "the security tab", a.body, `aria-current="page">Security events</a>`, `name="log" value="security"`, `log=security" rel="next">Older events</a>`)
	if a := b.get("/dashboard/events?kind=client.auth_failed"); a.status != 200 || !strings.Contains(a.body, `aria-current="page">Security events</a>`) {
		t.Fatalf("a security kind without log: %d, want the security tab", a.status)
	}
	if a := b.get("/dashboard/events?log=admin&kind=client.auth_failed"); a.status != 400 || !strings.Contains(a.body, "not the admin log") {
		t.Fatalf("a security kind on the changes tab: %d, want 400 saying so", a.status)
	}
	a = b.get("/dashboard/applications/" + app.ClientID)
	mustContain(t, "the application page", a.body, "Activity", "<strong>Created</strong>", "/dashboard/events?log=security&amp;client_id="+app.ClientID)
}

// An update's event says what changed, old → new, and only what changed;
// the events page filters by kind and by dates.
func TestEventsWhatChanged(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	app, _ := env.createApp(apps.NewApplication{Name: "precious", Scopes: []string{"sms"}})
	b := env.signedIn()
	b.get("/dashboard/applications/" + app.ClientID)
	if a := b.post("/dashboard/applications/"+app.ClientID, url.Values{"name": {"treasured"}, "scopes": {"sms", "groups"}, "token_lifetime": {"24h"}, "token_format": {"opaque"}}); a.status != http.StatusSeeOther {
		t.Fatalf("update: %d\n%s", a.status, a.body)
	}
	a := b.get("/dashboard/events?kind=application.updated")
	mustContain(t, "the update's event", a.body, `<span class="chg-field">Name</span>: <span class="old">precious</span> <span aria-label="became">→</span> <span class="new">treasured</span>`,
		`<span class="chg-field">Scopes</span>: <span class="old">sms</span> <span aria-label="became">→</span> <span class="new">sms, groups</span>`)
	if strings.Contains(a.body, `<span class="chg-field">Token lifetime</span>`) {
		t.Errorf("the event lists the lifetime, which the form posted unchanged")
	}
	today := time.Now().UTC().Format(time.DateOnly)
	if a := b.get("/dashboard/events?from=" + today + "&to=" + today); !strings.Contains(a.body, "treasured") {
		t.Errorf("today's events lack the update")
	}
	if a := b.get("/dashboard/events?to=2020-01-01"); a.status != 200 || strings.Contains(a.body, "treasured") {
		t.Errorf("events up to 2020: %d, with today's update", a.status)
	}
	if a := b.get("/dashboard/events?from=yesterday"); a.status != 400 || !strings.Contains(a.body, "a date such as") {
		t.Errorf("a malformed date: %d", a.status)
	}
}

// An admin key lands on the overview: the tokens of the day, the
// busiest applications, the security log's counts and the replica's own
// figures.
func TestOverviewPage(t *testing.T) {
	env := newTestEnv(t, redistest.Mini, func(c *dashboard.Config) {
		c.Figures = func() dashboard.Figures {
			return dashboard.Figures{Since: time.Now(), TokensIssued: 1234, QuotaRefusals: 7}
		}
	})
	app, secret := env.createApp(apps.NewApplication{Name: "busy-daemon"})
	for range 2 {
		cc := clientcredentials.Config{ClientID: app.ClientID, ClientSecret: secret, TokenURL: env.url + "/oauth/token"}
		if _, err := cc.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	env.apps.Security(context.Background(), store.SecurityEvent{Kind: "client.locked_out", Addr: netip.MustParseAddr("192.0.2.1")})
	env.apps.Flush(context.Background())
	b := env.signedIn()
	if a := b.get("/dashboard/"); a.status != http.StatusSeeOther || a.header.Get("Location") != "/dashboard/overview" {
		t.Fatalf("landing: %d %s, want the overview", a.status, a.header.Get("Location"))
	}
	a := b.get("/dashboard/overview")
	mustContain(t, "the overview", a.body, `<span class="figure" id="ov-issued">2</span>`, `<span class="figure" id="ov-lockouts">1</span>`,
		"busy-daemon", "1,234", "7 token", "client.locked_out", "signs no JWT access tokens")
}

// A day without tokens has a chart whose y axis reads 0 once, at the
// bottom, not 0 at both ends; a day with some reads the busiest hour's
// count at the top.
func TestOverviewChartAxis(t *testing.T) {
	env := newTestEnv(t, redistest.Mini)
	b := env.signedIn()
	yLabels := func() []string {
		a := b.get("/dashboard/overview")
		if a.status != http.StatusOK {
			t.Fatalf("overview: %d", a.status)
		}
		return regexp.MustCompile(`text-anchor="end">([^<]*)</text>`).FindAllString(a.body, -1)
	}
	if got := yLabels(); len(got) != 1 || !strings.HasSuffix(got[0], ">0</text>") {
		t.Errorf("empty day's y axis labels %q, want one 0", got)
	}
	app, secret := env.createApp(apps.NewApplication{Name: "daemon"})
	cc := clientcredentials.Config{ClientID: app.ClientID, ClientSecret: secret, TokenURL: env.url + "/oauth/token"}
	for range 3 {
		if _, err := cc.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	env.apps.Flush(context.Background())
	if got := yLabels(); len(got) != 2 || !strings.HasSuffix(got[0], ">3</text>") || !strings.HasSuffix(got[1], ">0</text>") {
		t.Errorf("y axis labels after 3 tokens %q, want 3 and 0", got)
	}
}
