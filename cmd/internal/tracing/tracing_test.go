package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// Tracing is off unless an endpoint or OTEL_TRACES_EXPORTER=otlp turns it
// on; the settings it cannot honour are errors, which never show a
// header's value.
func TestRead(t *testing.T) {
	everything := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_EXPORTER_OTLP_HEADERS": "api-key=s%3Dcret, x=y", "OTEL_EXPORTER_OTLP_TIMEOUT": "2000", "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
		"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_PROPAGATORS": "tracecontext", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod",
		"OTEL_SERVICE_NAME": "auth-eu", "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_BSP_MAX_QUEUE_SIZE": "4096"}
	tests := []struct {
		name     string
		env      map[string]string
		on       bool
		endpoint string
		sampler  string
		wantErr  string
	}{
		{name: "nothing set", env: nil},
		{name: "sampler alone", env: map[string]string{"OTEL_TRACES_SAMPLER": "always_on"}},
		{name: "exporter none", env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}},
		{name: "SDK disabled", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}},
		{name: "endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"},
			on: true, endpoint: "http://c:4318/v1/traces", sampler: "parentbased_always_on"},
		{name: "traces endpoint as is", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://c/otlp/traces", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://other:4318"},
			on: true, endpoint: "https://c/otlp/traces", sampler: "parentbased_always_on"},
		{name: "exporter otlp alone", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"},
			on: true, endpoint: "http://localhost:4318/v1/traces", sampler: "parentbased_always_on"},
		{name: "ratio", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01"},
			on: true, endpoint: "http://localhost:4318/v1/traces", sampler: "parentbased_traceidratio 0.01"},
		{name: "everything", env: everything, on: true, endpoint: "http://c:4318/v1/traces", sampler: "traceidratio 1"},
		{name: "console", env: map[string]string{"OTEL_TRACES_EXPORTER": "console"}, wantErr: "only otlp"},
		{name: "grpc", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, wantErr: "only http/protobuf"},
		{name: "endpoint not a URL", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "c:4318"}, wantErr: "want an http:// or https:// URL"},
		{name: "ratio above 1", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, wantErr: "between 0 and 1"},
		{name: "unknown sampler", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "jaeger_remote"}, wantErr: "OTEL_TRACES_SAMPLER"},
		{name: "b3", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_PROPAGATORS": "b3"}, wantErr: "not supported"},
		{name: "bad timeout", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TIMEOUT": "2s"}, wantErr: "milliseconds"},
		{name: "bad header", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_HEADERS": "Bearer s3cret"}, wantErr: "key=value"},
		{name: "bad compression", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, wantErr: "gzip or none"},
		{name: "bad queue", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_BSP_MAX_QUEUE_SIZE": "0"}, wantErr: "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := read(env(tt.env), "oauthd", "v1")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("the error %q shows a header's value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.on != tt.on || s.endpoint != tt.endpoint || s.samplerName != tt.sampler {
				t.Fatalf("on %v endpoint %q sampler %q, want %v %q %q", s.on, s.endpoint, s.samplerName, tt.on, tt.endpoint, tt.sampler)
			}
		})
	}
	s, _ := read(env(everything), "oauthd", "v1")
	if s.headers["api-key"] != "s=cret" || s.headers["x"] != "y" || s.timeout != 2*time.Second || !s.gzip || len(s.batch) != 2 {
		t.Errorf("headers %v timeout %v gzip %v batch options %d", s.headers, s.timeout, s.gzip, len(s.batch))
	}
	res := map[string]string{}
	for _, a := range s.resource {
		res[string(a.Key)] = a.Value.AsString()
	}
	if res["service.name"] != "auth-eu" || res["service.version"] != "v1" || res["deployment.environment"] != "prod" {
		t.Errorf("resource %v", res)
	}
}

// The start-up line shows where spans go, never with what credentials.
func TestLogAttrs(t *testing.T) {
	tr, err := New(env(map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://u:s3cret@c/v1/traces?key=s3cret",
		"OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cret"}), "oauthd", "v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(time.Second)
	got := fmt.Sprint(tr.LogAttrs()...)
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "https://u:xxxxx@c/v1/traces") || !strings.Contains(got, "parentbased_always_on") {
		t.Errorf("LogAttrs %s", got)
	}
}

// Off, New makes nothing and every method is safe; the packages get nil.
func TestOff(t *testing.T) {
	tr, err := New(env(nil), "oauthd", "v1", nil)
	if err != nil || tr.On() || tr.Provider != nil || tr.Propagator != nil || tr.ChildrenOnly() != nil {
		t.Fatalf("off: %+v %v", tr, err)
	}
	if tr.Close(time.Second) != nil {
		t.Fatal("Close of tracing off failed")
	}
	log := slog.Default()
	if tr.Logger(log) != log {
		t.Error("the logger was wrapped with tracing off")
	}
}

// ChildrenOnly makes a span only below another; the logger adds the ids
// of the context's span to a line logged with it.
func TestChildrenOnlyAndLogger(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := &Tracing{Provider: tp, sdk: tp}
	redis := tr.ChildrenOnly().Tracer("redis")
	_, orphan := redis.Start(context.Background(), "xread")
	orphan.End()
	ctx, req := tp.Tracer("web").Start(context.Background(), "POST /oauth/token")
	_, child := redis.Start(ctx, "evalsha")
	child.End()
	req.End()
	spans := rec.Ended()
	if len(spans) != 2 || spans[0].Name() != "evalsha" || spans[0].Parent().SpanID() != req.SpanContext().SpanID() {
		t.Fatalf("%d spans, want only evalsha below the request", len(spans))
	}

	var buf bytes.Buffer
	log := tr.Logger(slog.New(slog.NewJSONHandler(&buf, nil))).With("component", "x")
	log.InfoContext(ctx, "traced")
	log.Info("untraced")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var traced, untraced map[string]any
	json.Unmarshal([]byte(lines[0]), &traced)
	json.Unmarshal([]byte(lines[1]), &untraced)
	sc := trace.SpanContextFromContext(ctx)
	if traced["trace_id"] != sc.TraceID().String() || traced["span_id"] != sc.SpanID().String() || traced["component"] != "x" {
		t.Errorf("traced line %v", traced)
	}
	if _, ok := untraced["trace_id"]; ok {
		t.Errorf("untraced line %v has a trace_id", untraced)
	}
}
