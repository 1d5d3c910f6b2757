package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// RequireBrowserEnv, when set, turns "no browser found" from a skip into a
// failure. CI sets it.
const RequireBrowserEnv = "OAUTHD_REQUIRE_BROWSER"

// findBrowser returns a Chromium or Chrome executable: $OAUTHD_BROWSER, or
// the first of the usual names on PATH.
func findBrowser(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("OAUTHD_BROWSER"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium or Chrome found (apt-get install chromium, or set OAUTHD_BROWSER); the dashboard's browser tests did not run"
	if os.Getenv(RequireBrowserEnv) != "" {
		t.Fatal(msg + " and " + RequireBrowserEnv + " is set")
	}
	t.Skip(msg + " (set " + RequireBrowserEnv + "=1 to make this a failure)")
	return ""
}

// axeSource is axe-core, installed by npm ci in testdata/axe (test-only).
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "axe", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		msg := "axe-core is not installed: run npm ci in server/dashboard/testdata/axe"
		if os.Getenv(RequireBrowserEnv) != "" {
			t.Fatal(msg)
		}
		t.Log("NOTE: " + msg + "; the accessibility checks are skipped")
		return ""
	}
	return string(b)
}

// newBrowser opens a tab for the test in the package's one headless
// Chromium, in a browser context of its own: cookies, storage and cache
// start empty, as a fresh profile did, and go with the test. (A browser
// per test was a second or more of start-up each on a busy machine.)
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := findBrowser(t)
	browser, err := theBrowser.start(path)
	if err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The tab opens now, at the size the browser's own window had.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("opening a tab in %s: %v", path, err)
	}
	return ctx
}

// theBrowser is the package's one headless Chromium, started by the first
// browser test that runs and stopped by TestMain.
var theBrowser sharedBrowser

type sharedBrowser struct {
	once    sync.Once
	ctx     context.Context // the browser's first tab: NewContext on it opens others
	err     error
	profile string
	stop    func()
}

// start starts the browser at path the first time it is called and
// returns it (or why it did not start) every time.
func (b *sharedBrowser) start(path string) (context.Context, error) {
	b.once.Do(func() {
		b.profile, b.err = os.MkdirTemp("", "oauthd-dashboard-browser-")
		if b.err != nil {
			return
		}
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(path),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.Flag("disable-extensions", true),
			chromedp.Flag("password-store", "basic"),
			chromedp.UserDataDir(b.profile),
			chromedp.WindowSize(1280, 900),
		)
		ctx, cancel := chromedp.NewContext(alloc)
		b.ctx, b.stop = ctx, func() { cancel(); cancelAlloc() }
		b.err = chromedp.Do(ctx) // start the browser now
	})
	return b.ctx, b.err
}

// close stops the browser, if one started, and removes its profile.
func (b *sharedBrowser) close() {
	if b.stop != nil {
		b.stop()
	}
	if b.profile != "" {
		os.RemoveAll(b.profile)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	theBrowser.close()
	os.Exit(code)
}

// shotDir is where the screenshots go: testdata/screenshots.
func shotDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("testdata", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ui drives one browser tab through the dashboard.
type ui struct {
	t    *testing.T
	ctx  context.Context
	axe  string
	shot string // the screenshot folder
}

func (u *ui) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(u.ctx, chromedp.Location())
		body, _ := chromedp.Run(u.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 1500) : ""`))
		u.t.Fatalf("%s: %v\nat %s\n%s", what, err, loc, body)
	}
}

// waitFor polls a JavaScript condition until it holds: for a page that
// replaces one with the same elements.
func (u *ui) waitFor(what, cond string) {
	u.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := chromedp.Run(u.ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(u.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 1500) : ""`))
			u.t.Fatalf("waiting for %s: %v\n%s", what, err, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (u *ui) text(sel string) string {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		u.t.Fatalf("reading %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// check looks at the page at desktop and phone width, in the light and
// the dark colour scheme: runs axe-core on all four, checks that the phone
// width does not scroll sideways, and screenshots each when screenshots
// is on (the faults build: make test-faults) or DocShotsEnv is set.
func (u *ui) check(name string) {
	u.t.Helper()
	for _, vp := range []struct {
		label string
		w, h  int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		u.do("viewport "+vp.label, chromedp.EmulateViewport(vp.w, vp.h))
		for _, scheme := range []string{"light", "dark"} {
			u.scheme(scheme)
			shot := name + "-" + vp.label
			if scheme == "dark" {
				shot += "-dark"
			}
			if screenshots || os.Getenv(DocShotsEnv) != "" {
				u.screenshot(shot)
			}
			// A phone-width page must not scroll sideways.
			if vp.label == "phone" {
				wide, _ := chromedp.Run(u.ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
				if wide {
					u.t.Errorf("%s: the page is wider than a 390px phone", name)
				}
			}
			for _, v := range u.axeRun(name + " (" + vp.label + ", " + scheme + ")") {
				u.t.Errorf("accessibility (axe-core) on %s at %s width, %s scheme: %s (%s): %s at %v", name, vp.label, scheme, v.ID, v.Impact, v.Help, v.Targets)
			}
		}
		u.scheme("light")
	}
	u.do("viewport reset", chromedp.EmulateViewport(1280, 900))
}

// screenshot writes the page, whole, as PNG to the screenshot folder, and
// to docs/ if it is one of docShots and DocShotsEnv is set.
func (u *ui) screenshot(shot string) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 20*time.Second)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100) /* 100: PNG */)
	cancel()
	if err != nil {
		u.t.Fatalf("screenshot %s: %v", shot, err)
	}
	if err := os.WriteFile(filepath.Join(u.shot, shot+".png"), png, 0o644); err != nil {
		u.t.Fatal(err)
	}
	if doc, ok := docShots[shot]; ok && os.Getenv(DocShotsEnv) != "" {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", doc), png, 0o644); err != nil {
			u.t.Fatal(err)
		}
	}
}

// scheme makes the page follow a light or dark system preference
// (prefers-color-scheme).
func (u *ui) scheme(s string) {
	u.t.Helper()
	u.do("colour scheme "+s, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: s}}})
		return err
	}))
}

// DocShotsEnv, when set, makes the browser tests write the screenshots
// the README shows (docShots) into docs/ too:
//
//	OAUTHD_DOC_SCREENSHOTS=1 go test -tags faults -run 'TestBrowser$|TestFaultBrowserManyApplications' ./server/dashboard/
const DocShotsEnv = "OAUTHD_DOC_SCREENSHOTS"

// docShots are the screenshots docs/ keeps, by the name check writes.
var docShots = map[string]string{
	"overview-100000-desktop":            "dashboard-overview.png",
	"overview-100000-desktop-dark":       "dashboard-overview-dark.png",
	"overview-100000-phone":              "dashboard-overview-phone.png",
	"applications-100000-desktop":        "dashboard-applications.png",
	"applications-100000-search-desktop": "dashboard-search.png",
	"applications-100000-phone-dark":     "dashboard-applications-phone-dark.png",
	"application-desktop":                "dashboard-application.png",
	"application-desktop-dark":           "dashboard-application-dark.png",
	"application-created-desktop":        "dashboard-created.png",
	"events-desktop":                     "dashboard-events.png",
}

type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
}

// axeRun injects axe-core and returns the page's WCAG 2 A/AA violations
// (missing labels and insufficient colour contrast among them).
func (u *ui) axeRun(page string) []axeViolation {
	u.t.Helper()
	if u.axe == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(u.ctx, 30*time.Second)
	defer cancel()
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if err == nil && !loaded {
		_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](u.axe))
	}
	if err != nil {
		u.t.Fatalf("injecting axe-core on %s: %v", page, err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map(n => n.target.join(" "))}))))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		u.t.Fatalf("running axe-core on %s: %v", page, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		u.t.Fatalf("axe-core result on %s: %v", page, err)
	}
	return vs
}

// axeSelfTest shows the check can fail: an unlabelled input and
// low-contrast text added to the page must be reported.
func (u *ui) axeSelfTest() {
	u.t.Helper()
	if u.axe == "" {
		return
	}
	u.do("spoil the page", chromedp.Evaluate[chromedp.Void](`(() => {
		const i = document.createElement("input"); i.type = "text"; document.querySelector("main").appendChild(i);
		const p = document.createElement("p"); p.textContent = "faint"; p.className = "axe-selftest"; document.querySelector("main").appendChild(p);
		document.styleSheets[0].insertRule(".axe-selftest { color: #eeeeee; }");
	})()`))
	found := map[string]bool{}
	for _, v := range u.axeRun("self-test") {
		found[v.ID] = true
	}
	if !found["label"] || !found["color-contrast"] {
		u.t.Errorf("axe-core missed an unlabelled input or low-contrast text (found %v): the accessibility check does not work", found)
	}
}

// The whole operator journey in a real browser: sign in, create an
// application, read its secret off the page and get a token with it, reset
// the secret with a grace period, revoke every token, create and revoke an
// API key, delete the application; a post without the CSRF token is
// refused; signing out ends the session on another replica. Every page is
// screenshotted at desktop and phone width and checked with axe-core.
func TestBrowser(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	env := newTestEnv(t, redistest.Mini)
	other := env.replica()
	u := &ui{t: t, ctx: ctx, axe: axeSource(t), shot: shotDir(t)}
	// A few applications so the list looks like a real one.
	env.createApp(apps.NewApplication{Name: "sms-gateway", Owner: "acct_1042", Scopes: []string{"sms", "groups"}, TokenLifetime: "24h", IPAllowlist: []string{"10.20.0.0/16"}})
	env.createApp(apps.NewApplication{Name: "billing-export", Owner: "acct_7", Scopes: []string{"sms"}, TokenLifetime: "168h"})
	env.createApp(apps.NewApplication{Name: "customer-portal", Owner: "acct_1042", Scopes: []string{scopes.Admin, "sms"}, TokenLifetime: "1h"})

	// Sign in.
	u.do("open the dashboard", chromedp.Navigate(env.url+"/dashboard/"), chromedp.WaitVisible(chromedp.CSS("#admin_key")))
	u.check("signin")
	u.do("wrong key", chromedp.SendKeys(chromedp.CSS("#admin_key"), "oadm_not-the-key"), chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p.error")))
	if msg := u.text("p.error"); !strings.Contains(msg, "not a valid admin key") {
		t.Errorf("wrong key message %q", msg)
	}
	// The script shows only the chosen method's fields.
	u.do("client fields hidden", chromedp.WaitNotVisible(chromedp.CSS("#client_secret")))
	u.do("client fields on choosing", chromedp.Click(chromedp.CSS("#method-client")), chromedp.WaitVisible(chromedp.CSS("#client_secret")),
		chromedp.Click(chromedp.CSS("#method-key")), chromedp.WaitNotVisible(chromedp.CSS("#client_secret")))
	// Keyboard only: type the key and press Enter.
	u.do("sign in", chromedp.SendKeys(chromedp.CSS("#admin_key"), env.key+kb.Enter), chromedp.WaitVisible(chromedp.CSS("#ov-issued")))
	u.check("overview-empty")
	u.do("applications", chromedp.Navigate(env.url+"/dashboard/applications"), chromedp.WaitVisible(chromedp.CSS("#f-search")))
	u.check("applications")

	// Create an application.
	u.do("new application form", chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/applications/new"]`)), chromedp.WaitVisible(chromedp.CSS("#name")))
	u.do("fill in", chromedp.SendKeys(chromedp.CSS("#name"), "nightly-reports"),
		chromedp.SendKeys(chromedp.CSS("#description"), "sends the nightly delivery reports"),
		chromedp.SendKeys(chromedp.CSS("#owner"), "acct_1042"),
		chromedp.Click(chromedp.CSS("#life-week")),
		chromedp.Click(chromedp.CSS(`input[name=scopes][value="sms"]`)),
		chromedp.SendKeys(chromedp.CSS("#ip_allowlist"), "10.0.0.0/8\n999.1.1.1"),
		chromedp.SendKeys(chromedp.CSS("#metadata"), "env=prod"),
	)
	// Inline validation (the script) flags the bad entry before posting.
	u.do("inline allowlist check", chromedp.WaitVisible(chromedp.CSS(`#ip_allowlist[aria-invalid="true"]`)))
	if msg := u.text("#allowlist-error"); !strings.Contains(msg, "999.1.1.1") {
		t.Errorf("inline allowlist message %q", msg)
	}
	u.check("new-application")
	// The server checks too: post it anyway and see the error by the field.
	u.do("post a bad allowlist", chromedp.Click(chromedp.CSS("main form button.primary")))
	// The server's message quotes the entry; the script's does not.
	u.waitFor("the server's allowlist error", `(document.getElementById("allowlist-error") || {}).textContent === '"999.1.1.1" is not an IP address or CIDR'`)
	u.do("fix the allowlist", chromedp.SetValue(chromedp.CSS("#ip_allowlist"), "127.0.0.0/8\n::1"),
		chromedp.Click(chromedp.CSS("main form button.primary")), chromedp.WaitVisible(chromedp.CSS("#client-secret")))
	u.check("application-created")
	clientID, secret := u.text("#client-id"), u.text("#client-secret")
	if curl := u.text("#curl"); !strings.Contains(curl, clientID+":"+secret) || !strings.Contains(curl, env.url+"/oauth/token") {
		t.Errorf("curl command %q", curl)
	}

	// Get a token with what the page showed.
	token := func(id, secret string) (string, error) {
		cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: env.url + "/oauth/token"}
		tok, err := cc.Token(context.Background())
		if err != nil {
			return "", err
		}
		return tok.AccessToken, nil
	}
	if _, err := token(clientID, secret); err != nil {
		t.Fatalf("token with the secret read off the page: %v", err)
	}

	// The application page.
	appURL := env.url + "/dashboard/applications/" + clientID
	u.do("application page", chromedp.Navigate(appURL), chromedp.WaitVisible(chromedp.CSS("#chart-h")))
	if n := u.text("#tokens-h + .table-wrap tbody"); !strings.Contains(n, "access token") {
		t.Errorf("live tokens table %q lacks the token", n)
	}
	u.check("application")

	// Reset the secret with a grace period: both secrets work meanwhile.
	u.do("reset secret", chromedp.SendKeys(chromedp.CSS("#grace_period"), "1h"),
		chromedp.Click(chromedp.CSS(`form[action$="/secrets"] button`)), chromedp.WaitVisible(chromedp.CSS(`#confirm`)))
	if h := u.text("main h1"); !strings.Contains(h, "nightly-reports") {
		t.Errorf("confirmation %q does not name the application", h)
	}
	u.check("confirm")
	u.do("confirm reset", chromedp.Click(chromedp.CSS("main form button.danger")), chromedp.WaitVisible(chromedp.CSS("#credential")))
	u.check("new-secret")
	newSecret := u.text("#credential")
	if newSecret == secret {
		t.Fatal("the reset showed the old secret")
	}
	for _, s := range []string{secret, newSecret} {
		if _, err := token(clientID, s); err != nil {
			t.Fatalf("token during the grace period: %v", err)
		}
	}

	// Revoke every token.
	live, _, err := env.apps.ListTokens(context.Background(), clientID, 10)
	if err != nil || len(live) != 3 {
		t.Fatalf("live tokens before revoke-all: %d, %v; want 3", len(live), err)
	}
	u.do("revoke all", chromedp.Navigate(appURL), chromedp.WaitVisible(chromedp.CSS("#chart-h")),
		chromedp.Click(chromedp.CSS(`form[action$="/tokens/revoke-all"] button`)), chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		chromedp.Click(chromedp.CSS("main form button.danger")), chromedp.WaitVisible(chromedp.CSS("p.notice")), chromedp.WaitVisible(chromedp.CSS("#no-tokens")))
	if live, _, _ := env.apps.ListTokens(context.Background(), clientID, 10); len(live) != 0 {
		t.Fatalf("%d tokens live after revoke-all", len(live))
	}

	// Create an API key, then revoke it.
	u.do("create API key", chromedp.SendKeys(chromedp.CSS("#key-name"), "reports-cron"), chromedp.SendKeys(chromedp.CSS("#key-expires"), "30d"),
		chromedp.Click(chromedp.CSS(`form[action$="/api-keys"] button`)), chromedp.WaitVisible(chromedp.CSS("#credential")))
	key := u.text("#credential")
	if !strings.HasPrefix(key, "oak_") && len(key) < 40 {
		t.Errorf("API key %q", key)
	}
	u.do("API key listed", chromedp.Navigate(appURL), chromedp.WaitVisible(chromedp.CSS(`#tokens-h + .table-wrap`)))
	if row := u.text("#tokens-h + .table-wrap tbody"); !strings.Contains(row, "API key") || !strings.Contains(row, "reports-cron") {
		t.Fatalf("tokens table %q lacks the API key", row)
	}
	u.do("revoke API key", chromedp.Click(chromedp.CSS(`form[action$="/tokens/revoke"] button`)), chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		chromedp.Click(chromedp.CSS("main form button.danger")), chromedp.WaitVisible(chromedp.CSS("p.notice")), chromedp.WaitVisible(chromedp.CSS("#no-tokens")))
	if live, _, _ := env.apps.ListTokens(context.Background(), clientID, 10); len(live) != 0 {
		t.Fatalf("the API key is live after revoking it")
	}

	// The audit log.
	u.do("events", chromedp.Navigate(env.url+"/dashboard/events?client_id="+clientID), chromedp.WaitVisible(chromedp.CSS("#f-kind")))
	if body := u.text("main table"); !strings.Contains(body, "api_key.created") || !strings.Contains(body, "secret.reset") {
		t.Errorf("events page lacks the changes: %q", body)
	}
	u.check("events")
	u.do("the overview with tokens issued", chromedp.Navigate(env.url+"/dashboard/overview"), chromedp.WaitVisible(chromedp.CSS("#top")))
	if top := u.text("#top tbody"); !strings.Contains(top, "nightly-reports") {
		t.Errorf("the busiest applications %q lack nightly-reports", top)
	}
	if n := u.text("#ov-issued"); n != "3" {
		t.Errorf("the overview counts %s tokens issued, want 3", n)
	}
	u.check("overview")
	scopesJourney(t, u, env)
	u.do("a page that does not exist", chromedp.Navigate(env.url+"/dashboard/applications/no-such-app"), chromedp.WaitVisible(chromedp.CSS("p.error")))
	if msg := u.text("p.error"); !strings.Contains(msg, "no-such-app") {
		t.Errorf("not-found page says %q", msg)
	}
	u.check("not-found")
	u.axeSelfTest()

	// A post without the CSRF token is refused, by the browser's own fetch.
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`fetch("/dashboard/applications/%s/delete", {method: "POST", body: new URLSearchParams({confirm: "yes"})}).then(r => r.status)`, clientID), chromedp.EvalAwaitPromise))
	if err != nil || status != 403 {
		t.Fatalf("POST without CSRF token from the page: %d, %v; want 403", status, err)
	}

	// Delete the application.
	u.do("delete", chromedp.Navigate(appURL), chromedp.WaitVisible(chromedp.CSS("#chart-h")),
		chromedp.Click(chromedp.CSS(`.danger-zone form[action$="/delete"] button`)), chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		chromedp.Click(chromedp.CSS("main form button.danger")), chromedp.WaitVisible(chromedp.CSS("p.notice")))
	if _, _, err := env.apps.Get(context.Background(), clientID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v, want not found", err)
	}
	if _, err := token(clientID, newSecret); err == nil {
		t.Fatal("a deleted application still gets tokens")
	}

	// Sign-out ends the session on the other replica too. (The cookie is
	// the host's, whatever the port, so the browser takes it to both.)
	u.do("other replica while signed in", chromedp.Navigate(other+"/dashboard/applications"), chromedp.WaitVisible(chromedp.CSS("#f-search")))
	u.do("sign out", chromedp.Navigate(env.url+"/dashboard/applications"), chromedp.WaitVisible(chromedp.CSS("#f-search")),
		chromedp.Click(chromedp.CSS("form.signout button")), chromedp.WaitVisible(chromedp.CSS("#admin_key")))
	u.do("other replica after sign-out", chromedp.Navigate(other+"/dashboard/applications"), chromedp.WaitVisible(chromedp.CSS("#admin_key")))
}

// scopesJourney is the Scopes page in the browser: the catalogue, a scope
// added with the form (offered at once by the application form), and a
// held scope deleted through the confirmation that names its holder.
func scopesJourney(t *testing.T, u *ui, env *testEnv) {
	t.Helper()
	u.do("scopes page", chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/scopes"]`)), chromedp.WaitVisible(chromedp.CSS("#scope-name")))
	u.check("scopes")
	u.do("add a scope", chromedp.SendKeys(chromedp.CSS("#scope-name"), "reports:export"),
		chromedp.SendKeys(chromedp.CSS("#scope-description"), "Export delivery reports"),
		chromedp.Click(chromedp.CSS(`section[aria-labelledby="scope-form-h"] button.primary`)), chromedp.WaitVisible(chromedp.CSS("p.notice")))
	if row := u.text("#scopes tbody"); !strings.Contains(row, "reports:export") || !strings.Contains(row, "Export delivery reports") {
		t.Fatalf("the catalogue after adding reports:export: %q", row)
	}
	u.do("the application form offers it", chromedp.Navigate(env.url+"/dashboard/applications/new"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=scopes][value="reports:export"]`)), chromedp.WaitVisible(chromedp.CSS(`input[name=scopes][value="reports:*"]`)))
	holder, _ := env.createApp(apps.NewApplication{Name: "exporter", Scopes: []string{"sms reports:export"}})
	u.do("delete it", chromedp.Navigate(env.url+"/dashboard/scopes"), chromedp.WaitVisible(chromedp.CSS("#scopes")),
		chromedp.Click(chromedp.CSS(`button[aria-label="Delete reports:export"]`)), chromedp.WaitVisible(chromedp.CSS("#holders")))
	if h := u.text("#holders"); !strings.Contains(h, holder.ClientID) {
		t.Fatalf("the confirmation names %q, not the holder", h)
	}
	u.check("scope-delete")
	u.do("confirm", chromedp.Click(chromedp.CSS("main form button.danger")), chromedp.WaitVisible(chromedp.CSS("p.notice")))
	if a, _, err := env.apps.Get(context.Background(), holder.ClientID); err != nil || strings.Join(a.Scopes, " ") != "sms" {
		t.Fatalf("the holder after the deletion: %v, %v", a.Scopes, err)
	}
}

// Without JavaScript every action still works as a plain form post; only
// the enhancements (copy buttons) are missing.
func TestBrowserWithoutJavaScript(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	env := newTestEnv(t, redistest.Mini)
	u := &ui{t: t, ctx: ctx}
	u.do("turn scripts off", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	u.do("sign in", chromedp.Navigate(env.url+"/dashboard/signin"), chromedp.WaitVisible(chromedp.CSS("#admin_key")),
		// Without the script both methods' fields show.
		chromedp.WaitVisible(chromedp.CSS("#client_secret")),
		chromedp.SendKeys(chromedp.CSS("#admin_key"), env.key+kb.Enter), chromedp.WaitVisible(chromedp.CSS("#ov-issued")))
	u.do("create", chromedp.Navigate(env.url+"/dashboard/applications/new"), chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "no-script"), chromedp.Click(chromedp.CSS(`input[name=scopes][value="sms"]`)),
		chromedp.Click(chromedp.CSS("#life-custom")), chromedp.SendKeys(chromedp.CSS("#token_lifetime_custom"), "90m"),
		chromedp.Click(chromedp.CSS("main form button.primary")), chromedp.WaitVisible(chromedp.CSS("#client-secret")),
		chromedp.WaitNotVisible(chromedp.CSS("button[data-copy]")))
	id := u.text("#client-id")
	a, _, err := env.apps.Get(context.Background(), id)
	if err != nil || a.TokenLifetime != 90*time.Minute {
		t.Fatalf("created without JavaScript: %+v, %v", a, err)
	}
	u.do("disable", chromedp.Navigate(env.url+"/dashboard/applications/"+id), chromedp.WaitVisible(chromedp.CSS("#chart-h")),
		chromedp.Click(chromedp.CSS(`form[action$="/enabled"] button`)), chromedp.WaitVisible(chromedp.CSS("#confirm")),
		chromedp.Click(chromedp.CSS("main form button.danger")), chromedp.WaitVisible(chromedp.CSS("p.notice")))
	if a, _, err := env.apps.Get(context.Background(), id); err != nil || a.Enabled {
		t.Fatalf("disabled without JavaScript: enabled=%v, %v", a.Enabled, err)
	}
}
