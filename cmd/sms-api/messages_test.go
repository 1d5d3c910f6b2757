package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

func TestSendRequestValidate(t *testing.T) {
	many := make([]string, maxRecipients+1)
	for i := range many {
		many[i] = "+4477009001" + strings.Repeat("0", 2)
	}
	tests := []struct {
		name    string
		req     sendRequest
		want    []string
		wantErr string
	}{
		{"one", sendRequest{To: []string{"+447700900123"}, Text: "hi"}, []string{"+447700900123"}, ""},
		{"duplicates dropped, spaces trimmed", sendRequest{To: []string{"+447700900123", " +447700900123 "}, Text: "hi"}, []string{"+447700900123"}, ""},
		{"no recipients", sendRequest{Text: "hi"}, nil, "to: at least one"},
		{"not E.164", sendRequest{To: []string{"07700900123"}, Text: "hi"}, nil, "to[0]"},
		{"spaces inside", sendRequest{To: []string{"+44 7700 900123"}, Text: "hi"}, nil, "to[0]"},
		{"leading zero", sendRequest{To: []string{"+0447700900"}, Text: "hi"}, nil, "to[0]"},
		{"too long", sendRequest{To: []string{"+1234567890123456"}, Text: "hi"}, nil, "to[0]"},
		{"second bad", sendRequest{To: []string{"+447700900123", "+44x"}, Text: "hi"}, nil, "to[1]"},
		{"too many", sendRequest{To: many, Text: "hi"}, nil, "at most 1000"},
		{"blank text", sendRequest{To: []string{"+447700900123"}, Text: "  "}, nil, "text"},
		{"text too long", sendRequest{To: []string{"+447700900123"}, Text: strings.Repeat("a", maxTextChars+1)}, nil, "text"},
		{"invalid UTF-8", sendRequest{To: []string{"+447700900123"}, Text: "\xff"}, nil, "UTF-8"},
	}
	for _, tt := range tests {
		got, err := tt.req.validate()
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: %v %v", tt.name, got, err)
		}
	}
}

func TestParts(t *testing.T) {
	tests := []struct {
		text string
		want int
	}{
		{"hi", 1},
		{strings.Repeat("a", 160), 1},
		{strings.Repeat("a", 161), 2},
		{strings.Repeat("a", 306), 2},
		{strings.Repeat("a", 307), 3},
		{strings.Repeat("é", 70), 1},
		{strings.Repeat("é", 71), 2},
	}
	for _, tt := range tests {
		if got := parts(tt.text); got != tt.want {
			t.Errorf("parts(%d chars) = %d, want %d", len([]rune(tt.text)), got, tt.want)
		}
	}
}

func TestOutbox(t *testing.T) {
	box := newOutbox()
	m := box.add("app1", "", []string{"+447700900123"}, "hi", time.Now())
	if got, ok := box.get("app1", m.ID); !ok || got.Text != "hi" {
		t.Fatal("sender cannot read its message")
	}
	if _, ok := box.get("app2", m.ID); ok {
		t.Fatal("another application read the message")
	}
	for range maxStored {
		box.add("app1", "", []string{"+447700900123"}, "x", time.Now())
	}
	if _, ok := box.get("app1", m.ID); ok {
		t.Fatal("outbox is not bounded")
	}
}

// The request log names the route, never the raw path: a token pasted
// into a URL stays out of the log. Each line has the method, route, status
// and duration, whether the route's attributes were encoded ahead (a
// registered method and route) or not; 5xx lines go to log, the rest to
// access.
func TestRequestLogRoute(t *testing.T) {
	var accessBuf, logBuf bytes.Buffer
	access := slog.New(slog.NewJSONHandler(&accessBuf, nil))
	log := slog.New(slog.NewJSONHandler(&logBuf, nil))
	e := echo.New()
	e.GET("/v1/sms/:id", func(c echo.Context) error { return c.NoContent(404) })
	e.GET("/boom", func(c echo.Context) error { return c.NoContent(500) })
	e.Use(requestLog(log, access, e.Routes()))
	type line struct {
		Msg, Method, Route string
		Status             int
		Duration           *int64 `json:"duration_us"`
	}
	tests := []struct {
		method, path string
		want         line
		toLog        bool
	}{
		{"GET", "/v1/sms/oat_secretish_1_abc", line{Method: "GET", Route: "/v1/sms/:id", Status: 404}, false},
		{"DELETE", "/v1/sms/oat_secretish_2_abc", line{Method: "DELETE", Route: "/v1/sms/:id", Status: 405}, false},
		{"GET", "/nope/oat_pasted", line{Method: "GET", Route: "unmatched", Status: 404}, false},
		{"GET", "/boom", line{Method: "GET", Route: "/boom", Status: 500}, true},
	}
	for _, tt := range tests {
		accessBuf.Reset()
		logBuf.Reset()
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tt.method, tt.path, nil))
		out, other := &accessBuf, &logBuf
		if tt.toLog {
			out, other = other, out
		}
		var got line
		if err := json.Unmarshal(out.Bytes(), &got); err != nil || other.Len() != 0 {
			t.Fatalf("%s %s: line %q (%v), other output %q", tt.method, tt.path, out, err, other)
		}
		if got.Duration == nil || got.Msg != "http request" || got.Method != tt.want.Method || got.Route != tt.want.Route || got.Status != tt.want.Status {
			t.Errorf("%s %s: logged %s", tt.method, tt.path, out)
		}
		if strings.Contains(out.String(), "oat_") {
			t.Errorf("%s %s: the raw path reached the log: %s", tt.method, tt.path, out)
		}
	}
}

type anyCaller struct{}

func (anyCaller) Require(...string) echo.MiddlewareFunc { return nil }
func (anyCaller) Caller(echo.Context) (string, string)  { return "app", "" }

// A body that is not the message names what is wrong with it in the
// client's terms (the fields, an example), never Go's types.
func TestSendBodyRefusals(t *testing.T) {
	send := sendSMS(newOutbox(), anyCaller{}, time.Now)
	for _, tt := range []struct {
		body, want string
	}{
		{`{"to":"+447700900123","text":"hi"}`, `to must be an array of E.164 numbers, such as ["+447700900123"]`},
		{`{"to":[447700900123],"text":"hi"}`, `to must be an array of E.164 numbers`},
		{`{"to":["+447700900123"],"text":["hi"]}`, "text must be a string"},
		{`{"to":["+447700900123"],"text":"hi","from":"x"}`, `unknown field "from" (allowed: to, text)`},
		{`[1]`, `expected {"to": [...], "text": "..."}`},
		{`{"to":`, `expected {"to": [...], "text": "..."}`},
		{`{"to":["+447700900123"] "text":"hi"}`, "syntax error at byte 25"},
	} {
		t.Run(tt.body, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/v1/sms", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			if err := send(echo.New().NewContext(req, rec)); err != nil {
				t.Fatal(err)
			}
			var got apiError
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 400 || !strings.Contains(got.Description, tt.want) || strings.Contains(got.Description, "[]string") {
				t.Errorf("%d %s, want 400 naming %q", rec.Code, rec.Body, tt.want)
			}
		})
	}
}
