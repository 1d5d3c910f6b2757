package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/health"
)

// requestLog collects what a handler learns (client_id, the error and its
// reason, the token's jti) so that each request is logged as exactly one
// structured line. It never holds a secret or a token.
type requestLog struct {
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
	// decided it, worked out once per request (see clientAddr).
	remote   string
	addr     netip.Addr
	addrDone bool
	// buf backs attrs: a request adds a handful, so the line is built
	// without growing a slice.
	buf [12]slog.Attr
}

const logKey = "oauthd.log"

func reqLog(c echo.Context) *requestLog {
	if l, ok := c.Get(logKey).(*requestLog); ok {
		return l
	}
	return &requestLog{} // outside the middleware (unit tests): discard
}

// client is the request's client address as text, extracted once.
func (l *requestLog) client(c echo.Context) string {
	if !l.addrDone {
		l.remote = c.RealIP()
		l.addr, _ = netip.ParseAddr(l.remote)
		l.addrDone = true
	}
	return l.remote
}

func (l *requestLog) add(attrs ...slog.Attr) {
	if l.attrs == nil {
		l.attrs = l.buf[:0]
	}
	l.attrs = append(l.attrs, attrs...)
}

func (l *requestLog) fail(e *Error, cause error) {
	l.code, l.reason = e.Code, e.Reason
	l.add(slog.String("error", e.Code))
	if e.Reason != "" {
		l.add(slog.String("reason", e.Reason))
	}
	switch e.Status {
	case errServer.Status, errUnavailable.Status:
		// The cause of a 5xx is for the operator: log it (it never reaches
		// the client) at error level.
		l.level = slog.LevelError
		if cause != nil && cause != error(e) {
			l.add(slog.String("cause", cause.Error()))
		}
	default:
		if l.level < slog.LevelInfo {
			l.level = slog.LevelInfo
		}
	}
}

// hungUp records that the client went away before it was answered. The
// line says 499 at info level: nothing failed on the server's side, and a
// client giving up (a timeout of its own, a deploy, a dropped link) must
// not page anyone.
func (l *requestLog) hungUp(reason string) {
	l.gone = true
	l.add(slog.String("reason", reason))
}

// logRequests writes one line per request: method, route (the pattern
// matched, never the raw path or query, which a careless client may fill
// with credentials), status, duration,
// remote address and whatever the handler added. Lines at info level go to
// access (which cmd may batch), louder ones (5xx) to log at once. With
// sampleOK > 1 only one in sampleOK successful requests is written;
// failures always are. obs, when set, hears about every request, sampled
// or not.
func logRequests(log, access *slog.Logger, sampleOK int, obs Observer) echo.MiddlewareFunc {
	var ok atomic.Uint64
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			l := &requestLog{level: slog.LevelInfo}
			l.attrs = l.buf[:5] // method, route, status, duration, remote: set below
			c.Set(logKey, l)
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			if l.gone {
				status = statusClientClosedRequest
			}
			end := time.Now()
			took := end.Sub(start)
			if obs != nil {
				observe(obs, c, l, status, took)
			}
			if sampleOK > 1 && status < 400 && l.level <= slog.LevelInfo && ok.Add(1)%uint64(sampleOK) != 1 {
				return nil
			}
			r := c.Request()
			l.attrs[0] = slog.String("method", r.Method)
			l.attrs[1] = slog.String("route", routeOf(c))
			l.attrs[2] = slog.Int("status", status)
			// Whole microseconds: slog.Duration prints nanoseconds, finer
			// than anyone reads, and a float (milliseconds) costs slog's
			// JSON handler a json.Marshal, a third of the line's cost.
			l.attrs[3] = slog.Int64("duration_us", took.Microseconds())
			l.attrs[4] = slog.String("remote", l.client(c))
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

// unmatchedRoute stands for every path no route matched, in the log and
// the metrics.
const unmatchedRoute = "unmatched"

// routeOf is the route pattern the request matched
// ("/admin/v1/applications/:id"), never the raw path: a path can carry a
// secret pasted in the wrong place, and in the metrics every distinct path
// would be a new series.
func routeOf(c echo.Context) string {
	route := c.Path()
	if route == "" || c.Response().Status == http.StatusNotFound && route == "/*" {
		return unmatchedRoute
	}
	return route
}

func isProbe(route string) bool {
	return route == health.AlivePath || route == health.ReadyPath || route == health.LegacyPath
}

// Observer hears about every answered request: the metrics. Its methods
// run on the request path, so they must be cheap.
type Observer interface {
	// Request reports the route pattern (never the raw path), method,
	// status and time to answer.
	Request(route, method string, status int, took time.Duration)
	TokenIssued()
	// ClientAuthFailed reports an invalid_client answer with the server's
	// fixed reason ("wrong secret", "unknown client", ...).
	ClientAuthFailed(reason string)
	// Introspected reports "active" or the inactive reason.
	Introspected(result string)
}

// observe tells obs what the request log learned. Everything comes from
// the request log, which the handlers fill anyway, so the handlers know
// nothing of metrics.
func observe(obs Observer, c echo.Context, l *requestLog, status int, took time.Duration) {
	route := routeOf(c)
	obs.Request(route, c.Request().Method, status, took)
	if l.code == "invalid_client" {
		obs.ClientAuthFailed(l.reason)
	}
	switch route {
	case "/oauth/token":
		if attrValue(l.attrs, "event") == "token issued" {
			obs.TokenIssued()
		}
	case "/oauth/introspect":
		switch {
		case l.code != "":
			obs.Introspected("error")
		case attrValue(l.attrs, "active") == "true":
			obs.Introspected("active")
		case attrValue(l.attrs, "active") == "false":
			obs.Introspected(attrValue(l.attrs, "inactive_reason"))
		}
	}
}

// attrValue is the value of the request log's attribute key, "" if absent.
func attrValue(attrs []slog.Attr, key string) string {
	for _, a := range attrs {
		if a.Key == key {
			return a.Value.String()
		}
	}
	return ""
}

// LogAttrs adds attributes to the request's one log line (the admin API
// adds the actor). Never pass a secret or a token.
func LogAttrs(c echo.Context, attrs ...slog.Attr) { reqLog(c).add(attrs...) }
