package admin

import (
	"errors"
	"fmt"
	"testing"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/web"
	"github.com/oauthd/oauthd/store"
)

// Each code of the service's errors has one answer; the admin API's own
// answers pass as they are; what nobody classified is a 503 or a 500
// without detail.
func TestErrorAnswers(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		desc   string
		field  string
		reason string
	}{
		{"invalid", apps.Invalid("scopes", "unknown scope"), 400, "invalid_request", "scopes: unknown scope", "scopes", ""},
		{"forbidden", apps.Forbidden("owner", "another owner's"), 403, "forbidden", "another owner's", "", "owner"},
		{"conflict", apps.Conflict("too many secrets"), 409, "conflict", "too many secrets", "", ""},
		{"exists", fmt.Errorf("application %q: %w", "a", store.ErrAlreadyExists), 409, "conflict", `application "a": already exists`, "", ""},
		{"concurrent change", fmt.Errorf("application %q: %w", "a", store.ErrConflict), 409, "conflict", "the application changed concurrently; retry", "", ""},
		{"not found", fmt.Errorf("application %q: %w", "a", store.ErrNotFound), 404, "not_found", `application "a": not found`, "", ""},
		{"no key ring", apps.ErrNoKeyRing, 404, "not_found", apps.ErrNoKeyRing.Message, "", ""},
		{"admin's own", lockedOut(0), 429, "slow_down", lockedOut(0).Description, "", "locked out"},
		{"store down", fmt.Errorf("reading: %w", store.ErrUnavailable), 503, "temporarily_unavailable", web.ErrUnavailable.Description, "", ""},
		{"internal", errors.New("redis: WRONGTYPE"), 500, "server_error", web.ErrInternal.Description, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := web.Classify(toError(tt.err))
			if e.Status != tt.status || e.Code != tt.code || e.Description != tt.desc || e.Field != tt.field || e.Reason != tt.reason {
				t.Errorf("answer %+v, want %d %s %q field %q reason %q", e, tt.status, tt.code, tt.desc, tt.field, tt.reason)
			}
		})
	}
}
