package redis

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

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

// Failed authentications lock a (client, address) pair out after the
// limit, for a time that doubles with each lock-out; another address is
// not affected; per address, failures naming any client lock the address.
func TestLimitsLockout(t *testing.T) {
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			rs := redistest.Start(t, kind)
			now := time.Now()
			if rs.Mini != nil {
				rs.Mini.SetTime(now)
			}
			unit := 400 * time.Millisecond
			l := NewLimits(rs.Client(t), "test", LimitsConfig{
				ClientFailures: Rate{N: 3, Per: time.Minute},
				AddrFailures:   Rate{N: 10, Per: time.Minute},
				Lockout:        unit, MaxLockout: 3 * unit,
			})
			ctx := context.Background()
			attacker, daemon := netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("203.0.113.9")
			for i := range 3 {
				if lo, err := l.Failed(ctx, "app", attacker); err != nil || lo.For != 0 {
					t.Fatalf("failure %d: %+v %v, want no lock-out yet", i+1, lo, err)
				}
			}
			lo, err := l.Failed(ctx, "app", attacker)
			if err != nil || lo.For <= 0 || lo.For > unit || !lo.New || lo.Scope != "client" {
				t.Fatalf("4th failure: %+v %v, want a new client lock-out of %v", lo, err, unit)
			}
			if d, _ := l.ClientLocked(ctx, "app", attacker, false); d <= 0 {
				t.Fatal("the pair is not locked")
			}
			if d, _ := l.ClientLocked(ctx, "app", daemon, false); d != 0 {
				t.Fatalf("the daemon's address is locked out (%v) by failures from elsewhere", d)
			}
			if lo, _ := l.Failed(ctx, "app", attacker); lo.New || lo.For <= 0 {
				t.Fatalf("a failure during the lock-out: %+v, want the standing lock", lo)
			}
			// After it, the next failure locks again, for twice as long,
			// then the maximum.
			for _, want := range []time.Duration{2 * unit, 3 * unit} {
				advance(t, rs, &now, lo.For+50*time.Millisecond)
				lo, err = l.Failed(ctx, "app", attacker)
				if err != nil || !lo.New || lo.For <= want-unit/2 || lo.For > want {
					t.Fatalf("lock-out after the last: %+v %v, want %v", lo, err, want)
				}
			}

			// Per address: failures naming ten different clients.
			other := netip.MustParseAddr("192.0.2.44")
			var last store.Lockout
			for i := range 11 {
				if last, err = l.Failed(ctx, "c"+string(rune('a'+i)), other); err != nil {
					t.Fatal(err)
				}
			}
			if last.For <= 0 || last.Scope != "address" {
				t.Fatalf("11 failures from one address naming 11 clients: %+v, want an address lock-out", last)
			}
			if d, _ := l.ClientLocked(ctx, "cz", other, false); d != 0 {
				t.Fatal("an address lock-out holds a client that authenticates correctly")
			}
			if b, _ := l.Blocked(ctx, "", other); b.For <= 0 {
				t.Fatal("Blocked misses the address lock-out")
			}

			// Fail closed: Redis gone is an error, never "not locked".
			rs.Stop()
			if _, err := l.Failed(ctx, "app", daemon); !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("Failed with Redis down: %v, want ErrUnavailable", err)
			}
		})
	}
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
