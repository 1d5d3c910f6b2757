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

// BenchmarkDPoPMiddleware is BenchmarkMiddlewareCacheHit for a DPoP-bound
// token: the answer is cached, and each request brings a fresh proof
// (ES256, the cheapest to verify), made before the timer runs. Its cost
// over the cache hit is the proof's: parsing, one signature verification,
// the thumbprint, and the replay cache.
func BenchmarkDPoPMiddleware(b *testing.B) {
	f := &fakeOAuthd{answers: map[string]answer{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.introspect))
	defer f.srv.Close()
	key := newProofKey(b, algES256)
	token := "oat_01hzy3k6w9x2m4n5p7q8r0s1t2_" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"
	f.set(token, boundAnswer("sms groups", Confirmation{JKT: key.jkt(b)}))
	clk := newClock()
	c, err := New(Config{Endpoint: f.srv.URL, ClientID: fakeClientID, ClientSecret: fakeClientSecret, CacheTTL: time.Hour,
		PublicURL: "https://sms.example", Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	h := c.Require("sms")(okHandler())
	// Proofs are made ahead, in batches, since signing costs as much as
	// verifying: the timer measures the resource server alone.
	const batch = 1024
	proofs := make([]string, 0, batch)
	reqs := make([]*http.Request, batch)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodGet, rsURL, nil)
		reqs[i].Header.Set("Authorization", "DPoP "+token)
	}
	refill := func() {
		proofs = proofs[:0]
		for i := range batch {
			p := key.proofFor(b, "GET", rsURL, token, clk.Now(), nil)
			proofs = append(proofs, p)
			reqs[i].Header.Set("DPoP", p)
		}
	}
	refill()
	warm := httptest.NewRecorder()
	h.ServeHTTP(warm, reqs[batch-1])
	if warm.Code != http.StatusOK {
		b.Fatalf("warm-up: status %d", warm.Code)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == batch-1 { // the last one was the warm-up's
			b.StopTimer()
			refill()
			i = 0
			b.StartTimer()
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, reqs[i])
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		i++
	}
	if n := f.introspections.Load(); n != 1 {
		b.Fatalf("%d introspection requests, want 1 (the warm-up)", n)
	}
}
