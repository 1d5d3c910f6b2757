package introspectecho

import (
	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/introspect"
)

// Middleware lets a request through only with an active token granting
// every one of scopes; see introspect.Client.Require, which it wraps, for
// what is refused and how.
func Middleware(c *introspect.Client, scopes ...string) echo.MiddlewareFunc {
	return echo.WrapMiddleware(c.Require(scopes...))
}

// Info returns the introspection answer of a request that Middleware let
// through. Treat it as read-only: it may be shared with other requests.
func Info(c echo.Context) (*introspect.Response, bool) {
	return introspect.FromContext(c.Request().Context())
}
