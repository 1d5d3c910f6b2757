package introspect

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
}

// BenchmarkMiddlewareCacheHit is the steady state of a busy resource
// server: the token's answer is cached. Compare with BenchmarkBareHandler
// for the middleware's own cost.
func BenchmarkMiddlewareCacheHit(b *testing.B) {
	f := &fakeOAuthd{answers: map[string]answer{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.introspect))
	defer f.srv.Close()
	token := "oat_01hzy3k6w9x2m4n5p7q8r0s1t2_" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"
	f.set(token, activeAnswer("sms groups", 0))
	c, err := New(Config{Endpoint: f.srv.URL, ClientID: fakeClientID, ClientSecret: fakeClientSecret, CacheTTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	h := c.Require("sms")(okHandler())
	req := httptest.NewRequest(http.MethodGet, "/sms", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	warm := httptest.NewRecorder()
	h.ServeHTTP(warm, req)
	if warm.Code != http.StatusOK {
		b.Fatalf("warm-up: status %d", warm.Code)
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
	if n := f.introspections.Load(); n != 1 {
		b.Fatalf("%d introspection requests, want 1 (the warm-up)", n)
	}
}

func BenchmarkBareHandler(b *testing.B) {
	h := okHandler()
	req := httptest.NewRequest(http.MethodGet, "/sms", nil)
	req.Header.Set("Authorization", "Bearer oat_x")
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
