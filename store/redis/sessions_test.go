package redis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// Sessions are keyed by the digest of their id under the prefix, and are
// seen, and ended, by every replica at once. (The rest of the contract,
// idle expiry included, is the conformance suite's.)
func TestSessions(t *testing.T) {
	t.Parallel()
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srv := redistest.Start(t, kind)
			rdb := srv.Client(t)
			a := redis.New(rdb, redis.Options{Prefix: "sess"})
			b := redis.New(srv.Client(t), redis.Options{Prefix: "sess"}) // another replica
			id := store.Sum("the-session-id")
			ttl := time.Hour
			if err := a.CreateSession(ctx, id, []byte(`{"who":"x"}`), ttl); err != nil {
				t.Fatal(err)
			}
			if err := a.CreateSession(ctx, id, []byte(`{}`), ttl); !errors.Is(err, store.ErrAlreadyExists) {
				t.Fatalf("second create: %v, want ErrAlreadyExists", err)
			}
			keys := rdb.Keys(ctx, "*").Val()
			if len(keys) != 1 || !strings.HasPrefix(keys[0], "sess:session:") || strings.Contains(keys[0], "the-session-id") {
				t.Fatalf("keys = %v; want one sess:session:<digest> key without the raw id", keys)
			}
			got, err := b.GetSession(ctx, id, ttl)
			if err != nil || string(got) != `{"who":"x"}` {
				t.Fatalf("GetSession on another replica = %q, %v", got, err)
			}
			if _, err := b.GetSession(ctx, store.Sum("other"), ttl); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("unknown session: %v, want ErrNotFound", err)
			}
			// Delete ends it for every replica.
			if err := a.DeleteSession(ctx, id); err != nil {
				t.Fatal(err)
			}
			if _, err := b.GetSession(ctx, id, time.Hour); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("deleted session on another replica: %v, want ErrNotFound", err)
			}
		})
	}
}
