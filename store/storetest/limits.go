package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
)

// failed calls Failed and fails the test on an error.
func failed(t *testing.T, s store.Limits, clientID string, addr netip.Addr) store.Lockout {
	t.Helper()
	lo, err := s.Failed(context.Background(), clientID, addr)
	if err != nil {
		t.Fatalf("Failed(%q, %v): %v", clientID, addr, err)
	}
	return lo
}

// sameLockout compares a lock-out with the one wanted: its duration may
// have run a little already (a backend reporting the time left from when
// it ends), never longer than wanted.
func sameLockout(got, want store.Lockout) bool {
	return got.New == want.New && got.Scope == want.Scope && got.For <= want.For && got.For > want.For-50*time.Millisecond
}

// Failures of one client from one address lock that pair out: a correct
// secret from there is refused too (CreateToken, LookupTokenFor), another
// address is not held. Each further lock-out lasts twice as long, up to
// the maximum.
func testClientLockout(t *testing.T, s Backend) {
	ctx := context.Background()
	a := newApp(t)
	mustCreate(t, s, a)
	attacker, daemon := netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::9")
	for i := range limits.ClientFailures.N {
		if lo := failed(t, s, a.ClientID, attacker); lo != (store.Lockout{}) {
			t.Fatalf("failure %d of %d: %+v, want no lock-out yet", i+1, limits.ClientFailures.N, lo)
		}
	}
	want := store.Lockout{For: limits.Lockout, New: true, Scope: "client"}
	if lo := failed(t, s, a.ClientID, attacker); !sameLockout(lo, want) {
		t.Fatalf("failure past the limit: %+v, want %+v", lo, want)
	}
	if lo := failed(t, s, a.ClientID, attacker); lo.New || lo.For <= 0 || lo.For > limits.Lockout {
		t.Fatalf("a failure during the lock-out: %+v, want the standing lock", lo)
	}
	if lo, err := s.Blocked(ctx, a.ClientID, attacker); err != nil || lo.New || lo.Scope != "client" || lo.For <= 0 {
		t.Fatalf("Blocked(pair) = %+v, %v", lo, err)
	}
	if lo, err := s.Blocked(ctx, a.ClientID, daemon); err != nil || lo != (store.Lockout{}) {
		t.Fatalf("Blocked(another address) = %+v, %v; want none", lo, err)
	}
	if d, err := s.ClientLocked(ctx, a.ClientID, attacker, false); err != nil || d <= 0 || d > limits.Lockout {
		t.Fatalf("ClientLocked(pair) = %v, %v", d, err)
	}
	if d, err := s.ClientLocked(ctx, a.ClientID, daemon, false); err != nil || d != 0 {
		t.Fatalf("ClientLocked(another address) = %v, %v; want 0", d, err)
	}

	// The right secret from the locked address gets no token, and nothing
	// is stored; from elsewhere it does.
	tok := newToken(a, time.Hour)
	tok.RequestedFrom = attacker
	ref := refOf(tok, "locked")
	var locked *store.LockedError
	if err := s.CreateToken(ctx, ref, tok); !errors.As(err, &locked) || locked.For <= 0 || locked.For > limits.Lockout {
		t.Fatalf("CreateToken from a locked-out pair = %v, want *LockedError", err)
	}
	if l := lookup(t, s, ref); l.Token != nil {
		t.Fatal("a token refused for a lock-out was stored")
	}
	tok.RequestedFrom = daemon
	if err := s.CreateToken(ctx, ref, tok); err != nil {
		t.Fatalf("CreateToken from another address: %v", err)
	}
	// IssueToken too, having authenticated the client.
	r := request(a, "issued while locked")
	r.From = attacker
	if _, c, err := issue(t, s, r, nil); !errors.As(err, &locked) || locked.For <= 0 || locked.For > limits.Lockout || c.calls != 1 {
		t.Fatalf("IssueToken from a locked-out pair = %v (check called %d times), want *LockedError after the check", err, c.calls)
	}
	if l := lookup(t, s, store.TokenRef{ClientID: a.ClientID, Bucket: tok.Bucket(), Digest: r.Digest}); l.Token != nil {
		t.Fatal("IssueToken stored a token refused for a lock-out")
	}
	r.From = daemon
	if got, _, err := issue(t, s, r, nil); err != nil || lookup(t, s, got.Ref).Token == nil {
		t.Fatalf("IssueToken from another address: %v", err)
	}
	// Introspection by the locked client reads its lock-out alongside.
	for addr, isLocked := range map[netip.Addr]bool{attacker: true, daemon: false} {
		l, err := s.LookupTokenFor(ctx, ref, store.Caller{ClientID: a.ClientID, Addr: addr})
		if err != nil || l.Token == nil || l.Also == nil || (l.AlsoLocked > 0) != isLocked || l.AlsoLocked > limits.Lockout {
			t.Fatalf("LookupTokenFor(caller from %v) = %+v, %v; want locked %v", addr, l, err, isLocked)
		}
	}

	lock := limits.Lockout
	for _, next := range []time.Duration{2 * limits.Lockout, limits.MaxLockout} {
		s.FastForward(lock + 50*time.Millisecond)
		if d, err := s.ClientLocked(ctx, a.ClientID, attacker, false); err != nil || d != 0 {
			t.Fatalf("ClientLocked after the lock-out = %v, %v; want 0", d, err)
		}
		want := store.Lockout{For: next, New: true, Scope: "client"}
		if lo := failed(t, s, a.ClientID, attacker); !sameLockout(lo, want) {
			t.Fatalf("the next failure: %+v, want %+v", lo, want)
		}
		lock = next
	}
}

// Failures from one address naming any client, or none, lock the address
// out: every failure from it is held, but a client that authenticates
// correctly is not.
func testAddressLockout(t *testing.T, s Backend) {
	ctx := context.Background()
	a := newApp(t)
	mustCreate(t, s, a)
	nat := netip.MustParseAddr("192.0.2.44")
	for i := range limits.AddrFailures.N {
		id := fmt.Sprint("guess-", i)
		if i == 0 {
			id = "" // no client_id could be read (the dashboard's sign-in)
		}
		if lo := failed(t, s, id, nat); lo != (store.Lockout{}) {
			t.Fatalf("failure %d from the address: %+v, want none yet", i+1, lo)
		}
	}
	want := store.Lockout{For: limits.Lockout, New: true, Scope: "address"}
	if lo := failed(t, s, "guess-last", nat); !sameLockout(lo, want) {
		t.Fatalf("failure past the address limit: %+v, want %+v", lo, want)
	}
	for _, id := range []string{"", a.ClientID, "anyone"} {
		if lo, err := s.Blocked(ctx, id, nat); err != nil || lo.Scope != "address" || lo.For <= 0 || lo.New {
			t.Fatalf("Blocked(%q, the address) = %+v, %v; want the address lock-out", id, lo, err)
		}
	}
	if d, err := s.ClientLocked(ctx, a.ClientID, nat, false); err != nil || d != 0 {
		t.Fatalf("ClientLocked under an address lock-out = %v, %v; want 0", d, err)
	}
	tok := newToken(a, time.Hour)
	tok.RequestedFrom = nat
	if err := s.CreateToken(ctx, refOf(tok, "from-nat"), tok); err != nil {
		t.Fatalf("CreateToken under an address lock-out: %v", err)
	}
}

// A failure naming a real client from a locked-out address is counted on
// the pair and locks it at least as long as the address: from then on the
// right secret meets the same lock-out as a wrong one (no 429/200 oracle).
func testAddressLockIsNoOracle(t *testing.T, s Backend) {
	ctx := context.Background()
	a := newApp(t)
	mustCreate(t, s, a)
	nat := netip.MustParseAddr("192.0.2.45")
	for i := range longLockouts.AddrFailures.N + 1 {
		failed(t, s, fmt.Sprint("guess-", i), nat)
	}
	if lo, err := s.Blocked(ctx, "", nat); err != nil || lo.Scope != "address" || lo.For <= 0 {
		t.Fatalf("Blocked(the address) = %+v, %v; want its lock-out", lo, err)
	}
	lo, err := s.ClientFailed(ctx, a.ClientID, nat, false)
	if err != nil || lo.For <= 0 {
		t.Fatalf("ClientFailed naming the client from the locked address = %+v, %v; want a lock-out", lo, err)
	}
	if d, err := s.ClientLocked(ctx, a.ClientID, nat, false); err != nil || d <= 0 {
		t.Fatalf("ClientLocked after a failure from the locked address = %v, %v; want the pair held", d, err)
	}
	tok := newToken(a, time.Hour)
	tok.RequestedFrom = nat
	var locked *store.LockedError
	if err := s.CreateToken(ctx, refOf(tok, "right-secret"), tok); !errors.As(err, &locked) {
		t.Fatalf("CreateToken for the right secret after a failure from the locked address: %v, want a LockedError", err)
	}
}

// Each application's token quota and each resource server's introspection
// budget are counted apart: the client that spent one has the other whole.
// An application's own quota holds it instead of the global one (limits:
// 2/h): a higher one, none at all, or in monitor mode the global one,
// reported spent but marked Monitor. The allowance says which rate held
// the request and, going down, what is left.
func testQuotas(t *testing.T, s Backend) {
	ctx := context.Background()
	own := store.Quota{Set: true, Rate: store.Rate{N: 4, Per: time.Hour}}
	for name, take := range map[string]func(context.Context, *store.Application) (store.Allowance, error){
		"TakeIssue": s.TakeIssue, "TakeIntrospect": s.TakeIntrospect,
	} {
		app := func(id string, q store.Quota, mode string) *store.Application {
			a := &store.Application{ClientID: id + "-" + name, QuotaMode: mode}
			if name == "TakeIssue" {
				a.TokenQuota = q
			} else {
				a.IntrospectionQuota = q
			}
			return a
		}
		spend := func(a *store.Application, n int, rate store.Rate) {
			t.Helper()
			left := rate.N
			for i := range n {
				got, err := take(ctx, a)
				if err != nil || got.Wait != 0 || got.Rate != rate || got.Remaining >= left || got.Monitor {
					t.Fatalf("%s %d of %d for %s: %+v, %v; want the rate %v, less than %d left", name, i+1, n, a.ClientID, got, err, rate, left)
				}
				left = got.Remaining
			}
		}
		def := limits.Issue
		if name == "TakeIntrospect" {
			def = limits.Introspect
		}
		spender := app("spender", store.Quota{}, "")
		spend(spender, 2, def)
		if got, err := take(ctx, spender); err != nil || got.Wait <= 0 || got.Wait > time.Hour || got.Monitor || got.Remaining != 0 {
			t.Fatalf("%s past the quota: %+v, %v; want a wait up to an hour", name, got, err)
		}
		spend(app("other", store.Quota{}, ""), 1, def)

		big := app("big", own, store.QuotaEnforce)
		spend(big, 4, own.Rate)
		if got, err := take(ctx, big); err != nil || got.Wait <= 0 {
			t.Fatalf("%s past its own quota: %+v, %v; want a wait", name, got, err)
		}
		free := app("free", store.Quota{Set: true}, "")
		for range 5 {
			if got, err := take(ctx, free); err != nil || got != (store.Allowance{}) {
				t.Fatalf("%s of an application without a quota: %+v, %v", name, got, err)
			}
		}
		watched := app("watched", store.Quota{}, store.QuotaMonitor)
		for range 2 {
			take(ctx, watched)
		}
		if got, err := take(ctx, watched); err != nil || got.Wait <= 0 || !got.Monitor {
			t.Fatalf("%s past a monitored quota: %+v, %v; want a wait, marked Monitor", name, got, err)
		}
	}
}
