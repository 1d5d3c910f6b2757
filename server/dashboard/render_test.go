package dashboard

import (
	"errors"
	"fmt"
	"testing"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/store"
)

// Each code of the service's errors is shown one way: a validation error
// with its field apart, a refusal with its rule, a store error in the
// service's words, an outage or an internal error in fixed words that
// hold nothing of the cause.
func TestExplain(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want problem
	}{
		{"invalid", apps.Invalid("scopes", "unknown scope"), problem{400, "Check the form", "unknown scope", "scopes", ""}},
		{"forbidden", apps.Forbidden("lifetime", "too long"), problem{403, "Not allowed", "too long", "", "lifetime"}},
		{"conflict", apps.Conflict("That secret no longer exists."), problem{409, "Conflict", "That secret no longer exists.", "", ""}},
		{"concurrent change", fmt.Errorf("application %q: %w", "a", store.ErrConflict), problem{409, "Conflict", "The application changed concurrently; retry", "", ""}},
		{"exists", fmt.Errorf("application %q: %w", "a", store.ErrAlreadyExists), problem{409, "Conflict", `Application "a": already exists`, "", ""}},
		{"not found", fmt.Errorf("application %q: %w", "a", store.ErrNotFound), problem{404, "Not found", `Application "a": not found`, "", ""}},
		{"store down", fmt.Errorf("10.0.0.5:6379: %w", store.ErrUnavailable), problem{503, "Store unavailable", shown[apps.CodeUnavailable].message, "", ""}},
		{"internal", errors.New("redis: WRONGTYPE at test:key"), problem{500, "Internal error", shown[apps.CodeInternal].message, "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := explain(tt.err); got != tt.want {
				t.Errorf("explain = %+v, want %+v", got, tt.want)
			}
		})
	}
}
