package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/health"
)

// routes registers every public route in one place.
func (s *Server) routes() {
	e := s.echo
	e.POST("/oauth/token", s.handleToken)
	e.POST("/oauth/introspect", s.handleIntrospect)
	e.POST("/oauth/revoke", s.handleRevoke)
	e.GET("/.well-known/oauth-authorization-server", s.handleMetadata)
	addHealth(e, s.cfg.Health)
}

// addHealth serves the probes on e: the public listener and the admin
// listener both answer them, so an orchestrator can probe either port.
func addHealth(e *echo.Echo, h *health.Checker) {
	e.GET(health.AlivePath, echo.WrapHandler(http.HandlerFunc(h.Alive)))
	e.GET(health.ReadyPath, echo.WrapHandler(http.HandlerFunc(h.Ready)))
	e.GET(health.LegacyPath, echo.WrapHandler(http.HandlerFunc(h.Ready)))
}
