//go:build faults

package redis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// Issued tokens leave Redis by themselves once expired: memory and key
// count come back to where they started. Real Redis only (miniredis has no
// INFO memory); expiry takes real time, so lifetimes are a second. Under
// the faults tag (make test-faults): 20,000 tokens and Redis's own expiry,
// waited for four times, were the longest wait of the default suite.
func TestFootprintReturns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Real)
	rdb := srv.Client(t)
	s := redis.New(rdb, redis.Options{Prefix: "fp"})
	app := store.Application{ClientID: "fp", Name: "n", Enabled: true, CreatedAt: time.Now()}
	if err := s.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	const n = 5000
	// Every token issued in one hour, whatever the clock, so that no
	// hour's first token folds the usage into a new hourly key.
	start := time.Now()
	issue := func(round int) {
		now := time.Now()
		for i := range n {
			tok := store.Token{ClientID: "fp", IssuedAt: start, ExpiresAt: now.Add(time.Second), Scopes: []string{"sms"}}
			ref := store.TokenRef{ClientID: "fp", Bucket: tok.Bucket(), Digest: store.Sum(fmt.Sprint(round, i))}
			if err := s.CreateToken(ctx, ref, tok); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Expiry is Redis's own (active expiry samples keys ten times a
	// second): there is no signal to wait for, so poll, bounded.
	waitFor := func(keys int64) {
		deadline := time.Now().Add(15 * time.Second)
		for rdb.DBSize(ctx).Val() != keys {
			if time.Now().After(deadline) {
				t.Fatalf("keys did not come back to %d: %v", keys, rdb.Keys(ctx, "*").Val())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The first rounds warm what Redis keeps once (the script, the
	// connection's buffers, its own tables); later rounds must each give
	// back everything.
	// Plus the application's usage hash, which the tokens are counted in
	// and which stays with the application.
	before := rdb.DBSize(ctx).Val() + 1
	for round := range 2 {
		issue(round)
		waitFor(before)
	}
	mem0 := usedMemory(t, rdb)
	for round := 2; round < 4; round++ {
		issue(round)
		peak := usedMemory(t, rdb)
		t.Logf("%d live tokens: %d keys over the %d before, %d bytes (%.0f per token)",
			n, rdb.DBSize(ctx).Val()-before, before, peak-mem0, float64(peak-mem0)/n)
		waitFor(before)
		// Redis may free a large hash off its main thread: poll for
		// memory too, and allow 32 KiB (6 bytes a token) for buffers and
		// tables Redis sizes itself.
		deadline := time.Now().Add(10 * time.Second)
		for after := usedMemory(t, rdb); after > mem0+32<<10; after = usedMemory(t, rdb) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: used_memory %d after expiry, %d before (peak %d)", round, after, mem0, peak)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
