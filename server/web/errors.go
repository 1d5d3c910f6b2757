package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/store"
)

// Error is an error answer: a machine-readable Code, a Description for the
// caller and the HTTP Status. Handlers return it as a value; WriteError
// turns it into JSON in one place. Description is sent to the client, so
// it must never hold a secret, a token or an internal detail; Reason is
// for the log only.
type Error struct {
	Code        string
	Description string
	Status      int
	// Field names the bad input field (validation errors).
	Field string
	// Reason says why, for the operator's log line (never sent).
	Reason string
	// Challenge is the WWW-Authenticate header sent with a 401.
	Challenge string
	// RetryAfter is sent as Retry-After (whole seconds) with a 429.
	RetryAfter time.Duration
	// Detail, when set, is sent as "detail": facts the description states
	// in words, for a program to act on (the applications holding a
	// scope). Like Description, never a secret or an internal.
	Detail any
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

// ErrUnavailable answers a store outage: 503 with Retry-After, nothing
// acknowledged.
var ErrUnavailable = &Error{
	Code:        "temporarily_unavailable",
	Description: "the token store is unreachable; retry shortly",
	Status:      http.StatusServiceUnavailable,
}

// ErrInternal answers every error nobody classified: its text may hold
// internals, so the answer holds none.
var ErrInternal = &Error{
	Code:        "server_error",
	Description: "internal error; the server log has the details",
	Status:      http.StatusInternalServerError,
}

// StatusClientClosedRequest is nginx's 499, "client closed request": the
// client went away before it could be answered. It is logged and counted,
// never sent: there is nobody to send it to.
const StatusClientClosedRequest = 499

// ClientGone is the outcome of a request whose client hung up. Reason
// says when.
func ClientGone(reason string) *Error {
	return &Error{Code: "client_closed_request", Status: StatusClientClosedRequest, Reason: reason}
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
		return ClientGone("client closed the connection while sending the body")
	}
	return &Error{
		Code:        "invalid_request",
		Description: "could not read the request body: send a complete body",
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
	if e.Status == StatusClientClosedRequest {
		return true
	}
	return e != errBodyTimeout && errors.Is(c.Request().Context().Err(), context.Canceled)
}

// Classify maps any error to the Error sent to the client: an *Error as
// it is, a store outage as ErrUnavailable, anything else as ErrInternal.
func Classify(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, store.ErrUnavailable):
		return ErrUnavailable
	}
	return ErrInternal
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	Field       string `json:"field,omitempty"`
	Detail      any    `json:"detail,omitempty"`
}

// WriteError is the one place errors become HTTP answers (the RFC 6749
// §5.2 shape every surface uses). It logs through the request's log line,
// never the error text of a client-facing error twice.
func WriteError(c echo.Context, err error) error {
	e := Classify(err)
	if clientGone(c, e) {
		// Writing would go to a closed connection (or, on a half-closed
		// one, tell a client that gave up something it no longer waits
		// for): the request log aborts the response instead.
		reason := e.Reason
		if e.Status != StatusClientClosedRequest {
			reason = "client closed the connection before the answer"
		}
		Log(c).HungUp(reason)
		return nil
	}
	Log(c).fail(e, err)
	h := c.Response().Header()
	switch e.Status {
	case http.StatusUnauthorized:
		if e.Challenge != "" {
			h.Set("WWW-Authenticate", e.Challenge)
		}
	case http.StatusServiceUnavailable:
		if e.RetryAfter > 0 {
			h.Set("Retry-After", RetryAfter(e.RetryAfter))
		} else {
			h.Set("Retry-After", "1")
		}
	case http.StatusTooManyRequests:
		h.Set("Retry-After", RetryAfter(e.RetryAfter))
	}
	NoStore(h)
	return WriteJSON(c, e.Status, errorBody{Error: e.Code, Description: e.Description, Field: e.Field, Detail: e.Detail})
}

// RetryAfter is a Retry-After value: whole seconds, at least one.
func RetryAfter(d time.Duration) string {
	return strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10)
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

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
