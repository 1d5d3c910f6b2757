package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/apps"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

type testEnv struct {
	t     testing.TB
	srv   *Server
	store *redis.Store
	apps  *apps.Service
	redis *redistest.Server
}

// newTestServer builds a real server on miniredis. edit may change the
// config before the server is built.
func newTestServer(t testing.TB, edit ...func(*Config)) *testEnv {
	t.Helper()
	return newTestServerOn(t, redistest.Mini, nil, edit...)
}

// newTestServerOn is newTestServer on a Redis of the given kind and, when
// limits is not nil, with those abuse limits on it.
func newTestServerOn(t testing.TB, kind redistest.Kind, limits *redis.LimitsConfig, edit ...func(*Config)) *testEnv {
	t.Helper()
	rs := redistest.Start(t, kind)
	rdb, err := redis.NewClient(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	cfg := Config{Issuer: "http://oauthd.test"}
	for _, f := range edit {
		f(&cfg)
	}
	var keep time.Duration
	if cfg.InactiveReason {
		keep = cfg.Tombstone
	}
	st := redis.New(rdb, redis.Options{Prefix: "test", KeepExpired: keep})
	if limits != nil {
		cfg.Limits = redis.NewLimits(rdb, "test", *limits)
	}
	svc := apps.New(st, scopes.Default(), apps.Options{})
	cfg.Catalogue = svc
	srv, err := New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, srv: srv, store: st, apps: svc, redis: rs}
}

// cacheApps runs the store's loop, as serve does: the application cache
// comes up, and token issue and introspection take their cached paths
// (without it every application is read from Redis, in the same round
// trip as the token).
func (e *testEnv) cacheApps() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.store.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
	// The subscription is confirmed within a round trip: a bounded poll.
	for deadline := time.Now().Add(5 * time.Second); !e.store.CacheStats().Up; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatal("the application cache did not come up within 5s")
		}
	}
}

// bothCaches runs test with the application cache off and on: the token
// endpoint must answer alike whether the store reads the application in
// the token script or holds it.
func bothCaches(t *testing.T, test func(t *testing.T, cached bool)) {
	for _, cached := range []bool{false, true} {
		t.Run(map[bool]string{false: "uncached", true: "cached"}[cached], func(t *testing.T) { test(t, cached) })
	}
}

type testApp struct {
	store.Application
	Secret string
}

func (e *testEnv) createApp(in apps.NewApplication) testApp {
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

func (e *testEnv) update(id string, f func(*store.Application)) {
	e.t.Helper()
	_, err := e.store.UpdateApplication(context.Background(), id, func(a store.Application) (store.Application, error) {
		f(&a)
		return a, nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// do sends a request through the handler and returns the recorded answer.
func (e *testEnv) do(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, r)
	return w
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

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// percentAll percent-encodes every byte, the most a client may encode.
func percentAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

func getRequest(path string) *http.Request { return httptest.NewRequest(http.MethodGet, path, nil) }
