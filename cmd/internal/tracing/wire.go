package tracing

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// ChildrenOnly is Provider for instrumentation that runs both inside
// requests and on its own (a Redis client): its spans are made only below
// a span already in the context. A Redis command of a background loop (the
// revocation feed's blocking read, the key ring's reload, a health
// check's ping) would otherwise start a trace of one span every few
// seconds. nil when tracing is off.
func (t *Tracing) ChildrenOnly() trace.TracerProvider {
	if !t.On() {
		return nil
	}
	return childrenOnly{tp: t.Provider}
}

type childrenOnly struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

func (p childrenOnly) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childTracer{tracer: p.tp.Tracer(name, opts...)}
}

type childTracer struct {
	embedded.Tracer
	tracer trace.Tracer
}

func (t childTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, noop.Span{}
	}
	return t.tracer.Start(ctx, name, opts...)
}

// Logger adds trace_id and span_id to every line logged with the context
// of a traced request (log.InfoContext(ctx, ...)); the request lines
// themselves carry them already. Tracing off, it returns log as it is.
func (t *Tracing) Logger(log *slog.Logger) *slog.Logger {
	if !t.On() || log == nil {
		return log
	}
	return slog.New(traceHandler{log.Handler()})
}

type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
