package server

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

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
	env := newTestServer(t)
	a, secret, err := env.apps.Create(context.Background(), NewApplication{
		Name: "  Billing  ", Scopes: []string{"sms groups", "sms"}, IPAllowlist: []string{"10.0.0.0/8"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "Billing" || strings.Join(a.Scopes, " ") != "sms groups" || a.TokenLifetime != DefaultLifetime || !a.Enabled {
		t.Fatalf("created %+v", a)
	}
	if !strings.HasPrefix(secret, SecretPrefix) || len(secret) != len(SecretPrefix)+randomLen {
		t.Fatalf("secret %q", secret)
	}
	if !validClientID(a.ClientID) || len(a.ClientID) < 20 {
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
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tt.field {
			t.Errorf("Create(%+v) = %v, want a ValidationError on %s", tt.in, err, tt.field)
		}
	}
}

func TestParseToken(t *testing.T) {
	for _, bucket := range []int64{1_763_900_000, 60, store.NeverBucket(0), store.NeverBucket(7)} {
		raw, ref := newToken("abc", bucket)
		got, ok := parseToken(raw)
		if !ok || got != ref || got.Bucket != bucket {
			t.Fatalf("parseToken(newToken(bucket %d)) = %v %v", bucket, got, ok)
		}
		if key, kref := newAPIKey("abc", bucket); !strings.HasPrefix(key, APIKeyPrefix) {
			t.Fatalf("API key %q", key)
		} else if got, ok := parseToken(key); !ok || got != kref {
			t.Fatalf("parseToken(newAPIKey) = %v %v", got, ok)
		}
	}
	r := strings.Repeat("a", randomLen)
	raw, _ := newToken("abc", 60)
	for _, bad := range []string{
		"", "oat_", "oat_abc", "oat_abc_", "oat__1o_" + r,
		"oat_abc_" + r, // no bucket (the format before buckets)
		"oat_abc_1o_" + strings.Repeat("a", randomLen-1),
		"oat_abc_1o_" + strings.Repeat("a", randomLen+1),
		"oat_ab{c}_1o_" + r,
		"oat_abc_1o_" + strings.Repeat("a", randomLen-1) + "=",
		"oat_abc_0_" + r,   // no expiry bucket 0
		"oat_abc_01o_" + r, // not canonical
		"oat_abc_1O_" + r,  // upper case
		"oat_abc_n_" + r,
		"oat_abc_-5_" + r,
		"oat_abc_" + strings.Repeat("z", 13) + "_" + r,
		"xyz_abc_1o_" + r,
		strings.Replace(raw, "oat_", "OAT_", 1),
	} {
		if _, ok := parseToken(bad); ok {
			t.Errorf("parseToken(%q) accepted", bad)
		}
	}
}
