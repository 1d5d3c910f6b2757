package introspectecho

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/introspect"
)

// BenchmarkEchoRoute is the middleware's own cost on a cache hit, the
// in-process form of make bench's "middleware (echo)" line: the same echo
// route answering the same JSON, with the middleware (its answer cached)
// and without it. Compare the two sub-benchmarks' ns/op.
func BenchmarkEchoRoute(b *testing.B) {
	var asked atomic.Int64
	oauthd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"active":true,"scope":"sms groups","client_id":"app1","token_type":"Bearer","exp":4102444800}`)
	}))
	b.Cleanup(oauthd.Close)
	client, err := introspect.New(introspect.Config{Endpoint: oauthd.URL, ClientID: "rs", ClientSecret: "secret", CacheTTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"groups":[]}`)
	groups := func(c echo.Context) error { return c.JSONBlob(http.StatusOK, body) }
	e := echo.New()
	e.GET("/bare", groups)
	e.GET("/groups", Middleware(client, "groups")(groups))
	// Both routes get the same request, the token included, as make
	// bench sends them.
	const auth = "Bearer oat_01hzy3k6w9x2m4n5p7q8r0s1t2_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"
	for _, bc := range []struct{ name, path, auth string }{
		{"bare", "/bare", auth},
		{"middleware", "/groups", auth},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, bc.path, nil)
			req.RemoteAddr = "127.0.0.1:40000"
			if bc.auth != "" {
				req.Header.Set("Authorization", bc.auth)
			}
			w := &discard{h: http.Header{}}
			e.ServeHTTP(w, req) // fills the cache
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				clear(w.h)
				w.status = 0
				e.ServeHTTP(w, req)
			}
			// CPU per request: on a machine busy with other work, steadier
			// than ns/op.
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		})
	}
	if n := asked.Load(); n != 1 {
		b.Fatalf("oauthd was asked %d times, want once (the first request)", n)
	}
}

// discard is a ResponseWriter that keeps only the status, so the benchmark
// measures the route, not a recorder.
type discard struct {
	h      http.Header
	status int
}

func (w *discard) Header() http.Header { return w.h }
func (w *discard) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}
func (w *discard) WriteHeader(code int) { w.status = code }
