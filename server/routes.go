package server

import (
	"net/http"
	"net/http/pprof"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/health"
)

// routes registers every public route in one place.
func (s *Server) routes() {
	e := s.echo
	e.POST("/oauth/token", s.handleToken)
	e.POST("/oauth/introspect", s.handleIntrospect)
	e.POST("/oauth/revoke", s.handleRevoke)
	if s.cfg.Feed != nil {
		e.GET(FeedPath, s.handleFeed)
	}
	e.GET("/.well-known/oauth-authorization-server", s.handleMetadata)
	e.GET(JWKSPath, s.handleJWKS)
	AddHealth(e, s.cfg.Health)
}

// AddHealth serves the probes on e: the public listener and the admin
// listener both answer them, so an orchestrator can probe either port.
func AddHealth(e *echo.Echo, h *health.Checker) {
	e.GET(health.AlivePath, echo.WrapHandler(http.HandlerFunc(h.Alive)))
	e.GET(health.ReadyPath, echo.WrapHandler(http.HandlerFunc(h.Ready)))
	e.GET(health.LegacyPath, echo.WrapHandler(http.HandlerFunc(h.Ready)))
}

// MetricsPath is where the admin listener serves the metrics.
const MetricsPath = "/metrics"

// PprofPrefix is where the admin listener serves the profiler.
const PprofPrefix = "/debug/pprof/"

// AddPprof registers Go's profiler handlers by name on the admin echo.
// (Importing net/http/pprof also registers them on http.DefaultServeMux;
// oauthd never serves that mux, so they are reachable only here.)
func AddPprof(e *echo.Echo) {
	e.GET(PprofPrefix+"*", echo.WrapHandler(http.HandlerFunc(pprof.Index)))
	e.GET(PprofPrefix+"cmdline", echo.WrapHandler(http.HandlerFunc(pprof.Cmdline)))
	e.GET(PprofPrefix+"profile", echo.WrapHandler(http.HandlerFunc(pprof.Profile)))
	e.GET(PprofPrefix+"symbol", echo.WrapHandler(http.HandlerFunc(pprof.Symbol)))
	e.POST(PprofPrefix+"symbol", echo.WrapHandler(http.HandlerFunc(pprof.Symbol)))
	e.GET(PprofPrefix+"trace", echo.WrapHandler(http.HandlerFunc(pprof.Trace)))
}
