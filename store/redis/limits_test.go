package redis

import (
	"context"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

// Lock-outs and quotas as the contract has them are checked by the
// conformance suite (store/storetest); what is left here is this backend's
// own: permits taken from Redis in leases.

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
