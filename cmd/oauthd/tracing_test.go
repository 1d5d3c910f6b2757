package main

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
)

// otlpSpan is one span as the receiver decoded it.
type otlpSpan struct {
	service, scope, name      string
	traceID, spanID, parentID string
	attrs                     map[string]string
}

// otlpReceiver is an OTLP/HTTP collector in the test: it decodes what the
// programs' real exporters post to /v1/traces, keeps the spans, and hands
// the text of every one (names, attributes, events, status, resource) to
// the leak scan.
type otlpReceiver struct {
	URL   string
	mu    sync.Mutex
	spans []otlpSpan
	text  strings.Builder
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(r.export))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	leaks.addSink("exported spans", "the spans exported in "+t.Name(), r.String)
	return r
}

func (r *otlpReceiver) export(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want a POST of protobuf to /v1/traces", http.StatusBadRequest)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	var msg coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &msg)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range msg.ResourceSpans {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			fmt.Fprintf(&r.text, "resource %s=%s\n", a.Key, anyText(a.Value))
			if a.Key == "service.name" {
				service = anyText(a.Value)
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				sp := otlpSpan{service: service, scope: ss.GetScope().GetName(), name: s.Name,
					traceID: hex.EncodeToString(s.TraceId), spanID: hex.EncodeToString(s.SpanId),
					parentID: hex.EncodeToString(s.ParentSpanId), attrs: map[string]string{}}
				fmt.Fprintf(&r.text, "span %s %q status %q\n", service, s.Name, s.GetStatus().GetMessage())
				writeAttrs(&r.text, s.Attributes, sp.attrs)
				for _, e := range s.Events {
					fmt.Fprintf(&r.text, "event %q\n", e.Name)
					writeAttrs(&r.text, e.Attributes, nil)
				}
				for _, l := range s.Links {
					writeAttrs(&r.text, l.Attributes, nil)
				}
				r.spans = append(r.spans, sp)
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

func writeAttrs(w io.Writer, attrs []*commonpb.KeyValue, into map[string]string) {
	for _, a := range attrs {
		v := anyText(a.Value)
		fmt.Fprintf(w, "  %s=%s\n", a.Key, v)
		if into != nil {
			into[a.Key] = v
		}
	}
}

// anyText renders an attribute value whatever its type.
func anyText(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BytesValue:
		return string(x.BytesValue)
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprint(x.IntValue)
	case *commonpb.AnyValue_DoubleValue:
		return fmt.Sprint(x.DoubleValue)
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprint(x.BoolValue)
	case *commonpb.AnyValue_ArrayValue:
		var parts []string
		for _, e := range x.ArrayValue.Values {
			parts = append(parts, anyText(e))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case *commonpb.AnyValue_KvlistValue:
		var b strings.Builder
		writeAttrs(&b, x.KvlistValue.Values, nil)
		return b.String()
	}
	return fmt.Sprint(v.GetValue())
}

func (r *otlpReceiver) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.text.String()
}

// wait returns the spans received once one named name from service has
// arrived (the exporters batch every 50ms here).
func (r *otlpReceiver) wait(t *testing.T, service, name string) []otlpSpan {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r.mu.Lock()
		spans := append([]otlpSpan(nil), r.spans...)
		r.mu.Unlock()
		for _, s := range spans {
			if s.service == service && s.name == name {
				return spans
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s span %q received within 10s; got %v", service, name, spans)
		}
	}
}

// TestTracingEndToEnd runs oauthd and the example sms-api with the OTEL_*
// variables pointing at an OTLP receiver, and follows one token request
// and one API call through the spans their real exporters send: the
// trace context the caller sent to sms-api reaches oauthd through the
// introspection request, so sms-api's request, its introspection client
// span and oauthd's /oauth/introspect span form one trace, with Redis
// commands below oauthd's request spans. Both programs' log lines carry
// the trace's ids and a request id; the spans join the leak scan.
func TestTracingEndToEnd(t *testing.T) {
	t.Parallel()
	smsBin := buildSMSAPI(t)
	recv := startOTLPReceiver(t)
	otel := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": recv.URL,
		"OTEL_BSP_SCHEDULE_DELAY":     "50",
	}
	p := startOAuthd(t, otel)
	id, secret := demoCredentials(t, p)
	m := regexp.MustCompile(`SMSAPI_CLIENT_ID=(\S+) SMSAPI_CLIENT_SECRET=(\S+)`).FindStringSubmatch(p.Stdout.String())
	if m == nil {
		t.Fatalf("no sms-api command printed:\n%s", p.Stdout)
	}
	api := startSMSAPI(t, smsBin, map[string]string{
		"SMSAPI_ISSUER": p.URL, "SMSAPI_CLIENT_ID": m[1], "SMSAPI_CLIENT_SECRET": m[2],
		"SMSAPI_FEED": "false", "SMSAPI_LOG_BUFFER": "0s",
		"OTEL_EXPORTER_OTLP_ENDPOINT": recv.URL, "OTEL_BSP_SCHEDULE_DELAY": "50",
	})

	// The token request: a new trace at oauthd, answered with a request id.
	resp := postForm(t, p.URL+"/oauth/token", "grant_type=client_credentials", basicAuth(id, secret))
	reqID := resp.Header.Get("X-Request-Id")
	tok, _ := getJSON(t, resp)["access_token"].(string)
	if resp.StatusCode != 200 || tok == "" || len(reqID) != 32 {
		t.Fatalf("token: %d, X-Request-Id %q", resp.StatusCode, reqID)
	}

	// The API call, with the caller's own trace context and request id.
	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest("POST", api.url+"/v1/sms", strings.NewReader(`{"to":["+447700900123"],"text":"hi"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("traceparent", "00-"+traceID+"-"+callerSpan+"-01")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/sms: %v %v", resp, err)
	}

	spans := recv.wait(t, "oauthd", "POST /oauth/introspect")
	spans = recv.wait(t, "sms-api", "POST /v1/sms") // sms-api ends its span last
	find := func(service, name, trace string) otlpSpan {
		t.Helper()
		for _, s := range spans {
			if s.service == service && s.name == name && (trace == "" || s.traceID == trace) {
				return s
			}
		}
		t.Fatalf("no %s span %q in trace %q among %d spans", service, name, trace, len(spans))
		return otlpSpan{}
	}
	redisBelow := func(parent otlpSpan) {
		t.Helper()
		for _, s := range spans {
			if s.parentID == parent.spanID && strings.Contains(s.scope, "redisotel") {
				if _, ok := s.attrs["db.statement"]; ok {
					t.Errorf("Redis span %q records the command's arguments", s.name)
				}
				return
			}
		}
		t.Errorf("no Redis span below %s %q", parent.service, parent.name)
	}

	issue := find("oauthd", "POST /oauth/token", "")
	if issue.parentID != "" || issue.attrs["http.route"] != "/oauth/token" || issue.attrs["http.response.status_code"] != "200" ||
		issue.attrs["oauth.client_id"] != id || issue.attrs["request.id"] != reqID {
		t.Errorf("token span: parent %q, attributes %v", issue.parentID, issue.attrs)
	}
	redisBelow(issue)

	call := find("sms-api", "POST /v1/sms", traceID)
	client := find("sms-api", "introspect", traceID)
	server := find("oauthd", "POST /oauth/introspect", traceID)
	if call.parentID != callerSpan {
		t.Errorf("sms-api's span is below %q, want the caller's %s", call.parentID, callerSpan)
	}
	if client.parentID != call.spanID || server.parentID != client.spanID {
		t.Errorf("parents: introspect below %q (want %s), oauthd's below %q (want %s)", client.parentID, call.spanID, server.parentID, client.spanID)
	}
	if call.attrs["oauth.client_id"] != id || server.attrs["oauth.client_id"] != m[1] {
		t.Errorf("client_ids: sms-api's span %q (want the daemon's), oauthd's %q (want the resource server's)",
			call.attrs["oauth.client_id"], server.attrs["oauth.client_id"])
	}
	redisBelow(server)

	// The request lines carry the ids: oauthd's introspection and token
	// lines, sms-api's call.
	line := func(logs func() string, route, trace string) map[string]any {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			for _, l := range strings.Split(logs(), "\n") {
				var rec map[string]any
				if json.Unmarshal([]byte(l), &rec) == nil && rec["route"] == route && (trace == "" || rec["trace_id"] == trace) {
					return rec
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no log line of %s in trace %q within 5s", route, trace)
			}
		}
	}
	if rec := line(p.Logs.String, "/oauth/introspect", traceID); rec["span_id"] != server.spanID || rec["request_id"] == "" {
		t.Errorf("oauthd's introspection line %v: want span_id %s and a request_id", rec, server.spanID)
	}
	if rec := line(p.Logs.String, "/oauth/token", issue.traceID); rec["request_id"] != reqID {
		t.Errorf("oauthd's token line %v: want request_id %s", rec, reqID)
	}
	if rec := line(api.logs.String, "/v1/sms", traceID); rec["span_id"] != call.spanID {
		t.Errorf("sms-api's line %v: want span_id %s", rec, call.spanID)
	}
	if !bytes.Contains([]byte(p.Logs.String()), []byte(`"msg":"OpenTelemetry tracing on"`)) {
		t.Error("oauthd did not say that tracing is on")
	}
}

// Without OTEL_* variables nothing is traced: no span, no ids in the
// log, but a request id all the same.
func TestTracingOffByDefault(t *testing.T) {
	t.Parallel()
	p := startOAuthd(t, nil)
	id, secret := demoCredentials(t, p)
	resp := postForm(t, p.URL+"/oauth/token", "grant_type=client_credentials", basicAuth(id, secret))
	resp.Body.Close()
	reqID := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 200 || reqID == "" {
		t.Fatalf("token: %d, X-Request-Id %q", resp.StatusCode, reqID)
	}
	for deadline := time.Now().Add(5 * time.Second); !contains(p.Logs.String(), `"request_id":"`+reqID+`"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line with request_id %s within 5s", reqID)
		}
	}
	if logs := p.Logs.String(); contains(logs, "trace_id") || contains(logs, "OpenTelemetry") {
		t.Errorf("tracing off, but the log speaks of it:\n%s", logs)
	}
}
