package redis_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
	"github.com/oauthd/oauthd/store/redis/redistest"
	"github.com/oauthd/oauthd/store/storetest"
)

// backend is the storage contract on one Redis: the store, the limits and
// the feed, on one key prefix.
type backend struct {
	*redis.Store
	*redis.Limits
	*redis.Feed
}

var _ store.Backend = backend{}

// The conformance suite on miniredis and on a real redis-server, through
// the client serve uses (tightened timeouts: an outage shows quickly).
func TestConformance(t *testing.T) {
	// Not in parallel with other tests (its cases are, with each other):
	// some read short lock-outs in real time.
	type variant struct {
		kind    redistest.Kind
		batched bool // the token paths through go-redis's autopipeliner, as oauthd serve runs
	}
	variants := []variant{{redistest.Real, true}}
	for _, kind := range redistest.Kinds {
		variants = append(variants, variant{kind, false})
	}
	for _, v := range variants {
		name := string(v.kind)
		if v.batched {
			name += "/autopipeline"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			storetest.RunTests(t, func(t *testing.T, limits store.LimitsConfig) storetest.Backend {
				srv := redistest.Start(t, v.kind)
				rdb, err := redis.NewClient(srv.URL)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { rdb.Close() })
				const prefix = "test"
				opts := redis.Options{Prefix: prefix, KeepExpired: time.Hour}
				if v.batched {
					ap, err := redis.Batching(rdb)
					if err != nil || ap == nil {
						t.Fatalf("Batching = %v, %v", ap, err)
					}
					t.Cleanup(func() { ap.Close() })
					opts.Batched = ap
				}
				s := redis.New(rdb, opts)
				f := s.NewFeed(redis.FeedOptions{Block: 50 * time.Millisecond})
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); f.Run(ctx) }()
				t.Cleanup(func() { cancel(); <-done })
				return storetest.Backend{
					Backend:     backend{s, redis.NewLimits(rdb, prefix, limits), f},
					FastForward: srv.FastForward,
					Stop:        srv.Stop,
				}
			})
		})
	}
}

// Token records live in per-bucket hashes that expire when their bucket
// ends, so Redis itself forgets expired tokens; tokens that never expire
// share a hash with no TTL. The raw token appears nowhere.
func TestBucketTTL(t *testing.T) {
	t.Parallel()
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srv := redistest.Start(t, kind)
			rdb := srv.Client(t)
			s := redis.New(rdb, redis.Options{Prefix: "ttl"})
			app := store.Application{ClientID: "c1", Name: "n", Enabled: true, CreatedAt: time.Now()}
			if err := s.CreateApplication(ctx, app); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			hour := store.Token{ClientID: "c1", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
			never := store.Token{ClientID: "c1", IssuedAt: now}
			short := store.TokenRef{ClientID: "c1", Bucket: hour.Bucket(), Digest: store.Sum("short")}
			forever := store.TokenRef{ClientID: "c1", Digest: store.Sum("never")}
			if err := s.CreateToken(ctx, short, hour); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateToken(ctx, forever, never); err != nil {
				t.Fatal(err)
			}
			keys, err := rdb.Keys(ctx, "ttl:{c1}:t*").Result()
			if err != nil || len(keys) != 3 {
				t.Fatalf("token keys = %v, %v; want two buckets and the index, under the application's hash tag", keys, err)
			}
			width := time.Hour / 64
			for _, k := range keys {
				ttl := rdb.PTTL(ctx, k).Val()
				switch k {
				case "ttl:{c1}:t:n0":
					if ttl >= 0 {
						t.Errorf("%s expires in %v; tokens that never expire must not", k, ttl)
					}
				default: // the hour's bucket and the index expire when the bucket ends
					if ttl < time.Hour-time.Second || ttl > time.Hour+width+time.Second {
						t.Errorf("%s expires in %v, want between 1h and 1h+%v", k, ttl, width)
					}
				}
				if k == "ttl:{c1}:tb" {
					continue
				}
				for f, v := range rdb.HGetAll(ctx, k).Val() {
					for _, raw := range []string{"short", "never"} {
						if strings.Contains(k+f+v, raw) {
							t.Fatalf("raw token %q stored in %s", raw, k)
						}
					}
				}
			}
			if srv.Mini != nil {
				srv.Mini.FastForward(time.Hour + width + time.Second)
				if l, err := s.LookupToken(ctx, short, ""); err != nil || l.Token != nil {
					t.Fatalf("token past its bucket: %+v, %v; want no record", l, err)
				}
				if l, err := s.LookupToken(ctx, forever, ""); err != nil || l.Token == nil {
					t.Fatalf("never-expiring token gone: %+v, %v", l, err)
				}
				if n := rdb.Exists(ctx, "ttl:{c1}:tb").Val(); n != 0 {
					t.Fatal("bucket index outlived its last bucket")
				}
			}
		})
	}
}

// keysOf lists every key of an application; usedMemory reads Redis's
// used_memory. The internal tests have them too (export_test.go).
var keysOf, usedMemory = redis.KeysOf, redis.UsedMemory

// Deleting an application removes every key it had, whatever happened
// before: tokens that never expire, API keys, revoke-all in between, usage.
//
// With tombstones (introspection's inactive_reason), revoke-all keeps the
// old generation's records for the tombstone time so introspection can
// still say "revoked"; the delete must find those too.
func TestDeleteLeavesNothing(t *testing.T) {
	t.Parallel()
	for _, kind := range redistest.Kinds {
		for _, keep := range []time.Duration{0, time.Hour} {
			t.Run(fmt.Sprint(kind, "/keep=", keep), func(t *testing.T) {
				testDeleteLeavesNothing(t, kind, keep)
			})
		}
	}
}

func testDeleteLeavesNothing(t *testing.T, kind redistest.Kind, keep time.Duration) {
	ctx := context.Background()
	srv := redistest.Start(t, kind)
	rdb := srv.Client(t)
	s := redis.New(rdb, redis.Options{Prefix: "del", KeepExpired: keep})
	app := store.Application{ClientID: "gone", Name: "n", Enabled: true, CreatedAt: time.Now()}
	if err := s.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	issue := func(gen uint64) (refs []store.TokenRef) {
		now := time.Now()
		for i, life := range []time.Duration{0, 0, time.Minute, time.Hour, 24 * time.Hour} {
			tok := store.Token{ClientID: "gone", IssuedAt: now, Generation: gen, SecretID: "s"}
			if life > 0 {
				tok.ExpiresAt = now.Add(life)
			}
			if i == 1 {
				tok.Kind, tok.Name = redis.KindAPIKey, "key"
			}
			ref := store.TokenRef{ClientID: "gone", Bucket: tok.Bucket(), Digest: store.Sum(fmt.Sprint(gen, i))}
			if err := s.CreateToken(ctx, ref, tok); err != nil {
				t.Fatal(err)
			}
			refs = append(refs, ref)
		}
		return refs
	}
	old := issue(0)
	if _, err := s.UpdateApplication(ctx, "gone", func(a store.Application) (store.Application, error) {
		a.Generation++
		return a, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range old {
		l, err := s.LookupToken(ctx, ref, "")
		if err != nil {
			t.Fatal(err)
		}
		if kept := l.Token != nil; kept != (keep > 0) {
			t.Fatalf("after revoke-all with keep=%v: record %s kept = %v", keep, ref.JTI(), kept)
		}
	}
	if keep > 0 {
		ttl := rdb.PTTL(ctx, "del:{gone}:t:n0").Val()
		if ttl <= 0 || ttl > keep {
			t.Fatalf("old generation's never-expiring records expire in %v, want within %v", ttl, keep)
		}
	}
	issue(1)
	if err := s.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(keysOf(t, rdb, "gone")); n < 6 {
		t.Fatalf("keys before delete: %v", keysOf(t, rdb, "gone"))
	}
	if err := s.DeleteApplication(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	// Neither a token issued nor a usage flush racing the delete
	// may bring keys back.
	late := store.Token{ClientID: "gone", IssuedAt: time.Now()}
	if err := s.CreateToken(ctx, store.TokenRef{ClientID: "gone", Digest: store.Sum("late")}, late); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("token for the deleted application: %v", err)
	}
	if err := s.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	if left := keysOf(t, rdb, "gone"); len(left) != 0 {
		t.Fatalf("keys left after delete: %v", left)
	}
}

// Usage is counted with each token, so another replica reports it at
// once; only the overall counts (the dashboard's overview) wait for
// FlushUsage, and a flush that fails loses none of the applications'
// counts.
func TestUsageFlush(t *testing.T) {
	t.Parallel()
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srv := redistest.Start(t, kind)
			rdb := srv.Client(t)
			a := redis.New(rdb, redis.Options{Prefix: "u"})
			b := redis.New(rdb, redis.Options{Prefix: "u"}) // another replica
			if err := a.CreateApplication(ctx, store.Application{ClientID: "c", Name: "n", CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC().Truncate(time.Millisecond)
			issue := func(name string) {
				tok := store.Token{ClientID: "c", IssuedAt: now, ExpiresAt: now.Add(time.Hour), SecretID: "s1"}
				if err := a.CreateToken(ctx, store.TokenRef{ClientID: "c", Bucket: tok.Bucket(), Digest: store.Sum(name)}, tok); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 3 {
				issue(fmt.Sprint(i))
			}
			for name, r := range map[string]*redis.Store{"this replica": a, "another replica": b} {
				u, _ := r.GetUsage(ctx, "c")
				if u.Issued != 3 || !u.LastUsed.Equal(now) || !u.SecretLastUsed["s1"].Equal(now) {
					t.Fatalf("%s's view before any flush: %+v", name, u)
				}
				hours, err := r.IssuedPerHour(ctx, "c", 24, now)
				if err != nil || len(hours) != 24 || hours[23] != 3 {
					t.Fatalf("%s: IssuedPerHour = %v, %v; want 3 in the last hour", name, hours, err)
				}
			}
			overall := func(r *redis.Store) int64 {
				sum, err := r.IssuedOverall(ctx, 1, 1, now)
				if err != nil {
					t.Fatal(err)
				}
				return sum.PerHour[0]
			}
			if got := overall(a); got != 3 {
				t.Fatalf("this replica's overview before its flush: %d, want 3", got)
			}
			if got := overall(b); got != 0 {
				t.Fatalf("another replica's overview shows unflushed overall counts: %d", got)
			}
			if err := a.FlushUsage(ctx); err != nil {
				t.Fatal(err)
			}
			if got := overall(b); got != 3 {
				t.Fatalf("another replica's overview after the flush: %d, want 3", got)
			}
			if got := overall(a); got != 3 {
				t.Fatalf("counted twice after the flush: %d", got)
			}
			// A flush that fails is reported; the applications' counts
			// never depended on it.
			issue("4")
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := a.FlushUsage(cctx); err == nil {
				t.Fatal("flush with a cancelled context succeeded")
			}
			if u, _ := b.GetUsage(ctx, "c"); u.Issued != 4 {
				t.Fatalf("after a failed flush: %+v, want 4 issued", u)
			}
		})
	}
}
