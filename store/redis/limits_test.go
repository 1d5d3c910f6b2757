package redis

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

// Lock-outs and quotas as the contract has them are checked by the
// conformance suite (store/storetest); what is left here is this backend's
// own: permits taken from Redis in leases.

// advance moves a test Redis's clock: miniredis by setting its time (for
// redis_rate's TIME) and its TTLs; a real server by waiting until the
// given key's TTL has run out, polled with a deadline.
func advance(t *testing.T, rs *redistest.Server, now *time.Time, d time.Duration) {
	t.Helper()
	if rs.Mini != nil {
		*now = now.Add(d)
		rs.Mini.SetTime(*now)
		rs.Mini.FastForward(d)
		return
	}
	deadline := time.Now().Add(d + 5*time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(d / 10) // waiting for real time to pass is the point here
		if time.Now().After(now.Add(d)) {
			*now = time.Now()
			return
		}
	}
	t.Fatal("time did not pass")
}

// Quotas are taken in leases: most takes cost no Redis call, and the
// shared count still refuses past the rate, on every replica.
func TestLimitsQuota(t *testing.T) {
	rs := redistest.Start(t, redistest.Mini)
	rs.Mini.SetTime(time.Now())
	cfg := LimitsConfig{Issue: Rate{N: 1000, Per: time.Hour}}
	a, b := NewLimits(rs.Client(t), "test", cfg), NewLimits(rs.Client(t), "test", cfg)
	ctx := context.Background()
	before := rs.Mini.CommandCount()
	granted := 0
	for i := range 1100 {
		l := a
		if i%2 == 1 {
			l = b
		}
		wait, err := l.TakeIssue(ctx, "app")
		if err != nil {
			t.Fatal(err)
		}
		if wait == 0 {
			granted++
		}
	}
	if granted > 1000 || granted < 900 {
		t.Fatalf("two replicas granted %d of 1100 against a quota of 1000", granted)
	}
	// A lease holds 50 permits: about 20 script calls of a few commands.
	if calls := rs.Mini.CommandCount() - before; calls > 200 {
		t.Fatalf("%d Redis commands for 1100 takes; leases should need far fewer", calls)
	}
	wait, _ := a.TakeIssue(ctx, "app")
	if wait <= 0 || wait > time.Hour {
		t.Fatalf("past the quota: wait %v", wait)
	}
	if wait, _ := a.TakeIssue(ctx, "other"); wait != 0 {
		t.Fatal("one application's quota refused another's token")
	}
	if wait, _ := a.TakeIntrospect(ctx, "rs"); wait != 0 {
		t.Fatal("an unset limit refused")
	}
}

// Source counts an IPv4 address as itself and an IPv6 one as its network.
func TestSource(t *testing.T) {
	tests := []struct {
		addr string
		bits int
		want string
	}{
		{"192.0.2.7", 64, "192.0.2.7"},
		{"::ffff:192.0.2.7", 64, "192.0.2.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", 0, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", 48, "2001:db8:1::/48"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", 128, "2001:db8:1:2:aaaa:bbbb:cccc:dddd"},
		{"fe80::1%eth0", 64, "fe80::/64"},
	}
	for _, tt := range tests {
		if got := Source(netip.MustParseAddr(tt.addr), tt.bits); got != tt.want {
			t.Errorf("Source(%s, %d) = %s, want %s", tt.addr, tt.bits, got, tt.want)
		}
	}
}
