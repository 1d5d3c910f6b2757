package apps

import (
	"errors"
	"fmt"
	"testing"

	"github.com/oauthd/oauthd/store"
)

// Every error gets one code: the service's own by theirs (wrapped or not),
// the store's sentinels by what they mean, anything else internal. The
// message is what a surface may show: never an unclassified error's text.
func TestErrorCode(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		code    string
		message string
		field   string
		rule    string
	}{
		{"nil", nil, "", "", "", ""},
		{"invalid", Invalid("scopes", "unknown scope"), CodeInvalid, "scopes: unknown scope", "scopes", ""},
		{"forbidden", Forbidden("owner", "another owner's"), CodeForbidden, "another owner's", "", "owner"},
		{"conflict", Conflict("too many secrets"), CodeConflict, "too many secrets", "", ""},
		{"wrapped", fmt.Errorf("creating: %w", Invalid("name", "required")), CodeInvalid, "name: required", "name", ""},
		{"no key ring", ErrNoKeyRing, CodeNotFound, ErrNoKeyRing.Message, "", ""},
		{"not found", notFound("abc"), CodeNotFound, `application "abc": not found`, "", ""},
		{"exists", fmt.Errorf("application %q: %w", "abc", store.ErrAlreadyExists), CodeConflict, `application "abc": already exists`, "", ""},
		{"lost a concurrent change", fmt.Errorf("application %q: %w", "abc", store.ErrConflict), CodeConflict, "the application changed concurrently; retry", "", ""},
		{"bad cursor", store.ErrInvalid, CodeInvalid, "invalid request", "", ""},
		{"store down", fmt.Errorf("redis: dial tcp 10.0.0.5:6379: %w", store.ErrUnavailable), CodeUnavailable, "the store is unavailable; retry shortly", "", ""},
		{"unknown", errors.New("redis: WRONGTYPE at key test:secret"), CodeInternal, "internal error", "", ""},
		{"sign-in", ErrSignIn, CodeInternal, "internal error", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
			if got := ErrorMessage(tt.err); got != tt.message {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.message)
			}
			var e *Error
			if errors.As(tt.err, &e) && (e.Field != tt.field || e.Rule != tt.rule) {
				t.Errorf("field %q, rule %q; want %q, %q", e.Field, e.Rule, tt.field, tt.rule)
			}
		})
	}
}
