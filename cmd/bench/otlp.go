package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// otlpSink is an OTLP/HTTP receiver that accepts every export and keeps
// only counts. With -trace-sample the servers export their spans here:
// tracing then costs them what it costs in production up to the network,
// and no collector's work is measured.
type otlpSink struct {
	srv            *http.Server
	url            string
	sample         float64
	exports, bytes atomic.Int64
}

// startOTLPSink starts the receiver on a loopback port; nil (and no
// error) when sample is 0, tracing off.
func startOTLPSink(sample float64) (*otlpSink, error) {
	if sample <= 0 {
		return nil, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &otlpSink{url: "http://" + ln.Addr().String(), sample: sample}
	s.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.exports.Add(1)
		s.bytes.Add(n)
		// An empty body is an empty ExportTraceServiceResponse: all
		// spans accepted.
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// env is what turns tracing on in oauthd and sms-api; none when s is nil.
func (s *otlpSink) env() []string {
	if s == nil {
		return nil
	}
	return []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + s.url,
		"OTEL_TRACES_SAMPLER=parentbased_traceidratio",
		"OTEL_TRACES_SAMPLER_ARG=" + strconv.FormatFloat(s.sample, 'g', -1, 64),
	}
}

// String describes the tracing for the report.
func (s *otlpSink) String() string {
	if s == nil {
		return "tracing:  off (make bench ARGS=-trace-sample=0.01 measures with it on)"
	}
	return fmt.Sprintf("tracing:  on in oauthd and sms-api, %g of traces sampled to an OTLP/HTTP receiver in the harness (%d exports, %d KiB received)",
		s.sample, s.exports.Load(), s.bytes.Load()>>10)
}

// close stops the receiver, once the servers have flushed their last spans.
func (s *otlpSink) close() {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}
