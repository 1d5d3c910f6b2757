package server

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// requestLog collects what a handler learns (client_id, the error and its
// reason, the token's jti) so that each request is logged as exactly one
// structured line. It never holds a secret or a token.
type requestLog struct {
	attrs []slog.Attr
	level slog.Level
	// clientID is the client_id the caller presented (well-formed, not
	// necessarily existing), for the audit of failed authentications.
	clientID string
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

func (l *requestLog) add(attrs ...slog.Attr) {
	if l.attrs == nil {
		l.attrs = l.buf[:0]
	}
	l.attrs = append(l.attrs, attrs...)
}

func (l *requestLog) fail(e *Error, cause error) {
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

// logRequests writes one line per request: method, path (never the query,
// which a careless client may fill with credentials), status, duration,
// remote address and whatever the handler added. Lines at info level go to
// access (which cmd may batch), louder ones (5xx) to log at once. With
// sampleOK > 1 only one in sampleOK successful requests is written;
// failures always are.
func logRequests(log, access *slog.Logger, sampleOK int) echo.MiddlewareFunc {
	var ok atomic.Uint64
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			l := &requestLog{level: slog.LevelInfo}
			l.attrs = l.buf[:5] // method, path, status, duration, remote: set below
			c.Set(logKey, l)
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			if sampleOK > 1 && status < 400 && l.level <= slog.LevelInfo && ok.Add(1)%uint64(sampleOK) != 1 {
				return nil
			}
			r := c.Request()
			l.attrs[0] = slog.String("method", r.Method)
			l.attrs[1] = slog.String("path", r.URL.Path)
			l.attrs[2] = slog.Int("status", status)
			l.attrs[3] = slog.Duration("duration", time.Since(start))
			l.attrs[4] = slog.String("remote", c.RealIP())
			out := access
			if l.level > slog.LevelInfo {
				out = log
			}
			out.LogAttrs(context.Background(), l.level, "http request", l.attrs...)
			return nil
		}
	}
}
