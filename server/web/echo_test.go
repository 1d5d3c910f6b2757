package web

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/health"
)

type observed struct{ routes []string }

func (o *observed) Request(route, method string, status int, _ time.Duration) {
	o.routes = append(o.routes, method+" "+route+" "+http.StatusText(status))
}

// What echo itself refuses is answered in the kit's JSON shape with the
// surface's own 404 text; every request is one log line, observed and
// handed to Done; a probe is logged at debug level.
func TestEchoKit(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	obs := &observed{}
	var done []string
	e := NewEcho(Config{Logger: log, Observer: obs, NotFound: "no such thing here",
		Done: func(c echo.Context, l *RequestLog, status int) { done = append(done, l.Attr("who")+" "+l.Code()) }})
	e.GET("/hello/:id", func(c echo.Context) error {
		Log(c).SetClientID("c1")
		LogAttrs(c, slog.String("who", "me"))
		return WriteError(c, &Error{Code: "slow_down", Description: "wait", Status: http.StatusTooManyRequests, RetryAfter: 1500 * time.Millisecond})
	})
	AddHealth(e, health.New(health.Config{Ping: func(context.Context) error { return nil }}))

	tests := []struct {
		method, path string
		status       int
		code, desc   string
		header       string
	}{
		{"GET", "/nope", 404, "not_found", "no such thing here", ""},
		{"POST", "/hello/x", 405, "invalid_request", "method POST is not allowed here", ""},
		{"GET", "/hello/ocs_SECRET", 429, "slow_down", "wait", "2"},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
		var body struct{ Error, Error_description string }
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s %s: not JSON: %s", tt.method, tt.path, w.Body)
		}
		if w.Code != tt.status || body.Error != tt.code || body.Error_description != tt.desc {
			t.Errorf("%s %s: %d %+v, want %d %s %q", tt.method, tt.path, w.Code, body, tt.status, tt.code, tt.desc)
		}
		if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Retry-After") != tt.header {
			t.Errorf("%s %s: headers %v", tt.method, tt.path, w.Header())
		}
	}
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest("GET", health.AlivePath, nil))
	if w.Code != 200 {
		t.Fatalf("probe: %d", w.Code)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want one per request:\n%s", len(lines), buf.String())
	}
	var probe map[string]any
	json.Unmarshal([]byte(lines[3]), &probe)
	if probe["level"] != "DEBUG" || probe["route"] != health.AlivePath {
		t.Errorf("probe line %v: want DEBUG", probe)
	}
	if strings.Contains(buf.String(), "ocs_SECRET") || !strings.Contains(lines[2], `"client_id":"c1"`) {
		t.Errorf("the raw path reached the log, or the client_id did not:\n%s", lines[2])
	}
	wantObs := []string{"GET unmatched Not Found", "POST /hello/:id Method Not Allowed", "GET /hello/:id Too Many Requests", "GET " + health.AlivePath + " OK"}
	if strings.Join(obs.routes, "|") != strings.Join(wantObs, "|") {
		t.Errorf("observed %q, want %q", obs.routes, wantObs)
	}
	if len(done) != 4 || done[2] != "me slow_down" {
		t.Errorf("Done heard %q", done)
	}
}
