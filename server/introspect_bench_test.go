package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/metrics"
	"github.com/oauthd/oauthd/store/redis"
)

// BenchmarkIntrospectServe is POST /oauth/introspect in process, as serve
// runs it: the abuse limits on (the caller's lock-out read with the
// token), the request metrics and the Redis hook, the JSON access line
// (to io.Discard), both applications cached. Unlike BenchmarkIntrospect it
// has no HTTP client or loopback connection in the loop, so its
// allocations and its CPU profile are the server's own; the time is
// mostly the Redis round trip, so compare cpu-ns/op, the process's CPU
// per request.
func BenchmarkIntrospectServe(b *testing.B) {
	rs := benchRedis(b)
	rdb, _ := redis.NewClient(rs.URL)
	b.Cleanup(func() { rdb.Close() })
	mx := metrics.New(metrics.Build{Version: "bench"})
	mx.InstrumentRedis(rdb)
	st := benchStoreOn(b, rdb)
	svc := apps.New(st, scopes.Default(), apps.Options{})
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	srv, err := New(Config{
		Issuer: "http://bench", Catalogue: svc, Logger: log, AccessLogger: log, Observer: mx,
		Limits: redis.NewLimits(rdb, "bench", redis.LimitsConfig{}),
	}, st)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	app, secret, err := svc.Create(ctx, apps.NewApplication{Name: "daemon", Scopes: []string{"sms"}})
	if err != nil {
		b.Fatal(err)
	}
	caller, callerSecret, err := svc.Create(ctx, apps.NewApplication{Name: "rs", Scopes: []string{scopes.Introspect}})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	tok := serveForm(b, h, "/oauth/token", basic(app.ClientID, secret), "grant_type=client_credentials")
	token := decode[map[string]any](b, strings.NewReader(tok))["access_token"].(string)
	auth := basic(caller.ClientID, callerSecret)
	body := "token=" + token
	if got := serveForm(b, h, "/oauth/introspect", auth, body); !strings.Contains(got, `"active":true`) {
		b.Fatalf("introspection: %s", got)
	}

	req := httptest.NewRequest(http.MethodPost, "/oauth/introspect", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", auth)
	req.ContentLength = int64(len(body))
	var rd strings.Reader
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		rd.Reset(body)
		req.Body = io.NopCloser(&rd)
		// The handler sets the form; a server hands each request fresh.
		req.Form, req.PostForm = nil, nil
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
	// The process's CPU per request (the handler, the Redis client, the
	// GC), which a machine busy with other work does not inflate as it
	// does ns/op, mostly the wait for Redis.
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

// serveForm posts a form to h in process and returns the answer's body,
// failing unless it is a 200.
func serveForm(b *testing.B, h http.Handler, path, auth, body string) string {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", auth)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s: status %d: %s", path, rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// benchWriter is a ResponseWriter that keeps only the status, so a
// benchmark measures the handler, not a recorder.
type benchWriter struct {
	h      http.Header
	status int
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}
func (w *benchWriter) WriteHeader(code int) { w.status = code }
