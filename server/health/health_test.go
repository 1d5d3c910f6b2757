package health

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProbes(t *testing.T) {
	down := func(context.Context) error { return errors.New("dial tcp 10.0.0.7:6379: connection refused") }
	up := func(context.Context) error { return nil }
	hang := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	tests := []struct {
		name       string
		ping       func(context.Context) error
		probe      func(*Checker) http.HandlerFunc
		status     int
		want       Status
		retryAfter bool
	}{
		{"alive with redis up", up, (*Checker).aliveFunc, 200, Status{Status: "ok"}, false},
		{"alive with redis down: nothing checked", down, (*Checker).aliveFunc, 200, Status{Status: "ok"}, false},
		{"ready", up, (*Checker).readyFunc, 200, Status{Status: "ok", Checks: map[string]string{"redis": "ok"}}, false},
		{"not ready: refused", down, (*Checker).readyFunc, 503, Status{Status: "unavailable", Checks: map[string]string{"redis": "unreachable"}}, true},
		{"not ready: past the deadline", hang, (*Checker).readyFunc, 503, Status{Status: "unavailable", Checks: map[string]string{"redis": "timeout"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Config{Ping: tt.ping, Timeout: 20 * time.Millisecond})
			w := httptest.NewRecorder()
			start := time.Now()
			tt.probe(c)(w, httptest.NewRequest(http.MethodGet, "/", nil))
			if d := time.Since(start); d > time.Second {
				t.Errorf("probe took %v: the deadline did not hold", d)
			}
			var got Status
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if w.Code != tt.status || got.Status != tt.want.Status || len(got.Checks) != len(tt.want.Checks) || got.Checks["redis"] != tt.want.Checks["redis"] {
				t.Errorf("got %d %+v, want %d %+v", w.Code, got, tt.status, tt.want)
			}
			if (w.Header().Get("Retry-After") != "") != tt.retryAfter {
				t.Errorf("Retry-After %q", w.Header().Get("Retry-After"))
			}
			if strings.Contains(w.Body.String(), "10.0.0.7") {
				t.Error("the cause, with an internal address, reached the caller")
			}
		})
	}
}

func (c *Checker) aliveFunc() http.HandlerFunc { return c.Alive }
func (c *Checker) readyFunc() http.HandlerFunc { return c.Ready }

// Readiness is logged when it changes, not on every probe.
func TestReadyLogsChangesOnly(t *testing.T) {
	var logs bytes.Buffer
	var fail bool
	c := New(Config{
		Ping: func(context.Context) error {
			if fail {
				return errors.New("refused")
			}
			return nil
		},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	for _, f := range []bool{false, false, true, true, true, false, false} {
		fail = f
		c.Ready(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}
	if got := strings.Count(logs.String(), "\n"); got != 3 {
		t.Fatalf("%d log lines for 3 changes:\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), "not ready") || !strings.Contains(logs.String(), "cause=refused") {
		t.Fatalf("logs:\n%s", logs.String())
	}
}
