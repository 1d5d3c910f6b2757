package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// guard is what the API needs from token validation: middleware that lets
// a request through only with the given scopes, and then who the caller
// is: its client_id, and the account (oauthd's owner) its messages are
// billed to.
type guard interface {
	Require(scopes ...string) echo.MiddlewareFunc
	Caller(c echo.Context) (clientID, account string)
}

const maxBody = 64 << 10

// newAPI builds the SMS API's routes. Each route names the scope it needs.
// Request lines go to access, except for server-side failures, which go to
// log.
func newAPI(g guard, log, access *slog.Logger, now func() time.Time) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = echo.ExtractIPDirect()
	e.HTTPErrorHandler = apiErrorHandler
	box := newOutbox()

	// Each route's token check wraps its handler once, here: given to
	// echo as route middleware, it would be applied anew on every request.
	v1 := e.Group("/v1")
	v1.POST("/sms", g.Require("sms")(sendSMS(box, g, now)))
	v1.GET("/sms/:id", g.Require("reports")(getSMS(box, g)))
	v1.GET("/groups", g.Require("groups")(listGroups()))
	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.Use(requestLog(log, access, e.Routes()))
	return e
}

type apiError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func writeErr(c echo.Context, status int, code, desc string) error {
	return c.JSON(status, apiError{Error: code, Description: desc})
}

func sendSMS(box *outbox, g guard, now func() time.Time) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ct := c.Request().Header.Get(echo.HeaderContentType); !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
			return writeErr(c, http.StatusUnsupportedMediaType, "invalid_request", "send the message as application/json: {\"to\": [\"+447700900123\"], \"text\": \"...\"}")
		}
		dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, maxBody))
		dec.DisallowUnknownFields()
		var req sendRequest
		if err := dec.Decode(&req); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return writeErr(c, http.StatusRequestEntityTooLarge, "invalid_request", "body over 64 KiB")
			}
			return writeErr(c, http.StatusBadRequest, "invalid_request", "malformed JSON: "+jsonProblem(err))
		}
		if dec.More() {
			return writeErr(c, http.StatusBadRequest, "invalid_request", "malformed JSON: one object expected")
		}
		to, err := req.validate()
		if err != nil {
			return writeErr(c, http.StatusBadRequest, "invalid_request", err.Error())
		}
		id, account := g.Caller(c)
		m := box.add(id, account, to, req.Text, now())
		c.Response().Header().Set(echo.HeaderLocation, "/v1/sms/"+m.ID)
		return c.JSON(http.StatusCreated, m)
	}
}

// jsonProblem shortens a decoder error to what the caller can fix.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "syntax error at byte " + itoa(syn.Offset)
	case errors.As(err, &typ):
		// Named for a client, not by Go's type ("field to must be
		// []string"); a wrong element of to is to's fault too.
		switch typ.Field {
		case "to":
			return `to must be an array of E.164 numbers, such as ["+447700900123"]`
		case "text":
			return "text must be a string"
		}
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ") + " (allowed: to, text)"
	}
	return "expected {\"to\": [...], \"text\": \"...\"}"
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func getSMS(box *outbox, g guard) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, _ := g.Caller(c)
		m, ok := box.get(id, c.Param("id"))
		if !ok {
			return writeErr(c, http.StatusNotFound, "not_found", "no message with that id was sent by this application")
		}
		return c.JSON(http.StatusOK, m)
	}
}

type group struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Members int    `json:"members"`
}

// listGroups answers the contact groups. They are fixed in this example, so
// the answer is encoded once rather than on every request (where a map and
// reflection would cost more than the route's token check).
func listGroups() echo.HandlerFunc {
	body, err := json.Marshal(struct {
		Groups []group `json:"groups"`
	}{[]group{
		{ID: "grp_customers", Name: "Customers", Members: 1250},
		{ID: "grp_staff", Name: "Staff", Members: 48},
	}})
	if err != nil {
		panic(err) // fixed values of plain types: cannot fail
	}
	return func(c echo.Context) error { return c.JSONBlob(http.StatusOK, body) }
}

// apiErrorHandler answers echo's own errors (unknown route, wrong method,
// body too large) in the API's JSON shape.
func apiErrorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, code, desc := http.StatusInternalServerError, "server_error", "internal error"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
		switch he.Code {
		case http.StatusNotFound:
			code, desc = "not_found", "no such route: see the README's sms-api section"
		case http.StatusMethodNotAllowed:
			code, desc = "invalid_request", "method "+c.Request().Method+" is not allowed here"
		case http.StatusRequestEntityTooLarge:
			code, desc = "invalid_request", "body over 64 KiB"
		default:
			code, desc = "invalid_request", http.StatusText(he.Code)
		}
	}
	_ = writeErr(c, status, code, desc)
}

// requestLog writes one structured line per request; never the
// Authorization header, nor the raw path. 5xx lines go to log, the rest to
// access (which may be batched).
func requestLog(log, access *slog.Logger, routes []*echo.Route) echo.MiddlewareFunc {
	// Each route's method and pattern are encoded once, by slog's With,
	// rather than on each of its requests.
	type key struct{ method, route string }
	type outs struct{ access, log slog.Handler }
	known := make(map[key]outs, len(routes))
	for _, r := range routes {
		attrs := []any{"method", r.Method, "route", r.Path}
		known[key{r.Method, r.Path}] = outs{access.With(attrs...).Handler(), log.With(attrs...).Handler()}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			// The request's context: with tracing on, the logger adds its
			// trace and span ids to the line.
			ctx := c.Request().Context()
			// The record is built here, not by LogAttrs, which would read
			// the clock a third time and walk the stack for a source
			// position this log never prints: on a cached token check,
			// the line would otherwise cost more than the check.
			end := time.Now()
			r := slog.NewRecord(end, slog.LevelInfo, "http request", 0)
			method, pattern := c.Request().Method, route(c)
			var h slog.Handler
			if o, ok := known[key{method, pattern}]; ok {
				h = o.access
				if status >= 500 {
					h = o.log
				}
			} else {
				h = access.Handler()
				if status >= 500 {
					h = log.Handler()
				}
				// The route pattern, never the raw path: a caller can put
				// anything in a path, a pasted token included.
				r.AddAttrs(slog.String("method", method), slog.String("route", pattern))
			}
			if !h.Enabled(ctx, slog.LevelInfo) {
				return nil
			}
			r.AddAttrs(
				slog.Int("status", status),
				// Whole microseconds, as oauthd logs them: a float would
				// cost slog's JSON handler a json.Marshal.
				slog.Int64("duration_us", end.Sub(start).Microseconds()),
			)
			_ = h.Handle(ctx, r)
			return nil
		}
	}
}

// route is the matched route pattern ("/v1/sms/:id"), or "unmatched".
func route(c echo.Context) string {
	if p := c.Path(); p != "" {
		return p
	}
	return "unmatched"
}
