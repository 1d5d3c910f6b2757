package dashboard_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/server/dashboard"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testEnv is oauthd's public endpoints and a dashboard on one listener
// and one Redis, as `oauthd serve` mounts them without admin.addr.
type testEnv struct {
	t     *testing.T
	url   string
	key   string
	apps  *apps.Service
	store *redis.Store
	redis *redistest.Server
	clock *clock
	cfg   dashboard.Config
}

// newTestEnv starts the environment on kind of Redis; edit may change the
// dashboard's config.
func newTestEnv(t *testing.T, kind redistest.Kind, edit ...func(*dashboard.Config)) *testEnv {
	t.Helper()
	rs := redistest.Start(t, kind)
	rdb, err := redis.NewClient(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	st := redis.New(rdb, redis.Options{Prefix: "dash"})
	env := &testEnv{t: t, store: st, redis: rs, key: credential.NewAdminKey(),
		clock: &clock{t: time.Now().UTC()}}
	env.apps = apps.New(st, scopes.Default(), apps.Options{})
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	pub, err := server.New(server.Config{Issuer: issuer, Catalogue: env.apps, Audit: env.apps}, st)
	if err != nil {
		t.Fatal(err)
	}
	env.cfg = dashboard.Config{KeyDigests: []store.Digest{store.Sum(env.key)}, Sessions: st, Issuer: issuer, Now: env.clock.now}
	for _, f := range edit {
		f(&env.cfg)
	}
	srv.Config.Handler = env.mount(pub.Handler())
	srv.Start()
	t.Cleanup(srv.Close)
	env.url = srv.URL
	return env
}

// mount serves a new dashboard on env's config beside public: one replica.
func (env *testEnv) mount(public http.Handler) http.Handler {
	d, err := dashboard.New(env.cfg, env.apps)
	if err != nil {
		env.t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(dashboard.Prefix, d.Handler())
	mux.Handle("/", public)
	return mux
}

// replica starts a second oauthd process's dashboard on the same Redis.
func (env *testEnv) replica() string {
	srv := httptest.NewServer(env.mount(http.NotFoundHandler()))
	env.t.Cleanup(srv.Close)
	return srv.URL
}

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string
}

func (env *testEnv) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: env.t, base: env.url, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) answer {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(body)}
	if m := csrfRE.FindStringSubmatch(a.body); m != nil {
		b.csrf = m[1]
	}
	return a
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) get(path string) answer {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

// post sends form with the last page's CSRF token unless form sets csrf
// (set it to "" to leave it out).
func (b *browser) post(path string, form url.Values) answer {
	b.t.Helper()
	return b.postWith(path, form)
}

// postWith is post with request headers, given as name, value pairs.
func (b *browser) postWith(path string, form url.Values, headers ...string) answer {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, set := form["csrf"]; !set {
		form.Set("csrf", b.csrf)
	} else if form.Get("csrf") == "" {
		form.Del("csrf")
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// signIn signs in with the admin key and fails the test otherwise.
func (b *browser) signIn(form url.Values) {
	b.t.Helper()
	b.get("/dashboard/signin")
	a := b.post("/dashboard/signin", form)
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/dashboard/" {
		b.t.Fatalf("sign-in answered %d %s: %s", a.status, a.header.Get("Location"), a.body)
	}
}

func (env *testEnv) signedIn() *browser {
	b := env.browser()
	b.signIn(url.Values{"method": {"key"}, "admin_key": {env.key}})
	return b
}

func (env *testEnv) createApp(in apps.NewApplication) (store.Application, string) {
	env.t.Helper()
	if in.Name == "" {
		in.Name = "app"
	}
	if len(in.Scopes) == 0 {
		in.Scopes = []string{"sms"}
	}
	a, secret, err := env.apps.Create(apps.WithActor(context.Background(), apps.Actor{Name: "test"}), in)
	if err != nil {
		env.t.Fatal(err)
	}
	return a, secret
}

// appPage creates an application named name and opens its page in a
// signed-in browser.
func (env *testEnv) appPage(name string) (store.Application, *browser) {
	env.t.Helper()
	app, _ := env.createApp(apps.NewApplication{Name: name})
	b := env.signedIn()
	b.get("/dashboard/applications/" + app.ClientID)
	return app, b
}

// enabled reports whether application id is enabled, failing the test if
// it cannot be read.
func (env *testEnv) enabled(id string) bool {
	env.t.Helper()
	a, _, err := env.apps.Get(context.Background(), id)
	if err != nil {
		env.t.Fatal(err)
	}
	return a.Enabled
}

func mustContain(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}
