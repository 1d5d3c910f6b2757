package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/web"
)

// lockedBuffer is a log destination the handler and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			panic(line)
		}
		out = append(out, m)
	}
	return out
}

// One line per request, sampled for successes when asked, never for
// failures; the line names the client and the token's jti, never a secret
// or a token.
func TestRequestLog(t *testing.T) {
	tests := []struct {
		sample        int
		okLines, fail int
	}{
		{1, 6, 2},
		{3, 2, 2},
		{100, 1, 2},
	}
	for _, tt := range tests {
		var buf lockedBuffer
		env := newTestServer(t, func(c *Config) {
			c.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
			c.LogSampleOK = tt.sample
		})
		app := env.createApp(apps.NewApplication{})
		var tokens []string
		for range 6 {
			r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
			r.Header.Set("Authorization", basic(app.ClientID, app.Secret))
			w := env.do(r)
			if w.Code != 200 {
				t.Fatalf("token: %d %s", w.Code, w.Body)
			}
			tokens = append(tokens, decode[map[string]any](t, w.Body)["access_token"].(string))
		}
		for range 2 {
			r := formRequest("/oauth/token", url.Values{"grant_type": {"client_credentials"}})
			r.Header.Set("Authorization", basic(app.ClientID, "ocs_wrong"))
			if w := env.do(r); w.Code != 401 {
				t.Fatalf("wrong secret: %d", w.Code)
			}
		}
		var ok, failed int
		for _, l := range buf.lines() {
			if l["msg"] != "http request" || l["client_id"] != app.ClientID || l["route"] != "/oauth/token" {
				t.Fatalf("sample %d: unexpected line %v", tt.sample, l)
			}
			if l["status"] == float64(200) {
				ok++
				if jti, _ := l["jti"].(string); !strings.HasPrefix(jti, app.ClientID+".") {
					t.Errorf("success line without the jti: %v", l)
				}
			} else {
				failed++
			}
		}
		if ok != tt.okLines || failed != tt.fail {
			t.Errorf("sample %d: %d success and %d failure lines, want %d and %d", tt.sample, ok, failed, tt.okLines, tt.fail)
		}
		all := buf.b.String()
		for _, secret := range append(tokens, app.Secret, "ocs_wrong") {
			if strings.Contains(all, secret) {
				t.Fatalf("a credential appears in the log:\n%s", all)
			}
		}
	}
}

// The request line names the route pattern, never the raw path: a secret
// pasted into a URL must not reach the log.
func TestRequestLogRoute(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	e := web.NewEcho(web.Config{Logger: log, NotFound: "no such admin endpoint"})
	e.GET("/admin/v1/applications/:id", func(c echo.Context) error {
		return web.WriteError(c, &web.Error{Code: "not_found", Description: "no such application", Status: http.StatusNotFound})
	})
	public := newTestServer(t, func(c *Config) { c.Logger = log })
	tests := []struct {
		name, method, path string
		h                  http.Handler
		route              string
		status             int
	}{
		{"parameter", "GET", "/admin/v1/applications/ocs_SECRETLOOKINGTHING", e, "/admin/v1/applications/:id", 404},
		{"parameter and query", "GET", "/admin/v1/applications/ocs_A?client_secret=ocs_B", e, "/admin/v1/applications/:id", 404},
		{"wrong method", "DELETE", "/admin/v1/applications/ocs_C", e, "/admin/v1/applications/:id", 405},
		{"no route", "GET", "/nope/ocs_X", e, "unmatched", 404},
		{"no public route", "POST", "/oauth/token/ocs_D", public.srv.Handler(), "unmatched", 404},
		{"public route", "GET", "/.well-known/oauth-authorization-server", public.srv.Handler(), "/.well-known/oauth-authorization-server", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf.mu.Lock()
			buf.b.Reset()
			buf.mu.Unlock()
			w := httptest.NewRecorder()
			tt.h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
			lines := buf.lines()
			if len(lines) != 1 || lines[0]["route"] != tt.route || lines[0]["status"] != float64(tt.status) || w.Code != tt.status {
				t.Fatalf("answered %d, logged %v; want route %q status %d", w.Code, lines, tt.route, tt.status)
			}
			if _, ok := lines[0]["path"]; ok || strings.Contains(buf.b.String(), "ocs_") {
				t.Fatalf("the raw path reached the log: %s", buf.b.String())
			}
		})
	}
}
