package introspect

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// instrumentation is the scope name of the client's spans.
const instrumentation = "github.com/oauthd/oauthd/server/introspect"

// traceRequest sends the trace context of req's context along with req
// (Config.Propagator) and, with a tracer, starts the client span of the
// request to oauthd, named name, which the caller ends once answered
// (answered). Tracing off, it returns req and a span that does nothing.
//
// The span says what was asked of whom, never with what: the token and
// the credentials travel in the body and a header no span reads.
func (c *Client) traceRequest(req *http.Request, name string) (*http.Request, trace.Span) {
	var span trace.Span = noop.Span{}
	if c.tracer != nil {
		var ctx context.Context
		ctx, span = c.tracer.Start(req.Context(), name, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(
				attribute.String("http.request.method", req.Method),
				attribute.String("server.address", req.URL.Hostname()),
				attribute.String("url.path", req.URL.Path),
			))
		req = req.WithContext(ctx)
	}
	if c.prop != nil {
		c.prop.Inject(req.Context(), propagation.HeaderCarrier(req.Header))
	}
	return req, span
}

// answered records on span how oauthd answered: its status, or that it did
// not (the error's text, which can name addresses, stays in the log).
func answered(span trace.Span, res *http.Response, err error) {
	if !span.IsRecording() {
		return
	}
	if err != nil {
		span.SetStatus(codes.Error, "no answer from oauthd")
		return
	}
	span.SetAttributes(attribute.Int("http.response.status_code", res.StatusCode))
	if res.StatusCode >= 400 {
		span.SetStatus(codes.Error, res.Status)
	}
}

// startSpan starts an internal span below ctx's; tracing off, a span
// that does nothing, without allocating.
func (c *Client) startSpan(ctx context.Context, name string) trace.Span {
	if c.tracer == nil {
		return noop.Span{}
	}
	_, span := c.tracer.Start(ctx, name)
	return span
}
