package redis

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// defaultLimits are oauthd's default failure limits (cmd/oauthd's
// limits.*), without the ceiling.
var defaultLimits = LimitsConfig{
	ClientFailures: Rate{N: 10, Per: time.Minute},
	AddrFailures:   Rate{N: 100, Per: time.Minute},
	Lockout:        time.Minute, MaxLockout: time.Hour,
}

// slowLeak is cfg with the same failure budgets refilled over an hour
// rather than a minute, for the attacks replayed on a real redis-server,
// whose clock (redis_rate's TIME) runs on while the guesses are sent: at
// 100 a minute the address budget regains a guess every 0.6 s, and a CPU
// busy with other tests stretched 101 guesses past that. The attack is
// the same; only what real time may give back between its steps is less.
func slowLeak(cfg LimitsConfig) LimitsConfig {
	cfg.ClientFailures.Per, cfg.AddrFailures.Per = time.Hour, time.Hour
	return cfg
}

// limitsEnv is a store and its limits on one test Redis; now is the
// clock advance moves (miniredis's, for redis_rate). warm is a second
// store (another replica) holding the applications in its cache.
type limitsEnv struct {
	t    *testing.T
	rs   *redistest.Server
	st   *Store
	warm *Store
	l    *Limits
	now  time.Time
}

func newLimitsEnv(t *testing.T, kind redistest.Kind, cfg LimitsConfig) *limitsEnv {
	t.Helper()
	e := &limitsEnv{t: t, rs: redistest.Start(t, kind), now: time.Now()}
	if e.rs.Mini != nil {
		e.rs.Mini.SetTime(e.now)
	}
	rdb := e.rs.Client(t)
	e.st, e.warm = New(rdb, Options{Prefix: "test"}), New(rdb, Options{Prefix: "test"})
	e.warm.apps.setUp(true)
	e.l = NewLimits(rdb, "test", cfg)
	return e
}

// app creates an application to guess the secret of, with an IP
// allowlist when any is given.
func (e *limitsEnv) app(t *testing.T, id string, allow ...string) {
	t.Helper()
	a := issueApp(id, time.Hour)
	for _, p := range allow {
		a.IPAllowlist = append(a.IPAllowlist, netip.MustParsePrefix(p))
	}
	if err := e.st.CreateApplication(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	e.warm.apps.add(&a, e.warm.apps.begin())
}

// issue is what the token endpoint does for a client that authenticates
// correctly from addr: IssueToken, which refuses it while a lock holds.
// It asks twice, through a replica that must read the application (the
// token script checks the lock-outs) and through one that holds it (the
// write does), and fails the test unless both answer alike.
func (e *limitsEnv) issue(id string, from netip.Addr) error {
	e.t.Helper()
	var errs [2]error
	for i, s := range []*Store{e.st, e.warm} {
		now := time.Now()
		r := tokenRequest(id, fmt.Sprint("t", i, now.UnixNano()), now)
		r.From = from
		_, errs[i] = s.IssueToken(context.Background(), r, accept(r))
	}
	if d := lockedFor(e.t, errs[0]) - lockedFor(e.t, errs[1]); (errs[0] == nil) != (errs[1] == nil) || d < -time.Second || d > time.Second {
		e.t.Fatalf("token issue from %v: %v reading the application, %v holding it", from, errs[0], errs[1])
	}
	return errs[0]
}

// callerLocked is the caller's lock-out as introspection reads it, with
// the token lookup.
func (e *limitsEnv) callerLocked(t *testing.T, id string, from netip.Addr) time.Duration {
	t.Helper()
	ref := store.TokenRef{ClientID: "nobody", Bucket: 1, Digest: store.Sum("no token")}
	l, err := e.st.LookupTokenFor(context.Background(), ref, store.Caller{ClientID: id, Addr: from})
	if err != nil {
		t.Fatal(err)
	}
	return l.AlsoLocked
}

// lockedFor is how long issue was refused for; 0 when it was not.
func lockedFor(t *testing.T, err error) time.Duration {
	t.Helper()
	var le *store.LockedError
	if errors.As(err, &le) {
		return le.For
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// The attack of issue 17, item 1 (1), replayed: an address locked out
// with invented client_ids switched the per-client limit off. 1,000 wrong
// guesses against a real client from it were all refused and none
// counted, and the right secret was then accepted: a 429/200 oracle at
// any rate. Now each failure against a known client is counted on its
// pair and locks the pair for at least the address's lock-out, so the
// token script refuses the right secret exactly as the wrong ones.
func TestLimitsAddressLockIsNoOracle(t *testing.T) {
	// Not in parallel with other tests: real time passes between its steps,
	// and a CPU starved by them under -race stretched it past what the
	// case allows.
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel() // with its sibling only: the test itself is serial
			unit := 3 * time.Second
			cfg := slowLeak(defaultLimits)
			cfg.Lockout = unit
			e := newLimitsEnv(t, kind, cfg)
			ctx := context.Background()
			e.app(t, "daemon")
			attacker := netip.MustParseAddr("198.51.100.66")
			var lo store.Lockout
			var err error
			for i := range 110 {
				if lo, err = e.l.Failed(ctx, "", attacker); err != nil {
					t.Fatal(err)
				}
				if i < 99 && lo.For > 0 {
					t.Fatalf("invented id %d: locked out already", i+1)
				}
			}
			if lo.For <= 0 || lo.Scope != "address" {
				t.Fatalf("110 invented ids: %+v, want the address locked out", lo)
			}
			for i := range 1000 {
				if lo, err = e.l.Failed(ctx, "daemon", attacker); err != nil || lo.For <= 0 {
					t.Fatalf("wrong guess %d from the locked address: %+v %v, want it refused", i+1, lo, err)
				}
			}
			right := lockedFor(t, e.issue("daemon", attacker))
			if right <= 0 {
				t.Fatal("the right secret from the locked address got a token after 1000 refused guesses: a 429/200 oracle")
			}
			if d := lo.For - right; d < -time.Second || d > time.Second {
				t.Fatalf("the right secret is refused for %v, a wrong one for %v: the answers differ", right, lo.For)
			}
			if d, _ := e.l.ClientLocked(ctx, "daemon", attacker, false); d <= 0 {
				t.Fatal("introspection and revocation would let the right secret through")
			}
			// The guesses were counted: once the address's lock-out is
			// over, the pair's budget is spent, and the next wrong guess
			// locks it at once. On a real server the clock ran on while
			// they were sent, and a busy machine can stretch them past the
			// address's lock-out (a guess after it locks the pair anew,
			// which is the point too): wait out what the last answer
			// said, from when it was given.
			if e.rs.Mini == nil {
				e.now = time.Now()
			}
			advance(t, e.rs, &e.now, max(unit, lo.For)+100*time.Millisecond)
			if lo, err = e.l.Failed(ctx, "daemon", attacker); err != nil || lo.For <= 0 || !lo.New || lo.Scope != "client" {
				t.Fatalf("a wrong guess after the address's lock-out: %+v %v, want a new pair lock-out (the 1000 guesses counted)", lo, err)
			}
			// A daemon elsewhere is not held by any of it.
			if err := e.issue("daemon", netip.MustParseAddr("203.0.113.5")); err != nil {
				t.Fatalf("the daemon from its own address: %v", err)
			}
		})
	}
}

// The attack of issue 17, item 1 (2), replayed: 30 addresses guessing 10
// times each against one client, 300 guesses in a moment, each address
// within its own limit. The client-wide ceiling (limits.client_ceiling)
// then locks the client out from every address (a siege): a guess from
// a new address is refused, and so is the right secret, at the token
// script, ClientLocked and LookupTokenFor alike. Addresses in the
// client's allowlist are exempt. One address alone cannot bring a siege
// about: failures meeting its pair's lock-out do not count.
func TestLimitsCeiling(t *testing.T) {
	t.Parallel()
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			cfg := defaultLimits
			cfg.ClientCeiling = Rate{N: 300, Per: time.Hour}
			e := newLimitsEnv(t, kind, cfg)
			ctx := context.Background()
			e.app(t, "daemon")
			e.app(t, "fenced", "10.0.0.0/8")
			for _, id := range []string{"daemon", "fenced"} {
				for a := range 30 {
					addr := netip.AddrFrom4([4]byte{198, 51, 100, byte(a)})
					for i := range 10 {
						if lo, err := e.l.Failed(ctx, id, addr); err != nil || lo.For > 0 {
							t.Fatalf("%s, address %d, guess %d: %+v %v, want it answered (within both limits)", id, a, i+1, lo, err)
						}
					}
				}
			}
			fresh, inside := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("10.1.2.3")
			lo, err := e.l.Failed(ctx, "daemon", fresh)
			if err != nil || lo.For <= 0 || lo.For > time.Minute || !lo.New || lo.Scope != "siege" {
				t.Fatalf("a guess from a new address after 300 from 30: %+v %v, want a new siege of a minute", lo, err)
			}
			right := lockedFor(t, e.issue("daemon", netip.MustParseAddr("192.0.2.2")))
			if d := lo.For - right; right <= 0 || d < -time.Second || d > time.Second {
				t.Fatalf("the right secret from a new address during the siege: refused for %v, a wrong one for %v", right, lo.For)
			}
			if d, _ := e.l.ClientLocked(ctx, "daemon", netip.MustParseAddr("192.0.2.3"), false); d <= 0 {
				t.Fatal("revocation and the feed would let the right secret through during the siege")
			}
			if d := e.callerLocked(t, "daemon", netip.MustParseAddr("192.0.2.3")); d <= 0 {
				t.Fatal("introspection would let the right secret through during the siege")
			}

			// The fenced client is besieged from outside its allowlist,
			// and not inside it.
			if lo, err := e.l.ClientFailed(ctx, "fenced", fresh, false); err != nil || lo.For <= 0 {
				t.Fatalf("fenced, a guess from outside: %+v %v, want the siege", lo, err)
			}
			if lo, err := e.l.ClientFailed(ctx, "fenced", inside, true); err != nil || lo.For != 0 {
				t.Fatalf("fenced, a wrong secret from inside its allowlist: %+v %v, want it answered", lo, err)
			}
			if err := e.issue("fenced", inside); err != nil {
				t.Fatalf("fenced, the right secret from inside its allowlist: %v", err)
			}
			if d, _ := e.l.ClientLocked(ctx, "fenced", inside, true); d != 0 {
				t.Fatalf("fenced, ClientLocked inside its allowlist: %v", d)
			}
			if d := e.callerLocked(t, "fenced", inside); d != 0 {
				t.Fatalf("fenced, introspecting from inside its allowlist: locked for %v", d)
			}

			// One address, 1000 guesses: its pair is locked, nothing else.
			e.app(t, "alone")
			attacker := netip.MustParseAddr("203.0.113.66")
			for range 1000 {
				if _, err := e.l.Failed(ctx, "alone", attacker); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.issue("alone", netip.MustParseAddr("203.0.113.5")); err != nil {
				t.Fatalf("after 1000 guesses from one address, the daemon elsewhere: %v (one address brought a siege about)", err)
			}
		})
	}
}

// inNet is the address of host h in the IPv6 network of the given prefix
// (a /64's first four groups).
func inNet(prefix string, h int) netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("%s:%x:%x:%x:%x", prefix, h>>16, h&0xffff, h*7&0xffff, h*13&0xffff))
}

// The attack of issue 17, item 1 (3), replayed: lock-outs were keyed by
// the full IPv6 address, and one host holds a whole /64, so it had a
// fresh budget for every guess. Now an IPv6 address counts as its /64
// (limits.ipv6_prefix): guesses from anywhere in one /64 share one
// budget, for the pair, the address and the token script's check alike;
// another /64 has its own, and IPv4 addresses are counted one by one.
func TestLimitsIPv6Prefix(t *testing.T) {
	t.Parallel()
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := newLimitsEnv(t, kind, slowLeak(defaultLimits))
			ctx := context.Background()
			e.app(t, "daemon")
			const attacker, neighbour = "2001:db8:1:2", "2001:db8:1:3"
			var lo store.Lockout
			var err error
			for h := range 11 {
				if lo, err = e.l.Failed(ctx, "daemon", inNet(attacker, h)); err != nil {
					t.Fatal(err)
				}
			}
			if lo.For <= 0 || lo.Scope != "client" {
				t.Fatalf("11 guesses from 11 addresses of one /64: %+v, want the pair locked out", lo)
			}
			if d := lockedFor(t, e.issue("daemon", inNet(attacker, 500))); d <= 0 {
				t.Fatal("the right secret from another address of the locked /64 got a token")
			}
			if d := e.callerLocked(t, "daemon", inNet(attacker, 501)); d <= 0 {
				t.Fatal("introspection from another address of the locked /64 is not held")
			}
			if err := e.issue("daemon", inNet(neighbour, 1)); err != nil {
				t.Fatalf("the next /64: %v, want a token", err)
			}

			// The address limit: invented ids from 101 addresses of one /64.
			for h := range 101 {
				if lo, err = e.l.Failed(ctx, "", inNet(neighbour, 1000+h)); err != nil {
					t.Fatal(err)
				}
			}
			if lo.For <= 0 || lo.Scope != "address" {
				t.Fatalf("101 invented ids from 101 addresses of one /64: %+v, want the /64 locked out", lo)
			}
			if b, _ := e.l.Blocked(ctx, "", inNet(neighbour, 7)); b.For <= 0 {
				t.Fatal("Blocked misses the /64's lock-out")
			}
			if b, _ := e.l.Blocked(ctx, "", inNet("2001:db8:1:4", 7)); b.For != 0 {
				t.Fatal("a /64's lock-out holds the next one")
			}

			// IPv4 addresses are their own.
			for range 11 {
				if _, err := e.l.Failed(ctx, "daemon", netip.MustParseAddr("192.0.2.1")); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.issue("daemon", netip.MustParseAddr("192.0.2.2")); err != nil {
				t.Fatalf("the IPv4 address next to a locked one: %v", err)
			}
		})
	}
}
