package apps

import (
	"errors"

	"github.com/oauthd/oauthd/store"
)

// Error codes say what kind of failure an error is. ErrorCode gives every
// error one, so each surface (the admin API, the dashboard) answers them
// through one table of its own instead of a type switch.
const (
	// CodeInvalid: the input is wrong (a field, a limit, a cursor).
	CodeInvalid = "invalid"
	// CodeConflict: the change contradicts the current state (the id is
	// taken, too many secrets, a concurrent change won).
	CodeConflict = "conflict"
	// CodeForbidden: the actor may not make the change (delegated
	// administration reaching past its bounds).
	CodeForbidden = "forbidden"
	// CodeNotFound: no such application, secret, token or signing key.
	CodeNotFound = "not_found"
	// CodeUnavailable: the store cannot be reached; nothing was done.
	CodeUnavailable = "unavailable"
	// CodeInternal: anything nobody classified. Its text may hold
	// internals, so no surface shows it.
	CodeInternal = "internal"
)

// Error is a failure the service explains to the actor: a Code and a
// Message, with the input Field of a CodeInvalid error and the Rule a
// CodeForbidden error breaks (for the log, for tests, and for the
// dashboard to put the message next to the field the rule is about).
type Error struct {
	Code    string
	Message string
	Field   string
	Rule    string
	// Holders are, for a refused deletion of a scope, the applications
	// holding it (at most MaxHolders), and HoldersTotal how many do.
	Holders      []string
	HoldersTotal int
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Invalid says which input field is wrong and why.
func Invalid(field, reason string) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: reason}
}

// Forbidden is a change the actor may not make; rule names the rule broken.
func Forbidden(rule, reason string) *Error {
	return &Error{Code: CodeForbidden, Rule: rule, Message: reason}
}

// Conflict is a change that contradicts the current state.
func Conflict(reason string) *Error {
	return &Error{Code: CodeConflict, Message: reason}
}

// ErrorCode classifies any error: the service's own by their code, the
// store's sentinels by what they mean to the actor, anything else as
// CodeInternal. nil has no code.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, store.ErrNotFound):
		return CodeNotFound
	case errors.Is(err, store.ErrAlreadyExists), errors.Is(err, store.ErrConflict):
		return CodeConflict
	case errors.Is(err, store.ErrInvalid):
		return CodeInvalid
	case errors.Is(err, store.ErrUnavailable):
		return CodeUnavailable
	}
	return CodeInternal
}

// errRetry is what a lost compare-and-swap means to the actor.
const errRetry = "the application changed concurrently; retry"

// ErrorMessage is what err tells the actor, for the errors ErrorCode
// classifies: an Error's own text, a store error's text (the service
// wraps them with the record they concern), a retry for a lost
// concurrent change. An unavailable store or an internal error gets a
// sentence that holds no detail.
func ErrorMessage(err error) string {
	var e *Error
	switch code := ErrorCode(err); {
	case code == "":
		return ""
	case errors.As(err, &e):
		return e.Error()
	case errors.Is(err, store.ErrConflict):
		return errRetry
	case code == CodeUnavailable:
		return "the store is unavailable; retry shortly"
	case code == CodeInternal:
		return "internal error"
	}
	return err.Error()
}

// truncate keeps caller-supplied text in an error message short.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// firstError unwraps errors.Join's result to its first error, so a
// caller's errors.As sees one refusal and its message names one rule.
func firstError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if list := j.Unwrap(); len(list) > 0 {
			return list[0]
		}
	}
	return err
}
