package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/introspect"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// BenchmarkGroups is the sms-api's GET /v1/groups in process, the route
// make bench drives: with an opaque token whose introspection answer is
// cached, and with a JWT validated locally (its check cached too). The
// bare handler writes the same answer with no framework, check or log
// line: the floor the middleware is measured against.
func BenchmarkGroups(b *testing.B) {
	auth := startAuthServer(b, redistest.Mini)
	rs := auth.create(b, "tokens:introspect", "")
	opaque := auth.create(b, "groups", "")
	jwtApp, secret, err := auth.apps.Create(context.Background(), apps.NewApplication{
		Name: "jwt", Scopes: []string{"groups"}, TokenLifetime: "1h", TokenFormat: "jwt"})
	if err != nil {
		b.Fatal(err)
	}
	client, err := introspect.New(introspect.Config{
		Issuer: auth.issuer, ClientID: rs.id, ClientSecret: rs.secret, LocalJWT: true, CacheTTL: time.Hour,
	})
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	api := newAPI(tokenGuard{client}, log, log, time.Now)
	bare := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"groups":[]}`)
	})
	for _, bc := range []struct {
		name  string
		h     http.Handler
		token string
	}{
		{"bare", bare, ""},
		{"opaque", api, auth.token(b, opaque)},
		{"jwt", api, auth.token(b, credentials{jwtApp.ClientID, secret})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/v1/groups", nil)
			req.RemoteAddr = "127.0.0.1:40000"
			if bc.token != "" {
				req.Header.Set("Authorization", "Bearer "+bc.token)
			}
			w := &discardWriter{h: http.Header{}}
			bc.h.ServeHTTP(w, req) // fills the cache
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.status = 0
				bc.h.ServeHTTP(w, req)
			}
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing but the status,
// so the benchmark measures the handler, not a recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}
func (w *discardWriter) WriteHeader(code int) { w.status = code }
