//go:build faults

package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// Revoking every token of an application (a generation bump) costs Redis
// the same commands whether it holds ten tokens or ten thousand: it
// drops (or, keeping reasons, lets expire) whole buckets, never one
// record at a time. Under the faults tag (make test-faults): 18,000
// tokens on two redis-servers were the default suite's busiest seconds.
func TestRevokeAllConstant(t *testing.T) {
	t.Parallel()
	for _, keep := range []time.Duration{0, time.Hour} {
		t.Run(fmt.Sprint("keep=", keep), func(t *testing.T) {
			t.Parallel() // each on a redis-server of its own
			ctx := context.Background()
			rdb := redistest.Start(t, redistest.Real).Client(t)
			s := New(rdb, Options{Prefix: "ra", KeepExpired: keep})
			// The same issue times for both, so both fill the same buckets.
			at := time.Now()
			cost := func(id string, tokens int) int64 {
				for _, life := range []time.Duration{0, time.Hour, 24 * time.Hour} {
					a := issueApp(fmt.Sprint(id, life), life)
					if err := s.CreateApplication(ctx, a); err != nil {
						t.Fatal(err)
					}
				}
				for i := range tokens {
					for _, life := range []time.Duration{0, time.Hour, 24 * time.Hour} {
						r := tokenRequest(fmt.Sprint(id, life), fmt.Sprint(id, i), at)
						if _, err := s.IssueToken(ctx, r, accept(r)); err != nil {
							t.Fatal(err)
						}
					}
				}
				if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
					t.Fatal(err)
				}
				for _, life := range []time.Duration{0, time.Hour, 24 * time.Hour} {
					if _, err := s.UpdateApplication(ctx, fmt.Sprint(id, life), func(a store.Application) (store.Application, error) {
						a.Generation++
						return a, nil
					}); err != nil {
						t.Fatal(err)
					}
				}
				var total int64
				for _, c := range commandCalls(t, rdb) {
					total += c
				}
				return total
			}
			few, many := cost("few", 10), cost("many", 3000)
			t.Logf("revoke-all of 3 applications: %d commands with 10 tokens each, %d with 3000", few, many)
			if many != few {
				t.Fatalf("revoke-all: %d commands with 10 tokens, %d with 3000: it grows with the tokens", few, many)
			}
		})
	}
}
