//go:build faults

package main

import (
	"context"
	"net/netip"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
)

// TestFaultClusterLimits runs the abuse limits on a three-primary Redis
// Cluster: every script touches keys of one hash slot (a client's, or an
// address's), so lock-outs, quotas and the token script's lock-out check
// work there as on one node; so do a pair's lock-out extended to its
// address's (in another slot) and the siege the token script reads with
// the pair's.
func TestFaultClusterLimits(t *testing.T) {
	_, addrs := startCluster(t)
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
	defer cc.Close()
	ctx := context.Background()
	l := redis.NewLimits(cc, "oauthd", redis.LimitsConfig{
		ClientFailures: redis.Rate{N: 2, Per: time.Minute},
		AddrFailures:   redis.Rate{N: 3, Per: time.Minute},
		Lockout:        time.Minute, MaxLockout: time.Hour,
		Issue: redis.Rate{N: 100, Per: time.Hour},
	})
	attacker := netip.MustParseAddr("2001:db8::66")
	var lo store.Lockout
	var err error
	for range 3 {
		if lo, err = l.Failed(ctx, "app1", attacker); err != nil {
			t.Fatalf("client failures on Cluster: %v", err)
		}
	}
	if lo.For <= 0 || lo.Scope != "client" {
		t.Fatalf("after 3 failures: %+v, want a client lock-out", lo)
	}
	other := netip.MustParseAddr("198.51.100.9")
	for _, id := range []string{"a", "b", "c", "d"} {
		if lo, err = l.Failed(ctx, id, other); err != nil {
			t.Fatalf("address failures on Cluster: %v", err)
		}
	}
	if lo.For <= 0 || lo.Scope != "address" {
		t.Fatalf("after 4 failures from one address: %+v, want an address lock-out", lo)
	}
	if got, err := l.TakeIssue(ctx, &store.Application{ClientID: "app1"}); err != nil || got.Wait != 0 || got.Remaining <= 0 {
		t.Fatalf("quota on Cluster: %+v %v", got, err)
	}

	// The token script refuses a locked pair in the same step as the write.
	st := redis.New(cc, redis.Options{Prefix: "oauthd"})
	app := store.Application{ClientID: "app1", Name: "x", Scopes: []string{"sms"}, Enabled: true, TokenLifetime: time.Hour,
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := st.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok := store.Token{ClientID: "app1", Scopes: []string{"sms"}, IssuedAt: now, ExpiresAt: now.Add(time.Hour), RequestedFrom: attacker}
	ref := store.TokenRef{ClientID: "app1", Bucket: tok.Bucket(), Digest: store.Sum("t1")}
	var locked *store.LockedError
	if err := st.CreateToken(ctx, ref, tok); err == nil || !asLocked(err, &locked) {
		t.Fatalf("a token for a locked pair on Cluster: %v, want *store.LockedError", err)
	}
	tok.RequestedFrom = netip.MustParseAddr("203.0.113.1")
	if err := st.CreateToken(ctx, ref, tok); err != nil {
		t.Fatalf("a token from another address on Cluster: %v", err)
	}

	// A failure naming a real client from the locked address locks the
	// pair as long: the token script refuses the right secret too.
	for _, id := range []string{"app2", "app3"} {
		a := app
		a.ClientID = id
		if err := st.CreateApplication(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if lo, err = l.Failed(ctx, "app2", other); err != nil || lo.For <= 0 {
		t.Fatalf("a failure naming a real client from a locked address on Cluster: %+v %v", lo, err)
	}
	tok2, ref2 := tok, ref
	tok2.ClientID, ref2.ClientID, tok2.RequestedFrom = "app2", "app2", other
	if err := st.CreateToken(ctx, ref2, tok2); !asLocked(err, &locked) {
		t.Fatalf("the right secret from the locked address on Cluster: %v, want *store.LockedError", err)
	}

	// The siege: past the ceiling, every address but the allowlisted.
	sieges := redis.NewLimits(cc, "oauthd", redis.LimitsConfig{
		ClientCeiling: redis.Rate{N: 3, Per: time.Minute},
		Lockout:       time.Minute, MaxLockout: time.Hour,
	})
	for i := range 4 {
		if lo, err = sieges.Failed(ctx, "app3", netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})); err != nil {
			t.Fatalf("ceiling on Cluster: %v", err)
		}
	}
	if lo.For <= 0 || lo.Scope != "siege" {
		t.Fatalf("4 failures from 4 addresses past a ceiling of 3: %+v, want a siege", lo)
	}
	tok3, ref3 := tok, ref
	tok3.ClientID, ref3.ClientID, tok3.RequestedFrom = "app3", "app3", netip.MustParseAddr("192.0.2.200")
	if err := st.CreateToken(ctx, ref3, tok3); !asLocked(err, &locked) {
		t.Fatalf("a token during the siege on Cluster: %v, want *store.LockedError", err)
	}
	tok3.Allowlisted = true
	if err := st.CreateToken(ctx, ref3, tok3); err != nil {
		t.Fatalf("a token from inside the allowlist during the siege on Cluster: %v", err)
	}
}

func asLocked(err error, target **store.LockedError) bool {
	l, ok := err.(*store.LockedError)
	*target = l
	return ok
}
