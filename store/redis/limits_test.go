package redis

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
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
	t.Parallel()
	rs := redistest.Start(t, redistest.Mini)
	rs.Mini.SetTime(time.Now())
	cfg := LimitsConfig{Issue: Rate{N: 1000, Per: time.Hour}}
	a, b := NewLimits(rs.Client(t), "test", cfg), NewLimits(rs.Client(t), "test", cfg)
	ctx := context.Background()
	app := &store.Application{ClientID: "app"}
	before := rs.Mini.CommandCount()
	granted := 0
	for i := range 1100 {
		l := a
		if i%2 == 1 {
			l = b
		}
		got, err := l.TakeIssue(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		if got.Wait == 0 {
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
	got, _ := a.TakeIssue(ctx, app)
	if got.Wait <= 0 || got.Wait > time.Hour || got.Remaining != 0 {
		t.Fatalf("past the quota: %+v", got)
	}
	if got, _ := a.TakeIssue(ctx, &store.Application{ClientID: "other"}); got.Wait != 0 {
		t.Fatal("one application's quota refused another's token")
	}
	if got, _ := a.TakeIntrospect(ctx, &store.Application{ClientID: "rs"}); got != (store.Allowance{}) {
		t.Fatalf("an unset limit answered %+v", got)
	}
}

// What is left is estimated from the lease, without a Redis call per
// request: it goes down with each permit, close to the shared count, and
// a quota changed on the application takes effect with a new lease.
func TestLimitsQuotaRemaining(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t, redistest.Mini)
	rs.Mini.SetTime(time.Now())
	l := NewLimits(rs.Client(t), "test", LimitsConfig{Issue: Rate{N: 1000, Per: time.Hour}})
	ctx := context.Background()
	app := &store.Application{ClientID: "app"}
	left := 1000
	for i := range 120 {
		got, err := l.TakeIssue(ctx, app)
		if err != nil || got.Wait != 0 || got.Rate != (Rate{N: 1000, Per: time.Hour}) {
			t.Fatalf("take %d: %+v, %v", i+1, got, err)
		}
		if got.Remaining > left || got.Remaining < 1000-i-2 || got.Reset <= 0 || got.Reset > time.Hour {
			t.Fatalf("take %d: %d left (before: %d), whole again in %v", i+1, got.Remaining, left, got.Reset)
		}
		left = got.Remaining
	}
	if left > 1000-119 {
		t.Fatalf("after 120 takes, %d left", left)
	}
	own := store.Rate{N: 5, Per: time.Hour}
	app.TokenQuota = store.Quota{Set: true, Rate: own}
	got, err := l.TakeIssue(ctx, app)
	if err != nil || got.Rate != own || got.Remaining >= own.N {
		t.Fatalf("after the quota changed to 5/h: %+v, %v", got, err)
	}
}

// Source counts an IPv4 address as itself and an IPv6 one as its network.
func TestSource(t *testing.T) {
	t.Parallel()
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
