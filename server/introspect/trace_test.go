package introspect

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// With a TracerProvider and a Propagator, a lookup is a client span below
// the caller's span (discovery first, then the introspection), and the
// request to oauthd carries the introspection span's traceparent, so that
// oauthd's span becomes its child. No span holds the token or the
// credentials. A cache hit makes no span.
func TestTracing(t *testing.T) {
	f := newFake(t)
	const token = "oat_tracedTOKEN"
	f.set(token, activeAnswer("sms", 1<<40))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	cfg := f.config()
	cfg.TracerProvider, cfg.Propagator = tp, propagation.TraceContext{}
	c := newClient(t, cfg)

	ctx, parent := tp.Tracer("test").Start(context.Background(), "GET /v1/sms")
	for range 2 {
		if r, err := c.Introspect(ctx, token); err != nil || !r.Active {
			t.Fatalf("Introspect: %+v, %v", r, err)
		}
	}
	parent.End()
	spans := rec.Ended()
	var names []string
	for _, s := range spans {
		names = append(names, s.Name())
	}
	if strings.Join(names, ",") != "introspect.discovery,introspect,GET /v1/sms" {
		t.Fatalf("spans %v, want discovery and one introspection (the second call is a cache hit) below the request", names)
	}
	psc := parent.SpanContext()
	for _, s := range spans[:2] {
		if s.Parent().SpanID() != psc.SpanID() || s.SpanContext().TraceID() != psc.TraceID() {
			t.Errorf("%s: parent %v, want the caller's span", s.Name(), s.Parent().SpanID())
		}
		for _, a := range s.Attributes() {
			if v := a.Value.Emit(); strings.Contains(v, "tracedTOKEN") || strings.Contains(v, "s+cr") {
				t.Errorf("%s: attribute %s = %q holds a secret", s.Name(), a.Key, v)
			}
		}
	}
	in := spans[1].SpanContext()
	f.mu.Lock()
	got := f.lastTrace
	f.mu.Unlock()
	if want := "00-" + in.TraceID().String() + "-" + in.SpanID().String() + "-01"; got != want {
		t.Errorf("traceparent sent %q, want the introspection span's %q", got, want)
	}
}

// Without them no trace context is sent, whatever the caller's context
// holds.
func TestTracingOff(t *testing.T) {
	f := newFake(t)
	f.set("oat_x", activeAnswer("sms", 1<<40))
	c := newClient(t, f.config())
	ctx, parent := sdktrace.NewTracerProvider().Tracer("test").Start(context.Background(), "req")
	defer parent.End()
	if _, err := c.Introspect(ctx, "oat_x"); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lastTrace != "" {
		t.Errorf("traceparent %q sent without a Propagator", f.lastTrace)
	}
}
