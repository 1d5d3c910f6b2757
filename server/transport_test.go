package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/oauthd/oauthd/server/web"
)

// logRecords is a slog handler that hands each record to the test, so a
// test waits for the request's log line instead of sleeping.
type logRecords chan slog.Record

func (c logRecords) Enabled(context.Context, slog.Level) bool      { return true }
func (c logRecords) Handle(_ context.Context, r slog.Record) error { c <- r; return nil }
func (c logRecords) WithAttrs([]slog.Attr) slog.Handler            { return c }
func (c logRecords) WithGroup(string) slog.Handler                 { return c }

func recordAttrs(r slog.Record) map[string]string {
	m := map[string]string{}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	return m
}

// requestLine waits for the next "http request" record; every record
// before it must be below error level.
func requestLine(t *testing.T, recs logRecords) (slog.Record, map[string]string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case r := <-recs:
			if r.Level >= slog.LevelError {
				t.Errorf("error-level line: %s %v", r.Message, recordAttrs(r))
			}
			if r.Message == "http request" {
				return r, recordAttrs(r)
			}
		case <-timeout:
			t.Fatal("no request log line within 10s")
		}
	}
}

// listen serves h on a loopback listener with the server settings cmd
// uses; readTimeout 0 keeps net/http's default (none).
func listen(t *testing.T, h http.Handler, readTimeout time.Duration) string {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ReadTimeout = readTimeout
	ts.Start()
	t.Cleanup(ts.Close)
	return ts.Listener.Addr().String()
}

// A client that hangs up mid-request is logged as 499 at info level, with
// no error line, and nothing is written to its connection.
func TestClientHangUp(t *testing.T) {
	recs := make(logRecords, 64)
	log := slog.New(recs)
	env := newTestServer(t, func(c *Config) { c.Logger = log })
	public := listen(t, env.srv.Handler(), 0)
	// A handler that waits for its client to leave, as a slow Redis
	// call would, then fails with the context's error.
	e := web.NewEcho(web.Config{Logger: log})
	e.POST("/slow", func(c echo.Context) error {
		<-c.Request().Context().Done()
		return web.WriteError(c, c.Request().Context().Err())
	})
	slow := listen(t, e, 0)

	const partial = "POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=client"
	tests := []struct {
		name, addr, request string
		halfClose           bool // close only the sending side, and read
		route, reason       string
	}{
		{"closed while sending the body", public, partial, false, "/oauth/token", "client closed the connection while sending the body"},
		{"half-closed while sending the body", public, partial, true, "/oauth/token", "client closed the connection while sending the body"},
		{"closed while waiting for the answer", slow, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", false, "/slow", "client closed the connection before the answer"},
		{"half-closed while waiting for the answer", slow, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", true, "/slow", "client closed the connection before the answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tt.request); err != nil {
				t.Fatal(err)
			}
			if tt.halfClose {
				if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
			} else {
				conn.Close()
			}
			rec, attrs := requestLine(t, recs)
			if rec.Level != slog.LevelInfo || attrs["status"] != "499" || attrs["route"] != tt.route || attrs["reason"] != tt.reason || attrs["error"] != "" {
				t.Fatalf("logged %s %v; want INFO status 499 route %s reason %q", rec.Level, attrs, tt.route, tt.reason)
			}
			if tt.halfClose {
				// The server closes without a byte: no 400, no empty 200.
				conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				if got, err := io.ReadAll(conn); len(got) != 0 || err != nil {
					t.Fatalf("the server wrote %q (%v) to a client that hung up", got, err)
				}
			}
		})
	}
}

// A body that does not arrive within the read timeout is answered 408
// with a fixed description: never the network error's text, which names
// the server's and the client's addresses.
func TestBodyReadTimeout(t *testing.T) {
	recs := make(logRecords, 64)
	env := newTestServer(t, func(c *Config) { c.Logger = slog.New(recs) })
	addr := listen(t, env.srv.Handler(), 300*time.Millisecond)
	for _, path := range []string{"/oauth/token", "/oauth/introspect", "/oauth/revoke"} {
		t.Run(path, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// Headers and the start of a body; the rest never comes.
			io.WriteString(conn, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ntoken=abc")
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			var body oauthError
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout || body.Error != "invalid_request" || body.Description != "could not read the request body before the read timeout; send the whole body promptly" {
				t.Fatalf("answered %d %+v", resp.StatusCode, body)
			}
			rec, attrs := requestLine(t, recs)
			if rec.Level != slog.LevelInfo || attrs["status"] != "408" || attrs["reason"] != "request body read timed out" {
				t.Fatalf("logged %s %v", rec.Level, attrs)
			}
			if s := body.Description + " " + attrs["reason"]; socketAddr.MatchString(s) || strings.Contains(s, "i/o timeout") {
				t.Fatalf("the network error leaks into the answer or the reason: %q", s)
			}
		})
	}
}

// socketAddr matches an address or port as net errors print them.
var socketAddr = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]|:\d+|->`)
