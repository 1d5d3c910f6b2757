package web

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/clientip"
)

// Config is what a surface tells the kit about itself.
type Config struct {
	// Logger receives the lines of failed requests (5xx) and everything
	// that is not a request line; nil discards.
	Logger *slog.Logger
	// Access receives the lines of requests that went well (or failed at
	// info level: 4xx), which cmd may batch; nil means Logger.
	Access *slog.Logger
	// SampleOK logs one in this many successful requests; failures are
	// always logged. 0 or 1 logs every request.
	SampleOK int
	// Observer hears about every request (metrics); nil means nobody.
	Observer Observer
	// Done, when set, is called after every request with its log line
	// and status: a surface's own metrics, read from what its handlers
	// logged, so the handlers know nothing of metrics.
	Done func(c echo.Context, l *RequestLog, status int)
	// Proxies decides the client's address; nil trusts no proxy.
	Proxies *clientip.Proxies
	// NotFound is the error_description of a path no route matches.
	NotFound string
	// Tracing, when set, makes a server span of every request (see
	// Tracing); the zero value traces nothing.
	Tracing Tracing
}

// NewEcho is an echo instance with the kit's behaviour: JSON errors, one
// log line per request, and the client's address (c.RealIP) taken from
// the socket, or from Forwarded / X-Forwarded-For only when the peer is a
// trusted proxy: those headers are client-controlled and must not open an
// IP allowlist or dodge a rate limit.
func NewEcho(cfg Config) *echo.Echo {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Access == nil {
		cfg.Access = cfg.Logger
	}
	if cfg.Proxies == nil {
		cfg.Proxies = clientip.NewProxies(nil)
	}
	if cfg.NotFound == "" {
		cfg.NotFound = "no such endpoint"
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(cfg.NotFound)
	proxies := cfg.Proxies
	e.IPExtractor = func(r *http.Request) string {
		if a := proxies.ClientAddr(r); a.IsValid() {
			return a.String()
		}
		return ""
	}
	e.Use(logRequests(cfg))
	return e
}

// errorHandler answers what echo itself rejects (unknown route, wrong
// method) in the same JSON shape, so no client ever sees an HTML or
// plain-text error.
func errorHandler(notFound string) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var he *echo.HTTPError
		if errors.As(err, &he) {
			var e *Error
			switch he.Code {
			case http.StatusNotFound:
				e = &Error{Code: "not_found", Description: notFound, Status: http.StatusNotFound}
			case http.StatusMethodNotAllowed:
				e = &Error{Code: "invalid_request", Description: "method " + c.Request().Method + " is not allowed here", Status: http.StatusMethodNotAllowed}
			case http.StatusRequestEntityTooLarge:
				e = &Error{Code: "invalid_request", Description: "request body too large", Status: http.StatusRequestEntityTooLarge}
			default:
				e = &Error{Code: "invalid_request", Description: http.StatusText(he.Code), Status: he.Code}
			}
			err = e
		}
		_ = WriteError(c, err)
	}
}
