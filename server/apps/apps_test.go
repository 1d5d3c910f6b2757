package apps

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/store"
)

func TestParseLifetime(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"never", 0, ""},
		{"NEVER", 0, ""},
		{"24h", 24 * time.Hour, ""},
		{"168h", 168 * time.Hour, ""},
		{"90m", 90 * time.Minute, ""},
		{"1d", 24 * time.Hour, ""},
		{"7d", 7 * 24 * time.Hour, ""},
		{"1w", 7 * 24 * time.Hour, ""},
		{"1s", time.Second, ""},
		{"", 0, "not a lifetime"},
		{"0", 0, "too short"},
		{"500ms", 0, "too short"},
		{"-1h", 0, "too short"},
		{"forever", 0, "not a lifetime"},
		{"87601h", 0, "too long"},
		{"99999d", 0, "out of range"},
		{"d", 0, "not a lifetime"},
	}
	for _, tt := range tests {
		got, err := ParseLifetime(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseLifetime(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseLifetime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if err == nil {
			back, err := ParseLifetime(FormatLifetime(got))
			if err != nil || back != got {
				t.Errorf("round trip of %q via %q: %v %v", tt.in, FormatLifetime(got), back, err)
			}
		}
	}
	for d, want := range map[time.Duration]string{0: "never", 24 * time.Hour: "24h", 90 * time.Minute: "1h30m", 45 * time.Second: "45s", time.Hour + time.Second: "1h0m1s"} {
		if got := FormatLifetime(d); got != want {
			t.Errorf("FormatLifetime(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestParseAllowlist(t *testing.T) {
	tests := []struct {
		in      []string
		want    []string
		wantErr bool
	}{
		{nil, nil, false},
		{[]string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}, false},
		{[]string{"10.1.2.3/8"}, []string{"10.0.0.0/8"}, false}, // masked
		{[]string{"203.0.113.7"}, []string{"203.0.113.7/32"}, false},
		{[]string{"::ffff:203.0.113.7"}, []string{"203.0.113.7/32"}, false},
		{[]string{"2001:db8::1", "2001:db8::/32"}, []string{"2001:db8::1/128", "2001:db8::/32"}, false},
		{[]string{"10.0.0.1, 10.0.0.2", "10.0.0.1"}, []string{"10.0.0.1/32", "10.0.0.2/32"}, false},
		{[]string{"10.0.0.0/33"}, nil, true},
		{[]string{"example.com"}, nil, true},
		{[]string{"fe80::1%eth0"}, nil, true},
		{[]string{"::ffff:10.0.0.0/104"}, nil, true},
	}
	for _, tt := range tests {
		got, err := ParseAllowlist(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseAllowlist(%v) error %v", tt.in, err)
			continue
		}
		var strs []string
		for _, p := range got {
			strs = append(strs, p.String())
		}
		if !reflect.DeepEqual(strs, tt.want) {
			t.Errorf("ParseAllowlist(%v) = %v, want %v", tt.in, strs, tt.want)
		}
	}
	many := make([]string, maxAllowlist+1)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 0, byte(i / 256), byte(i)}).String()
	}
	if _, err := ParseAllowlist(many); err == nil {
		t.Error("allowlist over the limit accepted")
	}
}

func TestAppsCreate(t *testing.T) {
	env := newTestEnv(t, Options{})
	a, secret, err := env.apps.Create(context.Background(), NewApplication{
		Name: "  Billing  ", Scopes: []string{"sms groups", "sms"}, IPAllowlist: []string{"10.0.0.0/8"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "Billing" || strings.Join(a.Scopes, " ") != "sms groups" || a.TokenLifetime != DefaultLifetime || !a.Enabled {
		t.Fatalf("created %+v", a)
	}
	if !strings.HasPrefix(secret, credential.SecretPrefix) || len(secret) != len(credential.SecretPrefix)+43 {
		t.Fatalf("secret %q", secret)
	}
	if !credential.ValidClientID(a.ClientID) || len(a.ClientID) < 20 {
		t.Fatalf("client_id %q", a.ClientID)
	}
	stored, err := env.store.GetApplication(context.Background(), a.ClientID)
	if err != nil || !stored.VerifySecret(secret, time.Now()) || stored.VerifySecret(secret+"x", time.Now()) {
		t.Fatalf("stored secret does not verify: %v", err)
	}

	bad := []struct {
		in    NewApplication
		field string
	}{
		{NewApplication{Scopes: []string{"sms"}}, "name"},
		{NewApplication{Name: "x\x00y", Scopes: []string{"sms"}}, "name"},
		{NewApplication{Name: strings.Repeat("n", 101), Scopes: []string{"sms"}}, "name"},
		{NewApplication{Name: "x"}, "scopes"},
		{NewApplication{Name: "x", Scopes: []string{"nope"}}, "scopes"},
		{NewApplication{Name: "x", Scopes: []string{`"q"`}}, "scopes"},
		{NewApplication{Name: "x", Scopes: []string{"sms"}, TokenLifetime: "soon"}, "token_lifetime"},
		{NewApplication{Name: "x", Scopes: []string{"sms"}, IPAllowlist: []string{"nope"}}, "ip_allowlist"},
		{NewApplication{Name: "x", Scopes: []string{"sms"}, Description: strings.Repeat("d", 501)}, "description"},
	}
	for _, tt := range bad {
		_, _, err := env.apps.Create(context.Background(), tt.in)
		var ve *Error
		if !errors.As(err, &ve) || ve.Code != CodeInvalid || ve.Field != tt.field {
			t.Errorf("Create(%+v) = %v, want an invalid Error on %s", tt.in, err, tt.field)
		}
	}
}

func TestRevokeAllConstantTime(t *testing.T) {
	for _, reasons := range []bool{true, false} {
		t.Run(fmt.Sprint("inactive_reason=", reasons), func(t *testing.T) {
			testRevokeAllConstantTime(t, reasons)
		})
	}
}

func testRevokeAllConstantTime(t *testing.T, reasons bool) {
	var keep time.Duration
	if reasons {
		keep = time.Hour
	}
	env := newTestEnvKeep(t, Options{}, keep)
	app, _, err := env.apps.Create(context.Background(), NewApplication{Name: "x", Scopes: []string{"sms"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, _, err := env.apps.Get(ctx, app.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	// A few hundred tokens prove the call count (ten thousand proved
	// nothing more, for seconds of the suite's time).
	refs := make([]store.TokenRef, 300)
	for i := range refs {
		_, ref := credential.NewToken(app.ClientID, store.NeverBucket(a.Generation))
		refs[i] = ref
		if err := env.store.CreateToken(ctx, ref, store.Token{ClientID: app.ClientID, Scopes: []string{"sms"},
			IssuedAt: time.Now(), Generation: a.Generation}); err != nil {
			t.Fatal(err)
		}
	}
	counting := &countingStore{Store: env.store}
	apps := New(counting, scopes.Default(), Options{})
	if err := apps.RevokeTokens(ctx, app.ClientID); err != nil {
		t.Fatal(err)
	}
	if counting.updates != 1 || counting.other != 0 {
		t.Fatalf("revoke-all made %d updates and %d other store calls; want exactly one update", counting.updates, counting.other)
	}
	for _, i := range []int{0, 149, 299} {
		l, err := env.store.LookupToken(ctx, refs[i], "")
		if err != nil {
			t.Fatal(err)
		}
		reason := credential.State(l, credential.Use{Now: time.Now()}).Reason
		if reasons && reason != credential.ReasonRevoked || !reasons && (reason == "" || l.Token != nil) {
			t.Fatalf("token %d: reason %q (record kept: %v) after revoke-all", i, reason, l.Token != nil)
		}
	}
}

// countingStore counts the store calls the service makes (audit writes
// aside, which are not part of the revocation).
type countingStore struct {
	Store
	updates, other int
}

func (c *countingStore) UpdateApplication(ctx context.Context, id string, f func(store.Application) (store.Application, error)) (store.Application, error) {
	c.updates++
	return c.Store.UpdateApplication(ctx, id, f)
}

func (c *countingStore) GetApplication(ctx context.Context, id string) (store.Application, error) {
	c.other++
	return c.Store.GetApplication(ctx, id)
}

func (c *countingStore) DeleteApplication(ctx context.Context, id string) error {
	c.other++
	return c.Store.DeleteApplication(ctx, id)
}

// EventLog: the log asked for, else the kind's, else the changes; a kind
// of the other log, or a log that is neither, is refused on its field.
func TestEventLog(t *testing.T) {
	tests := []struct {
		f     store.EventFilter
		want  string
		field string
	}{
		{store.EventFilter{}, store.LogAdmin, ""},
		{store.EventFilter{Log: store.LogSecurity}, store.LogSecurity, ""},
		{store.EventFilter{Kind: "secret.reset"}, store.LogAdmin, ""},
		{store.EventFilter{Kind: "admin.locked_out"}, store.LogSecurity, ""},
		{store.EventFilter{Kind: "no.such_kind"}, store.LogAdmin, ""},
		{store.EventFilter{Log: store.LogSecurity, Kind: "dashboard.auth_failed"}, store.LogSecurity, ""},
		{store.EventFilter{Log: store.LogAdmin, Kind: "client.locked_out"}, "", "kind"},
		{store.EventFilter{Log: store.LogSecurity, Kind: "application.created"}, "", "kind"},
		{store.EventFilter{Log: "all"}, "", "log"},
	}
	for _, tt := range tests {
		got, err := EventLog(tt.f)
		var e *Error
		if got != tt.want || (tt.field != "") != errors.As(err, &e) || (e != nil && e.Field != tt.field) {
			t.Errorf("EventLog(%+v) = %q, %v; want %q, error on %q", tt.f, got, err, tt.want, tt.field)
		}
	}
}
