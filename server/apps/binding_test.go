package apps

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// A FAPI 2.0 application's tokens must expire: profile fapi2 with a
// token_lifetime of never is refused when created and when a change
// would make it so (naming the field the change set), while a finite
// lifetime longer than the server's cap is kept (the server caps it at
// issue) and an application without a profile may still never expire.
func TestFAPIApplicationLifetime(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, Options{})
	invalid := func(err error, field string) bool {
		var e *Error
		return errors.As(err, &e) && e.Code == CodeInvalid && e.Field == field
	}
	str := func(s string) *string { return &s }
	if _, _, err := env.apps.Create(ctx, NewApplication{Name: "f", Scopes: []string{"sms"}, Profile: store.ProfileFAPI2, TokenLifetime: "never"}); !invalid(err, "token_lifetime") {
		t.Errorf("fapi2 with lifetime never created: %v", err)
	}
	fapi, _, err := env.apps.Create(ctx, NewApplication{Name: "f", Scopes: []string{"sms"}, Profile: store.ProfileFAPI2, TokenLifetime: "24h"})
	if err != nil || fapi.TokenLifetime != 24*time.Hour {
		t.Fatalf("fapi2 with lifetime 24h: %+v, %v", fapi, err)
	}
	if _, err := env.apps.Update(ctx, fapi.ClientID, ApplicationPatch{TokenLifetime: str("never")}); !invalid(err, "token_lifetime") {
		t.Errorf("fapi2 application's lifetime set to never: %v", err)
	}
	never, _, err := env.apps.Create(ctx, NewApplication{Name: "n", Scopes: []string{"sms"}, TokenLifetime: "never"})
	if err != nil {
		t.Fatalf("an application without a profile whose tokens never expire: %v", err)
	}
	if _, err := env.apps.Update(ctx, never.ClientID, ApplicationPatch{Profile: str(store.ProfileFAPI2)}); !invalid(err, "profile") {
		t.Errorf("profile fapi2 set on an application whose tokens never expire: %v", err)
	}
	if a, err := env.apps.Update(ctx, never.ClientID, ApplicationPatch{Profile: str(store.ProfileFAPI2), TokenLifetime: str("5m")}); err != nil || a.Profile != store.ProfileFAPI2 || a.TokenLifetime != 5*time.Minute {
		t.Errorf("profile fapi2 with a finite lifetime in the same change: %+v, %v", a, err)
	}
}
