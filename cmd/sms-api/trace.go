package main

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceRequests makes a server span of each request, the child of the
// caller's traceparent: the introspection client's span, and through it
// oauthd's, land below it, so one trace shows a call end to end. The span
// holds the route pattern, never the raw path, and the caller's client_id,
// never its token.
func traceRequests(tp trace.TracerProvider, prop propagation.TextMapPropagator, g guard) echo.MiddlewareFunc {
	tracer := tp.Tracer("github.com/oauthd/oauthd/cmd/sms-api")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			ctx := r.Context()
			if prop != nil {
				ctx = prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
			}
			pattern := route(c)
			ctx, span := tracer.Start(ctx, r.Method+" "+pattern, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", pattern)))
			defer span.End()
			c.SetRequest(r.WithContext(ctx))
			if err := next(c); err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			span.SetAttributes(attribute.Int("http.response.status_code", status))
			if id, _ := g.Caller(c); id != "" {
				span.SetAttributes(attribute.String("oauth.client_id", id))
			}
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
			return nil
		}
	}
}
