package web

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"strconv"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Tracing is how a surface traces its requests with OpenTelemetry. cmd
// builds the provider from the OTEL_* environment and passes it down; no
// package here reads otel's global provider. The zero value traces
// nothing and costs nothing: no span, no context, no header read.
type Tracing struct {
	// Provider makes one server span per request and the surface's own
	// child spans; nil makes none.
	Provider trace.TracerProvider
	// Propagator reads the caller's trace context (the W3C traceparent
	// header) so that a request's span joins the caller's trace; nil
	// starts a new trace at every request.
	Propagator propagation.TextMapPropagator
}

// instrumentation is the scope name of the spans the kit and the
// surfaces make.
const instrumentation = "github.com/oauthd/oauthd/server"

// Tracer is the tracer a surface makes its child spans with, nil when
// tracing is off.
func (t Tracing) Tracer() trace.Tracer {
	if t.Provider == nil {
		return nil
	}
	return t.Provider.Tracer(instrumentation)
}

// StartSpan starts an internal span named name below ctx's span, with
// tracer, and returns the span to End. With a nil tracer (tracing off) it
// returns ctx and a span that does nothing, without allocating.
func StartSpan(ctx context.Context, tracer trace.Tracer, name string) (context.Context, trace.Span) {
	if tracer == nil {
		return ctx, noop.Span{}
	}
	return tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal))
}

// HeaderRequestID is the header a request's id travels in: taken from
// the request when a proxy or the caller set a well-formed one, made up
// otherwise, and always answered, so a caller can quote it and an
// operator find the request's log line (request_id).
const HeaderRequestID = "X-Request-Id"

// maxRequestID bounds a request id taken from a request: a UUID is 36
// bytes, a load balancer's trace header about 40.
const maxRequestID = 128

// validRequestID reports whether a caller's request id may be logged and
// echoed as is: 1 to maxRequestID bytes of letters, digits and
// -_.:/+=@ (UUIDs, hex, base64, ULIDs, "Root=1-..." ids), so it can
// neither break a log line nor smuggle anything into a header.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case b == '-', b == '_', b == '.', b == ':', b == '/', b == '+', b == '=', b == '@':
		default:
			return false
		}
	}
	return true
}

// newRequestID is 128 random bits in hex. math/rand/v2's generator is
// seeded from the operating system and needs no lock; a request id must be
// unique and must not count requests (a counter would tell any client the
// server's traffic), not be secret.
func newRequestID() string {
	var b [16]byte
	var h [32]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	hex.Encode(h[:], b[:])
	return string(h[:]) // the one allocation: hex.EncodeToString makes two
}

// requestID sets the request's id (the caller's when well-formed, else a
// new one) on the answer and on l.
func requestID(c echo.Context, l *RequestLog) {
	id := ""
	if v := c.Request().Header[HeaderRequestID]; len(v) > 0 && validRequestID(v[0]) {
		id = v[0]
	} else {
		id = newRequestID()
	}
	l.requestID[0] = id
	// The slice is l's own: setting the header costs no allocation.
	c.Response().Header()[HeaderRequestID] = l.requestID[:]
}

// RequestID is the request's id, as answered in X-Request-Id ("" outside
// NewEcho's middleware).
func RequestID(c echo.Context) string { return Log(c).requestID[0] }

// serverSpan is the span of one request: started once the route is known
// (echo routes before the middleware runs), as the child of the caller's
// span when the propagator finds one.
type serverSpan struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

func (s serverSpan) start(c echo.Context, l *RequestLog) trace.Span {
	r := c.Request()
	ctx := r.Context()
	if s.prop != nil {
		ctx = s.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	route := routeAtStart(c)
	ctx, span := s.tracer.Start(ctx, r.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("http.route", route),
			attribute.String("url.scheme", scheme),
			attribute.String("client.address", l.client(c)),
			attribute.String("request.id", l.requestID[0]),
		))
	c.SetRequest(r.WithContext(ctx))
	return span
}

// end records what the request came to: never the raw path, a header or
// a form value, only the route, the status, the client_id the caller
// presented and the OAuth error code answered (its description can quote
// the request).
func (serverSpan) end(c echo.Context, span trace.Span, l *RequestLog, status int) {
	if !span.IsRecording() {
		span.End()
		return
	}
	if route := Route(c); route != routeAtStart(c) {
		// A request no route matched by pattern falls to "unmatched".
		span.SetName(c.Request().Method + " " + route)
		span.SetAttributes(attribute.String("http.route", route))
	}
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if id := l.ClientID(); id != "" {
		span.SetAttributes(attribute.String("oauth.client_id", id))
	}
	if l.code != "" {
		span.SetAttributes(attribute.String("oauth.error", l.code))
	}
	if status >= 500 {
		// Only server-side failures are span errors (OpenTelemetry's
		// HTTP conventions): a 4xx is the caller's.
		span.SetStatus(codes.Error, strconv.Itoa(status)+" "+l.code)
	}
	span.End()
}

func routeAtStart(c echo.Context) string {
	if p := c.Path(); p != "" {
		return p
	}
	return UnmatchedRoute
}
