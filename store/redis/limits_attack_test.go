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

// limitsEnv is a store and its limits on one test Redis, with a clock the
// limits read that follows the test's (miniredis's time, or the wall
// clock on a real server).
type limitsEnv struct {
	rs  *redistest.Server
	st  *Store
	l   *Limits
	now time.Time
}

func newLimitsEnv(t *testing.T, kind redistest.Kind, cfg LimitsConfig) *limitsEnv {
	t.Helper()
	e := &limitsEnv{rs: redistest.Start(t, kind), now: time.Now()}
	if e.rs.Mini != nil {
		e.rs.Mini.SetTime(e.now)
	}
	rdb := e.rs.Client(t)
	e.st = New(rdb, Options{Prefix: "test"})
	e.l = NewLimits(rdb, "test", cfg)
	if e.rs.Mini != nil {
		e.l.now = func() time.Time { return e.now }
	}
	return e
}

// app creates an application to guess the secret of.
func (e *limitsEnv) app(t *testing.T, id string) {
	t.Helper()
	now := time.Now()
	a := store.Application{ClientID: id, Name: id, Scopes: []string{"sms"}, Enabled: true, TokenLifetime: time.Hour, CreatedAt: now, UpdatedAt: now}
	if err := e.st.CreateApplication(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

// issue is what the token endpoint does once a client has authenticated
// from addr: the token script, which refuses it while a lock holds.
func (e *limitsEnv) issue(id string, from netip.Addr) error {
	now := time.Now()
	t := store.Token{ClientID: id, Scopes: []string{"sms"}, IssuedAt: now, ExpiresAt: now.Add(time.Hour), RequestedFrom: from}
	ref := store.TokenRef{ClientID: id, Bucket: t.Bucket(), Digest: store.Sum(fmt.Sprint("t", now.UnixNano()))}
	return e.st.CreateToken(context.Background(), ref, t)
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
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			unit := 3 * time.Second
			e := newLimitsEnv(t, kind, LimitsConfig{
				ClientFailures: Rate{N: 10, Per: time.Minute},
				AddrFailures:   Rate{N: 100, Per: time.Minute},
				Lockout:        unit, MaxLockout: time.Hour,
			})
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
			if d, _ := e.l.ClientLocked(ctx, "daemon", attacker); d <= 0 {
				t.Fatal("introspection and revocation would let the right secret through")
			}
			// The guesses were counted: once the address's lock-out is
			// over, the pair's budget is spent, and the next wrong guess
			// locks it at once.
			advance(t, e.rs, &e.now, unit+100*time.Millisecond)
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
