package web

import (
	"net/http"
	"net/http/pprof"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/health"
)

// AddHealth serves the probes on e. cmd mounts them on every listener, so
// an orchestrator can probe either port.
func AddHealth(e *echo.Echo, h *health.Checker) {
	e.GET(health.AlivePath, echo.WrapHandler(http.HandlerFunc(h.Alive)))
	e.GET(health.ReadyPath, echo.WrapHandler(http.HandlerFunc(h.Ready)))
	e.GET(health.LegacyPath, echo.WrapHandler(http.HandlerFunc(h.Ready)))
}

// HealthPaths are the probes' paths, for a mux that routes them.
var HealthPaths = []string{health.AlivePath, health.ReadyPath, health.LegacyPath}

func isProbe(route string) bool {
	return route == health.AlivePath || route == health.ReadyPath || route == health.LegacyPath
}

// MetricsPath is where the metrics are served (the admin listener, or the
// only one).
const MetricsPath = "/metrics"

// PprofPrefix is where the admin listener serves the profiler.
const PprofPrefix = "/debug/pprof/"

// AddPprof registers Go's profiler handlers by name on e. (Importing
// net/http/pprof also registers them on http.DefaultServeMux; oauthd never
// serves that mux, so they are reachable only where this is called.)
func AddPprof(e *echo.Echo) {
	e.GET(PprofPrefix+"*", echo.WrapHandler(http.HandlerFunc(pprof.Index)))
	e.GET(PprofPrefix+"cmdline", echo.WrapHandler(http.HandlerFunc(pprof.Cmdline)))
	e.GET(PprofPrefix+"profile", echo.WrapHandler(http.HandlerFunc(pprof.Profile)))
	e.GET(PprofPrefix+"symbol", echo.WrapHandler(http.HandlerFunc(pprof.Symbol)))
	e.POST(PprofPrefix+"symbol", echo.WrapHandler(http.HandlerFunc(pprof.Symbol)))
	e.GET(PprofPrefix+"trace", echo.WrapHandler(http.HandlerFunc(pprof.Trace)))
}
