package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/credential"

	"github.com/redis/go-redis/extra/redisotel/v9"
	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/web"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// benchRedis prefers a real redis-server: miniredis' costs are not Redis's.
func benchRedis(b *testing.B) *redistest.Server {
	kind := redistest.Real
	if _, err := exec.LookPath("redis-server"); err != nil {
		kind = redistest.Mini
	}
	return redistest.Start(b, kind)
}

// benchStore is the Redis store as oauthd serve runs it: with its loop
// (the application cache on) for the benchmark's duration.
func benchStore(b *testing.B, rs *redistest.Server) *redis.Store {
	rdb, _ := redis.NewClient(rs.URL)
	b.Cleanup(func() { rdb.Close() })
	return benchStoreOn(b, rdb)
}

// benchStoreOn is benchStore on a client the caller made (and may have
// hooked).
func benchStoreOn(b *testing.B, rdb goredis.UniversalClient) *redis.Store {
	st := redis.New(rdb, redis.Options{Prefix: "bench"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); st.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	// The subscription is confirmed within a round trip: a bounded poll.
	for deadline := time.Now().Add(5 * time.Second); !st.CacheStats().Up; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("the application cache did not come up within 5s")
		}
	}
	return st
}

// benchPost posts body over a real loopback listener with keep-alive, as a
// daemon or resource server would.
func benchPost(b *testing.B, url, auth string) {
	benchPostBody(b, url, auth, "grant_type=client_credentials")
}

func benchPostBody(b *testing.B, url, auth, body string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", auth)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}

// BenchmarkTokenIssue is POST /oauth/token end to end: parse, authenticate
// (the application from the cache), issue, store (one script call: one
// round trip), answer.
func BenchmarkTokenIssue(b *testing.B) { benchTokenIssue(b, nil) }

// BenchmarkTokenIssueUncached is BenchmarkTokenIssue with the application
// cache down: the token script reads the application and checks the
// request in the same round trip, and the application is decoded from
// the JSON it returns.
func BenchmarkTokenIssueUncached(b *testing.B) { benchIssue(b, false, nil) }

// benchTokenIssue measures token issue; setup, when set, changes the
// server's configuration and may hook onto the Redis client (metrics, a
// logger).
func benchTokenIssue(b *testing.B, setup func(*Config, goredis.UniversalClient)) {
	benchIssue(b, true, setup)
}

// benchIssue is benchTokenIssue with the application cache up (cached)
// or down.
func benchIssue(b *testing.B, cached bool, setup func(*Config, goredis.UniversalClient)) {
	rdb, _ := redis.NewClient(benchRedis(b).URL)
	b.Cleanup(func() { rdb.Close() })
	var cfg Config
	if setup != nil {
		setup(&cfg, rdb)
	}
	st := redis.New(rdb, redis.Options{Prefix: "bench"})
	if cached {
		st = benchStoreOn(b, rdb)
	}
	svc := apps.New(st, scopes.Default(), apps.Options{})
	cfg.Catalogue = svc
	srv, err := New(cfg, st)
	if err != nil {
		b.Fatal(err)
	}
	app, secret, err := svc.Create(context.Background(), apps.NewApplication{Name: "bench", Scopes: []string{"sms"}})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	benchPost(b, hs.URL+"/oauth/token", basic(app.ClientID, secret))
}

// BenchmarkBareGetSet is the floor token issue is measured against: a
// plain net/http handler that does one Redis GET and one SET per request
// and writes a small JSON answer.
func BenchmarkBareGetSet(b *testing.B) {
	rs := benchRedis(b)
	rdb, _ := redis.NewClient(rs.URL)
	defer rdb.Close()
	ctx := context.Background()
	rdb.Set(ctx, "bench:app", strings.Repeat("x", 400), 0)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := rdb.Get(r.Context(), "bench:app").Result(); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		key := "bench:tok:" + credential.NewID()
		if err := rdb.Set(r.Context(), key, "{}", 24*time.Hour).Err(); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"` + key + `","token_type":"Bearer","expires_in":86400}`))
	})
	hs := httptest.NewServer(h)
	defer hs.Close()
	benchPost(b, hs.URL, "Basic x")
}

// BenchmarkIntrospect is POST /oauth/introspect for an active token: the
// caller and the token's application from the cache, the record in one
// round trip.
func BenchmarkIntrospect(b *testing.B) {
	st := benchStore(b, benchRedis(b))
	svc := apps.New(st, scopes.Default(), apps.Options{})
	srv, err := New(Config{Issuer: "http://bench", Catalogue: svc}, st)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	app, secret, _ := svc.Create(ctx, apps.NewApplication{Name: "daemon", Scopes: []string{"sms"}})
	caller, callerSecret, _ := svc.Create(ctx, apps.NewApplication{Name: "rs", Scopes: []string{scopes.Introspect}})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", basic(app.ClientID, secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("token: %v", err)
	}
	tok := decode[map[string]any](b, resp.Body)["access_token"].(string)
	resp.Body.Close()
	benchPostBody(b, hs.URL+"/oauth/introspect", basic(caller.ClientID, callerSecret), "token="+tok)
}

// BenchmarkTokenIssueLogged is BenchmarkTokenIssue with the JSON log line
// written to a file, as serve writes it to stderr: the difference is what
// the per-request log costs.
func BenchmarkTokenIssueLogged(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	benchTokenIssue(b, func(cfg *Config, _ goredis.UniversalClient) {
		cfg.Logger = slog.New(slog.NewJSONHandler(f, nil))
	})
}

// BenchmarkTokenIssueTraced is BenchmarkTokenIssue with tracing on as a
// production deployment would run it: a server span per request, the
// Redis commands below it (go-redis's hook, without their arguments),
// one request in a hundred sampled and exported in batches to an
// exporter that drops them. The difference from BenchmarkTokenIssue is
// what tracing costs when on.
func BenchmarkTokenIssueTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.01))),
		sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	benchTokenIssue(b, func(cfg *Config, rdb goredis.UniversalClient) {
		cfg.Tracing = web.Tracing{Provider: tp, Propagator: propagation.TraceContext{}}
		if err := redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(tp),
			redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false)); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkTokenIssuePrivateKeyJWT is BenchmarkTokenIssue for an
// application authenticating with private_key_jwt (issue 18): each request
// carries its own Ed25519-signed assertion (made before the timer starts),
// so the difference is the assertion's parse and signature check, and the
// jti's SET NX, which the token script runs (still one round trip).
func BenchmarkTokenIssuePrivateKeyJWT(b *testing.B) {
	st := benchStore(b, benchRedis(b))
	svc := apps.New(st, scopes.Default(), apps.Options{})
	srv, err := New(Config{Issuer: "http://bench", Catalogue: svc}, st)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	app, _, err := svc.Create(ctx, apps.NewApplication{Name: "bench", Scopes: []string{"sms"}})
	if err != nil {
		b.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	k := clientKey{key: key, alg: "EdDSA", kid: "bench"}
	var set jose.JSONWebKeySet
	set.Keys = append(set.Keys, jose.JSONWebKey{Key: key.Public(), KeyID: k.kid, Algorithm: "EdDSA", Use: "sig"})
	raw, _ := json.Marshal(set)
	if _, err := st.UpdateApplication(ctx, app.ClientID, func(a store.Application) (store.Application, error) {
		a.Auth, a.Secrets = store.ClientAuth{Method: store.AuthPrivateKeyJWT, JWKS: raw}, nil
		return a, nil
	}); err != nil {
		b.Fatal(err)
	}
	bodies := make([]string, b.N)
	for i := range bodies {
		bodies[i] = assertionForm(k.signB(b, claims(app.ClientID, "http://bench")), "grant_type", "client_credentials").Encode()
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := bodies[next.Add(1)-1]
			req, _ := http.NewRequest(http.MethodPost, hs.URL+TokenPath, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}
