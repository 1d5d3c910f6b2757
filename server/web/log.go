package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"
)

// RequestLog collects what a handler learns (the client_id, the error and
// its reason, a token's jti) so that each request is logged as exactly one
// structured line. It never holds a secret or a token.
type RequestLog struct {
	attrs []slog.Attr
	level slog.Level
	// code and reason are the error answered, kept apart from attrs for
	// the metrics.
	code, reason string
	// clientID is the client_id the caller presented (well-formed, not
	// necessarily existing), for the audit of failed authentications.
	clientID string
	// gone is set when the client hung up: nothing was answered.
	gone bool
	// remote and addr are the client's address as NewEcho's extractor
	// decided it, worked out once per request (see Addr).
	remote   string
	addr     netip.Addr
	addrDone bool
	// requestID is the request's id; the array backs the X-Request-Id
	// header's value, so answering it allocates nothing.
	requestID [1]string
	// buf backs attrs: a request adds a handful, so the line is built
	// without growing a slice (a traced request's ids may grow it: they
	// cost allocations anyway).
	buf [12]slog.Attr
}

const logKey = "oauthd.log"

// Log is the request's log line. Outside NewEcho's middleware (a unit
// test calling a handler) it is a fresh one nobody writes.
func Log(c echo.Context) *RequestLog {
	if l, ok := c.Get(logKey).(*RequestLog); ok {
		return l
	}
	return &RequestLog{}
}

// LogAttrs adds attributes to the request's one log line (the admin API
// adds the actor). Never pass a secret or a token.
func LogAttrs(c echo.Context, attrs ...slog.Attr) { Log(c).Add(attrs...) }

// Add adds attributes to the line. Never pass a secret or a token.
func (l *RequestLog) Add(attrs ...slog.Attr) {
	if l.attrs == nil {
		l.attrs = l.buf[:0]
	}
	l.attrs = append(l.attrs, attrs...)
}

// SetClientID records the client_id the caller presented, and logs it.
func (l *RequestLog) SetClientID(id string) {
	l.Add(slog.String("client_id", id))
	l.clientID = id
}

// ClientID is the client_id SetClientID recorded, "" if none.
func (l *RequestLog) ClientID() string { return l.clientID }

// Code and Reason are the error answered ("" when none).
func (l *RequestLog) Code() string   { return l.code }
func (l *RequestLog) Reason() string { return l.reason }

// Attr is the value of the line's attribute key, "" if absent.
func (l *RequestLog) Attr(key string) string {
	for _, a := range l.attrs {
		if a.Key == key {
			if a.Value.Kind() == slog.KindBool {
				// Value.String formats a bool into a new string; the
				// metrics read "active" on every introspection.
				return strconv.FormatBool(a.Value.Bool())
			}
			return a.Value.String()
		}
	}
	return ""
}

// Addr is the request's client address as NewEcho's extractor decided it
// (the socket peer, or the client a trusted proxy names), extracted once
// per request. The zero Addr when it does not parse.
func Addr(c echo.Context) netip.Addr {
	l := Log(c)
	l.client(c)
	return l.addr
}

func (l *RequestLog) client(c echo.Context) string {
	if !l.addrDone {
		l.remote = c.RealIP()
		l.addr, _ = netip.ParseAddr(l.remote)
		l.addrDone = true
	}
	return l.remote
}

func (l *RequestLog) fail(e *Error, cause error) {
	l.code, l.reason = e.Code, e.Reason
	l.Add(slog.String("error", e.Code))
	if e.Reason != "" {
		l.Add(slog.String("reason", e.Reason))
	}
	if e.Status >= 500 {
		// The cause of a 5xx is for the operator: log it (it never
		// reaches the client) at error level.
		l.level = slog.LevelError
		if cause != nil && cause != error(e) {
			l.Add(slog.String("cause", cause.Error()))
		}
	} else if l.level < slog.LevelInfo {
		l.level = slog.LevelInfo
	}
}

// HungUp records that the client went away before it was answered. The
// line says 499 at info level: nothing failed on the server's side, and a
// client giving up (a timeout of its own, a deploy, a dropped link) must
// not page anyone.
func (l *RequestLog) HungUp(reason string) {
	l.gone = true
	l.Add(slog.String("reason", reason))
}

// logRequests writes one line per request: method, route (the pattern
// matched, never the raw path or query, which a careless client may fill
// with credentials), status, duration, remote address, request id, the
// trace and span ids when the request is traced, and whatever the handler
// added. Lines at info level go to cfg.Access (which cmd may
// batch), louder ones (5xx) to cfg.Logger at once. With SampleOK > 1 only
// one in SampleOK successful requests is written; failures always are.
// The observer and Done hear about every request, sampled or not.
func logRequests(cfg Config) echo.MiddlewareFunc {
	var ok atomic.Uint64
	log, access, sampleOK, obs, done := cfg.Logger, cfg.Access, cfg.SampleOK, cfg.Observer, cfg.Done
	var spans *serverSpan
	if tracer := cfg.Tracing.Tracer(); tracer != nil {
		spans = &serverSpan{tracer: tracer, prop: cfg.Tracing.Propagator}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			l := &RequestLog{level: slog.LevelInfo}
			l.attrs = l.buf[:6] // method, route, status, duration, remote, request_id: set below
			c.Set(logKey, l)
			requestID(c, l)
			var span trace.Span
			if spans != nil {
				span = spans.start(c, l)
			}
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			if l.gone {
				status = StatusClientClosedRequest
			}
			end := time.Now()
			took := end.Sub(start)
			if obs != nil {
				obs.Request(Route(c), c.Request().Method, status, took)
			}
			if done != nil {
				done(c, l, status)
			}
			if span != nil {
				spans.end(c, span, l, status)
			}
			if sampleOK > 1 && status < 400 && l.level <= slog.LevelInfo && ok.Add(1)%uint64(sampleOK) != 1 {
				return nil
			}
			r := c.Request()
			l.attrs[0] = slog.String("method", r.Method)
			l.attrs[1] = slog.String("route", Route(c))
			l.attrs[2] = slog.Int("status", status)
			// Whole microseconds: slog.Duration prints nanoseconds, finer
			// than anyone reads, and a float (milliseconds) costs slog's
			// JSON handler a json.Marshal, a third of the line's cost.
			l.attrs[3] = slog.Int64("duration_us", took.Microseconds())
			l.attrs[4] = slog.String("remote", l.client(c))
			l.attrs[5] = slog.String("request_id", l.requestID[0])
			if span != nil {
				if sc := span.SpanContext(); sc.IsValid() {
					l.attrs = append(l.attrs, slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
				}
			}
			level := l.level
			if isProbe(c.Path()) && level <= slog.LevelInfo {
				// Orchestrators probe every few seconds: at info level
				// the probes would drown the requests that matter. The
				// checker logs readiness changes itself.
				level = slog.LevelDebug
			}
			out := access
			if l.level > slog.LevelInfo {
				out = log
			}
			// The record is built here, not by LogAttrs, which would read
			// the clock again and walk the stack for a source position
			// this log never prints.
			ctx := context.Background()
			if out.Enabled(ctx, level) {
				rec := slog.NewRecord(end, level, "http request", 0)
				rec.AddAttrs(l.attrs...)
				_ = out.Handler().Handle(ctx, rec)
			}
			if l.gone && !c.Response().Committed {
				// Nothing may reach the connection, not even the empty
				// 200 net/http would send for a handler that wrote
				// nothing: this panic makes it close the connection
				// (or reset the HTTP/2 stream) silently.
				panic(http.ErrAbortHandler)
			}
			return nil
		}
	}
}

// UnmatchedRoute stands for every path no route matched, in the log and
// the metrics.
const UnmatchedRoute = "unmatched"

// Route is the route pattern the request matched
// ("/admin/v1/applications/:id"), never the raw path: a path can carry a
// secret pasted in the wrong place, and in the metrics every distinct path
// would be a new series.
func Route(c echo.Context) string {
	route := c.Path()
	if route == "" || c.Response().Status == http.StatusNotFound && route == "/*" {
		return UnmatchedRoute
	}
	return route
}

// Observer hears about every answered request (the metrics). It runs on
// the request path, so it must be cheap.
type Observer interface {
	// Request reports the route pattern (never the raw path), method,
	// status and time to answer.
	Request(route, method string, status int, took time.Duration)
}
