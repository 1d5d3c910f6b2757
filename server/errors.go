package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/store"
)

// Error is an OAuth 2.0 error answer (RFC 6749 §5.2, RFC 6750 §3, RFC 7009
// §2.2.1). Handlers return it as a value; writeError turns it into JSON in
// one place. Description is sent to the client, so it must never hold a
// secret, a token or an internal detail; Reason is for the log only.
type Error struct {
	Code        string
	Description string
	Status      int
	// Field names the bad input field (admin API validation errors).
	Field string
	// Reason says why, for the operator's log line (never sent).
	Reason string
	// Challenge replaces the default WWW-Authenticate of a 401.
	Challenge string
	// RetryAfter is sent as Retry-After (whole seconds) with a 429.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func errInvalidRequest(format string, args ...any) *Error {
	return &Error{Code: "invalid_request", Description: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

// errInvalidClient is the one answer for every client-authentication
// failure (unknown client, wrong secret, disabled, address not allowed), so
// that a caller cannot tell which; reason goes to the log only.
func errInvalidClient(reason string) *Error {
	return &Error{
		Code:        "invalid_client",
		Description: "client authentication failed: check the client_id and client_secret, and that the application is enabled and allows this address",
		Status:      http.StatusUnauthorized,
		Reason:      reason,
	}
}

func errInvalidScope(format string, args ...any) *Error {
	return &Error{Code: "invalid_scope", Description: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func errUnsupportedGrantType(gt string) *Error {
	return &Error{
		Code:        "unsupported_grant_type",
		Description: fmt.Sprintf("grant_type %q is not supported: oauthd issues tokens for client_credentials only", truncate(gt, 40)),
		Status:      http.StatusBadRequest,
	}
}

var errUnavailable = &Error{
	Code:        "temporarily_unavailable",
	Description: "the token store is unreachable; retry shortly",
	Status:      http.StatusServiceUnavailable,
}

var errServer = &Error{
	Code:        "server_error",
	Description: "internal error; the server log has the details",
	Status:      http.StatusInternalServerError,
}

// statusClientClosedRequest is nginx's 499, "client closed request": the
// client went away before it could be answered. It is logged and counted,
// never sent: there is nobody to send it to.
const statusClientClosedRequest = 499

// errClientGone is the outcome of a request whose client hung up. Reason
// says when.
func errClientGone(reason string) *Error {
	return &Error{Code: "client_closed_request", Status: statusClientClosedRequest, Reason: reason}
}

// errBodyTimeout answers a body that did not arrive within the server's
// read timeout (http.read_timeout).
var errBodyTimeout = &Error{
	Code:        "invalid_request",
	Description: "could not read the request body before the read timeout; send the whole body promptly",
	Status:      http.StatusRequestTimeout,
	Reason:      "request body read timed out",
}

// BodyReadError maps a failure to read a request body (limited to limit,
// "16 KiB") to its answer. The error's own text is never sent, nor logged
// whole: a network error reads "read tcp 10.0.0.5:8080->10.0.0.9:5555: i/o
// timeout", naming the server's and the client's addresses.
func BodyReadError(err error, limit string) *Error {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return &Error{Code: "invalid_request", Description: "request body exceeds " + limit, Status: http.StatusRequestEntityTooLarge}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errBodyTimeout
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed), errors.Is(err, context.Canceled):
		// The body stopped short of its Content-Length (or its last
		// chunk) because the connection closed: the client is gone.
		return errClientGone("client closed the connection while sending the body")
	}
	return &Error{
		Code:        "invalid_request",
		Description: "could not read the request body: send a complete application/x-www-form-urlencoded body",
		Status:      http.StatusBadRequest,
		Reason:      "request body unreadable: " + truncate(withoutAddrs(err), 80),
	}
}

// withoutAddrs is err's text without the socket addresses a network error
// carries ("read: connection reset by peer").
func withoutAddrs(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Op + ": " + op.Err.Error()
	}
	return err.Error()
}

// clientGone reports whether the request's client has hung up: its body
// read failed because the connection closed, or net/http cancelled the
// request's context (it does when the connection closes, or an HTTP/2
// stream is reset). Either way no answer can reach it. net/http also
// cancels the context on any failed read of the connection, a read
// timeout included; that client is slow, not gone, and is answered.
func clientGone(c echo.Context, e *Error) bool {
	if e.Status == statusClientClosedRequest {
		return true
	}
	return e != errBodyTimeout && errors.Is(c.Request().Context().Err(), context.Canceled)
}

// toError maps any error to the Error sent to the client. Unknown errors
// become server_error with no detail: their text may hold internals.
func toError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, store.ErrUnavailable):
		return errUnavailable
	}
	return errServer
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	Field       string `json:"field,omitempty"`
}

// WriteError is the one place errors become HTTP answers. It logs through
// the request's log attributes, never the error text of a client-facing
// error twice.
func WriteError(c echo.Context, err error) error {
	e := toError(err)
	if clientGone(c, e) {
		// Writing would go to a closed connection (or, on a half-closed
		// one, tell a client that gave up something it no longer waits
		// for): logRequests aborts the response instead.
		reason := e.Reason
		if e.Status != statusClientClosedRequest {
			reason = "client closed the connection before the answer"
		}
		reqLog(c).hungUp(reason)
		return nil
	}
	reqLog(c).fail(e, err)
	h := c.Response().Header()
	switch e.Status {
	case http.StatusUnauthorized:
		// RFC 6749 §5.2: a 401 names the scheme the client should use.
		if e.Challenge != "" {
			h.Set("WWW-Authenticate", e.Challenge)
		} else {
			h.Set("WWW-Authenticate", `Basic realm="oauthd"`)
		}
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "1")
	case http.StatusTooManyRequests:
		h.Set("Retry-After", retryAfter(e.RetryAfter))
	}
	NoStore(h)
	return WriteJSON(c, e.Status, errorBody{Error: e.Code, Description: e.Description, Field: e.Field})
}

// NoStore sets the headers RFC 6749 §5.1 requires on every answer that
// carries (or concerns) credentials.
func NoStore(h http.Header) {
	// Canonical keys and shared, never-modified values: no allocation on
	// the hot paths.
	h["Cache-Control"] = noStoreValue
	h["Pragma"] = noCacheValue
}

var (
	noStoreValue = []string{"no-store"}
	noCacheValue = []string{"no-cache"}
)

// WriteJSON writes v as a JSON answer with status.
func WriteJSON(c echo.Context, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/json")
	c.Response().WriteHeader(status)
	_, err = c.Response().Write(b)
	return err
}

// httpErrorHandler answers what echo itself rejects (unknown route, wrong
// method) in the same JSON shape, so no client ever sees an HTML or
// plain-text error.
func httpErrorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		var e *Error
		switch he.Code {
		case http.StatusNotFound:
			desc := "no such endpoint: see /.well-known/oauth-authorization-server"
			if strings.HasPrefix(c.Request().URL.Path, "/admin/") {
				desc = "no such admin endpoint: see docs/openapi.yaml"
			}
			e = &Error{Code: "not_found", Description: desc, Status: http.StatusNotFound}
		case http.StatusMethodNotAllowed:
			e = &Error{Code: "invalid_request", Description: "method " + c.Request().Method + " is not allowed here", Status: http.StatusMethodNotAllowed}
		case http.StatusRequestEntityTooLarge:
			e = &Error{Code: "invalid_request", Description: "request body too large", Status: http.StatusRequestEntityTooLarge}
		default:
			e = &Error{Code: "invalid_request", Description: http.StatusText(he.Code), Status: he.Code}
		}
		err = e
	}
	_ = WriteError(c, err)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
