package introspectecho

import (
	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/introspect"
)

// Middleware lets a request through only with an active token granting
// every one of scopes; see introspect.Client.Require, which it wraps, for
// what is refused and how.
//
// It calls the client's Gate directly rather than wrapping Require with
// echo.WrapMiddleware, which would build a handler and a response wrapper on
// every request.
func Middleware(c *introspect.Client, scopes ...string) echo.MiddlewareFunc {
	g := c.Gate(scopes...)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			ctx, ok := g.Check(ec.Response(), ec.Request())
			if !ok {
				return nil // the refusal is written
			}
			ec.SetRequest(ec.Request().WithContext(ctx))
			return next(ec)
		}
	}
}

// Info returns the introspection answer of a request that Middleware let
// through. Treat it as read-only: it may be shared with other requests.
func Info(c echo.Context) (*introspect.Response, bool) {
	return introspect.FromContext(c.Request().Context())
}
