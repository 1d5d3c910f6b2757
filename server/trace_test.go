package server

import (
	"net/url"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/web"
)

// With tracing, the signature work is a span below the request's:
// jwt.sign when a JWT is issued, jwt.verify when one is introspected.
func TestSignatureSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	env, _ := newJWTServer(t, func(c *Config) { c.Tracing = web.Tracing{Provider: tp} })
	rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
	app := env.createApp(apps.NewApplication{Scopes: []string{"sms"}, TokenFormat: "jwt"})
	code, body := env.tokenWith(app, url.Values{})
	tok, _ := body["access_token"].(string)
	if code != 200 || tok == "" {
		t.Fatalf("token: %d %v", code, body)
	}
	if !env.active(rs, tok, "") {
		t.Fatal("the JWT is not active")
	}
	parents := map[string]string{} // span name → its parent's name
	byID := map[string]string{}
	spans := rec.Ended()
	for _, s := range spans {
		byID[s.SpanContext().SpanID().String()] = s.Name()
	}
	for _, s := range spans {
		parents[s.Name()] = byID[s.Parent().SpanID().String()]
	}
	if parents["jwt.sign"] != "POST /oauth/token" || parents["jwt.verify"] != "POST /oauth/introspect" {
		t.Errorf("spans and their parents: %v; want jwt.sign below the token request, jwt.verify below the introspection", parents)
	}
}
