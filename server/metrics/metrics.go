// Package metrics exposes oauthd's Prometheus metrics on a private registry.
//
// Nothing here is global: New builds a registry and its collectors, and the
// caller hands the Metrics to the server (which reports each request) and
// the Redis client (whose hooks time each command). Labels never hold a
// client_id, a token, an address or a raw path: routes are the registered
// patterns, so an attacker cannot grow the label set.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Build describes the running binary for oauthd_build_info.
type Build struct {
	Version, Revision, GoVersion string
}

// Metrics holds oauthd's collectors. It is safe for concurrent use.
type Metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	tokensIssued   prometheus.Counter
	authFailures   *prometheus.CounterVec
	introspections *prometheus.CounterVec
	redisDuration  *prometheus.HistogramVec
	redisErrors    *prometheus.CounterVec
	lockouts       *prometheus.CounterVec
	refusals       *prometheus.CounterVec
	monitored      *prometheus.CounterVec
	started        time.Time
}

// New builds the collectors on a fresh registry, with the Go runtime's
// and the process's own metrics.
func New(b Build) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(), started: time.Now(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthd_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "oauthd_http_request_duration_seconds",
			Help: "Time to answer an HTTP request, by route pattern and method.",
			// From a cached token answer (sub-millisecond) to a Redis
			// timeout (about a second).
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
		tokensIssued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "oauthd_tokens_issued_total",
			Help: "Access tokens issued at the token endpoint.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthd_client_auth_failures_total",
			Help: "Failed client authentications (invalid_client), by reason: unknown client, wrong secret, disabled, address not allowed, malformed.",
		}, []string{"reason"}),
		introspections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthd_introspections_total",
			Help: "Introspection answers by result: active, or the inactive reason (expired, revoked, unknown, malformed, ...).",
		}, []string{"result"}),
		redisDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "oauthd_redis_command_duration_seconds",
			Help:    "Redis command latency seen by oauthd, by command (pipelines and transactions as one).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"command"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthd_redis_errors_total",
			Help: "Redis commands that failed (not counting a missing key, nor the refusals go-redis expects: an older Redis refusing the connection handshake's optional commands, NOSCRIPT before a script is cached), by command.",
		}, []string{"command"}),
	}
	m.lockouts, m.refusals, m.monitored = newLimitCounters()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "oauthd_build_info",
		Help:        "Always 1; the labels say which oauthd is running.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "goversion": b.GoVersion},
	})
	build.Set(1)
	m.reg.MustRegister(m.requests, m.duration, m.tokensIssued, m.authFailures, m.introspections,
		m.redisDuration, m.redisErrors, m.lockouts, m.refusals, m.monitored, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where further collectors (the Redis pool) are registered.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Request counts one answered request. route must be the registered
// pattern ("/admin/v1/applications/:id"), never the raw path.
func (m *Metrics) Request(route, method string, status int, took time.Duration) {
	method = knownMethod(method)
	m.requests.WithLabelValues(route, method, statusText(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(took.Seconds())
}

// TokenIssued counts one access token issued.
func (m *Metrics) TokenIssued() { m.tokensIssued.Inc() }

// ClientAuthFailed counts a failed client authentication. reason is one
// of the server's fixed reasons, never caller input.
func (m *Metrics) ClientAuthFailed(reason string) { m.authFailures.WithLabelValues(reason).Inc() }

// Introspected counts one introspection answer.
func (m *Metrics) Introspected(result string) { m.introspections.WithLabelValues(result).Inc() }

// knownMethod keeps a caller's made-up methods out of the label set.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions:
		return m
	}
	return "other"
}

// statusText avoids an allocation for the common codes.
func statusText(code int) string {
	switch code {
	case 200:
		return "200"
	case 201:
		return "201"
	case 204:
		return "204"
	case 400:
		return "400"
	case 401:
		return "401"
	case 403:
		return "403"
	case 404:
		return "404"
	case 503:
		return "503"
	}
	return strconv.Itoa(code)
}
