package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

const adminKey = "oadm_test-admin-key"

// adminEnv is the admin API beside a real public server on one miniredis,
// so tests can get tokens and introspect them as daemons do.
type adminEnv struct {
	t      testing.TB
	srv    *server.Server
	store  *redis.Store
	apps   *apps.Service
	admin  *Admin
	redis  *redistest.Server
	clk    *clock
	config server.Config
}

type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func newAdminEnv(t testing.TB, edit ...func(*server.Config)) *adminEnv {
	t.Helper()
	return newAdminEnvWith(t, redis.Options{}, nil, edit...)
}

// newAdminEnvWith is newAdminEnv with store options and, when limits is
// not nil, abuse limits on the same Redis.
func newAdminEnvWith(t testing.TB, opts redis.Options, limits *redis.LimitsConfig, edit ...func(*server.Config)) *adminEnv {
	t.Helper()
	clk := &clock{}
	rs := redistest.Start(t, redistest.Mini)
	rdb, err := redis.NewClient(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	cfg := server.Config{Issuer: "http://oauthd.test", Now: clk.now}
	for _, f := range edit {
		f(&cfg)
	}
	var keep time.Duration
	if cfg.InactiveReason {
		keep = cfg.Tombstone
	}
	opts.Prefix, opts.KeepExpired = "test", keep
	st := redis.New(rdb, opts)
	if limits != nil {
		cfg.Limits = redis.NewLimits(rdb, "test", *limits)
	}
	svcOpts := apps.Options{Now: clk.now, MaxGrace: 24 * time.Hour, Tombstone: cfg.Tombstone, Seal: testSeal}
	if limits != nil {
		svcOpts.Limits = *limits
	}
	svc := apps.New(st, scopes.Default(), svcOpts)
	cfg.Audit, cfg.Catalogue = svc, svc
	srv, err := server.New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	adm := New(Config{KeyDigests: []store.Digest{store.Sum(adminKey)}, Now: clk.now}, svc, st)
	return &adminEnv{t: t, srv: srv, store: st, apps: svc, admin: adm, redis: rs, clk: clk, config: cfg}
}

// testSealingKey is every test deployment's sealing key, so a sealed
// secret exported from one opens on another, as with one
// jwt.sealing_key_file.
var testSealingKey = []byte("0123456789abcdef0123456789abcdef")

func testSeal(ctx context.Context, plain []byte) ([]byte, error) {
	return signing.SealSecret(ctx, signing.SealWith(testSealingKey), plain)
}

type testApp struct {
	store.Application
	Secret string
}

func (e *adminEnv) createApp(in apps.NewApplication) testApp {
	e.t.Helper()
	if in.Name == "" {
		in.Name = "test app"
	}
	if in.Scopes == nil {
		in.Scopes = []string{"sms", "groups"}
	}
	a, secret, err := e.apps.Create(context.Background(), in)
	if err != nil {
		e.t.Fatalf("creating app: %v", err)
	}
	return testApp{a, secret}
}

func (e *adminEnv) update(id string, f func(*store.Application)) {
	e.t.Helper()
	_, err := e.store.UpdateApplication(context.Background(), id, func(a store.Application) (store.Application, error) {
		f(&a)
		return a, nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// do sends a request to the public endpoints.
func (e *adminEnv) do(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, r)
	return w
}

// introspect asks as rs and returns the status and raw body.
func (e *adminEnv) introspect(rs testApp, form url.Values) (int, string) {
	e.t.Helper()
	r := formRequest("/oauth/introspect", form)
	r.Header.Set("Authorization", basic(rs.ClientID, rs.Secret))
	w := e.do(r)
	return w.Code, strings.TrimSpace(w.Body.String())
}

func formRequest(path string, form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func decode[T any](t testing.TB, body io.Reader) T {
	t.Helper()
	var v T
	if err := json.NewDecoder(body).Decode(&v); err != nil {
		t.Fatalf("decoding answer: %v", err)
	}
	return v
}
