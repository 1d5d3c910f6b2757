package apps

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/oauthd/oauthd/scopes"
)

// Every way a delegated sign-in can fail gives the same error, and only a
// right secret on an enabled application with the applications scope, from
// an allowed address, yields a Delegate bounded by that application.
func TestAuthenticate(t *testing.T) {
	env := newTestEnv(t, Options{})
	ctx := WithActor(context.Background(), Actor{Name: "test"})
	admin, secret, err := env.apps.Create(ctx, NewApplication{Name: "portal", Owner: "acct_1", Scopes: []string{scopes.Admin, "sms"}, IPAllowlist: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	plain, plainSecret, err := env.apps.Create(ctx, NewApplication{Name: "daemon", Owner: "acct_1", Scopes: []string{"sms"}})
	if err != nil {
		t.Fatal(err)
	}
	in, out := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("192.0.2.1")
	d, err := env.apps.Authenticate(ctx, admin.ClientID, secret, in)
	if err != nil || d.ClientID != admin.ClientID || d.Owner != "acct_1" {
		t.Fatalf("Authenticate = %+v, %v; want the portal's delegate", d, err)
	}
	tests := []struct {
		name, id, secret string
		ip               netip.Addr
	}{
		{"wrong secret", admin.ClientID, "nope", in},
		{"empty secret", admin.ClientID, "", in},
		{"unknown client", "no-such-client", secret, in},
		{"malformed client", "bad id", secret, in},
		{"address not allowed", admin.ClientID, secret, out},
		{"no applications scope", plain.ClientID, plainSecret, in},
	}
	for _, tt := range tests {
		if d, err := env.apps.Authenticate(ctx, tt.id, tt.secret, tt.ip); !errors.Is(err, ErrSignIn) || d != nil {
			t.Errorf("%s: Authenticate = %v, %v; want ErrSignIn", tt.name, d, err)
		}
	}
	f := false
	if _, err := env.apps.Update(ctx, admin.ClientID, ApplicationPatch{Enabled: &f}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.apps.Authenticate(ctx, admin.ClientID, secret, in); !errors.Is(err, ErrSignIn) {
		t.Errorf("disabled: Authenticate error %v, want ErrSignIn", err)
	}
}

func TestIssuedPerHourBoundByDelegate(t *testing.T) {
	env := newTestEnv(t, Options{})
	ctx := WithActor(context.Background(), Actor{Name: "test"})
	a, _, err := env.apps.Create(ctx, NewApplication{Name: "n", Owner: "acct_2", Scopes: []string{"sms"}})
	if err != nil {
		t.Fatal(err)
	}
	hours, err := env.apps.IssuedPerHour(ctx, a.ClientID, 24)
	if err != nil || len(hours) != 24 {
		t.Fatalf("IssuedPerHour = %v, %v; want 24 zeros", hours, err)
	}
	other := WithActor(ctx, Actor{Name: "client:x", Delegate: &Delegate{ClientID: "x", Owner: "acct_1", Lifetime: time.Hour}})
	if _, err := env.apps.IssuedPerHour(other, a.ClientID, 24); ErrorCode(err) != CodeForbidden {
		t.Errorf("another owner's delegate: error %v, want a forbidden Error", err)
	}
}

// Resume rebuilds the delegate from the application as it is now: a
// session ends when its application loses the right to administer.
func TestResume(t *testing.T) {
	env := newTestEnv(t, Options{})
	ctx := WithActor(context.Background(), Actor{Name: "test"})
	a, _, err := env.apps.Create(ctx, NewApplication{Name: "portal", Owner: "acct_1", Scopes: []string{scopes.Admin, "sms"}, TokenLifetime: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("192.0.2.1")
	if d, err := env.apps.Resume(ctx, a.ClientID, ip); err != nil || d.Owner != "acct_1" || d.Lifetime != time.Hour {
		t.Fatalf("Resume = %+v, %v", d, err)
	}
	narrowed := []string{"sms"}
	if _, err := env.apps.Update(ctx, a.ClientID, ApplicationPatch{Scopes: &narrowed}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.apps.Resume(ctx, a.ClientID, ip); !errors.Is(err, ErrSignIn) {
		t.Errorf("without the applications scope: %v, want ErrSignIn", err)
	}
	if err := env.apps.Delete(ctx, a.ClientID); err != nil {
		t.Fatal(err)
	}
	if _, err := env.apps.Resume(ctx, a.ClientID, ip); !errors.Is(err, ErrSignIn) {
		t.Errorf("deleted: %v, want ErrSignIn", err)
	}
}
