// Package tracing builds a program's OpenTelemetry tracing from the
// standard OTEL_* environment variables: the tracer provider and the
// propagator that cmd passes down to the packages (none of which reads
// otel's globals), and what flushes the spans on exit.
//
// Tracing is off unless configured: with no OTLP endpoint and no
// OTEL_TRACES_EXPORTER=otlp, or with OTEL_SDK_DISABLED=true or
// OTEL_TRACES_EXPORTER=none, Provider and Propagator are nil, which every
// package reads as "trace nothing": no SDK, no exporter, and not even a
// no-op tracer's per-request context.
//
// The variables are read through the program's getenv (so a test can run
// several programs in one process, each with its own), except the TLS
// files of the exporter (OTEL_EXPORTER_OTLP_CERTIFICATE and friends),
// which the OTLP exporter reads from the process environment itself.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Tracing is a program's tracing. The zero value (and a nil *Tracing) is
// tracing off.
type Tracing struct {
	// Provider and Propagator are what the packages get; both nil when
	// tracing is off.
	Provider   trace.TracerProvider
	Propagator propagation.TextMapPropagator

	sdk      *sdktrace.TracerProvider
	endpoint string // where spans go, for the start-up line
	sampler  string
}

// Settings are what New read from the environment, validated.
type settings struct {
	on          bool
	endpoint    string // the traces URL
	headers     map[string]string
	timeout     time.Duration
	gzip        bool
	sampler     sdktrace.Sampler
	samplerName string
	propagator  propagation.TextMapPropagator
	resource    []attribute.KeyValue
	batch       []sdktrace.BatchSpanProcessorOption
}

// New reads the OTEL_* variables through getenv and, when they turn
// tracing on, starts an OTLP/HTTP exporter behind a batching tracer
// provider. service and version name the program (service.name,
// service.version) unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES
// say otherwise. The exporter's errors (a collector down) go to log, at
// warn level. A setting it cannot honour is an error: a program asked to
// trace must not silently not.
func New(getenv func(string) string, service, version string, log *slog.Logger) (*Tracing, error) {
	s, err := read(getenv, service, version)
	if err != nil || !s.on {
		return &Tracing{}, err
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(s.endpoint)}
	if len(s.headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(s.headers))
	}
	if s.timeout > 0 {
		opts = append(opts, otlptracehttp.WithTimeout(s.timeout))
	}
	if s.gzip {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	}
	// New makes no request: an unreachable collector costs failed exports
	// (logged), never the program's start.
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry: the OTLP exporter: %w", err)
	}
	res, err := sdkresource.New(context.Background(), sdkresource.WithTelemetrySDK(), sdkresource.WithAttributes(s.resource...))
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry: the resource: %w", err)
	}
	if log != nil {
		// The SDK reports failed exports through otel's one global
		// handler; without this it would print them with the standard
		// library's logger, outside the structured log.
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			log.Warn("OpenTelemetry: exporting spans failed", "error", err.Error())
		}))
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, s.batch...),
		sdktrace.WithSampler(s.sampler),
		sdktrace.WithResource(res),
	)
	t := &Tracing{Provider: tp, sdk: tp, endpoint: redactURL(s.endpoint), sampler: s.samplerName}
	if s.propagator != nil {
		t.Propagator = s.propagator
	}
	return t, nil
}

// On reports whether spans are made and exported.
func (t *Tracing) On() bool { return t != nil && t.sdk != nil }

// LogAttrs describe the tracing for a start-up log line: where spans go
// (without the URL's credentials; the headers, which may hold an API
// key, are never shown) and how they are sampled.
func (t *Tracing) LogAttrs() []any {
	if !t.On() {
		return []any{"tracing", false}
	}
	return []any{"tracing", true, "otlp_endpoint", t.endpoint, "sampler", t.sampler}
}

// Close flushes the spans not yet exported and stops the exporter,
// waiting at most timeout (a collector that does not answer must not
// hold the exit). It does nothing when tracing is off.
func (t *Tracing) Close(timeout time.Duration) error {
	if !t.On() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return t.sdk.Shutdown(ctx)
}

// read decodes and checks the variables.
func read(getenv func(string) string, service, version string) (settings, error) {
	var s settings
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	if strings.EqualFold(env("OTEL_SDK_DISABLED"), "true") {
		return s, nil
	}
	// Off unless configured: OTEL_TRACES_EXPORTER=otlp, or an endpoint.
	endpoint, specific := env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), true
	if endpoint == "" {
		endpoint, specific = env("OTEL_EXPORTER_OTLP_ENDPOINT"), false
	}
	switch exporters := env("OTEL_TRACES_EXPORTER"); exporters {
	case "":
		s.on = endpoint != ""
	case "none":
	case "otlp":
		s.on = true
	default:
		return s, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: only otlp (OTLP over HTTP) and none are supported", exporters)
	}
	if !s.on {
		return s, nil
	}
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := env(k); p != "" {
			if p != "http/protobuf" {
				return s, fmt.Errorf("%s=%q: only http/protobuf is supported; point the endpoint at the collector's OTLP/HTTP port (4318)", k, p)
			}
			break
		}
	}
	var err error
	if s.endpoint, err = tracesURL(endpoint, specific); err != nil {
		return s, err
	}
	if s.headers, err = keyValues(first(env, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")); err != nil {
		return s, fmt.Errorf("OTEL_EXPORTER_OTLP_HEADERS: %v", err)
	}
	if s.timeout, err = millis(env, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"); err != nil {
		return s, err
	}
	switch c := first(env, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"); c {
	case "", "none":
	case "gzip":
		s.gzip = true
	default:
		return s, fmt.Errorf("OTEL_EXPORTER_OTLP_COMPRESSION=%q: use gzip or none", c)
	}
	if s.sampler, s.samplerName, err = sampler(env("OTEL_TRACES_SAMPLER"), env("OTEL_TRACES_SAMPLER_ARG")); err != nil {
		return s, err
	}
	if s.propagator, err = propagators(getenv("OTEL_PROPAGATORS")); err != nil {
		return s, err
	}
	if s.resource, err = resource(env, service, version); err != nil {
		return s, err
	}
	s.batch, err = batching(env)
	return s, err
}

// first is the first of the variables keys that is set, "" if none.
func first(env func(string) string, keys ...string) string {
	for _, k := range keys {
		if v := env(k); v != "" {
			return v
		}
	}
	return ""
}

// tracesURL is where the exporter posts: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// as it is, OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces appended (the
// specification's rule), or the default local collector.
func tracesURL(endpoint string, specific bool) (string, error) {
	if endpoint == "" {
		return "http://localhost:4318/v1/traces", nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("OpenTelemetry endpoint %q: want an http:// or https:// URL, e.g. http://otel-collector:4318", redactURL(endpoint))
	}
	if !specific {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	}
	return u.String(), nil
}

// redactURL drops a password, and a query (where a collector's key might
// ride), from a URL before it is shown.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.Redacted()
}

// keyValues reads the specification's "k1=v1,k2=v2" lists (headers,
// resource attributes), values percent-encoded.
func keyValues(list string) (map[string]string, error) {
	if list == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range strings.Split(list, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			// The item is not shown: a header's value may be an API key.
			return nil, errors.New("want key=value pairs separated by commas")
		}
		v, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("the value of %s is not percent-encoded properly", k)
		}
		out[k] = v
	}
	return out, nil
}

// millis reads a duration in milliseconds from the first variable set.
func millis(env func(string) string, keys ...string) (time.Duration, error) {
	for _, k := range keys {
		if v := env(k); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("%s=%q: want a number of milliseconds", k, v)
			}
			return time.Duration(n) * time.Millisecond, nil
		}
	}
	return 0, nil
}

// sampler is OTEL_TRACES_SAMPLER's: parentbased_always_on by default.
func sampler(name, arg string) (sdktrace.Sampler, string, error) {
	ratio := 1.0
	if strings.HasSuffix(name, "traceidratio") && arg != "" {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, "", fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: want a ratio between 0 and 1, e.g. 0.01", arg)
		}
		ratio = r
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), "parentbased_always_on", nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), name, nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), name + " " + strconv.FormatFloat(ratio, 'g', -1, 64), nil
	case "always_on":
		return sdktrace.AlwaysSample(), name, nil
	case "always_off":
		return sdktrace.NeverSample(), name, nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), name + " " + strconv.FormatFloat(ratio, 'g', -1, 64), nil
	}
	return nil, "", fmt.Errorf("OTEL_TRACES_SAMPLER=%q: use always_on, always_off, traceidratio or their parentbased_ forms", name)
}

// propagators is OTEL_PROPAGATORS's: tracecontext,baggage by default;
// nil for none.
func propagators(list string) (propagation.TextMapPropagator, error) {
	if strings.TrimSpace(list) == "" {
		list = "tracecontext,baggage"
	}
	var ps []propagation.TextMapPropagator
	for _, name := range strings.Split(list, ",") {
		switch name = strings.TrimSpace(name); name {
		case "tracecontext":
			ps = append(ps, propagation.TraceContext{})
		case "baggage":
			ps = append(ps, propagation.Baggage{})
		case "none":
		default:
			return nil, fmt.Errorf("OTEL_PROPAGATORS: %q is not supported: use tracecontext, baggage or none", name)
		}
	}
	if len(ps) == 0 {
		return nil, nil
	}
	return propagation.NewCompositeTextMapPropagator(ps...), nil
}

// resource names the program: service.name and service.version, then
// OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME (the specification's
// order of precedence, last wins).
func resource(env func(string) string, service, version string) ([]attribute.KeyValue, error) {
	attrs := map[string]string{"service.name": service}
	if version != "" {
		attrs["service.version"] = version
	}
	extra, err := keyValues(env("OTEL_RESOURCE_ATTRIBUTES"))
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %v", err)
	}
	for k, v := range extra {
		attrs[k] = v
	}
	if name := env("OTEL_SERVICE_NAME"); name != "" {
		attrs["service.name"] = name
	}
	out := make([]attribute.KeyValue, 0, len(attrs))
	for k, v := range attrs {
		out = append(out, attribute.String(k, v))
	}
	return out, nil
}

// batching is the OTEL_BSP_* variables'.
func batching(env func(string) string) ([]sdktrace.BatchSpanProcessorOption, error) {
	var opts []sdktrace.BatchSpanProcessorOption
	delay, err := millis(env, "OTEL_BSP_SCHEDULE_DELAY")
	if err != nil {
		return nil, err
	}
	if delay > 0 {
		opts = append(opts, sdktrace.WithBatchTimeout(delay))
	}
	timeout, err := millis(env, "OTEL_BSP_EXPORT_TIMEOUT")
	if err != nil {
		return nil, err
	}
	if timeout > 0 {
		opts = append(opts, sdktrace.WithExportTimeout(timeout))
	}
	for _, v := range []struct {
		key string
		opt func(int) sdktrace.BatchSpanProcessorOption
	}{
		{"OTEL_BSP_MAX_QUEUE_SIZE", sdktrace.WithMaxQueueSize},
		{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", sdktrace.WithMaxExportBatchSize},
	} {
		if s := env(v.key); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("%s=%q: want a positive number", v.key, s)
			}
			opts = append(opts, v.opt(n))
		}
	}
	return opts, nil
}
