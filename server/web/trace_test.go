package web

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// lastLine decodes the last JSON line of buf.
func lastLine(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("log line %q: %v", lines[len(lines)-1], err)
	}
	return m
}

// A well-formed X-Request-Id is echoed and logged; a missing or malformed
// one (too long, control characters, spaces, quotes) is replaced by a new
// random one, answered and logged alike.
func TestRequestID(t *testing.T) {
	var buf bytes.Buffer
	e := NewEcho(Config{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	e.GET("/x", func(c echo.Context) error { return c.String(http.StatusOK, RequestID(c)) })
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct {
		name, sent string
		kept       bool
	}{
		{"absent", "", false},
		{"uuid", "3f2a9c1e-7b4d-4a80-9c3e-1d2b3c4d5e6f", true},
		{"load balancer's", "Root=1-67891233-abcdef012345678912345678", true},
		{"base64", "q8/Z+w==", true},
		{"128 bytes", strings.Repeat("a", 128), true},
		{"129 bytes", strings.Repeat("a", 129), false},
		{"control character", "abc\x01def", false},
		{"newline", "abc\ndef", false},
		{"space", "abc def", false},
		{"quote", `abc"def`, false},
		{"non-ASCII", "abcé", false},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/x", nil)
			if tt.sent != "" {
				req.Header[HeaderRequestID] = []string{tt.sent}
			}
			w := httptest.NewRecorder()
			e.ServeHTTP(w, req)
			got := w.Header().Get(HeaderRequestID)
			if tt.kept && got != tt.sent {
				t.Fatalf("answered %q, want the caller's %q", got, tt.sent)
			}
			if !tt.kept && (!generated.MatchString(got) || seen[got]) {
				t.Fatalf("answered %q, want a new random id", got)
			}
			seen[got] = true
			if w.Body.String() != got {
				t.Errorf("RequestID(c) = %q, answered %q", w.Body.String(), got)
			}
			if line := lastLine(t, &buf); line["request_id"] != got {
				t.Errorf("logged request_id %v, answered %q", line["request_id"], got)
			}
			if tt.sent != "" && !tt.kept && strings.Contains(buf.String(), tt.sent) {
				t.Errorf("the malformed id reached the log")
			}
		})
	}
}

// With tracing, each request is one server span: the child of the
// caller's traceparent, named by method and route pattern, with the
// status and the client_id but never the raw path; the surface's own spans
// are its children; the request's log line carries the trace and span ids.
func TestTracing(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := Tracing{Provider: tp, Propagator: propagation.TraceContext{}}
	var buf bytes.Buffer
	e := NewEcho(Config{Logger: slog.New(slog.NewJSONHandler(&buf, nil)), Tracing: tr})
	e.GET("/apps/:id", func(c echo.Context) error {
		Log(c).SetClientID("c1")
		_, span := StartSpan(c.Request().Context(), tr.Tracer(), "work")
		span.End()
		if c.Param("id") == "fail" {
			return WriteError(c, &Error{Code: "server_error", Description: "down", Status: 503})
		}
		return WriteError(c, &Error{Code: "invalid_client", Description: "no", Status: 401})
	})

	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	req := httptest.NewRequest("GET", "/apps/ocs_SECRET", nil)
	req.Header.Set("traceparent", parent)
	e.ServeHTTP(httptest.NewRecorder(), req)
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want the request's and its child", len(spans))
	}
	child, srv := spans[0], spans[1]
	if srv.Name() != "GET /apps/:id" || srv.Parent().TraceID().String() != "0af7651916cd43dd8448eb211c80319c" ||
		srv.Parent().SpanID().String() != "b7ad6b7169203331" || !srv.Parent().IsRemote() {
		t.Errorf("server span %q, parent %v: want GET /apps/:id below the caller's", srv.Name(), srv.Parent())
	}
	if child.Name() != "work" || child.Parent().SpanID() != srv.SpanContext().SpanID() {
		t.Errorf("child span %q below %v, want work below the request's", child.Name(), child.Parent().SpanID())
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, a := range srv.Attributes() {
		attrs[a.Key] = a.Value
		if strings.Contains(a.Value.Emit(), "ocs_SECRET") {
			t.Errorf("attribute %s holds the raw path", a.Key)
		}
	}
	if attrs["http.route"].AsString() != "/apps/:id" || attrs["http.response.status_code"].AsInt64() != 401 ||
		attrs["oauth.client_id"].AsString() != "c1" || attrs["oauth.error"].AsString() != "invalid_client" || attrs["request.id"].AsString() == "" {
		t.Errorf("attributes %v", attrs)
	}
	if srv.Status().Code == codes.Error {
		t.Error("a 401 marked the span as failed: it is the caller's error")
	}
	line := lastLine(t, &buf)
	if line["trace_id"] != srv.SpanContext().TraceID().String() || line["span_id"] != srv.SpanContext().SpanID().String() {
		t.Errorf("log line %v: want the span's trace_id and span_id", line)
	}

	// A server-side failure is a span error; an unmatched path is named
	// by the pattern "unmatched", never by the path.
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/apps/fail", nil))
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/oat_SECRET", nil))
	spans = rec.Ended()[2:]
	if len(spans) != 3 || spans[1].Status().Code != codes.Error || spans[1].Parent().IsValid() {
		t.Fatalf("failed request: %d spans, status %v, parent %v: want a new trace, failed", len(spans), spans[1].Status(), spans[1].Parent())
	}
	if spans[2].Name() != "GET unmatched" {
		t.Errorf("unmatched path: span %q", spans[2].Name())
	}
}

// Tracing off costs the hot path nothing: StartSpan without a tracer
// allocates nothing, and a request makes no span.
func TestTracingOffAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() {
		_, span := StartSpan(ctx, nil, "work")
		span.End()
	}); n != 0 {
		t.Errorf("StartSpan without a tracer: %v allocations", n)
	}
	if (Tracing{}).Tracer() != nil {
		t.Error("the zero Tracing has a tracer")
	}
}
