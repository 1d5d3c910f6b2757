package apps

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

func TestParseQuota(t *testing.T) {
	for _, tt := range []struct {
		in, out string // out "" with ok false: refused
		ok      bool
		want    store.Quota
	}{
		{"", "", true, store.Quota{}},
		{" default ", "", true, store.Quota{}},
		{"unlimited", "unlimited", true, store.Quota{Set: true}},
		{"UNLIMITED", "unlimited", true, store.Quota{Set: true}},
		{"1000/1h", "1000/1h", true, store.Quota{Set: true, Rate: store.Rate{N: 1000, Per: time.Hour}}},
		{"50/90s", "50/1m30s", true, store.Quota{Set: true, Rate: store.Rate{N: 50, Per: 90 * time.Second}}},
		{"1000000/24h", "1000000/24h", true, store.Quota{Set: true, Rate: store.Rate{N: 1_000_000, Per: 24 * time.Hour}}},
		{"0", "", false, store.Quota{}},
		{"1000", "", false, store.Quota{}},
		{"0/1h", "", false, store.Quota{}},
		{"1000001/1h", "", false, store.Quota{}},
		{"10/500ms", "", false, store.Quota{}},
		{"10/1500ms", "", false, store.Quota{}},
		{"10/25h", "", false, store.Quota{}},
		{"ten/1h", "", false, store.Quota{}},
	} {
		q, err := ParseQuota(tt.in)
		if (err == nil) != tt.ok || q != tt.want {
			t.Errorf("ParseQuota(%q) = %+v, %v; want %+v (ok %v)", tt.in, q, err, tt.want, tt.ok)
			continue
		}
		if tt.ok && FormatQuota(q) != tt.out {
			t.Errorf("FormatQuota(ParseQuota(%q)) = %q, want %q", tt.in, FormatQuota(q), tt.out)
		}
	}
	for _, in := range []string{"enforce", "Monitor", "", "default"} {
		if _, err := ParseQuotaMode(in); err != nil {
			t.Errorf("ParseQuotaMode(%q): %v", in, err)
		}
	}
	if _, err := ParseQuotaMode("log"); ErrorCode(err) != CodeInvalid {
		t.Errorf("ParseQuotaMode(log) = %v, want invalid", err)
	}
}

// A rate allows no more than another when it allows no more at once and
// none faster; no limit allows the most.
func TestAtMost(t *testing.T) {
	hour := func(n int) store.Rate { return store.Rate{N: n, Per: time.Hour} }
	for _, tt := range []struct {
		a, b store.Rate
		want bool
	}{
		{hour(10), hour(10), true},
		{hour(5), hour(10), true},
		{hour(20), hour(10), false},
		{store.Rate{N: 10, Per: 2 * time.Hour}, hour(10), true},
		{store.Rate{N: 10, Per: 30 * time.Minute}, hour(10), false},
		{store.Rate{N: 2, Per: time.Minute}, hour(100), false}, // 120 an hour
		{store.Rate{N: 1, Per: time.Minute}, hour(100), true},
		{hour(10), store.Rate{}, true},
		{store.Rate{}, hour(10), false},
		{store.Rate{}, store.Rate{}, true},
		{store.Rate{N: 1_000_000, Per: time.Second}, store.Rate{N: 1_000_000, Per: 24 * time.Hour}, false},
	} {
		if got := atMost(tt.a, tt.b); got != tt.want {
			t.Errorf("atMost(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// A spent quota in monitor mode is a security event of its own source,
// marked monitor, apart from refusals.
func TestSecurityEventMonitor(t *testing.T) {
	env := newTestEnv(t, Options{})
	ctx := context.Background()
	addr := netip.MustParseAddr("192.0.2.7")
	for range 3 {
		env.apps.Security(ctx, store.SecurityEvent{Kind: "token.quota_exceeded", ClientID: "app", Known: true, Addr: addr, Monitor: true})
	}
	env.apps.Security(ctx, store.SecurityEvent{Kind: "token.quota_exceeded", ClientID: "app", Known: true, Addr: addr})
	env.apps.Flush(ctx)
	list, _, err := env.store.ListEvents(ctx, store.EventFilter{Log: store.LogSecurity, ClientID: "app"}, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var monitored, refused int
	for _, e := range list {
		if e.Detail["monitor"] == true {
			monitored++
		} else {
			refused++
		}
	}
	if monitored != 1 || refused != 1 {
		t.Fatalf("events %+v: want one monitored (written at once; the rest of its period with Flush) and one refused", list)
	}
}
