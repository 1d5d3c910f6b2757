package apps

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/scopes"
)

// Issue 17, item 4: a delegated administrator lifted the allowlist an
// operator had set on its own application (ip_allowlist [] → accepted),
// after which its secret worked from anywhere. A delegate may now only
// narrow an allowlist: every new entry inside an existing one, and an
// empty allowlist (anywhere) never replaces a non-empty one.
func TestDelegateOnlyNarrowsAllowlists(t *testing.T) {
	env := newTestEnv(t, Options{})
	admin := WithActor(context.Background(), Actor{Name: "admin-key:test"})
	create := func(allow ...string) string {
		t.Helper()
		a, _, err := env.apps.Create(admin, NewApplication{Name: "n", Owner: "acct_1", Scopes: []string{scopes.Admin, "sms"}, IPAllowlist: allow})
		if err != nil {
			t.Fatal(err)
		}
		return a.ClientID
	}
	mgr, err := env.store.GetApplication(admin, create("203.0.113.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	delegate := WithActor(context.Background(), Actor{Name: "client:" + mgr.ClientID, Delegate: DelegateOf(mgr)})

	tests := []struct {
		name  string
		old   []string // the allowlist an admin key set; nil for none
		new   []string
		allow bool
	}{
		{"lift it (the attack)", []string{"203.0.113.0/24"}, []string{}, false},
		{"add an address", []string{"203.0.113.0/24"}, []string{"203.0.113.0/24", "198.51.100.7"}, false},
		{"a wider network", []string{"10.0.0.0/8"}, []string{"10.0.0.0/7"}, false},
		{"everything", []string{"10.0.0.0/8"}, []string{"0.0.0.0/0"}, false},
		{"another family", []string{"10.0.0.0/8"}, []string{"::/0"}, false},
		{"partly outside", []string{"10.0.0.0/8"}, []string{"10.1.0.0/16", "11.0.0.1"}, false},
		{"back to anywhere", []string{"192.0.2.0/24"}, []string{}, false},
		{"unchanged", []string{"10.0.0.0/8", "2001:db8::/32"}, []string{"2001:db8::/32", "10.0.0.0/8"}, true},
		{"narrower", []string{"10.0.0.0/8"}, []string{"10.1.0.0/16", "10.2.3.4"}, true},
		{"narrower IPv6", []string{"2001:db8::/32"}, []string{"2001:db8:1::/48", "2001:db8::1"}, true},
		{"fewer entries", []string{"10.0.0.0/8", "192.0.2.0/24"}, []string{"192.0.2.0/24"}, true},
		{"from anywhere to somewhere", nil, []string{"192.0.2.0/24"}, true},
		{"anywhere stays anywhere", nil, []string{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := create(tt.old...)
			_, err := env.apps.Update(delegate, id, ApplicationPatch{IPAllowlist: &tt.new})
			var e *Error
			switch {
			case tt.allow && err != nil:
				t.Fatalf("narrowing %v to %v refused: %v", tt.old, tt.new, err)
			case !tt.allow && (!errors.As(err, &e) || e.Code != CodeForbidden || e.Rule != "allowlist" || !strings.Contains(e.Message, "allowlist")):
				t.Fatalf("widening %v to %v: %v, want a refusal naming the allowlist rule", tt.old, tt.new, err)
			}
			got, _ := env.store.GetApplication(admin, id)
			want := tt.old
			if tt.allow {
				want = tt.new
			}
			if gotText := FormatAllowlist(got.IPAllowlist); !sameSet(gotText, want) {
				t.Fatalf("stored allowlist %v, want %v", gotText, want)
			}
		})
	}
	// The attack on the delegate's own application, above with a fresh
	// one: here on the very application it acts as.
	lifted := []string{}
	if _, err := env.apps.Update(delegate, mgr.ClientID, ApplicationPatch{IPAllowlist: &lifted}); ErrorCode(err) != CodeForbidden {
		t.Fatalf("a delegate lifting its own allowlist: %v, want forbidden", err)
	}
	// An admin key may widen anything.
	if _, err := env.apps.Update(admin, mgr.ClientID, ApplicationPatch{IPAllowlist: &lifted}); err != nil {
		t.Fatalf("an admin key lifting an allowlist: %v", err)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
