package main

import (
	"log/slog"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/cmd/internal/tracing"
	"github.com/oauthd/oauthd/server/web"
)

// webTracing is the tracing the surfaces' Config takes: the zero value
// (nothing traced, nothing paid) when tracing is off.
func webTracing(t *tracing.Tracing) web.Tracing {
	if !t.On() {
		return web.Tracing{}
	}
	return web.Tracing{Provider: t.Provider, Propagator: t.Propagator}
}

// traceRedis makes each Redis command a span below the request that sent
// it, with go-redis's own OpenTelemetry hook. The commands' arguments are
// never recorded (db.statement off): they hold token digests, records and
// secrets' hashes. Commands outside a request (the background loops) make
// no span. Tracing off, no hook is installed.
func traceRedis(rdb goredis.UniversalClient, t *tracing.Tracing) error {
	if !t.On() {
		return nil
	}
	return redisotel.InstrumentTracing(rdb,
		redisotel.WithTracerProvider(t.ChildrenOnly()),
		redisotel.WithDBStatement(false),
		redisotel.WithCallerEnabled(false))
}

// closeTracing flushes the spans still buffered, bounded so that an
// unreachable collector cannot hold the exit.
func closeTracing(t *tracing.Tracing, log *slog.Logger) {
	if err := t.Close(5 * time.Second); err != nil {
		log.Warn("OpenTelemetry: flushing the last spans failed", "error", err.Error())
	}
}
